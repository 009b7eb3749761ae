//! Incremental, strict reply parsing (RFC 5321 §4.2, §4.5.3.1.5).

use std::borrow::Cow;

use memchr::memchr;

use super::{EnhancedCode, Reply};

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the CRLF.
pub const MAX_REPLY_LINE: usize = 512;

/// Default limit on the number of lines in one reply. RFC 5321 sets none,
/// but without one a peer could send continuation lines forever and make
/// the client buffer them all.
pub const DEFAULT_MAX_REPLY_LINES: usize = 100;

/// The most room a multi-line reply is given beyond its first line before
/// its other lines are read (an EHLO reply is about 200 octets).
const REPLY_ROOM: usize = 1024;

/// Why the bytes are not a valid reply. After an error the stream is out of
/// step and the connection should be closed; the parser itself is reset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line (including its line end) is longer than the limit
    /// (512 octets by default, RFC 5321 §4.5.3.1.5).
    #[error("reply line longer than the limit (RFC 5321 §4.5.3.1.5: 512 octets)")]
    LineTooLong,
    /// The reply has more lines than the configured limit.
    #[error("reply has too many continuation lines")]
    TooManyLines,
    /// The line does not start with three digits; holds the start of the line.
    #[error("expected a three-digit reply code, got {0:?}")]
    BadCode(String),
    /// The code is outside 200..=599 (RFC 5321 §4.2.1: 2yz to 5yz).
    #[error("reply code {0} outside 200-599")]
    CodeOutOfRange(u16),
    /// A continuation line has a different code than the first line
    /// (RFC 5321 §4.2.1: every line carries the same code).
    #[error("multi-line reply mixes codes {first} and {then}")]
    MixedCodes {
        /// The code of the first line.
        first: u16,
        /// The different code on a later line.
        then: u16,
    },
    /// The code is followed by something other than a space, a hyphen or the line end.
    #[error("expected a space, a hyphen or the line end after the reply code")]
    BadSeparator,
    /// The text contains a control character other than TAB (RFC 5321 §4.2:
    /// textstring is HT / SP / printable), e.g. a CR not followed by LF.
    #[error("control character 0x{0:02x} in reply text")]
    ControlChar(u8),
}

/// An incremental reply parser: the caller owns the buffer.
///
/// Feed [`ReplyParser::decode`] everything received and not yet consumed;
/// it returns how many bytes it consumed and, once the last line of a reply
/// has arrived, the reply. Complete lines of an unfinished reply are
/// consumed and remembered; a partial line is not consumed, but the parser
/// remembers how far it already looked, so trickled bytes are not rescanned.
///
/// Policy:
/// - lines end with CRLF; a bare LF is accepted as a line end too (lenient
///   towards old servers; it cannot be used to smuggle anything because the
///   client only reads replies), a CR anywhere else is an error;
/// - `250` and `250 ` (empty text) are valid, as Postfix's smtp-sink sends;
/// - the enhanced code is detected on the first line when its text starts
///   with `c.s.d` where `c` is the code's first digit (RFC 2034 §4), and the
///   same prefix is removed from later lines;
/// - text is read as UTF-8 (RFC 6531 §3.7.4.1); invalid bytes become U+FFFD.
///
/// ```
/// use smtp_wire::reply::ReplyParser;
/// let mut parser = ReplyParser::new();
/// let mut buf = Vec::new();
/// let mut replies = Vec::new();
/// for chunk in [&b"250-mx.exa"[..], b"mple.com\r\n250-PIPE", b"LINING\r\n250 \r\n"] {
///     buf.extend_from_slice(chunk);
///     let (used, reply) = parser.decode(&buf).unwrap();
///     buf.drain(..used);
///     replies.extend(reply);
/// }
/// assert_eq!(replies[0].text(), "mx.example.com\nPIPELINING\n");
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    max_line: usize,
    max_lines: usize,
    /// Bytes at the start of the unconsumed input already known to hold no LF.
    scanned: usize,
    /// The multi-line reply read so far.
    partial: Option<Partial>,
}

/// A multi-line reply being read. Its text is kept as octets, each line
/// already checked (valid UTF-8, no control characters), and made a
/// `String` once, at the last line: one UTF-8 validation per reply instead
/// of one per line (11.6 % of the time for a 10-line EHLO reply).
#[derive(Debug, Clone)]
struct Partial {
    code: u16,
    enhanced: Option<EnhancedCode>,
    /// The lines so far, joined by LF.
    text: Vec<u8>,
    lines: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new()
    }
}

/// One decoded line.
struct Line<'a> {
    code: u16,
    last: bool,
    text: &'a [u8],
}

