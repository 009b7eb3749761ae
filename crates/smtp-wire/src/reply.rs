//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, RFC 2034).
//!
//! ```text
//! Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//!              Reply-code [ SP textstring ] CRLF          ; RFC 5321 §4.2
//! ```
//! A [`Reply`] is a value: code, optional [`EnhancedCode`], one or more text
//! lines. [`Reply::write_to`] always produces a well-formed reply, whatever the
//! text contains; [`ReplyParser`] reads one from arbitrary chunks, strictly.
//!
//! ```
//! use smtp_wire::reply::{EnhancedCode, Reply, ReplyParser};
//! let reply = Reply::enhanced(550, EnhancedCode::new(5, 1, 1), "No such user\nTry again");
//! assert_eq!(reply.to_bytes(), b"550-5.1.1 No such user\r\n550 5.1.1 Try again\r\n");
//!
//! let mut parser = ReplyParser::new();
//! let (used, parsed) = parser.decode(&reply.to_bytes()).unwrap();
//! assert_eq!(used, reply.to_bytes().len());
//! assert_eq!(parsed, Some(reply));
//! ```

mod explain;
mod parser;

pub use explain::explain_code;
pub use parser::{DEFAULT_MAX_REPLY_LINES, MAX_REPLY_LINE, ReplyError, ReplyParser};

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// An enhanced status code `class.subject.detail` (RFC 3463 §2), e.g. `5.1.1`.
///
/// ```
/// use smtp_wire::reply::EnhancedCode;
/// let code: EnhancedCode = "5.1.1".parse().unwrap();
/// assert_eq!(code, EnhancedCode::new(5, 1, 1));
/// assert_eq!(code.to_string(), "5.1.1");
/// assert!(code.explain().starts_with("Bad destination mailbox address"));
/// assert!("3.0.0".parse::<EnhancedCode>().is_err()); // class must be 2, 4 or 5
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure), RFC 3463 §3.1.
    pub class: u8,
    /// The subject, e.g. 1 = addressing, 7 = security (RFC 3463 §3.2-§3.9); 0..=999.
    pub subject: u16,
    /// The detail within the subject; 0..=999.
    pub detail: u16,
}

impl EnhancedCode {
    /// Build a code; no validation (see [`FromStr`] for the checked form).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// A short human explanation of `subject.detail` (RFC 3463 §3.2-§3.9 and
    /// later registrations such as RFC 4954's 5.7.8, RFC 6531's 5.6.7).
    /// An unknown detail is explained by its subject alone.
    pub fn explain(&self) -> &'static str {
        explain::subject_detail_text(self.subject, self.detail)
    }

    /// The meaning of the class digit (RFC 3463 §3.1): "Success",
    /// "Persistent transient failure" or "Permanent failure".
    pub fn explain_class(&self) -> &'static str {
        explain::class_text(self.class)
    }

    /// Class and subject/detail together, e.g.
    /// `"Permanent failure: Bad destination mailbox address: ..."`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.explain_class(), self.explain())
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The string is not an enhanced status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an enhanced status code \"class.subject.detail\" such as \"5.1.1\"")]
pub struct EnhancedCodeError;

impl FromStr for EnhancedCode {
    type Err = EnhancedCodeError;

    /// Strict RFC 3463 §2 syntax:
    /// `class "." subject "." detail`, class = "2" / "4" / "5",
    /// subject and detail = "0" / ("1"-"9" 0*2DIGIT).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnhancedCode::parse_bytes(s.as_bytes()).ok_or(EnhancedCodeError)
    }
}

impl EnhancedCode {
    /// The strict RFC 3463 §2 syntax of [`FromStr`], on bytes, so the reply
    /// parser can test a line's first word without making a `String`.
    pub(crate) fn parse_bytes(bytes: &[u8]) -> Option<EnhancedCode> {
        let [class @ (b'2' | b'4' | b'5'), b'.', rest @ ..] = bytes else {
            return None;
        };
        // At most three digits come before the dot: a plain loop.
        let dot = rest.iter().position(|&b| b == b'.')?;
        Some(EnhancedCode::new(
            class - b'0',
            number(&rest[..dot])?,
            number(&rest[dot + 1..])?,
        ))
    }
}

/// RFC 3463 §2: `"0" / ("1"-"9" 0*2DIGIT)`: 1 to 3 digits, no leading zero.
fn number(bytes: &[u8]) -> Option<u16> {
    let ok = !bytes.is_empty()
        && bytes.len() <= 3
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes[0] != b'0' || bytes.len() == 1);
    ok.then(|| {
        bytes
            .iter()
            .fold(0u16, |n, digit| n * 10 + u16::from(digit - b'0'))
    })
}

/// An SMTP reply: a three-digit code, an optional enhanced status code, and
/// one or more lines of text (RFC 5321 §4.2).
///
/// `lines` hold the text only, without the code or the enhanced-code prefix;
/// there is at least one line, possibly empty.
///
/// ```
/// use smtp_wire::reply::Reply;
/// let r = Reply::new(250, "mx.example.com\nPIPELINING\nSIZE 10240000");
/// assert_eq!(r.lines.len(), 3);
/// assert_eq!(r.to_bytes(), b"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n");
/// assert_eq!(r.to_string(), "250 mx.example.com / PIPELINING / SIZE 10240000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// The reply code, 200..=599 (RFC 5321 §4.2.1).
    pub code: u16,
    /// The RFC 3463 code written after the basic code on every line (RFC 2034 §4).
    pub enhanced: Option<EnhancedCode>,
    /// The text lines; see the type documentation.
    pub lines: Vec<String>,
}

