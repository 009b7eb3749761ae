//! Notes for a learner: what each step of an SMTP exchange is, and which
//! RFC section says so. The demo prints them beside the `C:` / `S:` lines;
//! the CLIs' `--explain` and the web page use the same notes.
//!
//! An [`Annotator`] walks a transcript in order (it must: a reply is
//! explained by the command it answers, and with PIPELINING, RFC 2920,
//! several commands are in flight) and gives a [`Note`] for the lines worth
//! one. A note is a line of text for people and the [`Citation`]s behind
//! it, with links to the RFC Editor's pages.
//!
//! ```
//! use smtp_wire::annotate::Annotator;
//! use smtp_wire::Transcript;
//!
//! let mut transcript = Transcript::new();
//! transcript.server(b"220 mx.example.org ready\r\n");
//! transcript.client(b"EHLO client.example\r\n");
//! let mut annotator = Annotator::new();
//! let notes: Vec<String> = transcript
//!     .lines()
//!     .iter()
//!     .filter_map(|line| annotator.note(line))
//!     .map(|note| note.to_string())
//!     .collect();
//! assert_eq!(notes[1], "RFC 5321 §4.1.1.1: the client names itself and asks for the server's extensions");
//! assert_eq!(annotator_url(&notes), "https://www.rfc-editor.org/rfc/rfc5321#section-4.1.1.1");
//! # fn annotator_url(_: &[String]) -> String {
//! #     smtp_wire::annotate::Citation::new(5321, "4.1.1.1").url()
//! # }
//! ```

mod explained;

use std::collections::VecDeque;
use std::fmt;

pub use explained::{NOTE_COLUMN, Style, explain, explained_line};

use crate::reply::explain_code;
use crate::transcript::{Direction, TranscriptLine};

/// A place in an RFC: `RFC 5321 §4.1.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Citation {
    /// The RFC number.
    pub rfc: u16,
    /// The section (`"4.1.1.1"`), empty for the RFC as a whole.
    pub section: &'static str,
}

impl Citation {
    /// `RFC rfc §section`.
    pub const fn new(rfc: u16, section: &'static str) -> Citation {
        Citation { rfc, section }
    }

    /// The RFC Editor's page for it, at the section.
    pub fn url(&self) -> String {
        if self.section.is_empty() {
            format!("https://www.rfc-editor.org/rfc/rfc{}", self.rfc)
        } else {
            format!(
                "https://www.rfc-editor.org/rfc/rfc{}#section-{}",
                self.rfc, self.section
            )
        }
    }
}

impl fmt::Display for Citation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.section.is_empty() {
            write!(f, "RFC {}", self.rfc)
        } else {
            write!(f, "RFC {} §{}", self.rfc, self.section)
        }
    }
}

/// One note: the text a person reads (citations included, as written in
/// it), and the citations as values, for links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The text, e.g. `RFC 3207 §4: ask to switch this connection to TLS`.
    pub text: String,
    /// The RFC sections it cites, in the order the text names them.
    pub cites: Vec<Citation>,
}

