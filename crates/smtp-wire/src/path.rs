//! Paths and addresses, RFC 5321 §4.1.2 (with RFC 6531 UTF-8 forms).
//!
//! ```text
//! Reverse-path   = Path / "<>"
//! Forward-path   = Path / "<Postmaster>"  (case-insensitive)
//! Path           = "<" [ A-d-l ":" ] Mailbox ">"     ; source route accepted, dropped
//! Mailbox        = Local-part "@" ( Domain / address-literal )
//! Local-part     = Dot-string / Quoted-string
//! ```
//! Limits (RFC 5321 §4.5.3.1.1-3): local part 64 octets, domain 255 octets,
//! path 256 octets including the angle brackets.

use core::net::{Ipv4Addr, Ipv6Addr};
use std::fmt;
use std::str::FromStr;

mod grammar;

pub(crate) use grammar::is_atext;

/// RFC 5321 §4.5.3.1.1: the maximum total length of a local part is 64 octets.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2: the maximum total length of a domain name is 255 octets.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: the maximum total length of a path is 256 octets
/// (including the punctuation and element separators).
pub const MAX_PATH: usize = 256;

/// Why a path, mailbox or domain could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The input did not match the grammar; `expected` says what was wanted.
    #[error("expected {expected}")]
    Syntax {
        /// A short description of what the grammar wanted at this point.
        expected: &'static str,
    },
    /// The local part is longer than 64 octets (RFC 5321 §4.5.3.1.1).
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    /// The domain is longer than 255 octets (RFC 5321 §4.5.3.1.2).
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    /// The path is longer than 256 octets (RFC 5321 §4.5.3.1.3).
    #[error("path longer than 256 octets")]
    PathTooLong,
}

/// An address literal, RFC 5321 §4.1.3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`
    V4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    V6(Ipv6Addr),
    /// `[tag:content]`: a General-address-literal, kept verbatim (tag, content).
    General(String, String),
}

/// The part after `@`: a domain name or an address literal.
///
/// Domain names keep the case they were written in; compare them with
/// [`Domain::eq_ignore_case`] (RFC 5321 §2.4: domain names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name, e.g. `example.com`, or a U-label form under RFC 6531.
    Name(String),
    /// An address literal, e.g. `[192.0.2.1]`.
    Literal(AddressLiteral),
}

/// `local-part@domain`, RFC 5321 §4.1.2.
///
/// `local` holds the local part as written on the wire for a Dot-string, and
/// *unquoted* (escapes removed) for a Quoted-string; serialization re-quotes
/// when needed, so `parse(serialize(m)) == m`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part, unquoted.
    pub local: String,
    /// The domain or address literal.
    pub domain: Domain,
}

/// MAIL FROM's argument: a mailbox or the null path `<>` (RFC 5321 §4.5.5,
/// used for bounces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`
    Null,
    /// `<local@domain>`
    Mailbox(Mailbox),
}

/// RCPT TO's argument: a mailbox or the special `<Postmaster>` with no domain
/// (RFC 5321 §4.1.1.3, §4.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` (case-insensitive, no domain).
    Postmaster,
    /// `<local@domain>`
    Mailbox(Mailbox),
}

const fn syntax(expected: &'static str) -> PathError {
    PathError::Syntax { expected }
}

impl Domain {
    /// Parses a domain name or an address literal (the argument of HELO/EHLO,
    /// or the part of a mailbox after `@`).
    ///
    /// Names follow RFC 5321 §4.1.2 (`sub-domain *("." sub-domain)`, labels
    /// start and end with a letter or digit; U-labels under RFC 6531); literals
    /// follow §4.1.3. At most 255 octets (§4.5.3.1.2).
    ///
    /// ```
    /// use smtp_wire::path::{AddressLiteral, Domain};
    /// assert_eq!(Domain::parse("mail.example.com").unwrap().to_string(), "mail.example.com");
    /// let lit = Domain::parse("[192.0.2.1]").unwrap();
    /// assert_eq!(lit, Domain::Literal(AddressLiteral::V4([192, 0, 2, 1].into())));
    /// assert!(Domain::parse("-bad-.example").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Domain, PathError> {
        // RFC 5321 §4.5.3.1.2: checked first so a huge input is refused cheaply.
        if s.len() > MAX_DOMAIN {
            return Err(PathError::DomainTooLong);
        }
        if grammar::domain_len(s)? != s.len() {
            return Err(syntax("the end of the domain"));
        }
        grammar::domain_value(s)
    }

    /// Compares with another domain written as text, ignoring ASCII case
    /// (RFC 5321 §2.4: domain names are case-insensitive). Address literals
    /// compare by value, so `[192.0.2.1]` equals `[192.000.002.001]`.
    /// Non-ASCII (U-label) characters are compared exactly.
    ///
    /// ```
    /// use smtp_wire::path::Domain;
    /// assert!(Domain::parse("Example.COM").unwrap().eq_ignore_case("example.com"));
    /// ```
    pub fn eq_ignore_case(&self, name: &str) -> bool {
        match self {
            Domain::Name(own) => own.eq_ignore_ascii_case(name),
            Domain::Literal(literal) => match Domain::parse(name) {
                Ok(Domain::Literal(other)) => literal.eq_ignore_case(&other),
                _ => false,
            },
        }
    }

    /// True when the domain is a name with non-ASCII characters (an RFC 6531
    /// U-label form), which a receiver accepts only after SMTPUTF8.
    pub fn is_utf8(&self) -> bool {
        match self {
            Domain::Name(name) => !name.is_ascii(),
            Domain::Literal(_) => false,
        }
    }
}