impl Reply {
    /// A reply with `text` split into lines at `'\n'`.
    ///
    /// A text can never break the reply: CRs are removed, other control
    /// characters (except TAB) become `?` (RFC 5321 §4.2: textstring is
    /// HT / SP / printable), and one trailing `'\n'` does not make an extra
    /// empty line. `code` should be in 200..=599; see [`Reply::write_to`].
    pub fn new(code: u16, text: &str) -> Reply {
        Reply {
            code,
            enhanced: None,
            lines: split_text(text),
        }
    }

    /// Like [`Reply::new`], with an enhanced status code (RFC 2034).
    ///
    /// ```
    /// use smtp_wire::reply::{EnhancedCode, Reply};
    /// let r = Reply::enhanced(250, EnhancedCode::new(2, 1, 0), "Sender OK");
    /// assert_eq!(r.to_bytes(), b"250 2.1.0 Sender OK\r\n");
    /// ```
    pub fn enhanced(code: u16, enhanced: EnhancedCode, text: &str) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced),
            lines: split_text(text),
        }
    }

    /// 2yz: positive completion (RFC 5321 §4.2.1).
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3yz: positive intermediate, e.g. 354 after DATA, 334 during AUTH.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4yz: transient negative completion, the client may retry later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5yz: permanent negative completion.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text lines joined with `'\n'`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The teaching explanation of this reply's basic code ([`explain_code`]).
    pub fn explain(&self) -> &'static str {
        explain_code(self.code)
    }

    /// Append the reply in wire form: `250-first\r\n250 last\r\n`, with the
    /// enhanced code after the basic code on every line (RFC 2034 §4).
    ///
    /// The output is always a well-formed reply:
    /// - text containing `'\n'` becomes several lines, CRs are dropped and
    ///   other control characters (except TAB) are written as `?`, so nothing
    ///   in the text can end a line early or inject a second reply;
    /// - no lines at all is written as one empty line;
    /// - an empty last line is written `250 ` with its space (RFC 5321
    ///   §4.2.1: the last line is the code "followed immediately by <SP>,
    ///   optionally some text"), an empty continuation `250-`;
    /// - a code outside 200..=599 (a programming error) is written as `451`
    ///   ("local error, try later") rather than breaking the wire, and an
    ///   enhanced code whose class does not match the code's first digit
    ///   (RFC 3463 §2 requires it) is left out.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = if (200..=599).contains(&self.code) {
            self.code
        } else {
            451
        };
        let enhanced = self
            .enhanced
            .filter(|e| u16::from(e.class) == code / 100)
            .map(|e| e.to_string());
        let lines = self.wire_lines();
        let digits = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        for (i, text) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            out.extend_from_slice(&digits);
            let separator = if last { b' ' } else { b'-' };
            match &enhanced {
                Some(e) => {
                    out.push(separator);
                    out.extend_from_slice(e.as_bytes());
                    if !text.is_empty() {
                        out.push(b' ');
                        out.extend_from_slice(text.as_bytes());
                    }
                }
                None => {
                    // RFC 5321 §4.2.1: "The last line will begin with the
                    // reply code, followed immediately by <SP>, optionally
                    // some text": the space stays even with no text (and
                    // RFC 4954 §4 needs `334 ` for an empty challenge).
                    out.push(separator);
                    out.extend_from_slice(text.as_bytes());
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The reply in wire form (see [`Reply::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(16 + self.lines.iter().map(|l| l.len() + 16).sum::<usize>());
        self.write_to(&mut out);
        out
    }

    /// The lines as they will be written: split at '\n', sanitized, at least one.
    fn wire_lines(&self) -> Vec<Cow<'_, str>> {
        let mut lines: Vec<Cow<'_, str>> = Vec::with_capacity(self.lines.len().max(1));
        for line in &self.lines {
            if line.bytes().any(|b| b == b'\n') {
                lines.extend(line.split('\n').map(sanitize));
            } else {
                lines.push(sanitize(line));
            }
        }
        if lines.is_empty() {
            lines.push(Cow::Borrowed(""));
        }
        lines
    }
}

/// One human line: `550 5.1.1 No such user`; several lines are joined with
/// `" / "`. Control characters are shown as `?`, as on the wire.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        let lines = self.wire_lines();
        let mut first = true;
        for line in &lines {
            if first {
                if !line.is_empty() {
                    write!(f, " {line}")?;
                }
                first = false;
            } else {
                write!(f, " / {line}")?;
            }
        }
        Ok(())
    }
}

/// Split a text into reply lines (see [`Reply::new`]).
fn split_text(text: &str) -> Vec<String> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n').map(|l| sanitize(l).into_owned()).collect()
}

/// RFC 5321 §4.2: reply text is `%d9 / %d32-126` (plus UTF-8 under RFC 6531
/// §3.7.4.1), so a CR must never reach the wire (it is dropped) and other
/// control characters are replaced by `?`.
fn sanitize(line: &str) -> Cow<'_, str> {
    if !line.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(line);
    }
    Cow::Owned(
        line.chars()
            .filter(|&c| c != '\r')
            .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
            .collect(),
    )
}
