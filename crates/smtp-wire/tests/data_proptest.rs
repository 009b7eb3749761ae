//! Property tests for DATA: the decoder agrees with a naive whole-buffer
//! reference, never panics and ignores chunk boundaries; encoder then
//! decoder is the identity up to line-end normalisation (RFC 5321 §4.5.2).

mod common;

use common::{normalise, reference_decode};
use proptest::prelude::*;
use smtp_wire::data::{DataDecoder, DataStats, DotStuffer};

/// Bytes rich in the characters that matter (CR, LF, dot), with occasional
/// long runs so that the 1000-octet line limit is crossed.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => Just(vec![b'\r']),
        4 => Just(vec![b'\n']),
        4 => Just(vec![b'.']),
        2 => Just(b"\r\n".to_vec()),
        2 => any::<u8>().prop_map(|b| vec![b]),
        1 => (0usize..1100).prop_map(|n| vec![b'x'; n]),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|pieces| pieces.concat())
}

/// Mostly canonical text, the decoder's fast case: lines of 0 to 1,100
/// octets (so the 1,000-octet limit is met from both sides) ending in CRLF,
/// some starting with a dot (stuffed), and now and then a flaw the exact path
/// must see wherever it falls in the decoder's blocks: a bare CR, a bare LF,
/// a CR CR LF, an LF followed by a dot.
fn canonical_body() -> impl Strategy<Value = Vec<u8>> {
    let line =
        (0usize..1100, any::<bool>(), 0u8..40, any::<u8>()).prop_map(|(len, dotted, flaw, at)| {
            let mut line: Vec<u8> = (0..len).map(|i| b"abcdefgh ijklm"[i % 14]).collect();
            if dotted {
                line.insert(0, b'.');
            }
            let at = usize::from(at) % (line.len() + 1);
            match flaw {
                0 => line.insert(at, b'\r'),
                1 => line.insert(at, b'\n'),
                2 => line.extend_from_slice(b"\r"),
                3 => line.extend_from_slice(b"\n."),
                _ => {}
            }
            line.extend_from_slice(b"\r\n");
            line
        });
    prop::collection::vec(line, 0..40).prop_map(|lines| lines.concat())
}

/// Read sizes from one octet to more than the decoder's blocks and lines.
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..40, 60usize..140, 900usize..5000], 1..6)
}

/// Chunk sizes, used cyclically to cut an input.
fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..40, 1..8)
}

fn chunks<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for &size in sizes.iter().cycle() {
        if start >= input.len() {
            break;
        }
        let end = (start + size).min(input.len());
        out.push(&input[start..end]);
        start = end;
    }
    out
}

/// (body, consumed, done, stats) of a chunked decoding run.
fn decode(input: &[u8], sizes: &[usize]) -> (Vec<u8>, usize, bool, DataStats) {
    let mut decoder = DataDecoder::new();
    let mut body = Vec::new();
    let mut consumed = 0;
    for chunk in chunks(input, sizes) {
        let progress = decoder.decode(chunk, &mut body);
        consumed += progress.consumed;
        if progress.done {
            return (body, consumed, true, decoder.stats().clone());
        }
        assert_eq!(progress.consumed, chunk.len());
    }
    (body, consumed, false, decoder.stats().clone())
}

fn encode(mut stuffer: DotStuffer, input: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut wire = Vec::new();
    for chunk in chunks(input, sizes) {
        stuffer.encode(chunk, &mut wire);
    }
    stuffer.finish(&mut wire);
    wire
}

proptest! {
    #[test]
    fn decoder_matches_the_reference_on_mostly_canonical_text(
        input in canonical_body(), sizes in read_sizes()
    ) {
        let wire = [&input[..], b"\r\n.\r\n", b"QUIT\r\n"].concat();
        let Some((expected_body, expected_consumed, expected_stats)) = reference_decode(&wire)
        else {
            return Err(TestCaseError::fail("the reference found no terminator"));
        };
        for sizes in [&[usize::MAX][..], &sizes] {
            let (body, consumed, done, stats) = decode(&wire, sizes);
            prop_assert!(done);
            prop_assert_eq!(consumed, expected_consumed);
            prop_assert_eq!(&body, &expected_body);
            prop_assert_eq!(&stats, &expected_stats);
        }
    }

    #[test]
    fn decoder_matches_the_reference(
        input in body(), tail in body(), sizes in chunking()
    ) {
        let wire = [&input[..], b"\r\n.\r\n", &tail[..]].concat();
        let Some((expected_body, expected_consumed, expected_stats)) = reference_decode(&wire)
        else {
            return Err(TestCaseError::fail("the reference found no terminator"));
        };
        let (body, consumed, done, stats) = decode(&wire, &sizes);
        prop_assert!(done);
        prop_assert_eq!(consumed, expected_consumed);
        prop_assert_eq!(body, expected_body);
        prop_assert_eq!(stats, expected_stats);
    }

    #[test]
    fn decoder_never_panics_and_ignores_chunk_boundaries(
        input in prop::collection::vec(any::<u8>(), 0..2000),
        structured in body(),
        sizes in chunking(),
    ) {
        for wire in [input, structured] {
            let whole = decode(&wire, &[usize::MAX]);
            let split = decode(&wire, &sizes);
            let single_bytes = decode(&wire, &[1]);
            prop_assert_eq!(&split, &whole);
            prop_assert_eq!(&single_bytes, &whole);
            prop_assert_eq!(whole.2, reference_decode(&wire).is_some());
        }
    }

    #[test]
    fn encoder_then_decoder_is_the_identity_after_normalisation(
        input in body(), encode_sizes in chunking(), decode_sizes in chunking()
    ) {
        let mut wire = encode(DotStuffer::new(), &input, &encode_sizes);
        let body_len = wire.len();
        wire.extend_from_slice(b"QUIT\r\n");
        let (body, consumed, done, stats) = decode(&wire, &decode_sizes);
        prop_assert!(done);
        prop_assert_eq!(consumed, body_len, "stops right after the terminator");
        prop_assert_eq!(body, normalise(&input));
        prop_assert_eq!((stats.bare_cr, stats.bare_lf), (0, 0));
    }

    #[test]
    fn encoder_ignores_chunk_boundaries_and_has_one_terminator(
        input in body(), sizes in chunking()
    ) {
        let whole = encode(DotStuffer::new(), &input, &[usize::MAX]);
        prop_assert_eq!(&encode(DotStuffer::new(), &input, &sizes), &whole);
        let with_data_crlf = [b"\r\n", &whole[..]].concat();
        let first = with_data_crlf.windows(5).position(|w| w == b"\r\n.\r\n");
        prop_assert_eq!(first, Some(with_data_crlf.len() - 5));

        let bdat = encode(DotStuffer::crlf_only(), &input, &sizes);
        prop_assert_eq!(&bdat, &encode(DotStuffer::crlf_only(), &input, &[usize::MAX]));
        prop_assert_eq!(bdat, normalise(&input));
    }
}
