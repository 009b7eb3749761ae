//! EHLO capabilities (RFC 5321 §4.1.1.1), typed in both directions: parse
//! them from an EHLO reply (sender) and build the EHLO reply (receiver).
//!
//! ```text
//! ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
//!             / ( "250-" Domain [ SP ehlo-greet ] CRLF
//!                 *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
//! ehlo-line   = ehlo-keyword *( SP ehlo-param )
//! ```
//!
//! ```
//! use smtp_wire::capability::{Capabilities, Capability};
//! use smtp_wire::reply::Reply;
//! let reply = Reply::new(250, "mx.example.com Hello\nPIPELINING\nSIZE 10240000\nAUTH plain LOGIN\n");
//! let caps = Capabilities::from_ehlo_reply(&reply);
//! assert_eq!(caps.domain(), "mx.example.com Hello");
//! assert!(caps.has("pipelining"));
//! assert_eq!(caps.size_limit(), Some(10_240_000));
//! assert_eq!(caps.auth_mechanisms(), ["PLAIN", "LOGIN"]);
//! assert_eq!(caps.list().last(), Some(Capability::Auth(vec!["PLAIN".into(), "LOGIN".into()])));
//! // The lines are kept as the server wrote them.
//! assert_eq!(caps.to_reply(), reply);
//! ```

use std::fmt::{self, Write as _};

use crate::reply::Reply;

/// One EHLO keyword with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// RFC 2920: commands may be sent in groups without waiting for each reply.
    Pipelining,
    /// RFC 1870: the maximum message size; `None` when SIZE has no number,
    /// `Some(0)` means "no fixed limit" (RFC 1870 §4).
    Size(Option<u64>),
    /// RFC 6152: 8-bit MIME bodies (`BODY=8BITMIME`).
    EightBitMime,
    /// RFC 6531: UTF-8 addresses and headers.
    SmtpUtf8,
    /// RFC 3030: the BDAT command.
    Chunking,
    /// RFC 3030: binary bodies (`BODY=BINARYMIME`, needs CHUNKING).
    BinaryMime,
    /// RFC 3207: STARTTLS.
    StartTls,
    /// RFC 2034: replies carry RFC 3463 enhanced status codes.
    EnhancedStatusCodes,
    /// RFC 3461: delivery status notifications (NOTIFY, RET, ENVID, ORCPT).
    Dsn,
    /// RFC 5321 §4.1.1.8: the HELP command.
    Help,
    /// RFC 4954: AUTH with the offered SASL mechanisms, upper-cased.
    Auth(Vec<String>),
    /// Any other keyword (or a known one with unexpected parameters), verbatim.
    Other {
        /// The keyword as written.
        keyword: String,
        /// The space-separated parameters as written.
        params: Vec<String>,
    },
}

impl Capability {
    /// Parse one EHLO line (`ehlo-keyword *( SP ehlo-param )`). Never fails:
    /// anything unrecognised is kept as [`Capability::Other`]. Keywords are
    /// case-insensitive (RFC 5321 §2.4).
    ///
    /// ```
    /// use smtp_wire::capability::Capability;
    /// assert_eq!(Capability::parse("size 1000"), Capability::Size(Some(1000)));
    /// assert_eq!(Capability::parse("AUTH cram-md5"), Capability::Auth(vec!["CRAM-MD5".into()]));
    /// assert_eq!(Capability::parse("XFOO a b").to_string(), "XFOO a b");
    /// ```
    pub fn parse(line: &str) -> Capability {
        // The keyword is found by position and the parameters are only
        // split where they are read: most lines have none.
        let (keyword, params_text) = split_keyword(line);
        let no_params = params_text.is_empty();
        let params = params_text.split_ascii_whitespace();
        let bare = |cap: Capability| no_params.then_some(cap);
        let typed = match Known::of(keyword.as_bytes()) {
            Some(Known::Pipelining) => bare(Capability::Pipelining),
            // RFC 1870 §4: "SIZE" [ SP number ], number = 1*20DIGIT.
            Some(Known::Size) => size_param(params_text).map(Capability::Size),
            Some(Known::EightBitMime) => bare(Capability::EightBitMime),
            Some(Known::SmtpUtf8) => bare(Capability::SmtpUtf8),
            Some(Known::Chunking) => bare(Capability::Chunking),
            Some(Known::BinaryMime) => bare(Capability::BinaryMime),
            Some(Known::StartTls) => bare(Capability::StartTls),
            Some(Known::EnhancedStatusCodes) => bare(Capability::EnhancedStatusCodes),
            Some(Known::Dsn) => bare(Capability::Dsn),
            Some(Known::Help) => bare(Capability::Help),
            // RFC 4954 §3: "AUTH" SP mechanism *( SP mechanism ); SASL
            // mechanism names are upper-case (RFC 4422 §3.1).
            Some(Known::Auth) => Some(Capability::Auth(
                params.clone().map(|m| m.to_ascii_uppercase()).collect(),
            )),
            None => None,
        };
        typed.unwrap_or_else(|| Capability::Other {
            keyword: keyword.to_string(),
            params: params.map(|p| p.to_string()).collect(),
        })
    }

