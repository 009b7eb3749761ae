//! Replaying the client side of a recorded conversation against a server,
//! to see where its replies differ from the recording's.
//!
//! The recording is read as [`crate::observe::read`] reads it (this
//! project's transcripts, the RFCs' `C:`/`S:` examples, swaks output). Each
//! client line is sent as its octets ([`TranscriptLine::octets`], so a bare
//! LF in the recording is a bare LF on the wire). Client lines recorded
//! before a reply are sent together, so pipelining is replayed as
//! pipelining (RFC 2920). Then one reply is read for each reply the
//! recording holds, and the two are compared by code. A `-- TLS started --`
//! marker is a TLS handshake (RFC 3207).
//!
//! What a recording leaves out cannot be replayed. AUTH payloads are
//! redacted, so the replay stops before an AUTH that needs one. Body lines
//! left out of a long message are not sent: the message is shorter, and its
//! end is still `<CRLF>.<CRLF>`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use smtp_wire::transcript::Ending;
use smtp_wire::{Direction, Reply, Transcript, TranscriptLine};

use super::conn::{Conn, ConnError};

/// What a replay needs besides the recording.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The server.
    pub addr: SocketAddr,
    /// TLS for the recording's `-- TLS started --` (and for implicit TLS):
    /// the client configuration and the name to check.
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// Start with TLS (port 465 style) instead of in the clear.
    pub implicit_tls: bool,
    /// How long to wait for each reply.
    pub timeout: Duration,
}

/// One recorded reply and what the server said in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The index in the recording of the reply's first line.
    pub line: usize,
    /// The client lines sent before it (as shown in the recording).
    pub sent: Vec<String>,
    /// The recorded reply's lines.
    pub recorded: Vec<String>,
    /// What the server answered: its lines, or why there is no reply.
    pub got: Result<Vec<String>, String>,
}

impl Step {
    /// The server answered with the recorded reply code.
    pub fn same(&self) -> bool {
        match &self.got {
            Ok(got) => code(got) == code(&self.recorded),
            Err(_) => false,
        }
    }
}

/// How a replay went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Each recorded reply, compared.
    pub steps: Vec<Step>,
    /// Why the replay stopped before the end of the recording, if it did.
    pub stopped: Option<String>,
    /// Notes on what could not be replayed as recorded (left-out lines).
    pub notes: Vec<String>,
}

impl Replayed {
    /// Every reply had its recorded code, and the whole recording was
    /// replayed.
    pub fn matches(&self) -> bool {
        self.stopped.is_none() && self.steps.iter().all(Step::same)
    }
}

/// Why a replay could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The connection (or the implicit TLS handshake) failed.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The server.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The recording asks for TLS and no TLS configuration was given.
    #[error("the recording uses TLS: give a TLS configuration")]
    NoTls,
}

/// The reply code of a reply's lines (`250-...`, `250 ...`), if any.
fn code(lines: &[String]) -> Option<&str> {
    lines.first().and_then(|l| l.get(..3))
}

/// A 3xx reply: the server waits for more than a command (RFC 5321
/// §4.2.1: "positive intermediate").
fn intermediate(lines: &[String]) -> bool {
    code(lines).is_some_and(|c| c.starts_with('3'))
}

/// The last line of a reply: the code and a space (or the code alone), as
/// RFC 5321 §4.2.1 ends a reply.
fn ends_reply(text: &str) -> bool {
    text.len() == 3 || text.as_bytes().get(3) == Some(&b' ')
}

fn reply_lines(reply: &Reply) -> Vec<String> {
    String::from_utf8_lossy(&reply.to_bytes())
        .lines()
        .map(str::to_string)
        .collect()
}

