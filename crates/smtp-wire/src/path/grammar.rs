//! The RFC 5321 §4.1.2 / §4.1.3 scanners behind [`super`]'s public parsers.
//!
//! Every scanner looks at the *start* of a `&str` and says how many bytes it
//! matched, so the command parser can go on from there without splitting or
//! copying the line. They are single forward passes with no backtracking.
//! Nothing here accepts a control character (CR, LF, NUL, DEL, C1 controls):
//! none of the grammar's character classes contains one.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::{AddressLiteral, Domain, MAX_DOMAIN, MAX_LOCAL_PART, PathError};

const fn syntax(expected: &'static str) -> PathError {
    PathError::Syntax { expected }
}

/// RFC 5322 §3.2.3 `atext`, used by RFC 5321 §4.1.2 `Atom`:
/// ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "/" /
/// "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
static ATEXT: [bool; 128] = {
    let mut table = [false; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'/'
                    | b'='
                    | b'?'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        c += 1;
    }
    table
};

/// True for an ASCII `atext` byte.
pub(crate) fn is_atext(b: u8) -> bool {
    b < 128 && ATEXT[b as usize]
}

/// RFC 6531 §3.3 adds `UTF8-non-ascii` to `atext`, `qtextSMTP` and
/// `sub-domain`. We take any non-ASCII scalar value except the C1 controls:
/// a control character is never acceptable inside a path.
pub(crate) fn non_ascii_char_at(s: &str, i: usize) -> Option<char> {
    match s.get(i..).and_then(|rest| rest.chars().next()) {
        Some(c) if !c.is_ascii() && !c.is_control() => Some(c),
        _ => None,
    }
}

/// Length in bytes of the `Dot-string` at the start of `s`
/// (RFC 5321 §4.1.2: `Dot-string = Atom *("." Atom)`, `Atom = 1*atext`).
///
/// Stops at the first byte that is neither `atext` nor `"."`; errors when the
/// dots are misplaced (leading, trailing or doubled) or nothing matched.
#[inline]
pub(crate) fn dot_string_len(s: &str) -> Result<usize, PathError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut atom_len = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b < 0x80 {
            if ATEXT[b as usize] {
                atom_len += 1;
                i += 1;
            } else if b == b'.' {
                if atom_len == 0 {
                    return Err(syntax("an atom before \".\" in the local part"));
                }
                atom_len = 0;
                i += 1;
            } else {
                break;
            }
        } else if let Some(c) = non_ascii_char_at(s, i) {
            atom_len += 1;
            i += c.len_utf8();
        } else {
            break;
        }
    }
    if i == 0 {
        return Err(syntax("a local part"));
    }
    if atom_len == 0 {
        return Err(syntax("an atom after \".\" in the local part"));
    }
    Ok(i)
}

/// True when `s` as a whole is a valid `Dot-string`, i.e. it can be written
/// on the wire without quotes.
pub(crate) fn is_dot_string(s: &str) -> bool {
    dot_string_len(s) == Ok(s.len())
}

/// Parses the `Quoted-string` at the start of `s` (which starts with `"`),
/// returning its unescaped content and the number of bytes consumed.
///
/// RFC 5321 §4.1.2: `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`,
/// `qtextSMTP = %d32-33 / %d35-91 / %d93-126` (plus UTF-8 under RFC 6531),
/// `quoted-pairSMTP = %d92 %d32-126`.
pub(crate) fn quoted_string(s: &str) -> Result<(String, usize), PathError> {
    let bytes = s.as_bytes();
    debug_assert_eq!(bytes.first(), Some(&b'"'));
    let mut out = String::new();
    let mut i = 1;
    loop {
        match bytes.get(i) {
            None => return Err(syntax("a closing '\"' for the quoted local part")),
            Some(b'"') => return Ok((out, i + 1)),
            Some(b'\\') => match bytes.get(i + 1) {
                // quoted-pairSMTP: a backslash followed by printable ASCII or SP.
                Some(&c @ 32..=126) => {
                    out.push(char::from(c));
                    i += 2;
                }
                _ => return Err(syntax("a printable character after '\\'")),
            },
            Some(&c @ 32..=126) => {
                out.push(char::from(c));
                i += 1;
            }
            Some(_) => match non_ascii_char_at(s, i) {
                Some(c) => {
                    out.push(c);
                    i += c.len_utf8();
                }
                None => return Err(syntax("a printable character in the quoted local part")),
            },
        }
    }
}

/// Length in bytes of the `Local-part` at the start of `s`, checked but not
/// copied (RFC 5321 §4.1.2: a Dot-string or a Quoted-string). Enforces
/// RFC 5321 §4.5.3.1.1 (64 octets, measured on the wire form).
#[inline]
pub(crate) fn local_part_len(s: &str) -> Result<usize, PathError> {
    let len = if s.as_bytes().first() == Some(&b'"') {
        // Rare: the quoted form is unescaped again by `local_part_value`.
        quoted_string(s)?.1
    } else {
        dot_string_len(s)?
    };
    if len > MAX_LOCAL_PART {
        return Err(PathError::LocalPartTooLong);
    }
    Ok(len)
}