    /// The keyword: `"SIZE"`, `"AUTH"`, ... or an [`Capability::Other`] keyword as written.
    pub fn keyword(&self) -> &str {
        match self {
            Capability::Pipelining => "PIPELINING",
            Capability::Size(_) => "SIZE",
            Capability::EightBitMime => "8BITMIME",
            Capability::SmtpUtf8 => "SMTPUTF8",
            Capability::Chunking => "CHUNKING",
            Capability::BinaryMime => "BINARYMIME",
            Capability::StartTls => "STARTTLS",
            Capability::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Capability::Dsn => "DSN",
            Capability::Help => "HELP",
            Capability::Auth(_) => "AUTH",
            Capability::Other { keyword, .. } => keyword,
        }
    }
}

/// The EHLO line: `SIZE 10240000`, `AUTH PLAIN LOGIN`, `PIPELINING`.
impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())?;
        match self {
            Capability::Size(Some(n)) => write!(f, " {n}"),
            Capability::Auth(mechanisms) => mechanisms.iter().try_for_each(|m| write!(f, " {m}")),
            Capability::Other { params, .. } => params.iter().try_for_each(|p| write!(f, " {p}")),
            _ => Ok(()),
        }
    }
}

/// Everything an EHLO reply says: the first line (domain and greeting) and
/// the capabilities on the following lines.
///
/// It keeps the reply's text as it is (the lines joined by LF) with a small
/// index beside it: one bit per keyword this crate knows and the SIZE
/// limit. Reading an EHLO reply therefore costs one pass over its lines and
/// no allocation when the [`Reply`] is handed over ([`Capabilities::from`]);
/// the typed [`Capability`] values are made only when asked for
/// ([`Capabilities::list`]). A client asks "is X offered?" and "how large
/// may the message be?" far more often than it lists everything.
///
/// ```
/// use smtp_wire::capability::{Capabilities, Capability};
/// let caps = Capabilities::new("mx.example.com")
///     .with(Capability::Pipelining)
///     .with(Capability::Size(Some(1000)));
/// assert!(caps.has("PIPELINING") && !caps.has("CHUNKING"));
/// assert_eq!(caps.to_reply().to_bytes(), b"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
/// ```
///
/// Two values are equal when their text is: the same capabilities written
/// differently (`SIZE 1000` and `size 1000`, a blank line more) are not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// The domain line, then one line per capability (blank lines of a
    /// parsed reply kept), joined by LF.
    text: String,
    /// Bit [`Known::bit`] set: a line's keyword is that known one, with or
    /// without the parameters its typed form expects.
    known: u16,
    /// The first SIZE line's limit, when it is a number above 0 (RFC 1870
    /// §4: 0 means no fixed limit).
    size: Option<u64>,
}

impl Capabilities {
    /// Capabilities with `domain` as the first line (RFC 5321 §4.1.1.1:
    /// the server's domain, optionally followed by a greeting) and no
    /// extension yet; add them with [`Capabilities::with`]. A line break in
    /// `domain` becomes a space: it would start a capability line.
    pub fn new(domain: &str) -> Capabilities {
        Capabilities::from_text(domain.replace(['\r', '\n'], " "))
    }

