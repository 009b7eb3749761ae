//! MAIL and RCPT parameters, typed (RFC 5321 §4.1.2 `esmtp-param`).
//!
//! ```text
//! Mail-parameters = esmtp-param *(SP esmtp-param)
//! esmtp-param     = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! esmtp-value     = 1*(%d33-60 / %d62-126)    ; RFC 6531 §3.3 adds UTF8-non-ascii
//! ```
//! Known keywords (case-insensitive, RFC 5321 §2.4) become typed fields:
//! `SIZE` (RFC 1870), `BODY` (RFC 6152, RFC 3030), `SMTPUTF8` (RFC 6531),
//! `AUTH` (RFC 4954 §5), `RET`/`ENVID`/`NOTIFY`/`ORCPT` (RFC 3461). Anything
//! else is kept verbatim in `other`, so the receiver can answer 555
//! (RFC 5321 §4.1.1.11) and the sender can pass through what it was given.
//! A keyword given twice is an error, so is a malformed value.
//!
//! ```
//! use smtp_wire::param::{Body, MailParams};
//! let p = MailParams::parse("size=1000 BODY=8BITMIME SMTPUTF8").unwrap();
//! assert_eq!(p.size, Some(1000));
//! assert_eq!(p.body, Some(Body::EightBitMime));
//! assert!(p.smtputf8);
//! assert_eq!(p.to_string(), "SIZE=1000 BODY=8BITMIME SMTPUTF8");
//! assert!(MailParams::parse("SIZE=abc").is_err());
//! ```

use std::borrow::Cow;
use std::fmt;

mod xtext;

pub use xtext::{xtext_decode, xtext_encode};

use crate::path::Mailbox;

/// A parameter this crate has no type for, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// The `esmtp-keyword`, as written (compare case-insensitively).
    pub keyword: String,
    /// The `esmtp-value` after `=`, if there was one.
    pub value: Option<String>,
}

/// `BODY=` (RFC 6152 §2 for 7BIT / 8BITMIME, RFC 3030 §3 for BINARYMIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`
    SevenBit,
    /// `BODY=8BITMIME`
    EightBitMime,
    /// `BODY=BINARYMIME` (requires BDAT, RFC 3030 §3).
    BinaryMime,
}

impl Body {
    /// The keyword value as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
            Body::BinaryMime => "BINARYMIME",
        }
    }
}

/// `RET=` (RFC 3461 §4.3): how much of the message a DSN returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Hdrs,
}

impl Ret {
    /// The keyword value as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Hdrs => "HDRS",
        }
    }
}

/// `NOTIFY=` (RFC 3461 §4.1): when to send a DSN. All `false` means `NEVER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    /// `SUCCESS`
    pub success: bool,
    /// `FAILURE`
    pub failure: bool,
    /// `DELAY`
    pub delay: bool,
}

impl fmt::Display for Notify {
    /// `NEVER` or a comma list in the order SUCCESS, FAILURE, DELAY.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !(self.success || self.failure || self.delay) {
            return f.write_str("NEVER");
        }
        let mut sep = "";
        for (on, name) in [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ] {
            if on {
                write!(f, "{sep}{name}")?;
                sep = ",";
            }
        }
        Ok(())
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2): the original recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt {
    /// The address type as written, e.g. `rfc822` (RFC 3461 §4.2) or
    /// `utf-8` (RFC 6533).
    pub addr_type: Cow<'static, str>,
    /// The address, xtext-decoded.
    pub addr: String,
}

/// The parameters of a MAIL command, after the reverse-path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// `SIZE=n`: the declared message size in octets (RFC 1870 §3).
    pub size: Option<u64>,
    /// `BODY=`: the body type (RFC 6152, RFC 3030).
    pub body: Option<Body>,
    /// `SMTPUTF8`: the transaction uses UTF-8 addresses (RFC 6531 §3.4).
    pub smtputf8: bool,
    /// `AUTH=`: the authenticated submitter, a mailbox or `<>`
    /// (RFC 4954 §5), xtext-decoded.
    pub auth: Option<String>,
    /// `RET=` (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=`: the envelope identifier (RFC 3461 §4.4), xtext-decoded.
    pub envid: Option<String>,
    /// Parameters without a type here, in the order given.
    pub other: Vec<Param>,
}

