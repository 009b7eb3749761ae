//! The relay judge: a small, strict Receiver-SMTP the suite runs on
//! loopback (`--judge-listen`) while the server under test forwards mail
//! to it. It accepts every message and keeps, for each one, the envelope,
//! the text exactly as it crossed the wire (dot-stuffed) and the text
//! after unstuffing, for the `relay` cases to read.
//!
//! It is strict where it matters to them: the data ends only at
//! `<CRLF>.<CRLF>` (RFC 5321 §4.1.1.4, smtp-wire's `DataDecoder`), so a
//! look-alike the relay passed on arrives as data and shows in what was
//! kept. It offers 8BITMIME and SMTPUTF8 (a relay has no reason to
//! downgrade) and neither STARTTLS nor CHUNKING (the relay sends with
//! DATA, so its dot-stuffing is visible).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_wire::{
    Capabilities, Capability, Command, DataDecoder, LineDecoder, LineEvent, MAX_COMMAND_LINE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A session silent for this long is closed.
const IDLE: Duration = Duration::from_secs(120);
/// The largest message kept; more is refused with 552.
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// One message the judge received.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arrival {
    /// The MAIL command line as the relay sent it.
    pub(crate) mail: String,
    /// The RCPT command lines of the recipients.
    pub(crate) rcpts: Vec<String>,
    /// The text as it crossed the wire, dot-stuffed, up to the final
    /// `.<CRLF>` (included).
    pub(crate) raw: Vec<u8>,
    /// The text after unstuffing: the message.
    pub(crate) content: Vec<u8>,
    /// Bare CRs and LFs in the text (RFC 5321 §2.3.8 forbids sending them).
    pub(crate) bare: u64,
}

impl Arrival {
    /// True when the message's text contains `needle`.
    pub(crate) fn contains(&self, needle: &str) -> bool {
        memfind(&self.content, needle.as_bytes())
    }

    /// The header section: everything before the first empty line.
    pub(crate) fn header(&self) -> String {
        let text = String::from_utf8_lossy(&self.content);
        let end = text.find("\r\n\r\n").map_or(text.len(), |i| i + 2);
        text[..end].to_string()
    }
}

/// True when `needle` occurs in `haystack`.
pub(crate) fn memfind(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The running judge; stops when dropped.
pub(crate) struct Judge {
    addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    task: JoinHandle<()>,
}

impl Drop for Judge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Judge {
    /// Listens on `listen` (`HOST:PORT`; port 0 picks one).
    pub(crate) async fn start(listen: &str) -> std::io::Result<Judge> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let store = arrivals.clone();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                sessions.spawn(serve(tcp, store.clone()));
                while sessions.try_join_next().is_some() {}
            }
        });
        Ok(Judge {
            addr,
            arrivals,
            task,
        })
    }

    /// Where it listens.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message received so far whose text contains `token`.
    pub(crate) fn with(&self, token: &str) -> Vec<Arrival> {
        let guard = match self.arrivals.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard
            .iter()
            .filter(|a| a.contains(token))
            .cloned()
            .collect()
    }

    /// Waits up to `wait` for a message containing `token`; returns every
    /// one received by then (empty when none came).
    pub(crate) async fn wait_for(&self, token: &str, wait: Duration) -> Vec<Arrival> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let found = self.with(token);
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One session's transaction.
#[derive(Default)]
struct Txn {
    mail: Option<String>,
    rcpts: Vec<String>,
}