    /// Add `capability` as the next line.
    pub fn with(mut self, capability: Capability) -> Capabilities {
        self.push(capability);
        self
    }

    /// Add `capability` as the next line. A line break inside it (an
    /// [`Capability::Other`] keyword or parameter, a mechanism name) becomes
    /// a space, as in [`Capabilities::new`], so that one capability stays
    /// one line: otherwise the text after the break would be read as a
    /// capability of its own.
    ///
    /// ```
    /// use smtp_wire::capability::{Capabilities, Capability};
    /// let caps = Capabilities::new("mx").with(Capability::Other {
    ///     keyword: "XFOO\nSIZE".into(),
    ///     params: vec!["1000".into()],
    /// });
    /// assert_eq!(caps.size_limit(), None);
    /// assert_eq!(caps.lines().collect::<Vec<_>>(), ["XFOO SIZE 1000"]);
    /// ```
    pub fn push(&mut self, capability: Capability) {
        let start = self.text.len() + 1;
        // Writing to a String cannot fail.
        let _ = write!(self.text, "\n{capability}");
        // `start` follows the "\n" just written: a character boundary.
        if self.text[start..].contains(['\r', '\n']) {
            let line = self.text.split_off(start).replace(['\r', '\n'], " ");
            self.text.push_str(&line);
        }
        self.index(start);
    }

    /// Read the capabilities from an EHLO reply: its first line is the
    /// domain and greeting, every further non-blank line a capability.
    /// Blank lines are skipped (Postfix's smtp-sink ends its EHLO reply with
    /// a bare `250 `). [`Capabilities::from`] takes the reply instead of
    /// copying its text.
    pub fn from_ehlo_reply(reply: &Reply) -> Capabilities {
        Capabilities::from_text(reply.text().to_string())
    }