/// The parameters of a RCPT command, after the forward-path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461 §4.1).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461 §4.2).
    pub orcpt: Option<Orcpt>,
    /// Parameters without a type here, in the order given.
    pub other: Vec<Param>,
}

/// Why a parameter list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The list did not match the `esmtp-param` grammar.
    #[error("expected {expected}")]
    Syntax {
        /// What the grammar wanted.
        expected: &'static str,
    },
    /// The same keyword appeared twice (compared case-insensitively).
    #[error("duplicate parameter {0}")]
    Duplicate(String),
    /// A known keyword with a value it cannot take.
    #[error("invalid {keyword} parameter: expected {expected}")]
    InvalidValue {
        /// The keyword, upper-case.
        keyword: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
}

/// RFC 3461 §4.4: the ENVID value is at most 100 characters.
const MAX_ENVID: usize = 100;
/// RFC 3461 §4.2: the ORCPT value is at most 500 characters.
const MAX_ORCPT: usize = 500;

fn invalid(keyword: &str, expected: &'static str) -> ParamError {
    ParamError::InvalidValue {
        keyword: keyword.to_owned(),
        expected,
    }
}

/// What an octet may be in a parameter (RFC 5321 §4.1.2), as bits of
/// [`PARAM_OCTET`].
const KEYWORD_FIRST: u8 = 1;
const KEYWORD: u8 = 2;
/// `esmtp-value`'s ASCII octets: `%d33-60 / %d62-126`.
const VALUE: u8 = 4;

/// The classes of every octet: `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA /
/// DIGIT / "-")`, and the ASCII of `esmtp-value`.
static PARAM_OCTET: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            table[c] |= KEYWORD_FIRST | KEYWORD;
        }
        if b == b'-' {
            table[c] |= KEYWORD;
        }
        if matches!(b, 0x21..=0x3c | 0x3e..=0x7e) {
            table[c] |= VALUE;
        }
        c += 1;
    }
    table
};

/// The length of the run of octets of `class` in `bytes` from `i`.
#[inline]
fn run_of(bytes: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(&b) = bytes.get(i)
        && PARAM_OCTET[usize::from(b)] & class != 0
    {
        i += 1;
    }
    i
}

/// RFC 5321 §4.1.2 `esmtp-value = 1*(%d33-60 / %d62-126)`, plus
/// `UTF8-non-ascii` (RFC 6531 §3.3). Never a control character.
fn is_value(s: &str) -> bool {
    !s.is_empty()
        && (run_of(s.as_bytes(), 0, VALUE) == s.len()
            || s.chars().all(|c| match c {
                '\u{21}'..='\u{3c}' | '\u{3e}'..='\u{7e}' => true,
                c => !c.is_ascii() && !c.is_control(),
            }))
}

const BAD_KEYWORD: ParamError = ParamError::Syntax {
    expected: "a parameter keyword (letters, digits, \"-\")",
};
const BAD_VALUE: ParamError = ParamError::Syntax {
    expected: "a parameter value (printable, no \"=\", no space)",
};

