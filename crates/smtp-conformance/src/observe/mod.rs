//! The passive client judge: what the *client* did in a recorded session.
//!
//! [`client`](crate::client) judges a client by being its server. This
//! module judges one after the fact, from a [`Transcript`] recorded on the
//! server's side (or its `C:`/`S:` rendering, read back with [`read`]), with
//! the same rules (`client/rules.rs`, shared by both): line ends, command
//! syntax and order, pipelining, dot-stuffing, line lengths, 8-bit text,
//! SMTPUTF8, SIZE, AUTH and TLS, QUIT. Each [`Finding`] names the transcript
//! line it concerns, so a page can draw it on that step.
//!
//! What it can see is the order of events: a command recorded before the
//! reply to the previous one was sent without waiting for it (pipelining).
//! What the recording left out (the middle of long bodies, the end of long
//! lines, bytes past its limit) is judged by what is known of it (its
//! length), never by guesses about its content.
//!
//! ```
//! use smtp_conformance::observe::{self, Badge};
//! use smtp_wire::Transcript;
//!
//! let mut t = Transcript::new();
//! t.server(b"220 mx.example ESMTP\r\n");
//! t.client(b"EHLO client.example\r\n");
//! t.server(b"250 mx.example\r\n");
//! t.client(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n");
//! t.server(b"250 ok\r\n250 ok\r\n");
//! let judgement = observe::judge(&t);
//! assert_eq!(judgement.badge, Badge::Violations);
//! let first = &judgement.findings[0];
//! assert_eq!((first.line, first.check), (4, "client.waits-for-replies"));
//! assert_eq!(first.text, "RCPT sent before the reply to MAIL (PIPELINING not offered)");
//! ```

mod commands;
mod message;
mod read;
mod replies;
mod session;
mod steps;
#[cfg(test)]
mod tests;

use std::fmt;

use smtp_wire::{Transcript, TranscriptLine};

pub use read::{Format, Recorded, read};

use crate::model::{CaseInfo, Level};

/// One thing the client did wrong, on one line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The index of the line it concerns, in [`Transcript::lines`] (or in
    /// the lines given to [`judge_lines`]).
    pub line: usize,
    /// The stable id of the rule, as `smtp-conform client` reports it
    /// (`client.crlf`, ...; see [`checks`]).
    pub check: &'static str,
    /// How strongly the rule is required: MUST and hardening findings are
    /// violations, SHOULD and MAY ones warnings.
    pub level: Level,
    /// One line for people: `bare LF in data`, ...
    pub text: String,
    /// Where the rule is written: `RFC 5321 §2.3.8`.
    pub rfc: &'static str,
}

impl Finding {
    /// True for a MUST or hardening finding.
    pub fn is_violation(&self) -> bool {
        matches!(self.level, Level::Must | Level::Hardening)
    }
}

/// The summary of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Badge {
    /// No finding.
    Conforming,
    /// Only SHOULD (or MAY) findings.
    Warnings,
    /// At least one MUST or hardening finding.
    Violations,
}

impl Badge {
    /// `"conforming"`, `"warnings"` or `"violations"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Badge::Conforming => "conforming",
            Badge::Warnings => "warnings",
            Badge::Violations => "violations",
        }
    }
}

impl fmt::Display for Badge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on a session: the findings in line order, and the badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Every finding, by line (and in the order found on a line).
    pub findings: Vec<Finding>,
    /// The summary.
    pub badge: Badge,
}

impl Judgement {
    fn new(mut findings: Vec<Finding>) -> Judgement {
        findings.sort_by_key(|f| f.line);
        let badge = if findings.iter().any(Finding::is_violation) {
            Badge::Violations
        } else if findings.is_empty() {
            Badge::Conforming
        } else {
            Badge::Warnings
        };
        Judgement { findings, badge }
    }

    /// The findings on line `line`.
    pub fn on_line(&self, line: usize) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.line == line)
    }
}

/// Whether the recorded session is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The connection closed: how it ended is judged too (QUIT, the reply
    /// to QUIT).
    Closed,
    /// Still in progress: judged as far as it went.
    Open,
}

/// Judges a finished session recorded on the server's side (the events in
/// the order the server saw them): what the client did.
pub fn judge(transcript: &Transcript) -> Judgement {
    judge_lines(&transcript.lines(), SessionEnd::Closed)
}

/// Judges the displayed lines of a recorded session (as
/// [`Transcript::lines`] gives them, or as [`read`] reads them back from a
/// rendering); finding line numbers are indexes into `lines`.
pub fn judge_lines(lines: &[TranscriptLine], end: SessionEnd) -> Judgement {
    Judgement::new(session::walk(&steps::steps(lines), end))
}

/// The rules this judge applies, each once: every check of
/// `smtp-conform client` (see [`crate::client::catalogue`]), then the
/// scenario reactions that a recording can show, and the SHOULD half of the
/// QUIT rule (wait for its reply).
pub fn checks() -> Vec<CaseInfo> {
    let mut all = crate::client::catalogue();
    all.extend(session::REACTIONS.iter().filter_map(|s| s.reaction()));
    all.push(session::QUIT_REPLY);
    all
}
