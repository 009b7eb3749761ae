//! What several of smtp-wire's test files share.

// Each test file uses its own part of it.
#![allow(dead_code)]

use smtp_wire::data::{DataStats, MAX_TEXT_LINE};

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

/// The DATA decoder's rules written the slow, obvious way over the whole
/// input (RFC 5321 §4.1.1.4, §4.5.2, §2.3.8, §4.5.3.1.6): the body, the
/// octets consumed and the statistics, or `None` without a terminator.
pub fn reference_decode(input: &[u8]) -> Option<(Vec<u8>, usize, DataStats)> {
    let wire = [b"\r\n", input].concat(); // DATA's own CRLF
    let end = wire.windows(5).position(|w| w == b"\r\n.\r\n")?;
    let mut body = Vec::new();
    let mut stats = DataStats::default();
    for pos in 2..end + 2 {
        let byte = wire[pos];
        if byte == b'.' && &wire[pos - 2..pos] == b"\r\n" {
            continue; // stuffed dot
        }
        if byte == b'\r' && wire[pos + 1] != b'\n' {
            stats.bare_cr += 1;
        }
        if byte == b'\n' && wire[pos - 1] != b'\r' {
            stats.bare_lf += 1;
        }
        body.push(byte);
    }
    stats.bytes = body.len() as u64;
    stats.long_lines = body
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| line.len() > MAX_TEXT_LINE)
        .count() as u64;
    Some((body, end + 3, stats))
}