impl ReplyParser {
    /// A parser with the default limits: 512 octets per line including CRLF
    /// (RFC 5321 §4.5.3.1.5) and [`DEFAULT_MAX_REPLY_LINES`] lines per reply.
    pub fn new() -> Self {
        Self::with_limits(MAX_REPLY_LINE, DEFAULT_MAX_REPLY_LINES)
    }

    /// A parser with explicit limits: `max_line` octets per line including
    /// the line end, `max_lines` lines per reply (at least 1).
    pub fn with_limits(max_line: usize, max_lines: usize) -> Self {
        ReplyParser {
            max_line,
            max_lines: max_lines.max(1),
            scanned: 0,
            partial: None,
        }
    }

    /// Parse from `input` (everything received and not yet consumed).
    ///
    /// Returns the number of bytes consumed and `Some(reply)` when a reply is
    /// complete; bytes after it (a pipelined next reply) are left unconsumed.
    /// `Ok((n, None))` means "need more bytes" after consuming `n` bytes of
    /// complete lines.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<Reply>), ReplyError> {
        let result = self.decode_inner(input);
        if result.is_err() {
            self.scanned = 0;
            self.partial = None;
        }
        result
    }

    fn decode_inner(&mut self, input: &[u8]) -> Result<(usize, Option<Reply>), ReplyError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            // Never rescan bytes already known to hold no LF (trickling peers).
            let from = self.scanned.min(rest.len());
            let Some(lf) = memchr(b'\n', &rest[from..]).map(|i| from + i) else {
                self.scanned = rest.len();
                // RFC 5321 §4.5.3.1.5: even if the next byte were the LF,
                // the line would now exceed the limit.
                if rest.len() >= self.max_line {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok((pos, None));
            };
            self.scanned = 0;
            if lf + 1 > self.max_line {
                return Err(ReplyError::LineTooLong);
            }
            let raw = &rest[..lf];
            pos += lf + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = split_line(raw)?;
            let text = line_text(line.text)?;
            if let Some(reply) = self.push_line(line, &text, &input[pos..])? {
                return Ok((pos, Some(reply)));
            }
        }
    }

    /// Add a line (its code and separator, its text checked by
    /// [`line_text`]) to the partial reply; returns the reply when it is
    /// complete. `following` is the input after the line, used only to size
    /// the text of a multi-line reply once (at most [`REPLY_ROOM`] more than
    /// its first line).
    fn push_line(
        &mut self,
        line: Line<'_>,
        text: &[u8],
        following: &[u8],
    ) -> Result<Option<Reply>, ReplyError> {
        match &mut self.partial {
            None => {
                let (enhanced, text) = split_enhanced(line.code, text);
                if line.last {
                    // A one-line reply, the most common kind: no detour
                    // through `partial`.
                    return Ok(Some(Reply::checked(
                        line.code,
                        enhanced,
                        utf8(text.to_vec()),
                    )));
                }
                // Sized once for the whole reply from what has already
                // arrived after this line: growing it line by line would
                // copy it again and again (an EHLO reply has ten or so).
                // Counting the reply's own lines first cost more (a second
                // search for every LF) than the room it saves; the guess is
                // capped so that pipelined replies after it cannot make it
                // large.
                let hint = following.len().min(REPLY_ROOM);
                let mut all = Vec::with_capacity(text.len() + hint);
                all.extend_from_slice(text);
                self.partial = Some(Partial {
                    code: line.code,
                    enhanced,
                    text: all,
                    lines: 1,
                });
            }
            Some(partial) => {
                if partial.code != line.code {
                    return Err(ReplyError::MixedCodes {
                        first: partial.code,
                        then: line.code,
                    });
                }
                if partial.lines >= self.max_lines {
                    return Err(ReplyError::TooManyLines);
                }
                let text = match partial.enhanced {
                    Some(e) => strip_enhanced(e, text),
                    None => text,
                };
                partial.text.push(b'\n');
                partial.text.extend_from_slice(text);
                partial.lines += 1;
            }
        }
        if line.last {
            Ok(self
                .partial
                .take()
                .map(|p| Reply::checked(p.code, p.enhanced, utf8(p.text))))
        } else {
            Ok(None)
        }
    }
}

