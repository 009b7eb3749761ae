//! xtext, RFC 3461 §4: how DSN and AUTH= parameters carry any character
//! inside an `esmtp-value`.
//!
//! ```text
//! xtext   = *( xchar / hexchar )
//! xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
//! hexchar = "+" 2(%x30-39 / %x41-46)      ; "+" and two upper-case hex digits
//! ```

use super::ParamError;

/// True for an RFC 3461 §4 `xchar`: printable ASCII except `+` and `=`.
fn is_xchar(b: u8) -> bool {
    (33..=126).contains(&b) && b != b'+' && b != b'='
}

/// Encodes `s` as xtext: every byte that is not an `xchar` (including each
/// byte of a non-ASCII character) becomes `+XX` in upper-case hex.
///
/// ```
/// use smtp_wire::param::xtext_encode;
/// assert_eq!(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
/// ```
pub fn xtext_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_xchar(b) {
            out.push(char::from(b));
        } else {
            out.push('+');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        // RFC 3461 §4 asks for upper-case hex; lower case is accepted on
        // input (robustness), never produced.
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes xtext. Errors on a character outside `xchar`, a `+` not followed
/// by two hex digits, or a result that is not UTF-8.
///
/// ```
/// use smtp_wire::param::xtext_decode;
/// assert_eq!(xtext_decode("e+3Dmc2@example.com").unwrap(), "e=mc2@example.com");
/// assert!(xtext_decode("bad+2").is_err());
/// assert!(xtext_decode("a=b").is_err());
/// ```
pub fn xtext_decode(s: &str) -> Result<String, ParamError> {
    const ERROR: ParamError = ParamError::Syntax {
        expected: "xtext (printable ASCII, \"+XX\" hex escapes)",
    };
    let bytes = s.as_bytes();
    // The common case, no "+XX" escape: the text is its own decoding (and,
    // being ASCII, needs no UTF-8 check).
    if bytes.iter().fold(true, |ok, &b| ok & is_xchar(b)) {
        return Ok(s.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'+' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value).ok_or(ERROR)?;
            let lo = bytes.get(i + 2).copied().and_then(hex_value).ok_or(ERROR)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else if is_xchar(b) {
            out.push(b);
            i += 1;
        } else {
            return Err(ERROR);
        }
    }
    String::from_utf8(out).map_err(|_| ERROR)
}