/// Splits `s` into `(keyword, value)` pairs, checking the grammar, and hands
/// each to `each`. Separators are exactly one SP (RFC 5321 §4.1.2
/// `esmtp-param *(SP esmtp-param)`): doubled, leading or trailing spaces are
/// refused.
///
/// One pass over the octets, a table look-up each: the keyword's run ends
/// at "=" (a value follows), SP (the next parameter) or the end, and the
/// value's run at SP or the end; anything else is refused. Only a value
/// with non-ASCII text (RFC 6531) is looked at again, character by
/// character. Every position cut at is that of an ASCII octet, a character
/// boundary, so the slicing cannot fail.
fn for_each_param<'a>(
    s: &'a str,
    mut each: impl FnMut(&'a str, Option<&'a str>) -> Result<(), ParamError>,
) -> Result<(), ParamError> {
    if s.is_empty() {
        return Ok(());
    }
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        if bytes
            .get(start)
            .is_none_or(|&b| PARAM_OCTET[usize::from(b)] & KEYWORD_FIRST == 0)
        {
            return Err(BAD_KEYWORD);
        }
        let keyword_end = run_of(bytes, start + 1, KEYWORD);
        let keyword = &s[start..keyword_end];
        let (value, end) = match bytes.get(keyword_end) {
            None | Some(b' ') => (None, keyword_end),
            Some(b'=') => {
                let value_start = keyword_end + 1;
                let mut end = run_of(bytes, value_start, VALUE);
                if bytes.get(end).is_some_and(|&b| b >= 0x80) {
                    // UTF-8 in the value: take it up to the space, then
                    // check it character by character.
                    end = memchr::memchr(b' ', &bytes[end..]).map_or(s.len(), |space| end + space);
                    if !is_value(&s[value_start..end]) {
                        return Err(BAD_VALUE);
                    }
                }
                if end == value_start || !matches!(bytes.get(end), None | Some(b' ')) {
                    return Err(BAD_VALUE);
                }
                (Some(&s[value_start..end]), end)
            }
            Some(_) => return Err(BAD_KEYWORD),
        };
        each(keyword, value)?;
        if end == s.len() {
            return Ok(());
        }
        start = end + 1;
    }
}

/// Adds an unknown parameter, refusing a second one with the same keyword.
fn push_other(
    other: &mut Vec<Param>,
    keyword: &str,
    value: Option<&str>,
) -> Result<(), ParamError> {
    if other
        .iter()
        .any(|p| p.keyword.eq_ignore_ascii_case(keyword))
    {
        return Err(ParamError::Duplicate(keyword.to_owned()));
    }
    other.push(Param {
        keyword: keyword.to_owned(),
        value: value.map(str::to_owned),
    });
    Ok(())
}

/// Stores a typed value, refusing a keyword seen before.
fn set_once<T>(slot: &mut Option<T>, keyword: &str, value: T) -> Result<(), ParamError> {
    if slot.is_some() {
        return Err(ParamError::Duplicate(keyword.to_owned()));
    }
    *slot = Some(value);
    Ok(())
}

/// RFC 1870 §3: `size-value ::= 1*20DIGIT`; it must also fit in a u64
/// (checked arithmetic, so a 30-digit value is an error, not a wrap).
fn parse_size(value: Option<&str>) -> Result<u64, ParamError> {
    const EXPECTED: &str = "SIZE=<decimal octet count that fits in 64 bits>";
    let digits = value.ok_or_else(|| invalid("SIZE", EXPECTED))?;
    if digits.is_empty() || digits.len() > 20 {
        return Err(invalid("SIZE", EXPECTED));
    }
    digits.bytes().try_fold(0u64, |acc, b| {
        if !b.is_ascii_digit() {
            return Err(invalid("SIZE", EXPECTED));
        }
        acc.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| invalid("SIZE", EXPECTED))
    })
}

fn parse_body(value: Option<&str>) -> Result<Body, ParamError> {
    match value {
        Some(v) if v.eq_ignore_ascii_case("7BIT") => Ok(Body::SevenBit),
        Some(v) if v.eq_ignore_ascii_case("8BITMIME") => Ok(Body::EightBitMime),
        Some(v) if v.eq_ignore_ascii_case("BINARYMIME") => Ok(Body::BinaryMime),
        _ => Err(invalid(
            "BODY",
            "BODY=7BIT, BODY=8BITMIME or BODY=BINARYMIME",
        )),
    }
}