impl AddressLiteral {
    /// Equality where the tag of a general literal ignores ASCII case.
    fn eq_ignore_case(&self, other: &AddressLiteral) -> bool {
        match (self, other) {
            (AddressLiteral::General(tag, content), AddressLiteral::General(t, c)) => {
                tag.eq_ignore_ascii_case(t) && content == c
            }
            _ => self == other,
        }
    }
}

impl fmt::Display for AddressLiteral {
    /// `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `[tag:content]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressLiteral::V4(addr) => write!(f, "[{addr}]"),
            // RFC 5321 §4.1.3: "IPv6:" then the address; Rust prints the
            // RFC 5952 form, which never uses "::" for a single group.
            AddressLiteral::V6(addr) => write!(f, "[IPv6:{addr}]"),
            AddressLiteral::General(tag, content) => write!(f, "[{tag}:{content}]"),
        }
    }
}

impl fmt::Display for Domain {
    /// `example.com`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(name) => f.write_str(name),
            Domain::Literal(literal) => literal.fmt(f),
        }
    }
}

impl FromStr for Domain {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

impl Mailbox {
    /// Parses a bare `local-part@domain` (no angle brackets).
    ///
    /// The local part is a Dot-string or a Quoted-string (stored unquoted);
    /// the domain a name or an address literal. Limits: local part 64 octets,
    /// domain 255 octets (RFC 5321 §4.5.3.1.1-2).
    ///
    /// ```
    /// use smtp_wire::path::Mailbox;
    /// let m = Mailbox::parse("\"John Doe\"@example.com").unwrap();
    /// assert_eq!(m.local, "John Doe");
    /// assert_eq!(m.to_string(), "\"John Doe\"@example.com");
    /// assert!(Mailbox::parse("a..b@example.com").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Mailbox, PathError> {
        let (mailbox, rest) = Mailbox::parse_prefix(s)?;
        if !rest.is_empty() {
            return Err(syntax("the end of the mailbox"));
        }
        Ok(mailbox)
    }

    /// Parses a mailbox at the start of `s` and returns it with the rest of
    /// the input (whatever follows the domain).
    #[inline]
    pub fn parse_prefix(s: &str) -> Result<(Mailbox, &str), PathError> {
        let scanned = ScannedMailbox::scan(s)?;
        let rest = &s[scanned.wire.len()..];
        Ok((scanned.build()?, rest))
    }

    /// True when the local part or the domain has non-ASCII characters: such
    /// a mailbox needs the SMTPUTF8 extension (RFC 6531 §3.2), so a receiver
    /// that did not get `SMTPUTF8` on MAIL refuses it (553 5.6.7).
    ///
    /// ```
    /// use smtp_wire::path::Mailbox;
    /// assert!(Mailbox::parse("δοκιμή@παράδειγμα.δοκιμή").unwrap().is_utf8());
    /// assert!(!Mailbox::parse("user@example.com").unwrap().is_utf8());
    /// ```
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || self.domain.is_utf8()
    }
}

impl fmt::Display for Mailbox {
    /// The wire form: the local part as a Dot-string when it is one, else as
    /// a Quoted-string with `"` and `\` escaped (RFC 5321 §4.1.2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if grammar::is_dot_string(&self.local) {
            f.write_str(&self.local)?;
        } else {
            f.write_str("\"")?;
            let mut start = 0;
            for (i, c) in self.local.char_indices() {
                if c == '"' || c == '\\' {
                    f.write_str(&self.local[start..i])?;
                    f.write_str("\\")?;
                    start = i;
                }
            }
            f.write_str(&self.local[start..])?;
            f.write_str("\"")?;
        }
        write!(f, "@{}", self.domain)
    }
}

