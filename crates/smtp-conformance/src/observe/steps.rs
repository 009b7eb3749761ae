//! From displayed transcript lines back to what crossed the wire.
//!
//! [`smtp_wire::Transcript::lines`] shows every line escaped (a bare LF
//! line end as `\n`, a bare CR as `\r`, other controls and invalid UTF-8 as
//! `\x..`, C1 and bidirectional controls as `\u{..}`, a backslash as `\\`,
//! a line without an end with ` [no line end]`), and writes its own markers
//! as `-- text --`. This module reads both back: the octets of each line,
//! how it ended, and what the markers say (TLS started, octets cut from a
//! long line, body lines left out, client bytes not recorded). The escapes
//! are read back by smtp-wire itself ([`TranscriptLine::octets`], next to
//! the code that writes them); a test feeds every octet through a real
//! `Transcript` and back.

pub(super) use smtp_wire::transcript::Ending;
use smtp_wire::{Direction, TranscriptLine};

/// One recorded line, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Wire {
    /// Its index in the transcript's lines.
    pub(super) index: usize,
    /// The octets shown, line end excluded.
    pub(super) bytes: Vec<u8>,
    pub(super) ending: Ending,
    /// Octets of the line the transcript did not keep (it cuts long lines).
    pub(super) cut: u64,
}

impl Wire {
    /// The length of the line on the wire, line end included.
    pub(super) fn len(&self) -> u64 {
        self.bytes.len() as u64 + self.cut + self.ending.bytes().len() as u64
    }
}

/// One step of a recorded session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// A line the client sent.
    Client(Wire),
    /// A line the server sent.
    Server(Wire),
    /// The TLS handshake completed here.
    TlsStarted,
    /// Body lines the transcript left out (it keeps a message's first and
    /// last lines): how many, and their octets.
    Elided { lines: u64, bytes: u64 },
    /// Client octets were not recorded from here (too much sent before a
    /// reply, or the transcript's total limit).
    Lost,
    /// Any other note.
    Note,
}

/// Reads the lines back into steps. A "line cut" note is folded into the
/// line it belongs to.
pub(super) fn steps(lines: &[TranscriptLine]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let step = match line.dir {
            Some(Direction::Client) => Step::Client(wire(index, line)),
            Some(Direction::Server) => Step::Server(wire(index, line)),
            None => marker(&line.text),
        };
        if let Step::Note = step
            && let Some(cut) = cut_note(&line.text)
            && let Some(Step::Client(last) | Step::Server(last)) = out.last_mut()
        {
            last.cut += cut;
            continue;
        }
        out.push(step);
    }
    out
}

fn wire(index: usize, line: &TranscriptLine) -> Wire {
    let (bytes, ending) = line.octets();
    Wire {
        index,
        bytes,
        ending,
        cut: 0,
    }
}

/// The text of a `-- text --` marker.
fn marker_text(text: &str) -> Option<&str> {
    text.strip_prefix("-- ")?.strip_suffix(" --")
}

fn marker(text: &str) -> Step {
    let Some(text) = marker_text(text) else {
        return Step::Note;
    };
    if text == "TLS started" {
        return Step::TlsStarted;
    }
    if let Some((lines, bytes)) = elided(text) {
        return Step::Elided { lines, bytes };
    }
    let lost = text.starts_with("client not recorded from here")
        || text.starts_with("transcript limit reached")
        || text.ends_with(" client bytes not recorded");
    if lost { Step::Lost } else { Step::Note }
}

/// `N body lines (M bytes) not shown`.
fn elided(text: &str) -> Option<(u64, u64)> {
    let (lines, rest) = text.split_once(" body lines (")?;
    let bytes = rest.strip_suffix(" bytes) not shown")?;
    Some((lines.parse().ok()?, bytes.parse().ok()?))
}

/// `line cut: N more bytes not shown`.
fn cut_note(text: &str) -> Option<u64> {
    marker_text(text)?
        .strip_prefix("line cut: ")?
        .strip_suffix(" more bytes not shown")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_wire::Transcript;

    #[test]
    fn every_octet_reads_back_as_sent() {
        let mut sent: Vec<u8> = (0u8..=255).filter(|b| *b != b'\n').collect();
        sent.extend_from_slice("\\x41 \\n é \u{202e} \u{85}".as_bytes());
        let mut t = Transcript::new();
        t.client(b"DATA\r\n");
        t.server(b"354 go ahead\r\n");
        let mut body = sent.clone();
        body.extend_from_slice(b"\r\nlast\n.\r\n");
        t.client(&body);
        let steps = steps(&t.lines());
        let Step::Client(line) = &steps[2] else {
            panic!("{steps:?}")
        };
        assert_eq!(line.bytes, sent);
        assert_eq!(line.ending, Ending::Crlf);
        let Step::Client(last) = &steps[3] else {
            panic!("{steps:?}")
        };
        assert_eq!(
            (last.bytes.as_slice(), last.ending),
            (&b"last"[..], Ending::BareLf)
        );
    }

    #[test]
    fn markers_say_what_was_left_out() {
        let mut t = Transcript::with_limits(smtp_wire::TranscriptLimits {
            body_head_lines: 1,
            body_tail_lines: 1,
            max_line_bytes: 8,
            max_total_bytes: 1 << 20,
        });
        t.client(b"DATA\r\n");
        t.server(b"354 go\r\n");
        t.client(b"0123456789\r\nb\r\nc\r\nd\r\n.\r\n");
        let steps = steps(&t.lines());
        assert!(
            matches!(&steps[2], Step::Client(w) if w.cut == 2 && w.len() == 12),
            "{steps:?}"
        );
        assert!(
            steps.contains(&Step::Elided { lines: 2, bytes: 6 }),
            "{steps:?}"
        );
        t.tls_started();
        assert_eq!(self::steps(&t.lines()).last(), Some(&Step::TlsStarted));
    }

    #[test]
    fn a_line_without_end_says_so() {
        let step = &steps(&[TranscriptLine {
            dir: Some(Direction::Client),
            text: "MAIL FR [no line end]".into(),
        }])[0];
        assert!(
            matches!(step, Step::Client(w) if w.ending == Ending::None && w.bytes == b"MAIL FR")
        );
        let unknown = TranscriptLine {
            dir: Some(Direction::Client),
            text: "a\\qb\\x4".into(),
        };
        assert_eq!(unknown.octets().0, b"a\\qb\\x4");
    }
}
