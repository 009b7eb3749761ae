//! Tests of the passive judge: sessions written as the server records them
//! (with `Transcript::client`, `server` and `tls_started`), and the finding
//! expected on the right line.

mod sessions;
mod table;

use smtp_wire::{Transcript, TranscriptLimits};

use super::{Finding, Judgement, SessionEnd, judge, judge_lines};

/// A recorded session, written as script lines: `S: text` and `C: text`
/// are a line with CRLF, `C+ text` client octets as given, `TLS` the
/// handshake.
pub(super) fn record(parts: &[&[&str]]) -> Transcript {
    let mut t = Transcript::with_limits(TranscriptLimits::default());
    for line in parts.iter().flat_map(|p| p.iter()) {
        if let Some(text) = line.strip_prefix("S: ") {
            t.server(format!("{text}\r\n").as_bytes());
        } else if let Some(text) = line.strip_prefix("C: ") {
            t.client(format!("{text}\r\n").as_bytes());
        } else if let Some(octets) = line.strip_prefix("C+ ") {
            t.client(octets.as_bytes());
        } else if *line == "TLS" {
            t.tls_started();
        } else {
            panic!("bad script line {line:?}");
        }
    }
    t
}

/// The index of the first line shown as `shown` (`C: text` or `S: text`).
pub(super) fn line_of(t: &Transcript, shown: &str) -> usize {
    t.render()
        .lines()
        .position(|l| l == shown)
        .unwrap_or_else(|| panic!("no line {shown:?} in\n{}", t.render()))
}

/// The transcript with its findings, for failure messages.
pub(super) fn show(t: &Transcript, j: &Judgement) -> String {
    let mut out = String::new();
    for (n, line) in t.render().lines().enumerate() {
        out.push_str(&format!("{n:3} {line}\n"));
        for f in j.on_line(n) {
            out.push_str(&format!("      {} {}: {}\n", f.level, f.check, f.text));
        }
    }
    out.push_str(&format!("badge: {}\n", j.badge));
    out
}

/// The findings of `check`.
pub(super) fn of<'a>(j: &'a Judgement, check: &str) -> Vec<&'a Finding> {
    j.findings.iter().filter(|f| f.check == check).collect()
}

/// The server's greeting and an EHLO reply with the usual extensions (no
/// AUTH in the clear).
pub(super) const OPEN: &[&str] = &[
    "S: 220 mx.example.test ESMTP",
    "C: EHLO client.example.test",
    "S: 250-mx.example.test",
    "S: 250-PIPELINING",
    "S: 250-SIZE 1000",
    "S: 250-8BITMIME",
    "S: 250-SMTPUTF8",
    "S: 250-CHUNKING",
    "S: 250-STARTTLS",
    "S: 250 ENHANCEDSTATUSCODES",
];

/// A server with no extension at all.
pub(super) const MINIMAL: &[&str] = &[
    "S: 220 mx.example.test ESMTP",
    "C: EHLO client.example.test",
    "S: 250 mx.example.test",
];

/// STARTTLS, then EHLO again, AUTH offered.
pub(super) const STARTTLS: &[&str] = &[
    "C: STARTTLS",
    "S: 220 2.0.0 go ahead",
    "TLS",
    "C: EHLO client.example.test",
    "S: 250-mx.example.test",
    "S: 250-PIPELINING",
    "S: 250-SIZE 1000",
    "S: 250-8BITMIME",
    "S: 250-AUTH PLAIN LOGIN",
    "S: 250 ENHANCEDSTATUSCODES",
];

/// MAIL and RCPT for the 22-octet message of [`DATA`].
pub(super) const ENVELOPE: &[&str] = &[
    "C: MAIL FROM:<a@example.test> SIZE=22",
    "S: 250 2.1.0 ok",
    "C: RCPT TO:<b@example.test>",
    "S: 250 2.1.5 ok",
];

/// A 22-octet message.
pub(super) const DATA: &[&str] = &[
    "C: DATA",
    "S: 354 go ahead",
    "C: Subject: hi",
    "C: ",
    "C: hello",
    "C: .",
    "S: 250 2.0.0 queued",
];

pub(super) const QUIT: &[&str] = &["C: QUIT", "S: 221 2.0.0 bye"];

#[test]
fn a_clean_session_conforms() {
    let t = record(&[OPEN, ENVELOPE, DATA, QUIT]);
    let j = judge(&t);
    assert!(j.findings.is_empty(), "{}", show(&t, &j));
    assert_eq!(j.badge, super::Badge::Conforming);
}

#[test]
fn an_open_session_is_judged_as_far_as_it_went() {
    let t = record(&[OPEN, ENVELOPE]);
    assert_eq!(of(&judge(&t), "client.quit").len(), 1);
    let open = judge_lines(&t.lines(), SessionEnd::Open);
    assert!(open.findings.is_empty(), "{}", show(&t, &open));
}
