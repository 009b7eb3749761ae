//! What the DATA benches share: the body they all decode or encode, and the
//! loops that feed it to smtp-wire's encoder and decoder. One copy, so that
//! `data` and `vs_smtp_proto` measure exactly the same bytes.

use smtp_wire::data::{DataDecoder, DotStuffer};

/// About 10 MiB: big enough that a whole run is milliseconds, not
/// microseconds, and larger than the L2 cache.
pub const BODY_SIZE: usize = 10 * 1024 * 1024;
/// Octets of text per line, before the line end (a common MIME line length).
pub const LINE: usize = 76;
/// A typical socket read.
pub const CHUNK: usize = 64 * 1024;

/// About 10 MiB of 76-octet text lines ending in `eol`; one line in 50
/// starts with a dot so that stuffing has something to do (the first line
/// is one of them).
pub fn body(eol: &[u8]) -> Vec<u8> {
    let alphabet = b"The quick brown fox jumps over the lazy dog 0123456789 ,;:-+=/ ";
    let mut body = Vec::with_capacity(BODY_SIZE + LINE);
    let mut n = 0usize;
    while body.len() < BODY_SIZE {
        let start = body.len();
        if n.is_multiple_of(50) {
            body.push(b'.');
        }
        while body.len() - start < LINE {
            body.push(alphabet[(n * 7 + body.len()) % alphabet.len()]);
        }
        body.extend_from_slice(eol);
        n += 1;
    }
    body
}

/// Dot-stuffs `input` with smtp-wire's [`DotStuffer`], `chunk` octets per
/// call, terminator included.
pub fn encode_all(input: &[u8], chunk: usize, out: &mut Vec<u8>) {
    let mut stuffer = DotStuffer::new();
    for piece in input.chunks(chunk) {
        stuffer.encode(piece, out);
    }
    stuffer.finish(out);
}

/// Decodes `wire` with smtp-wire's [`DataDecoder`], `chunk` octets per call,
/// until the end of the data; returns the octets consumed.
pub fn decode_all(wire: &[u8], chunk: usize, out: &mut Vec<u8>) -> usize {
    let mut decoder = DataDecoder::new();
    let mut consumed = 0;
    for piece in wire.chunks(chunk) {
        let progress = decoder.decode(piece, out);
        consumed += progress.consumed;
        if progress.done {
            break;
        }
    }
    consumed
}