impl Note {
    fn new(text: impl Into<String>, cites: &[Citation]) -> Note {
        Note {
            text: text.into(),
            cites: cites.to_vec(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const fn rfc(rfc: u16, section: &'static str) -> Citation {
    Citation::new(rfc, section)
}

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
    /// Client lines sent after DATA before its reply, which says what they
    /// are: message text after 354, commands otherwise (RFC 5321 §4.1.1.4).
    /// A transcript shows them before that reply when they were sent before
    /// it (a client that did not wait).
    after_data: Option<Vec<String>>,
}

impl Annotator {
    /// A fresh annotator, at the start of a session.
    pub fn new() -> Self {
        Self::default()
    }

    /// The note for `line`, if it deserves one.
    pub fn note(&mut self, line: &TranscriptLine) -> Option<Note> {
        match line.dir {
            None if line.is_tls_started() => {
                self.in_multiline = false;
                Some(Note::new(
                    "RFC 3207 §4.2, RFC 8314 §3: the TLS handshake; everything after it is \
                     encrypted",
                    &[rfc(3207, "4.2"), rfc(8314, "3")],
                ))
            }
            None if line.text.starts_with("-- connected") => Some(Note::new(
                "RFC 5321 §3.1: a TCP connection; the server speaks first",
                &[rfc(5321, "3.1")],
            )),
            None => None,
            Some(Direction::Client) => self.client(&line.text),
            Some(Direction::Server) => self.server(&line.text),
        }
    }

    fn client(&mut self, text: &str) -> Option<Note> {
        if self.in_body {
            return self.body(text);
        }
        let verb = verb_of(text);
        match &mut self.after_data {
            // Not known yet: it waits for the reply to DATA, and is noted
            // as the command it looks like.
            Some(held) => held.push(text.to_string()),
            None => self.pending.push_back(verb.clone()),
        }
        if verb == "DATA" {
            self.after_data.get_or_insert_with(Vec::new);
        }
        command_note(&verb, text)
    }

    /// The reply to DATA came: what the client sent meanwhile was message
    /// text (up to its end) after a 354, commands otherwise.
    fn data_answered(&mut self, code: u16) {
        for text in self.after_data.take().unwrap_or_default() {
            if code == 354 && self.in_body {
                if text == "." {
                    self.in_body = false;
                    self.pending.push_back("END-OF-DATA".into());
                } else {
                    self.body_started = true;
                }
            } else {
                self.pending.push_back(verb_of(&text));
            }
        }
    }

    fn body(&mut self, text: &str) -> Option<Note> {
        if text == "." {
            self.in_body = false;
            self.pending.push_back("END-OF-DATA".into());
            return Some(Note::new(
                "RFC 5321 §4.1.1.4: <CRLF>.<CRLF>, a line holding one dot, ends the mail data",
                &[rfc(5321, "4.1.1.4")],
            ));
        }
        let first = !self.body_started;
        self.body_started = true;
        if text.starts_with("..") {
            let stuffing = [rfc(5321, "4.5.2")];
            if std::mem::replace(&mut self.stuffing_explained, true) {
                return Some(Note::new("dot-stuffed (RFC 5321 §4.5.2)", &stuffing));
            }
            return Some(Note::new(
                "RFC 5321 §4.5.2: a line that starts with '.' goes out with one more '.' \
                 (dot-stuffing); the receiver removes it",
                &stuffing,
            ));
        }
        if text.contains("\\n") || text.contains("\\r") {
            return Some(Note::new(
                "RFC 5321 §2.3.8: a bare CR or LF is not a line end; only CRLF is",
                &[rfc(5321, "2.3.8")],
            ));
        }
        if text.starts_with("[") && text.contains("left out") {
            return None;
        }
        first.then(|| {
            Note::new(
                "RFC 5322 §2: the message itself: header fields, an empty line, the body",
                &[rfc(5322, "2")],
            )
        })
    }

    fn server(&mut self, text: &str) -> Option<Note> {
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
        if verb == "DATA" {
            self.data_answered(code);
        }
        let context = match (verb.as_str(), code) {
            ("", 220) => Some((
                "RFC 5321 §3.1, §4.2: the server speaks first: its greeting",
                &[rfc(5321, "3.1"), rfc(5321, "4.2")][..],
            )),
            ("EHLO" | "LHLO", 250) => Some((
                "RFC 5321 §4.1.1.1: the first line greets, each further line names an extension",
                &[rfc(5321, "4.1.1.1")][..],
            )),
            ("STARTTLS", 220) => Some((
                "RFC 3207 §4: go ahead; the TLS handshake starts now",
                &[rfc(3207, "4")][..],
            )),
            ("AUTH", 235) => Some((
                "RFC 4954 §6: authentication succeeded",
                &[rfc(4954, "6")][..],
            )),
            ("AUTH", 334) => Some((
                "RFC 4954 §4: a challenge; the client answers in base64",
                &[rfc(4954, "4")][..],
            )),
            ("RCPT", 550..=559) => Some((
                "RFC 5321 §4.2.2: this recipient is refused; the others are not affected",
                &[rfc(5321, "4.2.2")][..],
            )),
            ("END-OF-DATA", 250) => Some((
                "RFC 5321 §4.1.1.4, §6.1: the message is stored; the receiver is now responsible for it",
                &[rfc(5321, "4.1.1.4"), rfc(5321, "6.1")][..],
            )),
            ("END-OF-DATA", 500..=559) => Some((
                "RFC 5321 §4.1.1.4: the message is refused, after reading it to its real end",
                &[rfc(5321, "4.1.1.4")][..],
            )),
            _ => None,
        };
        Some(match context {
            Some((text, cites)) => Note::new(text, cites),
            // RFC 5321 §4.2.2 and §4.2.3 list the codes and their meaning.
            None => Note::new(
                format!("{code}: {}", explain_code(code)),
                &[rfc(5321, "4.2.3")],
            ),
        })
    }
}

/// The note for a command line, by its verb.
fn command_note(verb: &str, text: &str) -> Option<Note> {
    if let Some(note) = dsn_note(verb, text) {
        return Some(note);
    }
    if verb == "XCLIENT" {
        // Postfix's extension (XCLIENT_README): no RFC to cite.
        return Some(Note::new(
            "XCLIENT (Postfix's extension, no RFC): a trusted proxy names the client it speaks \
             for; the server greets again with 220",
            &[],
        ));
    }
    let (text, cite) = match verb {
        "EHLO" => (
            "RFC 5321 §4.1.1.1: the client names itself and asks for the server's extensions",
            rfc(5321, "4.1.1.1"),
        ),
        "HELO" => (
            "RFC 821 §4.1.1 (RFC 5321 §4.1.1.1): the original greeting, no extensions",
            rfc(821, "4.1.1"),
        ),
        "LHLO" => (
            "RFC 2033 §4.1: LMTP's EHLO; after the message the server answers once per recipient",
            rfc(2033, "4.1"),
        ),
        "STARTTLS" => (
            "RFC 3207 §4: ask to switch this connection to TLS",
            rfc(3207, "4"),
        ),
        "AUTH" if verb_is_command(text) => (
            "RFC 4954 §4: authenticate; the secret is redacted from this transcript",
            rfc(4954, "4"),
        ),
        "MAIL" => (
            "RFC 5321 §4.1.1.2: a new mail transaction; the reverse-path receives bounces",
            rfc(5321, "4.1.1.2"),
        ),
        "RCPT" => (
            "RFC 5321 §4.1.1.3: one recipient (forward-path) per RCPT command",
            rfc(5321, "4.1.1.3"),
        ),
        "DATA" => (
            "RFC 5321 §4.1.1.4: the mail data follows, after a 354 reply",
            rfc(5321, "4.1.1.4"),
        ),
        "BDAT" => (
            "RFC 3030 §2: a chunk of exactly the given size, no dot-stuffing",
            rfc(3030, "2"),
        ),
        "RSET" => (
            "RFC 5321 §4.1.1.5: abort the transaction, keep the session",
            rfc(5321, "4.1.1.5"),
        ),
        "NOOP" => (
            "RFC 5321 §4.1.1.9: no operation; the server answers 250",
            rfc(5321, "4.1.1.9"),
        ),
        "VRFY" => (
            "RFC 5321 §4.1.1.6: ask whether a user exists",
            rfc(5321, "4.1.1.6"),
        ),
        "QUIT" => (
            "RFC 5321 §4.1.1.10: the client is done; the server answers 221 and closes",
            rfc(5321, "4.1.1.10"),
        ),
        _ => return None,
    };
    Some(Note::new(text, &[cite]))
}

/// MAIL or RCPT carrying delivery status notification requests (RFC 3461).
fn dsn_note(verb: &str, text: &str) -> Option<Note> {
    let upper = text.to_ascii_uppercase();
    let has = |keyword: &str| upper.contains(&format!(" {keyword}="));
    match verb {
        "MAIL" if has("RET") || has("ENVID") => Some(Note::new(
            "RFC 5321 §4.1.1.2: a new mail transaction; RFC 3461 §4.3-4.4: RET says how much \
             of the message a delivery report returns, ENVID is the sender's own identifier",
            &[rfc(5321, "4.1.1.2"), rfc(3461, "4.3")],
        )),
        "RCPT" if has("NOTIFY") || has("ORCPT") => Some(Note::new(
            "RFC 5321 §4.1.1.3: one recipient; RFC 3461 §4.1-4.2: NOTIFY says when to report on \
             it (NEVER, or SUCCESS, FAILURE, DELAY), ORCPT keeps the address first given",
            &[rfc(5321, "4.1.1.3"), rfc(3461, "4.1")],
        )),
        _ => None,
    }
}

/// The verb of a client line, upper-cased; a line sent during an AUTH
/// exchange (`<redacted>`) answers a 334 challenge, and counts as AUTH.
fn verb_of(text: &str) -> String {
    if text == "<redacted>" {
        return "AUTH".to_string();
    }
    text.split([' ', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// `AUTH PLAIN ...` is the command; a bare `<redacted>` line is a response.
fn verb_is_command(text: &str) -> bool {
    text.len() > 4 && text[..4].eq_ignore_ascii_case("AUTH")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transcript;

    fn notes(transcript: &Transcript) -> Vec<Option<Note>> {
        let mut annotator = Annotator::new();
        transcript
            .lines()
            .iter()
            .map(|l| annotator.note(l))
            .collect()
    }

    #[test]
    fn pipelined_replies_are_matched_to_their_commands_in_order() {
        let mut t = Transcript::new();
        t.client(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n");
        t.server(b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n");
        let notes = notes(&t);
        let rcpt_refused = notes[6].as_ref().unwrap();
        assert!(
            rcpt_refused.text.contains("this recipient is refused"),
            "{rcpt_refused}"
        );
        assert_eq!(rcpt_refused.cites, [Citation::new(5321, "4.2.2")]);
        assert!(notes[7].as_ref().unwrap().text.starts_with("354: "));
    }

    #[test]
    fn text_sent_before_the_354_is_text_and_what_follows_is_matched() {
        let mut t = Transcript::new();
        t.client(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n");
        t.client(b"Subject: hi\r\n\r\nRSET\r\n.\r\nQUIT\r\n");
        t.server(b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n");
        t.client(b"NOOP\r\n");
        let lines = t.lines();
        let notes = notes(&t);
        let note_of = |shown: &str| {
            let at = lines.iter().position(|l| l.text == shown).unwrap();
            notes[at]
                .as_ref()
                .map(|n| n.text.clone())
                .unwrap_or_default()
        };
        assert!(note_of("250 queued").contains("the message is stored"));
        assert!(note_of("221 bye").starts_with("221: "));
        // The body is over: NOOP is a command again.
        assert!(note_of("NOOP").contains("§4.1.1.9"));
    }

    #[test]
    fn commands_sent_after_a_refused_data_are_matched_to_their_replies() {
        let mut t = Transcript::new();
        t.client(b"DATA\r\nRSET\r\n");
        t.server(b"503 5.5.1 no\r\n250 2.0.0 ok\r\n");
        t.client(b"QUIT\r\n");
        t.server(b"221 bye\r\n");
        let notes = notes(&t);
        assert!(notes[1].as_ref().unwrap().text.contains("§4.1.1.5"));
        assert!(notes[2].as_ref().unwrap().text.starts_with("503: "));
        assert!(notes[3].as_ref().unwrap().text.starts_with("250: "));
        assert!(notes[5].as_ref().unwrap().text.starts_with("221: "));
    }

    #[test]
    fn dsn_parameters_get_their_rfc() {
        let mut t = Transcript::new();
        t.client(b"MAIL FROM:<a@example.org> RET=HDRS ENVID=x\r\n");
        t.client(b"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE\r\n");
        t.client(b"RCPT TO:<c@example.org>\r\n");
        let notes = notes(&t);
        let text = |i: usize| {
            notes[i]
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        assert!(text(0).contains("RFC 3461 §4.3"), "{}", text(0));
        assert!(text(1).contains("NOTIFY says when"), "{}", text(1));
        assert!(!text(2).contains("3461"), "{}", text(2));
    }

    #[test]
    fn citations_link_to_the_rfc_editor() {
        assert_eq!(Citation::new(3207, "4.2").to_string(), "RFC 3207 §4.2");
        assert_eq!(
            Citation::new(821, "").url(),
            "https://www.rfc-editor.org/rfc/rfc821"
        );
    }
}