/// Serves one connection from the relay until QUIT, a close or silence.
async fn serve(mut tcp: TcpStream, store: Arc<Mutex<Vec<Arrival>>>) {
    let _ = tcp.set_nodelay(true);
    if tcp
        .write_all(b"220 judge.conform.invalid ESMTP smtp-conform relay judge\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut lines = LineDecoder::new(MAX_COMMAND_LINE);
    let mut txn = Txn::default();
    // Some(..) while reading message text.
    let mut data: Option<(DataDecoder, Vec<u8>, Vec<u8>)> = None;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut out: Vec<u8> = Vec::new();
        let mut quit = false;
        loop {
            if let Some((decoder, raw, content)) = data.as_mut() {
                let progress = decoder.decode(&buf, content);
                raw.extend_from_slice(&buf[..progress.consumed]);
                buf.drain(..progress.consumed);
                if !progress.done {
                    break;
                }
                let stats = decoder.stats().clone();
                let Some((_, raw, content)) = data.take() else {
                    break;
                };
                let arrival = Arrival {
                    mail: txn.mail.take().unwrap_or_default(),
                    rcpts: std::mem::take(&mut txn.rcpts),
                    raw,
                    content,
                    bare: stats.bare_cr + stats.bare_lf,
                };
                if arrival.content.len() > MAX_MESSAGE {
                    out.extend_from_slice(b"552 5.3.4 too big for the judge\r\n");
                } else {
                    match store.lock() {
                        Ok(mut g) => g.push(arrival),
                        Err(poisoned) => poisoned.into_inner().push(arrival),
                    }
                    out.extend_from_slice(b"250 2.0.0 kept by the judge\r\n");
                }
                continue;
            }
            let (used, event) = lines.decode(&buf);
            let line = match event {
                LineEvent::NeedMore => break,
                LineEvent::TooLong => {
                    buf.drain(..used);
                    out.extend_from_slice(b"500 5.5.6 line too long\r\n");
                    continue;
                }
                LineEvent::Line { line, .. } => line.to_vec(),
            };
            buf.drain(..used);
            let (reply, start_data) = command(&line, &mut txn);
            out.extend_from_slice(reply.as_bytes());
            if start_data {
                data = Some((DataDecoder::new(), Vec::new(), Vec::new()));
            }
            if reply.starts_with("221") {
                quit = true;
                break;
            }
        }
        if !out.is_empty() && tcp.write_all(&out).await.is_err() {
            return;
        }
        if quit {
            return;
        }
        match tokio::time::timeout(IDLE, tcp.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The reply to one command line, and whether message text follows.
fn command(line: &[u8], txn: &mut Txn) -> (String, bool) {
    let text = String::from_utf8_lossy(line).into_owned();
    let reply = |s: &str| (format!("{s}\r\n"), false);
    match Command::parse(line) {
        Ok(Command::Ehlo(_)) | Ok(Command::Lhlo(_)) => {
            *txn = Txn::default();
            let mut caps = Capabilities::new("judge.conform.invalid");
            caps.extend([
                Capability::Pipelining,
                Capability::EightBitMime,
                Capability::SmtpUtf8,
                Capability::Size(Some(MAX_MESSAGE as u64)),
                Capability::EnhancedStatusCodes,
            ]);
            (
                String::from_utf8_lossy(&caps.to_reply().to_bytes()).into_owned(),
                false,
            )
        }
        Ok(Command::Helo(_)) => {
            *txn = Txn::default();
            reply("250 judge.conform.invalid")
        }
        Ok(Command::Mail { .. }) => {
            *txn = Txn {
                mail: Some(text),
                rcpts: Vec::new(),
            };
            reply("250 2.1.0 ok")
        }
        Ok(Command::Rcpt { .. }) if txn.mail.is_some() => {
            txn.rcpts.push(text);
            reply("250 2.1.5 ok")
        }
        Ok(Command::Rcpt { .. }) => reply("503 5.5.1 MAIL first"),
        Ok(Command::Data) if !txn.rcpts.is_empty() => {
            ("354 end with <CRLF>.<CRLF>\r\n".into(), true)
        }
        Ok(Command::Data) => reply("503 5.5.1 RCPT first"),
        Ok(Command::Rset) => {
            *txn = Txn::default();
            reply("250 2.0.0 ok")
        }
        Ok(Command::Noop(_)) => reply("250 2.0.0 ok"),
        Ok(Command::Quit) => reply("221 2.0.0 bye"),
        Ok(_) => reply("502 5.5.1 not here"),
        Err(e) => {
            let r = e.reply();
            (String::from_utf8_lossy(&r.to_bytes()).into_owned(), false)
        }
    }
}