fn parse_ret(value: Option<&str>) -> Result<Ret, ParamError> {
    match value {
        Some(v) if v.eq_ignore_ascii_case("FULL") => Ok(Ret::Full),
        Some(v) if v.eq_ignore_ascii_case("HDRS") => Ok(Ret::Hdrs),
        _ => Err(invalid("RET", "RET=FULL or RET=HDRS")),
    }
}

/// RFC 4954 §5: `AUTH=` xtext of a mailbox, or `<>` when the submitter is
/// unknown. The decoded value must be one of the two.
fn parse_auth(value: Option<&str>) -> Result<String, ParamError> {
    const EXPECTED: &str = "AUTH=<xtext-encoded mailbox> or AUTH=<>";
    let decoded = value
        .and_then(|v| xtext_decode(v).ok())
        .ok_or_else(|| invalid("AUTH", EXPECTED))?;
    if decoded == "<>" || Mailbox::parse(&decoded).is_ok() {
        Ok(decoded)
    } else {
        Err(invalid("AUTH", EXPECTED))
    }
}

/// RFC 3461 §4.4: `ENVID=` xtext, at most 100 characters, printable US-ASCII
/// once decoded.
fn parse_envid(value: Option<&str>) -> Result<String, ParamError> {
    const EXPECTED: &str = "ENVID=<xtext of printable ASCII, at most 100 characters>";
    let v = value
        .filter(|v| v.len() <= MAX_ENVID)
        .ok_or_else(|| invalid("ENVID", EXPECTED))?;
    let decoded = xtext_decode(v).map_err(|_| invalid("ENVID", EXPECTED))?;
    if decoded.bytes().all(|b| (32..=126).contains(&b)) {
        Ok(decoded)
    } else {
        Err(invalid("ENVID", EXPECTED))
    }
}

/// RFC 3461 §4.1: `NOTIFY=` "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" );
/// NEVER stands alone.
fn parse_notify(value: Option<&str>) -> Result<Notify, ParamError> {
    const EXPECTED: &str = "NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY";
    let value = value.ok_or_else(|| invalid("NOTIFY", EXPECTED))?;
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(Notify::default());
    }
    let mut notify = Notify::default();
    // Byte-wise split at the ASCII ",": cheaper than a char pattern for
    // these few octets.
    for item in value.as_bytes().split(|&b| b == b',') {
        let flag = if item.eq_ignore_ascii_case(b"SUCCESS") {
            &mut notify.success
        } else if item.eq_ignore_ascii_case(b"FAILURE") {
            &mut notify.failure
        } else if item.eq_ignore_ascii_case(b"DELAY") {
            &mut notify.delay
        } else {
            // Includes "NEVER" mixed with others, and empty items.
            return Err(invalid("NOTIFY", EXPECTED));
        };
        *flag = true;
    }
    Ok(notify)
}

/// RFC 3461 §4.2: `ORCPT=` addr-type ";" xtext, at most 500 characters;
/// `addr-type` is an RFC 5322 atom. The decoded address may not contain
/// control characters (it ends up in DSN headers).
fn parse_orcpt(value: Option<&str>) -> Result<Orcpt, ParamError> {
    const EXPECTED: &str = "ORCPT=<addr-type>;<xtext address>, at most 500 characters";
    let value = value
        .filter(|v| v.len() <= MAX_ORCPT)
        .ok_or_else(|| invalid("ORCPT", EXPECTED))?;
    let semicolon = value
        .bytes()
        .position(|b| b == b';')
        .ok_or_else(|| invalid("ORCPT", EXPECTED))?;
    // ";" is ASCII, so both sides are whole characters.
    let (addr_type, xtext) = (&value[..semicolon], &value[semicolon + 1..]);
    if addr_type.is_empty() || !addr_type.bytes().all(crate::path::is_atext) || xtext.is_empty() {
        return Err(invalid("ORCPT", EXPECTED));
    }
    let addr = xtext_decode(xtext).map_err(|_| invalid("ORCPT", EXPECTED))?;
    // Only a "+XX" escape can put a control character in the address (an
    // xtext character is printable ASCII, RFC 3461 §4), and each escape
    // shortens the text by two octets: a decoded address as long as its
    // xtext has none to look for.
    // ASCII octet by octet (the usual address), other text by character.
    let control = addr.len() != xtext.len()
        && if addr.is_ascii() {
            addr.bytes().any(|b| b.is_ascii_control())
        } else {
            addr.chars().any(char::is_control)
        };
    if control {
        return Err(invalid("ORCPT", EXPECTED));
    }
    Ok(Orcpt {
        addr_type: addr_type_value(addr_type),
        addr,
    })
}

