//! Incremental, strict reply parsing (RFC 5321 §4.2, §4.5.3.1.5).

use memchr::memchr;

use super::{EnhancedCode, Reply};

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the CRLF.
pub const MAX_REPLY_LINE: usize = 512;

/// Default limit on the number of lines in one reply. RFC 5321 sets none,
/// but without one a peer could send continuation lines forever and make
/// the client buffer them all.
pub const DEFAULT_MAX_REPLY_LINES: usize = 100;

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
/// assert_eq!(replies[0].lines, ["mx.example.com", "PIPELINING", ""]);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    max_line: usize,
    max_lines: usize,
    /// Bytes at the start of the unconsumed input already known to hold no LF.
    scanned: usize,
    /// The reply read so far (first and continuation lines).
    partial: Option<Reply>,
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
            if let Some(reply) = self.push_line(line)? {
                return Ok((pos, Some(reply)));
            }
        }
    }

    /// Add a line to the partial reply; returns the reply when it is complete.
    fn push_line(&mut self, line: Line<'_>) -> Result<Option<Reply>, ReplyError> {
        if let Some(&bad) = line
            .text
            .iter()
            .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(ReplyError::ControlChar(bad));
        }
        let text = String::from_utf8_lossy(line.text);
        // The C1 controls (U+0080..U+009F) are controls too: refused here as
        // the serializer refuses to write them, so parse and serialize agree.
        if let Some(c1) = text.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(ReplyError::ControlChar(
                u8::try_from(u32::from(c1)).unwrap_or(0x7f),
            ));
        }
        match &mut self.partial {
            None => {
                let (enhanced, text) = split_enhanced(line.code, &text);
                self.partial = Some(Reply {
                    code: line.code,
                    enhanced,
                    lines: vec![text.to_string()],
                });
            }
            Some(reply) => {
                if reply.code != line.code {
                    return Err(ReplyError::MixedCodes {
                        first: reply.code,
                        then: line.code,
                    });
                }
                if reply.lines.len() >= self.max_lines {
                    return Err(ReplyError::TooManyLines);
                }
                let text = match reply.enhanced {
                    Some(e) => strip_enhanced(e, &text),
                    None => &text,
                };
                reply.lines.push(text.to_string());
            }
        }
        if line.last {
            Ok(self.partial.take())
        } else {
            Ok(None)
        }
    }
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
fn split_enhanced(code: u16, text: &str) -> (Option<EnhancedCode>, &str) {
    let (candidate, rest) = text.split_once(' ').unwrap_or((text, ""));
    match candidate.parse::<EnhancedCode>() {
        Ok(e) if u16::from(e.class) == code / 100 => (Some(e), rest),
        _ => (None, text),
    }
}

/// Remove the same enhanced code from a later line, if present (RFC 2034 §4
/// puts it on every line).
fn strip_enhanced(e: EnhancedCode, text: &str) -> &str {
    let prefix = e.to_string();
    match text.strip_prefix(prefix.as_str()) {
        Some("") => "",
        Some(rest) => rest.strip_prefix(' ').unwrap_or(text),
        None => text,
    }
}
