//! DataDecoder on arbitrary bytes in arbitrary chunks, and the
//! DotStuffer -> DataDecoder round trip (RFC 5321 §4.5.2).
//!
//! Input layout: byte 0 picks the decoder's chunk size, byte 1 the
//! encoder's, the rest is the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_wire::data::{DataDecoder, DataStats, DotStuffer};

fn decode(input: &[u8], chunk: usize) -> (Vec<u8>, usize, bool, DataStats) {
    let mut decoder = DataDecoder::new();
    let mut out = Vec::new();
    let mut consumed = 0;
    for piece in input.chunks(chunk) {
        let progress = decoder.decode(piece, &mut out);
        consumed += progress.consumed;
        if progress.done {
            return (out, consumed, true, decoder.stats().clone());
        }
        assert_eq!(progress.consumed, piece.len(), "consumes all until done");
    }
    (out, consumed, false, decoder.stats().clone())
}

/// CRLF, bare CR and bare LF all become CRLF; non-empty content gets a
/// final CRLF.
fn normalise(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2);
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

fuzz_target!(|data: &[u8]| {
    let [decode_chunk, encode_chunk, body @ ..] = data else {
        return;
    };
    let decode_chunk = usize::from(*decode_chunk % 64) + 1;
    let encode_chunk = usize::from(*encode_chunk % 64) + 1;

    // The decoder: no panic, same result for any chunking.
    let whole = decode(body, body.len().max(1));
    let split = decode(body, decode_chunk);
    assert_eq!(whole, split, "decoder output depends on chunking");
    assert_eq!(whole.3.bytes, whole.0.len() as u64);

    // Encoder then decoder: identity after normalisation, and the data ends
    // exactly at the encoder's terminator.
    let mut stuffer = DotStuffer::new();
    let mut wire = Vec::new();
    for piece in body.chunks(encode_chunk) {
        stuffer.encode(piece, &mut wire);
    }
    stuffer.finish(&mut wire);
    let (out, consumed, done, stats) = decode(&wire, decode_chunk);
    assert!(done, "encoded data has a terminator");
    assert_eq!(
        consumed,
        wire.len(),
        "the data ends at the encoder's terminator"
    );
    assert_eq!(out, normalise(body), "round trip");
    assert_eq!((stats.bare_cr, stats.bare_lf), (0, 0));
});
