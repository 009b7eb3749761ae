//! What several of smtp-wire's test files share.

/// The reference for the line-end rule of RFC 5321 §2.3.8, byte by byte
/// (the oracle the encoder and decoder are checked against): every CRLF,
/// bare CR and bare LF becomes CRLF; a final CRLF is added to non-empty
/// content that lacks one.
pub fn normalise(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < input.len() {
        match input[k] {
            b'\r' if input.get(k + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                k += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            byte => out.push(byte),
        }
        k += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