/// Replays the client lines of `recorded` (one session) against the server
/// of `options`.
pub async fn replay(
    recorded: &[TranscriptLine],
    options: &ReplayOptions,
) -> Result<Replayed, ReplayError> {
    if options.tls.is_none()
        && (options.implicit_tls || recorded.iter().any(TranscriptLine::is_tls_started))
    {
        return Err(ReplayError::NoTls);
    }
    let log = Arc::new(Mutex::new(Transcript::new()));
    let implicit = options
        .tls
        .as_ref()
        .filter(|_| options.implicit_tls)
        .map(|(config, name)| (config, name));
    let endpoint = crate::server::conn::Endpoint::Tcp(options.addr);
    let mut conn = Conn::open(&endpoint, implicit, options.timeout, log)
        .await
        .map_err(|e| ReplayError::Connect {
            addr: options.addr,
            reason: e.to_string(),
        })?;
    let mut done = Replayed {
        steps: Vec::new(),
        stopped: None,
        notes: Vec::new(),
    };
    let mut pending: Vec<u8> = Vec::new();
    let mut sent: Vec<String> = Vec::new();
    let mut reply: Option<(usize, Vec<String>)> = None;
    for (index, line) in recorded.iter().enumerate() {
        match line.dir {
            Some(Direction::Client) => {
                if line.text.contains("<redacted>") {
                    done.stopped = Some(format!(
                        "line {}: the recording redacts this AUTH payload; the replay stops here",
                        index + 1
                    ));
                    break;
                }
                let (octets, ending) = line.octets();
                pending.extend_from_slice(&octets);
                pending.extend_from_slice(ending.bytes());
                if ending == Ending::None {
                    // A line cut by the end of the recording: sent as is.
                    done.notes
                        .push(format!("line {}: sent without a line end", index + 1));
                }
                sent.push(line.text.clone());
            }
            Some(Direction::Server) => {
                let (_, lines) = reply.get_or_insert_with(|| (index, Vec::new()));
                lines.push(line.text.clone());
                if !ends_reply(&line.text) {
                    continue;
                }
                let (first, lines) = reply.take().unwrap_or_default();
                let got = answer(&mut conn, &mut pending).await;
                let step = Step {
                    line: first,
                    sent: std::mem::take(&mut sent),
                    recorded: lines,
                    got,
                };
                let stop = match &step.got {
                    Err(_) => Some("the connection ended".to_string()),
                    // A recorded 354 (or 334) was followed by message (or
                    // AUTH) lines: sent to a server that did not ask for
                    // them, each would be read as a command (RFC 5321
                    // §4.3.1) and every later reply would be out of step.
                    Ok(got) if intermediate(&step.recorded) && !intermediate(got) => Some(format!(
                        "line {}: the server did not answer {} as recorded; what follows in the recording is not a command, so the replay stops here",
                        first + 1,
                        code(&step.recorded).unwrap_or("3xx")
                    )),
                    Ok(_) => None,
                };
                done.steps.push(step);
                if let Some(why) = stop {
                    done.stopped = Some(why);
                    break;
                }
            }
            None if line.is_tls_started() => {
                let Some((config, name)) = &options.tls else {
                    return Err(ReplayError::NoTls);
                };
                if let Err(e) = conn.handshake(config, name).await {
                    done.stopped = Some(format!("line {}: {e}", index + 1));
                    break;
                }
            }
            None if line.text.contains("not shown") || line.text.contains("not recorded") => {
                done.notes.push(format!(
                    "line {}: {} (not replayed)",
                    index + 1,
                    line.text.trim_matches(|c| c == '-' || c == ' ')
                ));
            }
            None => {}
        }
    }
    if !pending.is_empty() && done.stopped.is_none() {
        // Client lines after the last recorded reply: sent, not compared.
        let _ = conn.send(&pending).await;
    }
    Ok(done)
}

/// Sends what is pending and reads one reply.
async fn answer(conn: &mut Conn, pending: &mut Vec<u8>) -> Result<Vec<String>, String> {
    if !pending.is_empty() {
        conn.send(pending).await.map_err(|e| e.to_string())?;
        pending.clear();
    }
    match conn.reply().await {
        Ok(reply) => Ok(reply_lines(&reply)),
        Err(ConnError::Closed) => Err("the server closed the connection".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_ends_at_its_line_with_a_space() {
        assert!(ends_reply("250 ok"));
        assert!(ends_reply("250"));
        assert!(!ends_reply("250-PIPELINING"));
    }

    #[test]
    fn steps_compare_by_code() {
        let step = |got: Result<Vec<String>, String>| Step {
            line: 0,
            sent: vec![],
            recorded: vec!["250-a".into(), "250 b".into()],
            got,
        };
        assert!(step(Ok(vec!["250 other text".into()])).same());
        assert!(!step(Ok(vec!["550 5.7.1 no".into()])).same());
        assert!(!step(Err("closed".into())).same());
    }
}
