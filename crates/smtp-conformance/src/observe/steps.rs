//! From displayed transcript lines back to what crossed the wire.
//!
//! [`smtp_wire::Transcript::lines`] shows every line escaped (a bare LF
//! line end as `\n`, a bare CR as `\r`, other controls and invalid UTF-8 as
//! `\x..`, C1 and bidirectional controls as `\u{..}`, a backslash as `\\`,
//! a line without an end with ` [no line end]`), and writes its own markers
//! as `-- text --`. This module reads both back: the octets of each line,
//! how it ended, and what the markers say (TLS started, octets cut from a
//! long line, body lines left out, client bytes not recorded). The escapes
//! mirror smtp-wire's `transcript/render.rs`; a test feeds every octet
//! through a real `Transcript` to keep the two in step.

use smtp_wire::{Direction, TranscriptLine};

/// What smtp-wire appends to a line that has no line end (yet).
const NO_LINE_END: &str = " [no line end]";

/// How a recorded line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// CRLF (RFC 5321 §2.3.8).
    Crlf,
    /// A bare LF.
    BareLf,
    /// None: the line stopped (end of a BDAT chunk, a TLS switch, the end
    /// of the recording).
    None,
}

impl Ending {
    /// The octets of the line end.
    pub(super) fn bytes(self) -> &'static [u8] {
        match self {
            Ending::Crlf => b"\r\n",
            Ending::BareLf => b"\n",
            Ending::None => b"",
        }
    }
}

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
            Some(Direction::Client) => Step::Client(wire(index, &line.text)),
            Some(Direction::Server) => Step::Server(wire(index, &line.text)),
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

fn wire(index: usize, text: &str) -> Wire {
    let (text, unended) = match text.strip_suffix(NO_LINE_END) {
        Some(text) => (text, true),
        None => (text, false),
    };
    let mut bytes = unescape(text);
    let ending = if unended {
        Ending::None
    } else if bytes.last() == Some(&b'\n') {
        // A LF inside a line cannot be: the transcript splits at LF, so an
        // escaped `\n` is the (bare) line end.
        bytes.pop();
        Ending::BareLf
    } else {
        Ending::Crlf
    };
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

/// The octets behind an escaped line (an unknown escape is kept as written).
pub(super) fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let (octets, used) = escape(&rest[at..]);
        out.extend_from_slice(&octets);
        rest = &rest[at + used..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// One escape at the start of `s` (which starts with `\`): its octets and
/// how many bytes of `s` it used.
fn escape(s: &str) -> (Vec<u8>, usize) {
    let simple = match s.as_bytes().get(1) {
        Some(b'\\') => Some(b'\\'),
        Some(b'r') => Some(b'\r'),
        Some(b'n') => Some(b'\n'),
        Some(b't') => Some(b'\t'),
        _ => None,
    };
    if let Some(octet) = simple {
        return (vec![octet], 2);
    }
    if let Some(hex) = s.get(2..4).filter(|_| s.as_bytes().get(1) == Some(&b'x'))
        && let Ok(octet) = u8::from_str_radix(hex, 16)
    {
        return (vec![octet], 4);
    }
    if let Some(body) = s.strip_prefix("\\u{")
        && let Some(end) = body.find('}')
        && let Ok(code) = u32::from_str_radix(&body[..end], 16)
        && let Some(c) = char::from_u32(code)
    {
        return (c.to_string().into_bytes(), 3 + end + 1);
    }
    (vec![b'\\'], 1)
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
        assert_eq!(unescape("a\\qb\\x4"), b"a\\qb\\x4");
    }
}
