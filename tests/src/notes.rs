//! One-line teaching notes for a transcript: which RFC section is behind
//! each step. The demo prints them beside the `C:` / `S:` lines.

use std::collections::VecDeque;

use smtp_wire::reply::explain_code;
use smtp_wire::transcript::{Direction, TranscriptLine};

/// Walks a transcript in order and says, for the lines worth a note, what
/// the step is and where the rule is written.
#[derive(Debug, Default)]
pub struct Annotator {
    in_body: bool,
    body_started: bool,
    /// Commands still waiting for their reply, oldest first: with
    /// PIPELINING (RFC 2920) several are in flight, and each reply answers
    /// the oldest one.
    pending: VecDeque<String>,
    /// A multi-line reply is explained once, on its first line.
    in_multiline: bool,
    /// Dot-stuffing is explained in full once, then named briefly.
    stuffing_explained: bool,
}

impl Annotator {
    /// A fresh annotator, at the start of a session.
    pub fn new() -> Self {
        Self::default()
    }

    /// The note for `line`, if it deserves one.
    pub fn note(&mut self, line: &TranscriptLine) -> Option<String> {
        match line.dir {
            None if line.text.contains("TLS started") => {
                self.in_multiline = false;
                Some(
                    "RFC 3207 §4.2, RFC 8314 §3: the TLS handshake; everything after it is \
                     encrypted"
                        .into(),
                )
            }
            None if line.text.starts_with("-- connected") => {
                Some("RFC 5321 §3.1: a TCP connection; the server speaks first".into())
            }
            None => None,
            Some(Direction::Client) => self.client(&line.text),
            Some(Direction::Server) => self.server(&line.text),
        }
    }

    fn client(&mut self, text: &str) -> Option<String> {
        if self.in_body {
            return self.body(text);
        }
        let verb = text
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        // A line sent during an AUTH exchange answers a 334 challenge.
        let verb = if text == "<redacted>" {
            "AUTH".to_string()
        } else {
            verb
        };
        self.pending.push_back(verb.clone());
        let note = match verb.as_str() {
            "EHLO" => {
                "RFC 5321 §4.1.1.1: the client names itself and asks for the server's extensions"
            }
            "HELO" => "RFC 821 §4.1.1 (RFC 5321 §4.1.1.1): the original greeting, no extensions",
            "STARTTLS" => "RFC 3207 §4: ask to switch this connection to TLS",
            "AUTH" if verb_is_command(text) => {
                "RFC 4954 §4: authenticate; the secret is redacted from this transcript"
            }
            "MAIL" => {
                "RFC 5321 §4.1.1.2: a new mail transaction; the reverse-path receives bounces"
            }
            "RCPT" => "RFC 5321 §4.1.1.3: one recipient (forward-path) per RCPT command",
            "DATA" => "RFC 5321 §4.1.1.4: the mail data follows, after a 354 reply",
            "BDAT" => "RFC 3030 §2: a chunk of exactly the given size, no dot-stuffing",
            "RSET" => "RFC 5321 §4.1.1.5: abort the transaction, keep the session",
            "NOOP" => "RFC 5321 §4.1.1.9: no operation; the server answers 250",
            "VRFY" => "RFC 5321 §4.1.1.6: ask whether a user exists",
            "QUIT" => "RFC 5321 §4.1.1.10: the client is done; the server answers 221 and closes",
            _ => return None,
        };
        Some(note.into())
    }

    fn body(&mut self, text: &str) -> Option<String> {
        if text == "." {
            self.in_body = false;
            self.pending.push_back("END-OF-DATA".into());
            return Some(
                "RFC 5321 §4.1.1.4: <CRLF>.<CRLF>, a line holding one dot, ends the mail data"
                    .into(),
            );
        }
        let first = !self.body_started;
        self.body_started = true;
        if text.starts_with("..") {
            if std::mem::replace(&mut self.stuffing_explained, true) {
                return Some("dot-stuffed (RFC 5321 §4.5.2)".into());
            }
            return Some(
                "RFC 5321 §4.5.2: a line that starts with '.' goes out with one more '.' \
                 (dot-stuffing); the receiver removes it"
                    .into(),
            );
        }
        if text.contains("\\n") || text.contains("\\r") {
            return Some("RFC 5321 §2.3.8: a bare CR or LF is not a line end; only CRLF is".into());
        }
        if text.starts_with("[") && text.contains("left out") {
            return None;
        }
        first.then(|| {
            "RFC 5322 §2: the message itself: header fields, an empty line, the body".into()
        })
    }

    fn server(&mut self, text: &str) -> Option<String> {
        let code: u16 = text.get(..3)?.parse().ok()?;
        let continued = text.as_bytes().get(3) == Some(&b'-');
        let first_line = !self.in_multiline;
        self.in_multiline = continued;
        if !first_line {
            return None;
        }
        if code == 354 {
            self.in_body = true;
            self.body_started = false;
        }
        let verb = self.pending.pop_front().unwrap_or_default();
        let context = match (verb.as_str(), code) {
            ("", 220) => "RFC 5321 §3.1, §4.2: the server speaks first: its greeting",
            ("EHLO", 250) => {
                "RFC 5321 §4.1.1.1: the first line greets, each further line names an extension"
            }
            ("STARTTLS", 220) => "RFC 3207 §4: go ahead; the TLS handshake starts now",
            ("AUTH", 235) => "RFC 4954 §6: authentication succeeded",
            ("AUTH", 334) => "RFC 4954 §4: a challenge; the client answers in base64",
            ("RCPT", 550..=559) => {
                "RFC 5321 §4.2.2: this recipient is refused; the others are not affected"
            }
            ("END-OF-DATA", 250) => {
                "RFC 5321 §4.1.1.4, §6.1: the message is stored; the receiver is now responsible for it"
            }
            ("END-OF-DATA", 500..=559) => {
                "RFC 5321 §4.1.1.4: the message is refused, after reading it to its real end"
            }
            _ => "",
        };
        Some(if context.is_empty() {
            format!("{code}: {}", explain_code(code))
        } else {
            context.to_string()
        })
    }
}

/// `AUTH PLAIN ...` is the command; a bare `<redacted>` line is a response.
fn verb_is_command(text: &str) -> bool {
    text.len() > 4 && text[..4].eq_ignore_ascii_case("AUTH")
}
