//! Turning recorded bytes into readable lines: every byte a learner should
//! notice (bare CR, bare LF, controls, invalid UTF-8, bidi overrides) is shown
//! as an escape instead of being interpreted by the terminal.

/// Shown after a line that has no line end (yet).
pub(super) const NO_LINE_END: &str = " [no line end]";

/// How a recorded line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// CRLF, the proper end (RFC 5321 §2.3.8): not shown.
    Crlf,
    /// A bare LF: shown as `\n`.
    BareLf,
    /// No line end (the connection stopped, or a BDAT chunk ended mid-line).
    None,
}

impl Ending {
    pub(super) fn bytes(self) -> &'static [u8] {
        match self {
            Ending::Crlf => b"\r\n",
            Ending::BareLf => b"\n",
            Ending::None => b"",
        }
    }
}

/// Split recorded bytes into lines at LF, with how each ended.
pub(super) fn split_lines(bytes: &[u8]) -> impl Iterator<Item = (&[u8], Ending)> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', rest) {
            Some(lf) => {
                let (line, ending) = match rest[..lf].strip_suffix(b"\r") {
                    Some(line) => (line, Ending::Crlf),
                    None => (&rest[..lf], Ending::BareLf),
                };
                rest = &rest[lf + 1..];
                Some((line, ending))
            }
            None => {
                let line = rest;
                rest = b"";
                Some((line, Ending::None))
            }
        }
    })
}

/// The visible text of one line: escapes for `\`, CR, LF, TAB, other
/// controls, invalid UTF-8 and bidirectional formatting characters, then
/// the ending (`\n` for a bare LF, a marker for none).
pub(super) fn line_text(line: &[u8], ending: Ending) -> String {
    let mut out = String::with_capacity(line.len() + 4);
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    match ending {
        Ending::Crlf => {}
        Ending::BareLf => out.push_str("\\n"),
        Ending::None => out.push_str(NO_LINE_END),
    }
    out
}

/// Escape text written by us or the application (notes) the same way.
pub(super) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    text.chars().for_each(|c| push_char(&mut out, c));
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
        // C1 controls and the bidirectional formatting characters that can
        // make a line display differently from what it contains.
        c if c.is_control() || is_bidi_control(c) => {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)))
        }
        c => out.push(c),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}