/// The value of a local part that [`local_part_len`] measured: a
/// Dot-string as written, a Quoted-string unescaped.
#[inline]
pub(crate) fn local_part_value(wire: &str) -> Result<String, PathError> {
    if wire.as_bytes().first() == Some(&b'"') {
        Ok(quoted_string(wire)?.0)
    } else {
        Ok(wire.to_owned())
    }
}

/// What an octet is to a domain name (RFC 5321 §4.1.2): the classes of
/// [`DOMAIN_OCTET`].
const LET_DIG: u8 = 1;
const HYPHEN: u8 = 2;
const DOT: u8 = 3;
/// The first octet of a UTF-8 character outside ASCII (a U-label, RFC 6531
/// §3.3, if the character is not a control).
const NON_ASCII: u8 = 4;

/// The class of every octet for [`domain_name_len`]; 0 ends the name.
static DOMAIN_OCTET: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = if b.is_ascii_alphanumeric() {
            LET_DIG
        } else if b == b'-' {
            HYPHEN
        } else if b == b'.' {
            DOT
        } else if b >= 0x80 {
            NON_ASCII
        } else {
            0
        };
        c += 1;
    }
    table
};

/// Length in bytes of the domain name at the start of `s`.
///
/// RFC 5321 §4.1.2: `Domain = sub-domain *("." sub-domain)`,
/// `sub-domain = Let-dig [Ldh-str]`, `Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig`:
/// labels start and end with a letter or digit. RFC 6531 §3.3 adds U-labels,
/// which we accept as labels containing non-ASCII characters.
///
/// Letters and digits, nearly every octet of a name, are skipped by a
/// loop of one table look-up each; only the octet after such a run is
/// looked at against the octet before it.
#[inline]
pub(crate) fn domain_name_len(s: &str) -> Result<usize, PathError> {
    let bytes = s.as_bytes();
    let mut i = 0;
    // The class of the octet before `i`, as far as the grammar cares:
    // LET_DIG (a non-ASCII character counts as one), HYPHEN, or DOT at the
    // start of a label (the start of the name included).
    let mut before = DOT;
    loop {
        let run = i;
        while let Some(&b) = bytes.get(i)
            && DOMAIN_OCTET[usize::from(b)] == LET_DIG
        {
            i += 1;
        }
        if i > run {
            before = LET_DIG;
        }
        let Some(&b) = bytes.get(i) else { break };
        match DOMAIN_OCTET[usize::from(b)] {
            HYPHEN if before == DOT => {
                return Err(syntax("a letter or digit at the start of a domain label"));
            }
            HYPHEN => {
                before = HYPHEN;
                i += 1;
            }
            DOT if before != LET_DIG => {
                return Err(syntax("a letter or digit before \".\" in the domain"));
            }
            DOT => {
                before = DOT;
                i += 1;
            }
            NON_ASCII => match non_ascii_char_at(s, i) {
                Some(c) => {
                    before = LET_DIG;
                    i += c.len_utf8();
                }
                None => break,
            },
            _ => break,
        }
    }
    if i == 0 {
        return Err(syntax("a domain"));
    }
    if before != LET_DIG {
        return Err(syntax("a letter or digit at the end of the domain"));
    }
    // RFC 5321 §4.5.3.1.2: a domain name is at most 255 octets.
    if i > MAX_DOMAIN {
        return Err(PathError::DomainTooLong);
    }
    Ok(i)
}