/// The address types registered for ORCPT: `rfc822` (RFC 3461 §4.2) and
/// `utf-8` (RFC 6533 §3), which nearly every ORCPT uses.
const ADDR_TYPES: [&str; 2] = ["rfc822", "utf-8"];

/// An ORCPT address type as written: one of [`ADDR_TYPES`] is shared, not
/// copied (one allocation less per RCPT with ORCPT).
fn addr_type_value(addr_type: &str) -> Cow<'static, str> {
    match ADDR_TYPES.iter().find(|known| **known == addr_type) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(addr_type.to_owned()),
    }
}

impl MailParams {
    /// Parses the parameters after MAIL's reverse-path: `s` is everything
    /// after the separating space; `""` gives the default (nothing set).
    pub fn parse(s: &str) -> Result<Self, ParamError> {
        let mut params = MailParams::default();
        params.read(s)?;
        Ok(params)
    }

    /// [`MailParams::parse`] into `self`, which is default. The command
    /// parser fills its result in place this way: returning the 96 octets
    /// through a `Result` and copying them into the command cost more than
    /// reading two parameters.
    pub(crate) fn read(&mut self, s: &str) -> Result<(), ParamError> {
        let params = self;
        let mut smtputf8_seen = false;
        for_each_param(s, |keyword, value| {
            if keyword.eq_ignore_ascii_case("SIZE") {
                set_once(&mut params.size, "SIZE", parse_size(value)?)
            } else if keyword.eq_ignore_ascii_case("BODY") {
                set_once(&mut params.body, "BODY", parse_body(value)?)
            } else if keyword.eq_ignore_ascii_case("SMTPUTF8") {
                // RFC 6531 §3.4: the SMTPUTF8 parameter takes no value.
                if value.is_some() {
                    return Err(invalid("SMTPUTF8", "SMTPUTF8 with no value"));
                }
                if std::mem::replace(&mut smtputf8_seen, true) {
                    return Err(ParamError::Duplicate("SMTPUTF8".to_owned()));
                }
                params.smtputf8 = true;
                Ok(())
            } else if keyword.eq_ignore_ascii_case("AUTH") {
                set_once(&mut params.auth, "AUTH", parse_auth(value)?)
            } else if keyword.eq_ignore_ascii_case("RET") {
                set_once(&mut params.ret, "RET", parse_ret(value)?)
            } else if keyword.eq_ignore_ascii_case("ENVID") {
                set_once(&mut params.envid, "ENVID", parse_envid(value)?)
            } else {
                push_other(&mut params.other, keyword, value)
            }
        })
    }

    /// True when nothing is set (serializes to the empty string).
    pub(crate) fn is_empty(&self) -> bool {
        *self == MailParams::default()
    }
}