    /// Like [`Capabilities::from_ehlo_reply`], from the text lines of an
    /// EHLO reply as they were written (a transcript, say), without making
    /// a [`Reply`] of them first: nothing in them is changed before it is
    /// read. (A transcript's lines hold no LF; one that did would be read as
    /// two lines.)
    ///
    /// ```
    /// use smtp_wire::capability::Capabilities;
    /// let caps = Capabilities::from_ehlo_lines(["mx.example.com", "SIZE 1000", ""]);
    /// assert_eq!((caps.domain(), caps.size_limit()), ("mx.example.com", Some(1000)));
    /// assert_eq!(caps.list().count(), 1);
    /// ```
    pub fn from_ehlo_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Capabilities {
        let mut text = String::new();
        for (i, line) in lines.into_iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(line);
        }
        Capabilities::from_text(text)
    }

    fn from_text(text: String) -> Capabilities {
        let mut caps = Capabilities {
            text,
            known: 0,
            size: None,
        };
        if let Some(end) = memchr::memchr(b'\n', caps.text.as_bytes()) {
            caps.index(end + 1);
        }
        caps
    }

    /// Index the capability lines of `text[start..]`.
    fn index(&mut self, start: usize) {
        let Some(text) = self.text.get(start..) else {
            return;
        };
        let mut line_start = 0;
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
        for line_end in ends {
            let line = &text[line_start..line_end];
            line_start = line_end + 1;
            // Most lines are a bare keyword: try the whole line first, and
            // look for the end of the keyword only when that fails.
            let trimmed = line.trim_ascii();
            let (known, params) = match Known::of(trimmed.as_bytes()) {
                Some(known) => (Some(known), ""),
                None => {
                    let (keyword, params) = split_keyword(trimmed);
                    (Known::of(keyword.as_bytes()), params)
                }
            };
            let Some(known) = known else {
                continue;
            };
            self.known |= known.bit();
            // The first SIZE line with a number above 0 (RFC 1870 §4).
            if known == Known::Size && self.size.is_none() {
                self.size = size_param(params).flatten().filter(|&n| n > 0);
            }
        }
    }

    /// The first line of the EHLO reply: the server's domain, optionally
    /// followed by a greeting (RFC 5321 §4.1.1.1).
    pub fn domain(&self) -> &str {
        self.text.split('\n').next().unwrap_or_default()
    }

    /// The capability lines as the server wrote them (or as
    /// [`Capabilities::push`] wrote them): every line after the first,
    /// without surrounding white space, blank ones left out.
    ///
    /// ```
    /// use smtp_wire::capability::Capabilities;
    /// let caps = Capabilities::from_ehlo_lines(["mx", "auth plain", " ", "XFOO"]);
    /// assert_eq!(caps.lines().collect::<Vec<_>>(), ["auth plain", "XFOO"]);
    /// // Only ASCII white space is trimmed, as `has` reads the keywords.
    /// let caps = Capabilities::from_ehlo_lines(["mx", "DSN\u{a0}"]);
    /// assert_eq!(caps.lines().collect::<Vec<_>>(), ["DSN\u{a0}"]);
    /// assert!(!caps.has("DSN") && caps.list().all(|c| c.keyword() != "DSN"));
    /// ```
    pub fn lines(&self) -> impl Iterator<Item = &str> + '_ {
        self.text
            .split('\n')
            .skip(1)
            // A line of Unicode white space (U+00A0, say) is blank too;
            // otherwise only ASCII white space is trimmed, as the index
            // and `Capability::parse` do, so that `list` and `has` agree.
            .filter(|line| !line.trim().is_empty())
            .map(str::trim_ascii)
    }

    /// The capabilities, in the order advertised, each parsed by
    /// [`Capability::parse`] as it is read.
    pub fn list(&self) -> impl Iterator<Item = Capability> + '_ {
        self.lines().map(Capability::parse)
    }

    /// True when no capability is advertised (HELO, or a one-line EHLO reply).
    pub fn is_empty(&self) -> bool {
        self.lines().next().is_none()
    }

    /// The EHLO reply: `250-domain`, then one line per capability (for
    /// capabilities read from a reply, its lines as they were, blank ones
    /// included). No enhanced code: RFC 2034 §4 exempts the EHLO reply.
    pub fn to_reply(&self) -> Reply {
        Reply::from_lines(250, [&self.text])
    }

    /// Is `keyword` advertised? Case-insensitive (RFC 5321 §2.4).
    pub fn has(&self, keyword: &str) -> bool {
        match Known::of(keyword.as_bytes()) {
            Some(known) => self.known & known.bit() != 0,
            None => self
                .lines()
                .any(|line| split_keyword(line).0.eq_ignore_ascii_case(keyword)),
        }
    }

    /// The advertised size limit: `Some(n)` for `SIZE n` with `n > 0`;
    /// `None` when SIZE is absent, has no number, or is 0 (RFC 1870 §4:
    /// no fixed limit).
    pub fn size_limit(&self) -> Option<u64> {
        self.size
    }

    /// The SASL mechanisms offered, upper-cased, without duplicates; empty
    /// when AUTH is not offered. The pre-standard `AUTH=PLAIN LOGIN` form
    /// (sent by old servers next to `AUTH`) is read too.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        let mut mechanisms: Vec<String> = Vec::new();
        for c in self.list() {
            let found: Vec<String> = match c {
                Capability::Auth(m) => m,
                Capability::Other { keyword, params } => {
                    // Byte-wise check: the keyword comes from the network and
                    // may hold multi-byte characters; "AUTH=" is ASCII, so
                    // byte 5 is then a character boundary.
                    let Some(first) = keyword
                        .as_bytes()
                        .get(..5)
                        .filter(|p| p.eq_ignore_ascii_case(b"AUTH="))
                        .and_then(|_| keyword.get(5..))
                    else {
                        continue;
                    };
                    std::iter::once(first)
                        .filter(|m| !m.is_empty())
                        .chain(params.iter().map(String::as_str))
                        .map(str::to_ascii_uppercase)
                        .collect()
                }
                _ => continue,
            };
            for m in found {
                if !mechanisms.contains(&m) {
                    mechanisms.push(m);
                }
            }
        }
        mechanisms
    }
}

