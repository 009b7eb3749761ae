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
        // Nearly every code has one digit each ("2.1.5", "5.7.1"): a single
        // pattern, compared in one go. A lone "0" is allowed.
        if let [
            class @ (b'2' | b'4' | b'5'),
            b'.',
            subject @ b'0'..=b'9',
            b'.',
            detail @ b'0'..=b'9',
        ] = *bytes
        {
            return Some(EnhancedCode::new(
                class - b'0',
                u16::from(subject - b'0'),
                u16::from(detail - b'0'),
            ));
        }
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
/// The text holds the lines only, without the code or the enhanced-code
/// prefix, joined with `'\n'`; there is at least one line, possibly empty.
/// It is one `String`, not one per line: a parsed reply costs one
/// allocation however many lines it has (an EHLO reply has ten or so).
///
/// The text can only be set through the constructors, which make it safe
/// to write: no CR, no control character other than TAB (RFC 5321 §4.2:
/// textstring is HT / SP / printable), so nothing in it can end a line
/// early or inject a second reply.
///
/// ```
/// use smtp_wire::reply::Reply;
/// let r = Reply::new(250, "mx.example.com\nPIPELINING\nSIZE 10240000");
/// assert_eq!(r.line_count(), 3);
/// assert_eq!(r.lines().last(), Some("SIZE 10240000"));
/// assert_eq!(r.to_bytes(), b"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n");
/// assert_eq!(r.to_string(), "250 mx.example.com / PIPELINING / SIZE 10240000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    /// The reply code, 200..=599 (RFC 5321 §4.2.1).
    pub code: u16,
    /// The RFC 3463 code written after the basic code on every line (RFC 2034 §4).
    pub enhanced: Option<EnhancedCode>,
    /// The lines joined with `'\n'`; see the type documentation.
    text: String,
}

impl Reply {
    /// A reply with `text` split into lines at `'\n'`.
    ///
    /// A text can never break the reply: CRs are removed, other control
    /// characters (except TAB) become `?` (RFC 5321 §4.2: textstring is
    /// HT / SP / printable), and one trailing `'\n'` does not make an extra
    /// empty line. `code` should be in 200..=599; see [`Reply::write_to`].
    pub fn new(code: u16, text: &str) -> Reply {
        let text = text.strip_suffix('\n').unwrap_or(text);
        Reply {
            code,
            enhanced: None,
            text: sanitize(text).into_owned(),
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
            enhanced: Some(enhanced),
            ..Reply::new(code, text)
        }
    }

    /// A reply of the given lines, each sanitized as by [`Reply::new`]; a
    /// line holding `'\n'` makes several (a trailing one an empty last
    /// line: unlike [`Reply::new`], nothing is dropped), and no lines at all
    /// make one empty line.
    ///
    /// ```
    /// use smtp_wire::reply::Reply;
    /// let r = Reply::from_lines(250, ["mx.example.com", "8BITMIME"]);
    /// assert_eq!(r, Reply::new(250, "mx.example.com\n8BITMIME"));
    /// assert_eq!(Reply::from_lines(354, [""; 0]).to_bytes(), b"354 \r\n");
    /// ```
    pub fn from_lines<I>(code: u16, lines: I) -> Reply
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut text = String::new();
        for (i, line) in lines.into_iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&sanitize(line.as_ref()));
        }
        Reply {
            code,
            enhanced: None,
            text,
        }
    }

    /// A reply whose text the parser has already checked (no control
    /// character but TAB, lines joined with `'\n'`).
    pub(crate) fn checked(code: u16, enhanced: Option<EnhancedCode>, text: String) -> Reply {
        Reply {
            code,
            enhanced,
            text,
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
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text lines joined with `'\n'`, taken out of the reply (no copy).
    pub fn into_text(self) -> String {
        self.text
    }

    /// The text lines, first to last (at least one).
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &str> + Clone + '_ {
        self.text.split('\n')
    }

    /// The first text line (for an EHLO reply, the server's domain and
    /// greeting; RFC 5321 §4.1.1.1).
    pub fn first_line(&self) -> &str {
        self.lines().next().unwrap_or("")
    }

    /// How many lines the reply has (at least one).
    pub fn line_count(&self) -> usize {
        1 + memchr::memchr_iter(b'\n', self.text.as_bytes()).count()
    }

    /// The teaching explanation of this reply's basic code ([`explain_code`]).
    pub fn explain(&self) -> &'static str {
        explain_code(self.code)
    }

    /// Append the reply in wire form: `250-first\r\n250 last\r\n`, with the
    /// enhanced code after the basic code on every line (RFC 2034 §4).
    ///
    /// The output is always a well-formed reply:
    /// - the text cannot end a line early or inject a second reply (see the
    ///   type documentation);
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
        let digits = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        let mut lines = self.lines().peekable();
        while let Some(text) = lines.next() {
            out.extend_from_slice(&digits);
            let separator = if lines.peek().is_none() { b' ' } else { b'-' };
            out.push(separator);
            match &enhanced {
                Some(e) => {
                    out.extend_from_slice(e.as_bytes());
                    if !text.is_empty() {
                        out.push(b' ');
                        out.extend_from_slice(text.as_bytes());
                    }
                }
                // RFC 5321 §4.2.1: "The last line will begin with the reply
                // code, followed immediately by <SP>, optionally some text":
                // the space stays even with no text (and RFC 4954 §4 needs
                // `334 ` for an empty challenge).
                None => out.extend_from_slice(text.as_bytes()),
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The reply in wire form (see [`Reply::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16 * self.line_count());
        self.write_to(&mut out);
        out
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
        let mut lines = self.lines();
        if let Some(first) = lines.next()
            && !first.is_empty()
        {
            write!(f, " {first}")?;
        }
        lines.try_for_each(|line| write!(f, " / {line}"))
    }
}

/// RFC 5321 §4.2: reply text is `%d9 / %d32-126` (plus UTF-8 under RFC 6531
/// §3.7.4.1), so a CR must never reach the wire (it is dropped) and other
/// control characters are replaced by `?`. `'\n'` stays: it separates the
/// lines.
fn sanitize(text: &str) -> Cow<'_, str> {
    let control = |c: char| c.is_control() && c != '\t' && c != '\n';
    if !text.chars().any(control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .filter(|&c| c != '\r')
            .map(|c| if control(c) { '?' } else { c })
            .collect(),
    )
}