impl FromStr for Mailbox {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mailbox::parse(s)
    }
}

/// A mailbox checked in place but not yet copied.
///
/// Parsing a command checks everything first (the path, what follows it,
/// its parameters) and copies the mailbox's two strings last, straight into
/// the result: nothing is allocated for a command that is refused, and the
/// mailbox is not moved from one temporary to the next on the way out
/// (this ordering made `RCPT TO:<user@example.com>` 22 % faster,
/// docs/benchmarks.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScannedMailbox<'a> {
    /// The mailbox as written: `local-part "@" domain`.
    wire: &'a str,
    /// The length of the local part as written.
    local_len: usize,
}

impl<'a> ScannedMailbox<'a> {
    /// Checks the mailbox at the start of `s` (RFC 5321 §4.1.2, with the
    /// limits of §4.5.3.1.1-2) without copying anything.
    #[inline]
    fn scan(s: &'a str) -> Result<ScannedMailbox<'a>, PathError> {
        let local_len = grammar::local_part_len(s)?;
        if s.as_bytes().get(local_len) != Some(&b'@') {
            return Err(syntax("\"@\" after the local part"));
        }
        let domain_len = grammar::domain_len(&s[local_len + 1..])?;
        // RFC 5321 §4.5.3.1.2 (names are checked by the scanner; this also
        // bounds address literals).
        if domain_len > MAX_DOMAIN {
            return Err(PathError::DomainTooLong);
        }
        Ok(ScannedMailbox {
            wire: &s[..local_len + 1 + domain_len],
            local_len,
        })
    }

    /// The owned mailbox: a Dot-string local part and a domain name are
    /// copied as written, a Quoted-string is unescaped, an address literal
    /// parsed.
    #[inline]
    pub(crate) fn build(self) -> Result<Mailbox, PathError> {
        Ok(Mailbox {
            local: grammar::local_part_value(&self.wire[..self.local_len])?,
            domain: grammar::domain_value(&self.wire[self.local_len + 1..])?,
        })
    }
}

/// A path checked in place: the mailbox not yet copied, or `None` for the
/// path without one (`<>` for a reverse-path, `<Postmaster>` for a
/// forward-path).
pub(crate) type ScannedPath<'a> = Option<ScannedMailbox<'a>>;

/// Parses `"<" [ A-d-l ":" ] Mailbox ">"` at the start of `s` (which starts
/// with `<`), returning the mailbox and what follows the `>`.
#[inline]
fn path_prefix(s: &str) -> Result<(ScannedMailbox<'_>, &str), PathError> {
    let inner = &s[1..];
    // RFC 5321 §3.3 / Appendix C: a source route is accepted and dropped.
    let route_len = grammar::source_route_len(inner)?;
    let mailbox = ScannedMailbox::scan(&inner[route_len..])?;
    let rest = &inner[route_len + mailbox.wire.len()..];
    let Some(after) = rest.strip_prefix('>') else {
        return Err(syntax("\">\" at the end of the path"));
    };
    // RFC 5321 §4.5.3.1.3: the path, "<" to ">" inclusive, is at most 256 octets.
    if s.len() - after.len() > MAX_PATH {
        return Err(PathError::PathTooLong);
    }
    Ok((mailbox, after))
}

/// Requires `rest` to be empty (for the whole-string parsers).
fn finish<T>(parsed: (T, &str)) -> Result<T, PathError> {
    if parsed.1.is_empty() {
        Ok(parsed.0)
    } else {
        Err(syntax("the end of the path after \">\""))
    }
}

impl ReversePath {
    /// Parses a reverse-path with its angle brackets: `<>` (the null path of
    /// RFC 5321 §4.5.5) or `<local@domain>`. A source route
    /// (`<@relay1,@relay2:a@b>`) is accepted and dropped (§3.3, Appendix C).
    ///
    /// ```
    /// use smtp_wire::path::ReversePath;
    /// assert_eq!(ReversePath::parse("<>").unwrap(), ReversePath::Null);
    /// let p = ReversePath::parse("<@relay.example:user@example.com>").unwrap();
    /// assert_eq!(p.to_string(), "<user@example.com>");
    /// ```
    pub fn parse(s: &str) -> Result<ReversePath, PathError> {
        finish(ReversePath::parse_prefix(s)?)
    }