/// The capabilities of an EHLO reply, keeping its text: no copy.
///
/// ```
/// use smtp_wire::capability::Capabilities;
/// use smtp_wire::reply::Reply;
/// let caps = Capabilities::from(Reply::new(250, "mx\nDSN"));
/// assert!(caps.has("dsn"));
/// ```
impl From<Reply> for Capabilities {
    fn from(reply: Reply) -> Capabilities {
        Capabilities::from_text(reply.into_text())
    }
}

impl Extend<Capability> for Capabilities {
    fn extend<I: IntoIterator<Item = Capability>>(&mut self, capabilities: I) {
        for capability in capabilities {
            self.push(capability);
        }
    }
}

/// A line's keyword and what follows it (RFC 5321 §4.1.1.1: SP separates
/// them; runs of whitespace and surrounding whitespace are tolerated).
fn split_keyword(line: &str) -> (&str, &str) {
    let line = line.trim_ascii();
    match line.bytes().position(|b| b.is_ascii_whitespace()) {
        Some(end) => (&line[..end], line[end..].trim_ascii_start()),
        None => (line, ""),
    }
}

/// The parameters of a SIZE line (RFC 1870 §4: "SIZE" [ SP number ],
/// number = 1*20DIGIT): `Some(None)` without a number, `None` when they are
/// not one number that fits a `u64`.
fn size_param(params: &str) -> Option<Option<u64>> {
    if params.is_empty() {
        return Some(None);
    }
    // Digits only: no sign, and no second parameter after a space.
    if !params.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    params.parse().ok().map(Some)
}

/// `octets` upper-cased is `name` (upper-case ASCII of the same length),
/// compared a word of eight octets at a time (the last word overlapping
/// the one before it).
fn same_upper(octets: &[u8], name: &[u8]) -> bool {
    if octets.len() != name.len() {
        return false;
    }
    if octets.len() < 8 {
        return octets
            .iter()
            .zip(name)
            .all(|(o, n)| o.to_ascii_uppercase() == *n);
    }
    let word = |s: &[u8], at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let last = octets.len() - 8;
    let mut at = 0;
    while at < last {
        if upper_word(word(octets, at)) != word(name, at) {
            return false;
        }
        at += 8;
    }
    upper_word(word(octets, last)) == word(name, last)
}

/// Eight octets with the ASCII lower-case letters made upper-case, all at
/// once (every other octet, non-ASCII ones included, is left as it is).
fn upper_word(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    // Each octet's low seven bits plus a bias reach the high bit exactly
    // when the octet is at least 'a' (resp. past 'z'); no carry crosses
    // into the next octet (0x7f + 0x1f < 0x100).
    let low = x & (0x7f * ONES);
    let from_a = low + (0x80 - u64::from(b'a')) * ONES;
    let past_z = low + (0x80 - u64::from(b'z') - 1) * ONES;
    let lower = from_a & !past_z & !x & HIGH;
    // 0x80 >> 2 is 0x20, the bit that tells a lower-case letter.
    x ^ (lower >> 2)
}

/// The keywords this crate types, one bit each in [`Capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Pipelining,
    Size,
    EightBitMime,
    SmtpUtf8,
    Chunking,
    BinaryMime,
    StartTls,
    EnhancedStatusCodes,
    Dsn,
    Help,
    Auth,
}