/// Checked reply text as a `String`. Every line was checked by
/// [`line_text`] (printable ASCII, or UTF-8 with invalid octets replaced),
/// and an LF between two such lines keeps them UTF-8, so this is one
/// validation and no copy; a lossy conversion stands behind it anyway.
#[inline]
fn utf8(text: Vec<u8>) -> String {
    String::from_utf8(text)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// A reply line's text as UTF-8 octets (RFC 6531 §3.7.4.1), invalid bytes
/// as U+FFFD; an error for a control character other than TAB, which
/// RFC 5321 §4.2 `textstring` (HT / SP / printable) does not allow.
fn line_text(raw: &[u8]) -> Result<Cow<'_, [u8]>, ReplyError> {
    // The common case, printable ASCII (so UTF-8 too): no copy, and no UTF-8
    // check until the reply is whole. A fold without early exit, which the
    // compiler vectorises (lines are tens of octets).
    let printable = raw.iter().fold(true, |ok, &b| {
        ok & ((0x20..0x7f).contains(&b) | (b == b'\t'))
    });
    if printable {
        return Ok(Cow::Borrowed(raw));
    }
    if let Some(&bad) = raw.iter().find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ReplyError::ControlChar(bad));
    }
    let text = String::from_utf8_lossy(raw);
    // The C1 controls (U+0080..U+009F) are controls too: refused here as
    // the serializer refuses to write them, so parse and serialize agree.
    if let Some(c1) = text.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(ReplyError::ControlChar(
            u8::try_from(u32::from(c1)).unwrap_or(0x7f),
        ));
    }
    Ok(match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    })
}

/// Split `code [SP / "-"] text` (RFC 5321 §4.2).
fn split_line(raw: &[u8]) -> Result<Line<'_>, ReplyError> {
    let digits = raw.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
    let Some(digits) = digits else {
        let start = &raw[..raw.len().min(16)];
        return Err(ReplyError::BadCode(
            String::from_utf8_lossy(start).into_owned(),
        ));
    };
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    // RFC 5321 §4.2.1: only 2yz-5yz are SMTP replies.
    if !(200..=599).contains(&code) {
        return Err(ReplyError::CodeOutOfRange(code));
    }
    match raw.get(3) {
        None => Ok(Line {
            code,
            last: true,
            text: b"",
        }),
        Some(b' ') => Ok(Line {
            code,
            last: true,
            text: &raw[4..],
        }),
        Some(b'-') => Ok(Line {
            code,
            last: false,
            text: &raw[4..],
        }),
        Some(_) => Err(ReplyError::BadSeparator),
    }
}

/// RFC 2034 §4 / RFC 3463 §2: the first line's text may start with an
/// enhanced code whose class equals the reply code's first digit.
fn split_enhanced(code: u16, text: &[u8]) -> (Option<EnhancedCode>, &[u8]) {
    let (candidate, rest) = first_word(text);
    match EnhancedCode::parse_bytes(candidate) {
        Some(e) if u16::from(e.class) == code / 100 => (Some(e), rest),
        _ => (None, text),
    }
}

/// Remove the same enhanced code from a later line, if present (RFC 2034 §4
/// puts it on every line): the first word is removed with its space when it
/// is the code as the first line wrote it. A code parsed by
/// [`EnhancedCode::parse_bytes`] has one spelling, so comparing values is
/// comparing text.
fn strip_enhanced(e: EnhancedCode, text: &[u8]) -> &[u8] {
    let (candidate, rest) = first_word(text);
    if EnhancedCode::parse_bytes(candidate) == Some(e) {
        rest
    } else {
        text
    }
}

/// The text before the first space and the text after it (`""` when there
/// is no space). A plain loop: the first word is a few octets long, too
/// short for a vectorised search to pay for its set-up.
fn first_word(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b' ') {
        Some(space) => (&text[..space], &text[space + 1..]),
        None => (text, b""),
    }
}

#[cfg(test)]
mod tests {
    //! The fast paths against the code they replaced (kept here as the
    //! reference): the same answers for any input.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use proptest::prelude::*;

    use super::*;

    /// The earlier `split_enhanced`: `str::split_once` and `FromStr`.
    fn reference_split(code: u16, text: &str) -> (Option<EnhancedCode>, &str) {
        let (candidate, rest) = text.split_once(' ').unwrap_or((text, ""));
        match candidate.parse::<EnhancedCode>() {
            Ok(e) if u16::from(e.class) == code / 100 => (Some(e), rest),
            _ => (None, text),
        }
    }

    /// The earlier `strip_enhanced`: a prefix test against the code's text.
    fn reference_strip(e: EnhancedCode, text: &str) -> &str {
        let prefix = e.to_string();
        match text.strip_prefix(prefix.as_str()) {
            Some("") => "",
            Some(rest) => rest.strip_prefix(' ').unwrap_or(text),
            None => text,
        }
    }

