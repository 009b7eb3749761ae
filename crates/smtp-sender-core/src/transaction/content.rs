//! The message content on the wire: DATA blocks, dot-stuffed (RFC 5321
//! §4.5.2), or BDAT chunks, as they are (RFC 3030 §2).

use std::collections::VecDeque;

use smtp_wire::command::Command;

/// Message content is written in blocks of this size, each under the
/// RFC 5321 §4.5.3.2.5 data-block timeout.
const DATA_BLOCK: usize = 64 * 1024;
/// BDAT chunk size (RFC 3030 leaves it to the client).
const BDAT_CHUNK: usize = 256 * 1024;

/// The dot-stuffed block of `content` (canonical: CRLF line ends only,
/// ending with CRLF) that starts at `from`, and where the next one starts.
/// The last block also carries the end-of-data line `.` (RFC 5321
/// §4.1.1.4): canonical content ends at a line start, so `.<CRLF>` is all
/// it needs.
pub(super) fn data_block(content: &[u8], from: usize) -> (Vec<u8>, usize) {
    let rest = content.get(from..).unwrap_or_default();
    let block = &rest[..rest.len().min(DATA_BLOCK)];
    let mut out = Vec::with_capacity(block.len() + block.len() / 64 + 8);
    let at_line_start = from == 0 || content.get(from - 1) == Some(&b'\n');
    stuff_canonical(block, at_line_start, &mut out);
    let to = from + block.len();
    if to >= content.len() {
        out.extend_from_slice(b".\r\n");
    }
    (out, to)
}

/// RFC 5321 §4.5.2 for content already canonical (every line end a CRLF):
/// a line that starts with "." gets a second one, so no line of the
/// message can be the end-of-data line `.`. One SIMD search for "\n."
/// and bulk copies: a third of the DotStuffer's time, which looks at every
/// line end because it also repairs bare CR and LF.
fn stuff_canonical(block: &[u8], at_line_start: bool, out: &mut Vec<u8>) {
    if at_line_start && block.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut from = 0;
    for lf in memchr::memmem::find_iter(block, b"\n.") {
        out.extend_from_slice(&block[from..=lf]);
        out.push(b'.');
        from = lf + 1;
    }
    out.extend_from_slice(&block[from..]);
}

/// RFC 3030 §2: `BDAT <size> [LAST]` followed by exactly `size` octets, no
/// dot-stuffing; an empty message is one empty `BDAT 0 LAST`.
pub(super) fn bdat_chunks(content: &[u8]) -> VecDeque<Vec<u8>> {
    let pieces: Vec<&[u8]> = if content.is_empty() {
        vec![&[]]
    } else {
        content.chunks(BDAT_CHUNK).collect()
    };
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut bytes = Vec::with_capacity(piece.len() + 24);
            Command::Bdat {
                size: piece.len() as u64,
                last: i + 1 == count,
            }
            .write_to(&mut bytes);
            bytes.extend_from_slice(piece);
            bytes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{data_block, stuff_canonical};
    use crate::canonical_message;
    use smtp_wire::DotStuffer;

    /// For every canonical string built from up to 6 pieces of
    /// {"a", ".", "..", CRLF}, cut in two anywhere, the fast stuffing
    /// gives what the DotStuffer gives.
    #[test]
    fn canonical_stuffing_matches_the_dot_stuffer() {
        const PIECES: [&[u8]; 4] = [b"a", b".", b"..", b"\r\n"];
        for len in 0..=6u32 {
            for mut n in 0..4usize.pow(len) {
                let mut m = Vec::new();
                for _ in 0..len {
                    m.extend_from_slice(PIECES[n % 4]);
                    n /= 4;
                }
                let m = canonical_message(&m);
                let mut expected = Vec::new();
                let mut stuffer = DotStuffer::new();
                stuffer.encode(&m, &mut expected);
                stuffer.finish(&mut expected);
                for cut in 0..=m.len() {
                    let (a, b) = m.split_at(cut);
                    let mut out = Vec::new();
                    stuff_canonical(a, true, &mut out);
                    stuff_canonical(b, a.is_empty() || a.ends_with(b"\n"), &mut out);
                    out.extend_from_slice(b".\r\n");
                    assert_eq!(out, expected, "{m:?} cut at {cut}");
                }
                // And block by block, from the start.
                let (whole, to) = data_block(&m, 0);
                assert_eq!((whole, to), (expected, m.len()));
            }
        }
    }
}
