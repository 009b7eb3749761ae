//! SMTP smuggling corpus: line ends other than `<CRLF>.<CRLF>` must never end
//! the data (RFC 5321 §4.1.1.4, §2.3.8; the 2023 "SMTP smuggling" attacks),
//! whatever the chunk boundaries; and the encoder must never emit an early
//! terminator, whatever its input.

mod common;

use common::normalise;
use smtp_wire::data::smuggling::{SMUGGLED_TRANSACTION as SMUGGLED, VECTORS};
use smtp_wire::data::{DataDecoder, DotStuffer};

const HEAD: &[u8] = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello";
/// What follows the real terminator: must stay unconsumed.
const AFTER: &[u8] = b"QUIT\r\n";

/// How each vector of the shared corpus decodes, with its bare CR and bare
/// LF counts, when it sits between "hello" and "MAIL". A dot right after a
/// real CRLF is a stuffed dot and is deleted (RFC 5321 §4.5.2); everything
/// else is data.
fn expected(name: &str) -> (&'static [u8], u64, u64) {
    match name {
        "lf-dot-lf" => (b"\n.\n", 0, 2),
        "lf-dot-crlf" => (b"\n.\r\n", 0, 1),
        "crlf-dot-lf" => (b"\r\n\n", 0, 1),
        "cr-dot-cr" => (b"\r.\r", 2, 0),
        "crlf-dot-cr" => (b"\r\n\r", 1, 0),
        "cr-dot-crlf" => (b"\r.\r\n", 1, 0),
        "crcrlf-dot-crcrlf" => (b"\r\r\n\r\r\n", 2, 0),
        other => panic!("a new smuggling vector {other:?}: add its expected decoding here"),
    }
}

const CHUNK_SIZES: &[usize] = &[usize::MAX, 1, 2, 3, 17, 4096];

/// The wire after `DATA\r\n`: body with a fake terminator, the smuggled
/// transaction, the real terminator, and a pipelined command.
fn wire_with(fake: &[u8]) -> Vec<u8> {
    [HEAD, fake, SMUGGLED, b".\r\n", AFTER].concat()
}

struct Run {
    body: Vec<u8>,
    consumed: usize,
    bare_cr: u64,
    bare_lf: u64,
}

/// Decodes `wire` in chunks of `size`, checking that the data ends in the
/// chunk holding the real terminator's last octet and not before.
fn decode_in_chunks(wire: &[u8], size: usize) -> Run {
    let real_end = wire.len() - AFTER.len();
    let mut decoder = DataDecoder::new();
    let mut body = Vec::new();
    let mut offset = 0;
    let mut consumed = 0;
    for chunk in wire.chunks(size.min(wire.len())) {
        let progress = decoder.decode(chunk, &mut body);
        consumed += progress.consumed;
        let chunk_end = offset + chunk.len();
        if progress.done {
            assert!(
                chunk_end >= real_end,
                "data ended early, in the chunk ending at {chunk_end}"
            );
            break;
        }
        assert!(
            chunk_end < real_end,
            "the real terminator did not end the data"
        );
        offset = chunk_end;
    }
    Run {
        body,
        consumed,
        bare_cr: decoder.stats().bare_cr,
        bare_lf: decoder.stats().bare_lf,
    }
}

#[test]
fn fake_terminators_in_the_middle_of_a_body_never_end_the_data() {
    for vector in VECTORS {
        let (fake, (decoded, bare_cr, bare_lf)) = (vector.fake, expected(vector.name));
        let wire = wire_with(fake);
        let expected = [HEAD, decoded, SMUGGLED].concat();
        for &size in CHUNK_SIZES {
            let run = decode_in_chunks(&wire, size);
            let label = format!("fake {fake:?}, chunk size {size}");
            assert_eq!(run.consumed, wire.len() - AFTER.len(), "{label}");
            assert_eq!(run.body, expected, "{label}");
            assert_eq!((run.bare_cr, run.bare_lf), (bare_cr, bare_lf), "{label}");
            // The smuggled commands arrive as message data, not as commands.
            assert!(
                run.body.windows(SMUGGLED.len()).any(|w| w == SMUGGLED),
                "{label}"
            );
        }
    }
}

#[test]
fn fake_terminators_at_the_very_start_of_the_data_never_end_it() {
    // Right after "DATA\r\n" the command's CRLF counts as the first CRLF.
    for fake in VECTORS.iter().map(|v| v.fake) {
        let wire = [fake, SMUGGLED, b".\r\n", AFTER].concat();
        for &size in CHUNK_SIZES {
            let run = decode_in_chunks(&wire, size);
            assert_eq!(
                run.consumed,
                wire.len() - AFTER.len(),
                "fake {fake:?}, size {size}"
            );
            assert!(run.body.ends_with(SMUGGLED), "fake {fake:?}, size {size}");
        }
    }
}

#[test]
fn a_real_terminator_in_the_middle_does_end_the_data_there() {
    // The control case: the decoder is not simply ignoring everything.
    let wire = [HEAD, b"\r\n.\r\n", SMUGGLED, b".\r\n"].concat();
    for &size in CHUNK_SIZES {
        let mut decoder = DataDecoder::new();
        let mut body = Vec::new();
        let mut consumed = 0;
        for chunk in wire.chunks(size.min(wire.len())) {
            let progress = decoder.decode(chunk, &mut body);
            consumed += progress.consumed;
            if progress.done {
                break;
            }
        }
        assert_eq!(consumed, HEAD.len() + 5, "chunk size {size}");
        assert_eq!(body, [HEAD, b"\r\n"].concat());
    }
}

#[test]
fn the_encoder_never_emits_an_early_terminator_for_any_corpus_input() {
    let real: &[u8] = b"\r\n.\r\n";
    for fake in VECTORS.iter().map(|v| v.fake).chain([real]) {
        // The attacker controls the whole body, including where it starts.
        for body in [
            [HEAD, fake, SMUGGLED].concat(),
            [fake, SMUGGLED, fake].concat(),
        ] {
            for &size in CHUNK_SIZES {
                let mut stuffer = DotStuffer::new();
                let mut wire = b"\r\n".to_vec(); // the CRLF of the DATA command line
                for chunk in body.chunks(size.min(body.len())) {
                    stuffer.encode(chunk, &mut wire);
                }
                stuffer.finish(&mut wire);
                let first = wire.windows(5).position(|w| w == b"\r\n.\r\n");
                assert_eq!(first, Some(wire.len() - 5), "fake {fake:?}, size {size}");

                // And the receiver gets the sender's body back, normalised.
                let mut decoded = Vec::new();
                let progress = DataDecoder::new().decode(&wire[2..], &mut decoded);
                assert!(progress.done);
                assert_eq!(progress.consumed, wire.len() - 2);
                let expected = normalise(&body);
                assert_eq!(decoded, expected, "fake {fake:?}, size {size}");
            }
        }
    }
}