impl Known {
    /// The known keyword `keyword` is, in any case (RFC 5321 §2.4).
    ///
    /// Told apart by length and first letter, then compared once, eight
    /// octets at a time: this runs for every line of every EHLO reply, and
    /// the match over upper-cased copies it replaces cost as much as
    /// reading the reply.
    fn of(keyword: &[u8]) -> Option<Known> {
        let first = keyword.first()?.to_ascii_uppercase();
        let (known, name): (Known, &[u8]) = match (keyword.len(), first) {
            (3, _) => (Known::Dsn, b"DSN"),
            (4, b'S') => (Known::Size, b"SIZE"),
            (4, b'H') => (Known::Help, b"HELP"),
            (4, b'A') => (Known::Auth, b"AUTH"),
            (8, b'8') => (Known::EightBitMime, b"8BITMIME"),
            (8, b'C') => (Known::Chunking, b"CHUNKING"),
            (8, b'S') if keyword[1].eq_ignore_ascii_case(&b'M') => (Known::SmtpUtf8, b"SMTPUTF8"),
            (8, b'S') => (Known::StartTls, b"STARTTLS"),
            (10, b'P') => (Known::Pipelining, b"PIPELINING"),
            (10, b'B') => (Known::BinaryMime, b"BINARYMIME"),
            (19, _) => (Known::EnhancedStatusCodes, b"ENHANCEDSTATUSCODES"),
            _ => return None,
        };
        same_upper(keyword, name).then_some(known)
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

#[cfg(test)]
mod tests {
    //! `Capability::parse` against the code it replaced (an upper-cased
    //! `String` per keyword, parameters collected first), kept here as the
    //! reference.

    use proptest::prelude::*;

    use super::*;

    fn reference(line: &str) -> Capability {
        let mut words = line.split_ascii_whitespace();
        let keyword = words.next().unwrap_or("");
        let params: Vec<&str> = words.collect();
        let upper = keyword.to_ascii_uppercase();
        let bare = |cap: Capability| {
            if params.is_empty() { Some(cap) } else { None }
        };
        let typed = match upper.as_str() {
            "PIPELINING" => bare(Capability::Pipelining),
            "SIZE" => match params.as_slice() {
                [] => Some(Capability::Size(None)),
                [n] if n.bytes().all(|b| b.is_ascii_digit()) => {
                    n.parse().ok().map(|n| Capability::Size(Some(n)))
                }
                _ => None,
            },
            "8BITMIME" => bare(Capability::EightBitMime),
            "SMTPUTF8" => bare(Capability::SmtpUtf8),
            "CHUNKING" => bare(Capability::Chunking),
            "BINARYMIME" => bare(Capability::BinaryMime),
            "STARTTLS" => bare(Capability::StartTls),
            "ENHANCEDSTATUSCODES" => bare(Capability::EnhancedStatusCodes),
            "DSN" => bare(Capability::Dsn),
            "HELP" => bare(Capability::Help),
            "AUTH" => Some(Capability::Auth(
                params.iter().map(|m| m.to_ascii_uppercase()).collect(),
            )),
            _ => None,
        };
        typed.unwrap_or_else(|| Capability::Other {
            keyword: keyword.to_string(),
            params: params.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// EHLO lines: known keywords in any case, with and without parameters,
    /// unknown ones, keywords longer than the longest known one.
    fn line() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            Just("size"),
            Just("SIZE"),
            Just("Auth"),
            Just("PIPELINING"),
            Just("enhancedstatuscodes"),
            Just("ENHANCEDSTATUSCODESX"),
            Just("8bitmime"),
            Just("dsn"),
            Just("plain"),
            Just("1000"),
            Just("99999999999999999999999"),
            Just("x-é"),
            Just(""),
        ];
        // U+00A0: white space to `str::trim`, not to `trim_ascii`.
        let gap = prop_oneof![Just(" "), Just("  "), Just("\t"), Just("\u{a0}")];
        (prop::collection::vec((gap.clone(), word), 0..4), gap).prop_map(|(parts, end)| {
            parts
                .into_iter()
                .flat_map(|(gap, word)| [gap, word])
                .chain([end])
                .collect::<String>()
        })
    }

    /// The old `Capabilities` (a list of parsed lines) answering `has`.
    fn reference_has(lines: &[String], keyword: &str) -> bool {
        lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .any(|l| reference(l).keyword().eq_ignore_ascii_case(keyword))
    }

    /// The old `Capabilities` answering `size_limit`.
    fn reference_size(lines: &[String]) -> Option<u64> {
        lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .find_map(|l| match reference(l) {
                Capability::Size(Some(n)) if n > 0 => Some(n),
                _ => None,
            })
    }

    /// Octets of a keyword: the known keywords' letters in both cases,
    /// their neighbours in ASCII, and octets that only match after a
    /// careless upper-casing (`@`, `[`, `{`, 0x18, non-ASCII).
    fn keyword_octets() -> impl Strategy<Value = Vec<u8>> {
        // Every known keyword, some in mixed case.
        let known = prop_oneof![
            Just(b"PIPELINING".to_vec()),
            Just(b"Size".to_vec()),
            Just(b"8BITMIME".to_vec()),
            Just(b"smtputf8".to_vec()),
            Just(b"CHUNKING".to_vec()),
            Just(b"BinaryMime".to_vec()),
            Just(b"STARTTLS".to_vec()),
            Just(b"enhancedStatusCodes".to_vec()),
            Just(b"dsn".to_vec()),
            Just(b"HELP".to_vec()),
            Just(b"Auth".to_vec()),
        ];
        let octet = prop_oneof![
            b'A'..=b'Z',
            b'a'..=b'z',
            b'0'..=b'9',
            Just(b'@'),
            Just(b'['),
            Just(b'`'),
            Just(b'{'),
            Just(0x18u8),
            0x80u8..=0xff,
        ];
        let one = octet.clone();
        prop_oneof![
            known.prop_flat_map(move |k| {
                let len = k.len();
                (
                    Just(k),
                    0..len,
                    prop_oneof![Just(None), one.clone().prop_map(Some)],
                )
                    .prop_map(|(mut k, at, octet)| {
                        if let Some(octet) = octet {
                            k[at] = octet;
                        }
                        k
                    })
            }),
            prop::collection::vec(octet, 0..24),
        ]
    }

    proptest! {
        #[test]
        fn upper_words_upper_case_as_the_standard_library_does(word in any::<u64>()) {
            let mut expected = word.to_le_bytes();
            expected.make_ascii_uppercase();
            prop_assert_eq!(upper_word(word), u64::from_le_bytes(expected));
        }

        #[test]
        fn keywords_are_known_as_a_case_insensitive_compare_knows_them(octets in keyword_octets()) {
            let names: [&[u8]; 11] = [
                b"PIPELINING", b"SIZE", b"8BITMIME", b"SMTPUTF8", b"CHUNKING",
                b"BINARYMIME", b"STARTTLS", b"ENHANCEDSTATUSCODES", b"DSN",
                b"HELP", b"AUTH",
            ];
            let expected = names.iter().position(|n| octets.eq_ignore_ascii_case(n));
            let known = Known::of(&octets);
            prop_assert_eq!(known.map(|k| k as usize), expected);
        }

        /// The index answers as the list of parsed lines it replaced.
        #[test]
        fn the_index_answers_as_the_list_did(lines in prop::collection::vec(line(), 0..6)) {
            let mut all = vec!["mx.example".to_string()];
            all.extend(lines);
            let caps = Capabilities::from_ehlo_lines(all.iter().map(String::as_str));
            for keyword in ["size", "SIZE", "auth", "pipelining", "ENHANCEDSTATUSCODES",
                            "8BITMIME", "dsn", "plain", "x-é", "ENHANCEDSTATUSCODESX"] {
                prop_assert_eq!(caps.has(keyword), reference_has(&all[1..], keyword), "{}", keyword);
            }
            prop_assert_eq!(caps.size_limit(), reference_size(&all[1..]));
            let expected: Vec<Capability> = all[1..]
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| reference(l))
                .collect();
            prop_assert_eq!(caps.list().collect::<Vec<_>>(), expected);
        }

        /// Built line by line, then read back from the wire: the same.
        #[test]
        fn built_capabilities_read_back_the_same(lines in prop::collection::vec(line(), 0..6)) {
            let mut built = Capabilities::new("mx.example");
            built.extend(lines.iter().map(|l| Capability::parse(l)));
            let read = Capabilities::from(built.to_reply());
            prop_assert_eq!(read.list().collect::<Vec<_>>(), built.list().collect::<Vec<_>>());
            prop_assert_eq!(read.size_limit(), built.size_limit());
            for keyword in ["SIZE", "AUTH", "PIPELINING", "DSN", "plain"] {
                prop_assert_eq!(read.has(keyword), built.has(keyword));
            }
        }

        #[test]
        fn parses_as_before(line in line()) {
            prop_assert_eq!(Capability::parse(&line), reference(&line));
        }
    }
}
