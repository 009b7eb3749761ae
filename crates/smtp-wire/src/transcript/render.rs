//! Turning recorded bytes into readable lines: every byte a learner should
//! notice (bare CR, bare LF, controls, invalid UTF-8, bidi overrides) is shown
//! as an escape instead of being interpreted by the terminal.

/// Shown after a line that has no line end (yet).
pub(super) const NO_LINE_END: &str = " [no line end]";

/// How a recorded line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// CRLF, the proper end (RFC 5321 §2.3.8): not shown.
    Crlf,
    /// A bare LF: shown as `\n`.
    BareLf,
    /// No line end (the connection stopped, or a BDAT chunk ended mid-line).
    None,
}

impl Ending {
    /// The octets of the line end.
    pub fn bytes(self) -> &'static [u8] {
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

/// The octets of one client or server line from its visible text (the
/// inverse of what [`TranscriptLine::text`](super::TranscriptLine) shows):
/// the escapes read back, and how the line ended. An unknown escape is
/// kept as written.
pub(super) fn line_octets(text: &str) -> (Vec<u8>, Ending) {
    if let Some(text) = text.strip_suffix(NO_LINE_END) {
        return (unescape(text), Ending::None);
    }
    let mut bytes = unescape(text);
    if bytes.last() == Some(&b'\n') {
        // A LF inside a line cannot be: lines are split at LF, so an
        // escaped `\n` at the end is the (bare) line end.
        bytes.pop();
        (bytes, Ending::BareLf)
    } else {
        (bytes, Ending::Crlf)
    }
}

fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let (octets, used) = one_escape(&rest[at..]);
        out.extend_from_slice(&octets);
        rest = &rest[at + used..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// One escape at the start of `s` (which starts with `\`): its octets and
/// how many bytes of `s` it used.
fn one_escape(s: &str) -> (Vec<u8>, usize) {
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
