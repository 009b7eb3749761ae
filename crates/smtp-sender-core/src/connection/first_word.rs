//! The server's first word, and what it says about the TLS mode.
//!
//! RFC 5321 §3.1: the server speaks first, in plain text (a `220`
//! greeting); RFC 8314 §3.3: on an implicit-TLS port the client speaks
//! first, a TLS ClientHello. A client in the wrong mode therefore meets one
//! of two things, and both are told here in words that name the fix:
//!
//! - **silence** where the plain-text greeting was due (a STARTTLS or plain
//!   client on an implicit-TLS port): no byte at all until the silence
//!   limit, the greeting timeout or the server's close gives
//!   [`TransportError::NoGreeting`]. A server that sent anything (a
//!   postscreen-style `220-` first line, a partial reply) is not silent: it
//!   gets the RFC 5321 §4.5.3.2.1 greeting timeout;
//! - **a plain-text reply** where the TLS handshake was (an implicit-TLS
//!   client on a plain port): the driver hands over what the server sent in
//!   the clear during the failed handshake, and when it starts like an SMTP
//!   reply (three digits, then a space, a hyphen or the line end: RFC 5321
//!   §4.2) before any reply was read, the failure is
//!   [`TransportError::PlainSmtp`], whatever TLS error the handshake met.

use std::time::{Duration, Instant};

use super::{Connection, Deadline, QUOTE_LIMIT};
use crate::error::TransportError;
use crate::step::Wait;

impl Connection {
    /// True when `wait` is for the plain-text greeting and the server has
    /// said nothing yet (before any TLS: under implicit TLS the server has
    /// spoken in the handshake).
    pub(super) fn awaits_first_word(&self, wait: Wait) -> bool {
        wait == Wait::Greeting && !self.heard && !self.encrypted
    }

    /// When the wait of `deadline` began, if it is for a first word that
    /// has still not come.
    pub(super) fn silent_since(&self, deadline: &Deadline) -> Option<Instant> {
        deadline.silent_since.filter(|_| !self.heard)
    }

    /// When `deadline` expires: its own time, or earlier while the server
    /// stays silent and a silence limit is set.
    pub(super) fn expiry(&self, deadline: &Deadline) -> Instant {
        match (self.silent_since(deadline), self.silence_limit) {
            (Some(since), Some(limit)) => deadline.at.min(since + limit),
            _ => deadline.at,
        }
    }

    /// The error for a close while waiting for `wait`: a silent server's
    /// close is a [`TransportError::NoGreeting`].
    pub(super) fn closed_while_waiting(&self, wait: Wait, now: Instant) -> TransportError {
        if !self.awaits_first_word(wait) {
            return TransportError::ConnectionClosed {
                during: wait.describe(),
            };
        }
        let since = self.deadline.and_then(|deadline| deadline.silent_since);
        TransportError::NoGreeting {
            waited: since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since)),
            closed: true,
        }
    }

    /// After a failed TLS handshake, before any reply: the server's bytes
    /// (handed over by the driver) start like an SMTP reply, so it speaks
    /// plain SMTP on this port.
    pub(super) fn plain_smtp_instead_of_tls(&mut self) -> Option<TransportError> {
        if self.greeted || !starts_like_a_reply(&self.inbox) {
            return None;
        }
        self.transcript.server(&self.inbox);
        let line = self.inbox.split(|&b| b == b'\r' || b == b'\n').next();
        let said: String = String::from_utf8_lossy(line.unwrap_or_default())
            .chars()
            .take(QUOTE_LIMIT)
            .collect();
        self.inbox.clear();
        Some(TransportError::PlainSmtp { said })
    }
}

/// RFC 5321 §4.2: `Reply-code [ SP textstring ] CRLF`, or `Reply-code "-"`
/// for a line that is continued; a TLS record never starts so (its first
/// octet is a content type, 20 to 24: RFC 8446 §5.1).
fn starts_like_a_reply(bytes: &[u8]) -> bool {
    matches!(bytes, [a, b, c, d, ..]
        if [a, b, c].iter().all(|digit| digit.is_ascii_digit()) && matches!(d, b' ' | b'-' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::starts_like_a_reply;

    #[test]
    fn smtp_replies_and_tls_records_are_told_apart() {
        for reply in [
            &b"220 mx ESMTP\r\n"[..],
            b"220-mx\r\n",
            b"554\r\n",
            b"500 5.5.2",
        ] {
            assert!(starts_like_a_reply(reply), "{reply:?}");
        }
        // A TLS alert record, an HTTP answer, too little to tell.
        for other in [
            &b"\x15\x03\x03\x00\x02\x02\x50"[..],
            b"HTTP/1.1 400",
            b"220",
            b"",
        ] {
            assert!(!starts_like_a_reply(other), "{other:?}");
        }
    }
}
