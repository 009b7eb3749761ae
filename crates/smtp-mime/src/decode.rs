//! Lenient decoders for what mail-parser gives up on: base64 that is truncated or
//! polluted, and header fields in raw 8-bit that is not UTF-8.

/// Decodes base64 the way RFC 2045 §6.8 asks of a reader: "any characters outside of the
/// base64 alphabet are to be ignored", and decoding stops at the first `=` pad. A trailing
/// incomplete quantum (a truncated message) is decoded as far as it carries whole octets.
///
/// ```
/// # use smtp_mime::decode::lenient_base64;
/// assert_eq!(lenient_base64(b"aGVs\r\nbG8=\r\n"), b"hello");
/// assert_eq!(lenient_base64(b"aGV!!sbG"), b"hell"); // garbage skipped, cut short
/// ```
pub fn lenient_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut quantum: u32 = 0;
    let mut sextets = 0;
    for &c in input {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        quantum = (quantum << 6) | u32::from(value);
        sextets += 1;
        if sextets == 4 {
            out.extend_from_slice(&quantum.to_be_bytes()[1..]);
            quantum = 0;
            sextets = 0;
        }
    }
    // Two sextets carry one octet, three carry two (RFC 4648 §4, final quantum).
    match sextets {
        2 => out.push((quantum >> 4) as u8),
        3 => out.extend_from_slice(&((quantum >> 2) as u16).to_be_bytes()),
        _ => {}
    }
    out
}

/// Header bytes as text: UTF-8 when valid (RFC 6532 allows it), otherwise each octet is
/// taken as ISO-8859-1, the most common undeclared 8-bit charset, so that `Caf\xe9`
/// reads `Café` rather than `Caf�`.
pub(crate) fn header_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(_) => bytes
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into(),
    }
}

/// RFC 5322 §2.2.3: "unfolding is accomplished by simply removing any CRLF that is
/// immediately followed by WSP"; surrounding spaces and tabs go too.
pub(crate) fn unfold(value: &str) -> String {
    value
        .replace("\r\n", "")
        .replace(['\r', '\n'], "")
        .trim_matches([' ', '\t'])
        .to_string()
}

/// Unfolds and squeezes every run of spaces and tabs into one space: for structured
/// fields such as Received, where the runs carry no meaning.
pub(crate) fn squeeze(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_a_strict_decoder_on_clean_input() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 2, 3, 4, 5, 57, 58, 999, 1000] {
            let encoded = base64_of(&data[..len]);
            assert_eq!(
                lenient_base64(encoded.as_bytes()),
                &data[..len],
                "len {len}"
            );
        }
    }

    #[test]
    fn base64_truncation_keeps_whole_octets() {
        let encoded = base64_of(b"abcdefgh");
        for cut in 0..encoded.len() {
            let got = lenient_base64(&encoded.as_bytes()[..cut]);
            assert!(b"abcdefgh".starts_with(&got), "cut {cut}: {got:?}");
            assert_eq!(got.len(), cut * 3 / 4);
        }
    }

    #[test]
    fn unfolding_keeps_inner_spaces() {
        assert_eq!(unfold(" a  b\r\n\tc \u{2000}"), "a  b\tc \u{2000}");
        assert_eq!(squeeze(" a  b\r\n\tc "), "a b c");
    }

    #[test]
    fn latin1_fallback_only_for_invalid_utf8() {
        assert_eq!(header_text("Café".as_bytes()), "Café");
        assert_eq!(header_text(b"Caf\xe9"), "Café");
    }

    fn base64_of(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
        out
    }
}