    /// The earlier text check: control characters by octet, then lossy
    /// UTF-8, then the C1 controls.
    fn reference_text(raw: &[u8]) -> Result<String, ReplyError> {
        if let Some(&bad) = raw.iter().find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(ReplyError::ControlChar(bad));
        }
        let text = String::from_utf8_lossy(raw);
        if let Some(c1) = text.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(ReplyError::ControlChar(
                u8::try_from(u32::from(c1)).unwrap_or(0x7f),
            ));
        }
        Ok(text.into_owned())
    }

    /// Texts made of what enhanced codes are made of, and a little more.
    fn code_like() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("2"),
                Just("4"),
                Just("5"),
                Just("0"),
                Just("1"),
                Just("9"),
                Just("."),
                Just(" "),
                Just("x"),
                Just("é"),
            ],
            0..14,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn enhanced_codes_are_split_and_stripped_as_before(
            text in code_like(), code in prop_oneof![Just(250u16), Just(451), Just(550), Just(354)],
            class in prop_oneof![Just(2u8), Just(4), Just(5)], subject in 0u16..12, detail in 0u16..12,
        ) {
            let (e, rest) = reference_split(code, &text);
            prop_assert_eq!(split_enhanced(code, text.as_bytes()), (e, rest.as_bytes()));
            let e = EnhancedCode::new(class, subject, detail);
            prop_assert_eq!(strip_enhanced(e, text.as_bytes()), reference_strip(e, &text).as_bytes());
            let prefixed = format!("{e} {text}");
            prop_assert_eq!(
                strip_enhanced(e, prefixed.as_bytes()),
                reference_strip(e, &prefixed).as_bytes()
            );
        }

        #[test]
        fn line_text_is_checked_as_before(raw in prop::collection::vec(
            prop_oneof![Just(b'a'), Just(b' '), Just(b'\t'), Just(0x7f), Just(0x00), Just(0xc2),
                        Just(0x85), Just(0xe9), Just(0xff), any::<u8>()],
            0..24,
        )) {
            let new = line_text(&raw).map(|text| text.into_owned());
            prop_assert_eq!(new, reference_text(&raw).map(String::into_bytes));
        }

        #[test]
        fn enhanced_codes_parse_as_the_rfc_says(text in code_like()) {
            // RFC 3463 §2, written out: class "." subject "." detail, class
            // 2, 4 or 5, the others "0" or 1 to 3 digits without a leading 0.
            let number = |s: &str| {
                (1..=3).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s == "0" || !s.starts_with('0'))
            };
            let parts: Vec<&str> = text.split('.').collect();
            let valid = parts.len() == 3
                && ["2", "4", "5"].contains(&parts[0])
                && number(parts[1])
                && number(parts[2]);
            prop_assert_eq!(text.parse::<EnhancedCode>().is_ok(), valid);
        }
    }

    #[test]
    fn a_multi_line_reply_is_sized_once_and_pipelined_replies_stay_apart() {
        let ehlo = b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
        let mut parser = ReplyParser::new();
        let (used, reply) = parser.decode(ehlo).unwrap();
        let reply = reply.unwrap();
        assert_eq!(used, ehlo.len());
        assert_eq!(
            reply.text(),
            "mx.example.com\nPIPELINING\nSIZE 1000\n8BITMIME"
        );
        let room = reply.text.capacity();
        assert!(
            room >= reply.text().len() && room <= 64,
            "sized once: {room}"
        );
        let long = format!("250-{}\r\n", "x".repeat(500)).repeat(10) + "250 end\r\n";
        let (_, reply) = parser.decode(long.as_bytes()).unwrap();
        let reply = reply.unwrap();
        assert!(reply.text.capacity() >= 5000, "grown past its first guess");

        // Replies after it only make the first guess too large.
        let pipelined = [&ehlo[..], b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go\r\n"].concat();
        let (used, reply) = parser.decode(&pipelined).unwrap();
        assert_eq!(used, ehlo.len());
        let reply = reply.unwrap();
        assert_eq!(reply.line_count(), 4);
        let after = [&pipelined[..], &b"250 2.0.0 Ok\r\n".repeat(200)].concat();
        let (_, reply) = parser.decode(&after).unwrap();
        let reply = reply.unwrap();
        assert!(
            reply.text.capacity() <= reply.text().len() + REPLY_ROOM,
            "the replies after it cannot make it large"
        );
        let (used2, reply) = parser.decode(&pipelined[used..]).unwrap();
        let reply = reply.unwrap();
        assert_eq!((reply.code, reply.text()), (250, "Ok"));
        assert_eq!(reply.enhanced, Some(EnhancedCode::new(2, 1, 0)));
        assert_eq!(used2, 14);

        // The enhanced code is removed from every line that repeats it.
        let (_, reply) = parser
            .decode(
                b"550-5.1.1 No such user\r\n550-5.1.1\r\n550-5.1.10 other\r\n550 5.1.1 here\r\n",
            )
            .unwrap();
        assert_eq!(reply.unwrap().text(), "No such user\n\n5.1.10 other\nhere");
    }
}