    /// Parses a reverse-path at the start of `s`, returning the rest after `>`.
    #[inline]
    pub fn parse_prefix(s: &str) -> Result<(ReversePath, &str), PathError> {
        let (path, rest) = ReversePath::scan_prefix(s)?;
        Ok((ReversePath::build(path)?, rest))
    }

    /// Checks a reverse-path at the start of `s` without copying it.
    #[inline]
    pub(crate) fn scan_prefix(s: &str) -> Result<(ScannedPath<'_>, &str), PathError> {
        if let Some(rest) = s.strip_prefix("<>") {
            return Ok((None, rest));
        }
        if !s.starts_with('<') {
            return Err(syntax("\"<\" at the start of the path"));
        }
        let (mailbox, rest) = path_prefix(s)?;
        Ok((Some(mailbox), rest))
    }

    /// The reverse-path [`ReversePath::scan_prefix`] checked.
    #[inline]
    pub(crate) fn build(path: ScannedPath<'_>) -> Result<ReversePath, PathError> {
        Ok(match path {
            None => ReversePath::Null,
            Some(mailbox) => ReversePath::Mailbox(mailbox.build()?),
        })
    }

    /// True when the mailbox needs SMTPUTF8 (see [`Mailbox::is_utf8`]).
    pub fn is_utf8(&self) -> bool {
        match self {
            ReversePath::Null => false,
            ReversePath::Mailbox(mailbox) => mailbox.is_utf8(),
        }
    }

    /// The mailbox, or `None` for the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(mailbox) => Some(mailbox),
        }
    }
}

impl fmt::Display for ReversePath {
    /// `<>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

impl FromStr for ReversePath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReversePath::parse(s)
    }
}

impl ForwardPath {
    /// Parses a forward-path with its angle brackets: `<Postmaster>` (any
    /// case, RFC 5321 §4.1.1.3) or `<local@domain>`; a source route is
    /// accepted and dropped.
    ///
    /// ```
    /// use smtp_wire::path::ForwardPath;
    /// assert_eq!(ForwardPath::parse("<postmaster>").unwrap(), ForwardPath::Postmaster);
    /// assert_eq!(ForwardPath::parse("<a@b.example>").unwrap().to_string(), "<a@b.example>");
    /// assert!(ForwardPath::parse("<>").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<ForwardPath, PathError> {
        finish(ForwardPath::parse_prefix(s)?)
    }

    /// Parses a forward-path at the start of `s`, returning the rest after `>`.
    #[inline]
    pub fn parse_prefix(s: &str) -> Result<(ForwardPath, &str), PathError> {
        let (path, rest) = ForwardPath::scan_prefix(s)?;
        Ok((ForwardPath::build(path)?, rest))
    }

    /// Checks a forward-path at the start of `s` without copying it.
    #[inline]
    pub(crate) fn scan_prefix(s: &str) -> Result<(ScannedPath<'_>, &str), PathError> {
        const POSTMASTER: &[u8] = b"<postmaster>";
        let bytes = s.as_bytes();
        if bytes.len() >= POSTMASTER.len()
            && bytes[..POSTMASTER.len()].eq_ignore_ascii_case(POSTMASTER)
        {
            return Ok((None, &s[POSTMASTER.len()..]));
        }
        if !s.starts_with('<') {
            return Err(syntax("\"<\" at the start of the path"));
        }
        let (mailbox, rest) = path_prefix(s)?;
        Ok((Some(mailbox), rest))
    }

    /// The forward-path [`ForwardPath::scan_prefix`] checked.
    #[inline]
    pub(crate) fn build(path: ScannedPath<'_>) -> Result<ForwardPath, PathError> {
        Ok(match path {
            None => ForwardPath::Postmaster,
            Some(mailbox) => ForwardPath::Mailbox(mailbox.build()?),
        })
    }

    /// True when the mailbox needs SMTPUTF8 (see [`Mailbox::is_utf8`]).
    pub fn is_utf8(&self) -> bool {
        match self {
            ForwardPath::Postmaster => false,
            ForwardPath::Mailbox(mailbox) => mailbox.is_utf8(),
        }
    }

    /// The mailbox, or `None` for `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(mailbox) => Some(mailbox),
        }
    }
}

impl fmt::Display for ForwardPath {
    /// `<Postmaster>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

impl FromStr for ForwardPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ForwardPath::parse(s)
    }
}
