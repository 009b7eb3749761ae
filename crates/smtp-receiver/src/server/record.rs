//! What a finished session leaves behind for the application: who, when,
//! TLS, how it ended, which messages it delivered, and the transcript
//! (AUTH already redacted). See
//! [`ServerConfig::on_session`](crate::config::ServerConfig::on_session).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use smtp_io::stream::TlsParameters;
use smtp_wire::Transcript;
use smtp_wire::transcript::Direction;

use crate::session::ConnectionInfo;

/// How a session ended, most telling first: a session that delivered
/// anything is `Delivered` even if it was refused elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// At least one message was accepted (250 after the data).
    Delivered,
    /// The client was too slow and got `421 4.4.2` (RFC 5321 §4.5.3.2).
    TimedOut,
    /// AUTH failed and nothing was delivered.
    AuthFailed,
    /// Nothing delivered; the last refusal had this reply code.
    Refused(u16),
    /// The connection ended without QUIT (and without a refusal).
    Dropped,
    /// QUIT with nothing delivered or refused.
    Closed,
}

impl Outcome {
    /// `delivered`, `timed-out`, `auth-failed`, `refused`, `dropped`, `closed`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::TimedOut => "timed-out",
            Outcome::AuthFailed => "auth-failed",
            Outcome::Refused(_) => "refused",
            Outcome::Dropped => "dropped",
            Outcome::Closed => "closed",
        }
    }

    /// The reply code of a refusal.
    pub fn code(self) -> Option<u16> {
        match self {
            Outcome::Refused(code) => Some(code),
            _ => None,
        }
    }

    /// Reads the outcome from the server's replies in the transcript and
    /// whether a message was delivered.
    pub fn of(transcript: &Transcript, delivered: bool) -> Outcome {
        if delivered {
            return Outcome::Delivered;
        }
        let (mut refused, mut auth_failed, mut timed_out, mut quit) = (None, false, false, false);
        for line in transcript.lines() {
            if line.dir != Some(Direction::Server) {
                continue;
            }
            let Some(code) = line.text.get(..3).and_then(|c| c.parse::<u16>().ok()) else {
                continue;
            };
            let last = line.text.as_bytes().get(3) != Some(&b'-');
            match code {
                221 => quit = true,
                235 => auth_failed = false,
                535 | 454 if last => auth_failed = true,
                421 if line.text.get(4..9) == Some("4.4.2") => timed_out = true,
                400..=599 if last => refused = Some(code),
                _ => {}
            }
        }
        match (timed_out, auth_failed, refused, quit) {
            (true, ..) => Outcome::TimedOut,
            (_, true, ..) => Outcome::AuthFailed,
            (_, _, Some(code), _) => Outcome::Refused(code),
            (_, _, None, false) => Outcome::Dropped,
            (_, _, None, true) => Outcome::Closed,
        }
    }
}

/// One finished session.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The session id, also on every log line of the session (span
    /// `session`, field `id`).
    pub id: String,
    /// The connection.
    pub info: ConnectionInfo,
    /// When it began and ended.
    pub started: SystemTime,
    /// When it ended.
    pub ended: SystemTime,
    /// The TLS version and cipher, if the session went into TLS.
    pub tls: Option<TlsParameters>,
    /// How it ended.
    pub outcome: Outcome,
    /// The queue ids of the messages it delivered, in order.
    pub delivered: Vec<String>,
    /// The EHLO/HELO name, the last one given.
    pub helo: Option<String>,
    /// The user name of a successful AUTH.
    pub auth_user: Option<String>,
    /// What crossed the wire, AUTH secrets redacted.
    pub transcript: Transcript,
}

static SESSIONS: AtomicU64 = AtomicU64::new(0);

/// A session id unique on this host and over restarts: the start time in
/// microseconds (hex), the process, a counter.
pub(crate) fn session_id(started: SystemTime) -> String {
    let micros = started
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
    // Asked of the kernel once: getpid(2) was the one system call per
    // connection that carried no SMTP (strace -c of smtp-source's load).
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    format!("{micros:x}-{pid:x}-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(server: &[&[u8]]) -> Transcript {
        let mut t = Transcript::new();
        for s in server {
            t.server(s);
            t.client(b"NOOP\r\n");
        }
        t
    }

    #[test]
    fn outcomes_from_replies() {
        let t = transcript(&[b"220 hi\r\n", b"550 5.1.1 no\r\n", b"221 bye\r\n"]);
        assert_eq!(Outcome::of(&t, false), Outcome::Refused(550));
        assert_eq!(Outcome::of(&t, true), Outcome::Delivered);
        let t = transcript(&[b"220 hi\r\n", b"535 5.7.8 no\r\n", b"221 bye\r\n"]);
        assert_eq!(Outcome::of(&t, false), Outcome::AuthFailed);
        let t = transcript(&[b"220 hi\r\n", b"421 4.4.2 slow\r\n"]);
        assert_eq!(Outcome::of(&t, false), Outcome::TimedOut);
        assert_eq!(
            Outcome::of(&transcript(&[b"220 hi\r\n"]), false),
            Outcome::Dropped
        );
        let t = transcript(&[b"220 hi\r\n", b"250-a\r\n250 b\r\n", b"221 bye\r\n"]);
        assert_eq!(Outcome::of(&t, false), Outcome::Closed);
    }

    #[test]
    fn session_ids_differ() {
        let now = SystemTime::now();
        assert_ne!(session_id(now), session_id(now));
    }
}

/// What the driver notes while a session runs.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) delivered: Vec<String>,
    pub(crate) helo: Option<String>,
    pub(crate) auth_user: Option<String>,
    asked_auth: Option<String>,
}

impl Tally {
    /// A question is about to be put to the application.
    pub(crate) fn asked(&mut self, request: &crate::session::Request) {
        use crate::session::Request;
        match request {
            Request::Hello { domain, .. } => self.helo = Some(domain.to_string()),
            Request::Auth { credentials, .. } => {
                self.asked_auth = Some(credentials.username.clone());
            }
            _ => {}
        }
    }

    /// The application answered the last question.
    pub(crate) fn answered(&mut self, accepted: bool) {
        if let Some(user) = self.asked_auth.take()
            && accepted
        {
            self.auth_user = Some(user);
        }
    }
}