impl RcptParams {
    /// Parses the parameters after RCPT's forward-path: `s` is everything
    /// after the separating space; `""` gives the default (nothing set).
    ///
    /// ```
    /// use smtp_wire::param::RcptParams;
    /// let p = RcptParams::parse("NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@example.com").unwrap();
    /// assert!(p.notify.unwrap().success && !p.notify.unwrap().failure);
    /// assert_eq!(p.orcpt.unwrap().addr, "a+b@example.com");
    /// assert!(RcptParams::parse("NOTIFY=NEVER,SUCCESS").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, ParamError> {
        let mut params = RcptParams::default();
        params.read(s)?;
        Ok(params)
    }

    /// [`RcptParams::parse`] into `self`, which is default (see
    /// `MailParams::read`).
    pub(crate) fn read(&mut self, s: &str) -> Result<(), ParamError> {
        let params = self;
        for_each_param(s, |keyword, value| {
            if keyword.eq_ignore_ascii_case("NOTIFY") {
                set_once(&mut params.notify, "NOTIFY", parse_notify(value)?)
            } else if keyword.eq_ignore_ascii_case("ORCPT") {
                set_once(&mut params.orcpt, "ORCPT", parse_orcpt(value)?)
            } else {
                push_other(&mut params.other, keyword, value)
            }
        })
    }

    /// True when nothing is set (serializes to the empty string).
    pub(crate) fn is_empty(&self) -> bool {
        self.notify.is_none() && self.orcpt.is_none() && self.other.is_empty()
    }
}

/// Writes space-separated items with no leading space.
struct Joiner<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    first: bool,
}