/// `Ldh-str` (RFC 5321 §4.1.2), the form of a `Standardized-tag` (§4.1.3).
fn is_ldh_str(s: &str) -> bool {
    let bytes = s.as_bytes();
    matches!(bytes.last(), Some(b) if b.is_ascii_alphanumeric())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// RFC 5321 §4.1.3: `IPv4-address-literal = Snum 3("." Snum)`,
/// `Snum = 1*3DIGIT` with a value 0-255 (leading zeros allowed, unlike
/// `Ipv4Addr::from_str`).
fn ipv4_literal(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value = part
            .bytes()
            .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
        *octet = u8::try_from(value).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// Parses the `address-literal` at the start of `s` (which starts with `[`).
///
/// RFC 5321 §4.1.3: `"[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"`; `IPv6-address-literal = "IPv6:" IPv6-addr`
/// (the tag is case-insensitive, as every ABNF string);
/// `General-address-literal = Standardized-tag ":" 1*dcontent`,
/// `dcontent = %d33-90 / %d94-126`.
pub(crate) fn address_literal(s: &str) -> Result<(AddressLiteral, usize), PathError> {
    let bytes = s.as_bytes();
    debug_assert_eq!(bytes.first(), Some(&b'['));
    // `dcontent` excludes "[", "\" and "]", so the first "]" closes the literal.
    let end = memchr::memchr(b']', bytes).ok_or(syntax("a closing ']' for the address literal"))?;
    let inner = &s[1..end];
    let literal = if let Some(v4) = ipv4_literal(inner) {
        AddressLiteral::V4(v4)
    } else if let Some((tag, content)) = inner.split_once(':') {
        if tag.eq_ignore_ascii_case("IPv6") {
            let v6: Ipv6Addr = content
                .parse()
                .map_err(|_| syntax("an IPv6 address after \"IPv6:\""))?;
            AddressLiteral::V6(v6)
        } else if is_ldh_str(tag)
            && !content.is_empty()
            && content.bytes().all(|b| matches!(b, 33..=90 | 94..=126))
        {
            AddressLiteral::General(tag.to_owned(), content.to_owned())
        } else {
            return Err(syntax(
                "an address literal: [IPv4], [IPv6:addr] or [tag:content]",
            ));
        }
    } else {
        return Err(syntax(
            "an address literal: [IPv4], [IPv6:addr] or [tag:content]",
        ));
    };
    Ok((literal, end + 1))
}

/// Length in bytes of the domain name or address literal at the start of
/// `s`, checked but not copied.
#[inline]
pub(crate) fn domain_len(s: &str) -> Result<usize, PathError> {
    if s.as_bytes().first() == Some(&b'[') {
        // Rare: the literal is parsed again by `domain_value`.
        Ok(address_literal(s)?.1)
    } else {
        domain_name_len(s)
    }
}

/// The value of a domain that [`domain_len`] measured.
#[inline]
pub(crate) fn domain_value(wire: &str) -> Result<Domain, PathError> {
    if wire.as_bytes().first() == Some(&b'[') {
        Ok(Domain::Literal(address_literal(wire)?.0))
    } else {
        Ok(Domain::Name(wire.to_owned()))
    }
}

/// Skips an RFC 5321 §4.1.2 `A-d-l ":"` (source route) at the start of `s`,
/// returning how many bytes it took (0 when there is none).
///
/// `A-d-l = At-domain *( "," At-domain )`, `At-domain = "@" Domain`.
/// RFC 5321 §3.3 and Appendix C: servers MUST accept and SHOULD ignore source
/// routes. We also accept address literals in them (RFC 821 allowed
/// `@[1.2.3.4]`): the route is dropped anyway.
#[inline]
pub(crate) fn source_route_len(s: &str) -> Result<usize, PathError> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'@') {
        return Ok(0);
    }
    let mut i = 0;
    loop {
        // bytes[i] == b'@' here
        i += 1;
        let rest = &s[i..];
        i += domain_len(rest)?;
        match bytes.get(i) {
            Some(b',') if bytes.get(i + 1) == Some(&b'@') => i += 1,
            Some(b':') => return Ok(i + 1),
            _ => return Err(syntax("\",@domain\" or \":\" in the source route")),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The octet-at-a-time scanner `domain_name_len` replaced.
    fn reference_domain_name_len(s: &str) -> Result<usize, PathError> {
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut label_len = 0usize;
        let mut last_was_hyphen = false;
        while let Some(&b) = bytes.get(i) {
            if b.is_ascii_alphanumeric() {
                label_len += 1;
                last_was_hyphen = false;
                i += 1;
            } else if b == b'-' {
                if label_len == 0 {
                    return Err(syntax("a letter or digit at the start of a domain label"));
                }
                label_len += 1;
                last_was_hyphen = true;
                i += 1;
            } else if b == b'.' {
                if label_len == 0 || last_was_hyphen {
                    return Err(syntax("a letter or digit before \".\" in the domain"));
                }
                label_len = 0;
                i += 1;
            } else if let Some(c) = non_ascii_char_at(s, i) {
                label_len += 1;
                last_was_hyphen = false;
                i += c.len_utf8();
            } else {
                break;
            }
        }
        if i == 0 {
            return Err(syntax("a domain"));
        }
        if label_len == 0 || last_was_hyphen {
            return Err(syntax("a letter or digit at the end of the domain"));
        }
        if i > MAX_DOMAIN {
            return Err(PathError::DomainTooLong);
        }
        Ok(i)
    }

    /// Names made of what a domain scanner must tell apart: letters,
    /// digits, "-", ".", a U-label character, a C1 control, and octets that
    /// end a name ("@", ">", " ", "[").
    fn name() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => "[a-zA-Z0-9]{1,6}",
            2 => Just("-".to_owned()),
            2 => Just(".".to_owned()),
            1 => Just("é".to_owned()),
            1 => Just("\u{85}".to_owned()),
            1 => prop_oneof![Just("@"), Just(">"), Just(" "), Just("[")].prop_map(str::to_owned),
        ];
        prop_oneof![
            prop::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
            // Near the 255-octet limit.
            (250usize..262).prop_map(|n| "a".repeat(n)),
        ]
    }

    proptest! {
        #[test]
        fn domain_names_scan_as_before(s in name()) {
            prop_assert_eq!(domain_name_len(&s), reference_domain_name_len(&s));
        }
    }
}