impl Joiner<'_, '_> {
    fn item(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.f.write_str(" ")?;
        }
        self.f.write_fmt(args)
    }

    fn others(&mut self, other: &[Param]) -> fmt::Result {
        for p in other {
            match &p.value {
                Some(v) => self.item(format_args!("{}={v}", p.keyword))?,
                None => self.item(format_args!("{}", p.keyword))?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for MailParams {
    /// Space-separated, no leading space, `""` when nothing is set; values
    /// that need it are xtext-encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Joiner { f, first: true };
        if let Some(size) = self.size {
            out.item(format_args!("SIZE={size}"))?;
        }
        if let Some(body) = self.body {
            out.item(format_args!("BODY={}", body.as_str()))?;
        }
        if self.smtputf8 {
            out.item(format_args!("SMTPUTF8"))?;
        }
        if let Some(auth) = &self.auth {
            out.item(format_args!("AUTH={}", xtext_encode(auth)))?;
        }
        if let Some(ret) = self.ret {
            out.item(format_args!("RET={}", ret.as_str()))?;
        }
        if let Some(envid) = &self.envid {
            out.item(format_args!("ENVID={}", xtext_encode(envid)))?;
        }
        out.others(&self.other)
    }
}

impl fmt::Display for RcptParams {
    /// Space-separated, no leading space, `""` when nothing is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Joiner { f, first: true };
        if let Some(notify) = self.notify {
            out.item(format_args!("NOTIFY={notify}"))?;
        }
        if let Some(orcpt) = &self.orcpt {
            out.item(format_args!(
                "ORCPT={};{}",
                orcpt.addr_type,
                xtext_encode(&orcpt.addr)
            ))?;
        }
        out.others(&self.other)
    }
}

#[cfg(test)]
mod tests {
    //! The byte-wise splitting and the ASCII fast paths against the code
    //! they replaced (`str::split`, character by character), kept here as
    //! the reference.

    use proptest::prelude::*;

    use super::*;

    fn reference_is_keyword(s: &str) -> bool {
        let bytes = s.as_bytes();
        matches!(bytes.first(), Some(b) if b.is_ascii_alphanumeric())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    }

    fn reference_is_value(s: &str) -> bool {
        !s.is_empty()
            && s.chars().all(|c| match c {
                '\u{21}'..='\u{3c}' | '\u{3e}'..='\u{7e}' => true,
                c => !c.is_ascii() && !c.is_control(),
            })
    }

    type Pairs = Vec<(String, Option<String>)>;

    fn reference_params(s: &str) -> Result<Pairs, ParamError> {
        let mut pairs = Vec::new();
        if s.is_empty() {
            return Ok(pairs);
        }
        for item in s.split(' ') {
            let (keyword, value) = match item.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (item, None),
            };
            if !reference_is_keyword(keyword) {
                return Err(ParamError::Syntax {
                    expected: "a parameter keyword (letters, digits, \"-\")",
                });
            }
            if let Some(v) = value
                && !reference_is_value(v)
            {
                return Err(ParamError::Syntax {
                    expected: "a parameter value (printable, no \"=\", no space)",
                });
            }
            pairs.push((keyword.to_owned(), value.map(str::to_owned)));
        }
        Ok(pairs)
    }

    fn params(s: &str) -> Result<Pairs, ParamError> {
        let mut pairs = Vec::new();
        for_each_param(s, |keyword, value| {
            pairs.push((keyword.to_owned(), value.map(str::to_owned)));
            Ok(())
        })?;
        Ok(pairs)
    }

    fn reference_notify(value: &str) -> Option<Notify> {
        if value.eq_ignore_ascii_case("NEVER") {
            return Some(Notify::default());
        }
        let mut notify = Notify::default();
        for item in value.split(',') {
            let flag = if item.eq_ignore_ascii_case("SUCCESS") {
                &mut notify.success
            } else if item.eq_ignore_ascii_case("FAILURE") {
                &mut notify.failure
            } else if item.eq_ignore_ascii_case("DELAY") {
                &mut notify.delay
            } else {
                return None;
            };
            *flag = true;
        }
        Some(notify)
    }

    fn reference_orcpt(value: &str) -> Option<Orcpt> {
        if value.len() > MAX_ORCPT {
            return None;
        }
        let (addr_type, addr) = value.split_once(';')?;
        if addr_type.is_empty() || !addr_type.bytes().all(crate::path::is_atext) || addr.is_empty()
        {
            return None;
        }
        let addr = reference_xtext(addr)?;
        if addr.chars().any(char::is_control) {
            return None;
        }
        Some(Orcpt {
            addr_type: addr_type.to_owned().into(),
            addr,
        })
    }

    fn reference_xtext(s: &str) -> Option<String> {
        let hex = |b: u8| {
            char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        };
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'+' {
                let hi = bytes.get(i + 1).copied().and_then(hex)?;
                let lo = bytes.get(i + 2).copied().and_then(hex)?;
                out.push(hi << 4 | lo);
                i += 3;
            } else if (33..=126).contains(&b) && b != b'=' {
                out.push(b);
                i += 1;
            } else {
                return None;
            }
        }
        String::from_utf8(out).ok()
    }

    /// Parameter lists made of what they are made of, with the characters
    /// that split them and a few that must be refused.
    fn list() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => Just("SIZE"),
                2 => Just("-"),
                1 => Just("X-1"),
                1 => Just("\u{1}"),
                4 => Just("="),
                4 => Just(" "),
                2 => Just(","),
                2 => Just(";"),
                2 => Just("+2B"),
                2 => Just("+"),
                2 => Just("success"),
                1 => Just("NEVER"),
                1 => Just("rfc822"),
                1 => Just("a@b"),
                1 => Just("é"),
                1 => Just("\u{85}"),
                1 => Just("\t"),
                1 => Just("+C3+A9"),
                1 => Just("+0A"),
            ],
            0..10,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn parameters_split_and_check_as_before(s in list()) {
            prop_assert_eq!(params(&s), reference_params(&s));
            prop_assert_eq!(is_value(&s), reference_is_value(&s));
            prop_assert_eq!(parse_notify(Some(&s)).ok(), reference_notify(&s));
            prop_assert_eq!(parse_orcpt(Some(&s)).ok(), reference_orcpt(&s));
            prop_assert_eq!(xtext_decode(&s).ok(), reference_xtext(&s));
        }
    }
}
