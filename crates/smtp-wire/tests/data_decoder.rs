//! DataDecoder: end of data, unstuffing, statistics, chunk independence
//! (RFC 5321 §4.1.1.4, §4.5.2, §4.5.3.1.6).

mod common;

use common::reference_decode;
use smtp_wire::data::{DataDecoder, DataStats, MAX_TEXT_LINE};

/// What one decoding run produced.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    body: Vec<u8>,
    consumed: usize,
    done: bool,
    stats: DataStats,
}

/// Feeds `input` split at the given cut points; stops feeding once done.
fn decode_split(input: &[u8], cuts: &[usize]) -> Decoded {
    let mut decoder = DataDecoder::new();
    let mut body = Vec::new();
    let mut consumed = 0;
    let mut done = false;
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let progress = decoder.decode(&input[start..end], &mut body);
        consumed += progress.consumed;
        if progress.done {
            done = true;
            break;
        }
        assert_eq!(
            progress.consumed,
            end - start,
            "not done, so everything is consumed"
        );
        start = end;
    }
    assert_eq!(decoder.stats().bytes, body.len() as u64);
    Decoded {
        body,
        consumed,
        done,
        stats: decoder.stats().clone(),
    }
}

fn decode_whole(input: &[u8]) -> Decoded {
    decode_split(input, &[])
}

fn decode_chunks_of(input: &[u8], size: usize) -> Decoded {
    let cuts: Vec<usize> = (size..input.len()).step_by(size).collect();
    decode_split(input, &cuts)
}

#[test]
fn immediate_dot_line_is_an_empty_message() {
    let d = decode_whole(b".\r\nQUIT\r\n");
    assert!(d.done);
    assert_eq!(d.consumed, 3);
    assert!(d.body.is_empty());
    assert_eq!(d.stats, DataStats::default());
}

#[test]
fn body_keeps_its_final_crlf_and_drops_the_dot_line() {
    let d = decode_whole(b"Subject: t\r\n\r\nHello\r\n.\r\n");
    assert!(d.done);
    assert_eq!(d.body, b"Subject: t\r\n\r\nHello\r\n");
    assert_eq!(d.consumed, 24);
}

#[test]
fn bytes_after_the_terminator_are_not_consumed_and_later_calls_take_nothing() {
    let input = b"x\r\n.\r\nMAIL FROM:<a@b>\r\n";
    let mut decoder = DataDecoder::new();
    let mut body = Vec::new();
    let p = decoder.decode(input, &mut body);
    assert!(p.done);
    assert_eq!(&input[p.consumed..], b"MAIL FROM:<a@b>\r\n");
    let again = decoder.decode(&input[p.consumed..], &mut body);
    assert_eq!((again.consumed, again.done), (0, true));
    assert_eq!(body, b"x\r\n");
}

#[test]
fn leading_dot_is_removed_only_at_the_start_of_a_line() {
    let d = decode_whole(b"..\r\n..x\r\n...\r\n.y\r\na.b\r\n.\r\n");
    assert!(d.done);
    // RFC 5321 §4.5.2: the first of the leading dots is deleted, also when the
    // sender forgot to stuff (".y"); dots elsewhere are data.
    assert_eq!(d.body, b".\r\n.x\r\n..\r\ny\r\na.b\r\n");
}

#[test]
fn stuffed_dot_does_not_count_toward_the_line_length() {
    // "." + 998 octets + CRLF on the wire is 1001, but 1000 after unstuffing.
    let mut wire = vec![b'.'];
    wire.extend(std::iter::repeat_n(b'a', MAX_TEXT_LINE - 2));
    wire.extend_from_slice(b"\r\n.\r\n");
    let d = decode_whole(&wire);
    assert!(d.done);
    assert_eq!(d.stats.long_lines, 0);
    assert_eq!(d.body.len(), MAX_TEXT_LINE);
}

#[test]
fn long_lines_are_counted_once_each_whatever_the_chunking() {
    let mut wire = Vec::new();
    wire.extend(std::iter::repeat_n(b'a', MAX_TEXT_LINE - 2)); // exactly 1000 with CRLF: fine
    wire.extend_from_slice(b"\r\n");
    wire.extend(std::iter::repeat_n(b'b', MAX_TEXT_LINE - 1)); // 1001: too long
    wire.extend_from_slice(b"\r\n");
    wire.extend(std::iter::repeat_n(b'c', 5000)); // far too long, one line
    wire.extend_from_slice(b"\r\n");
    wire.extend(std::iter::repeat_n(b'd', MAX_TEXT_LINE)); // 1001 with a bare LF
    wire.extend_from_slice(b"\nshort\r\n.\r\n");
    for size in [1, 2, 3, 7, 999, 1000, 1001, 4096, wire.len()] {
        let d = decode_chunks_of(&wire, size);
        assert!(d.done, "chunk size {size}");
        assert_eq!(d.stats.long_lines, 3, "chunk size {size}");
        assert_eq!(d.stats.bare_lf, 1, "chunk size {size}");
        assert_eq!(d.body, &wire[..wire.len() - 3]);
    }
}

#[test]
fn bare_cr_and_bare_lf_are_kept_as_data_and_counted() {
    let d = decode_whole(b"a\rb\nc\r\r\nd\n\r\n.\r\n");
    assert!(d.done);
    assert_eq!(d.body, b"a\rb\nc\r\r\nd\n\r\n");
    assert_eq!((d.stats.bare_cr, d.stats.bare_lf), (2, 2));
}

#[test]
fn dot_cr_not_followed_by_lf_is_a_stuffed_dot_and_a_bare_cr() {
    let d = decode_whole(b".\r\r\n.\rX\r\n.\r\n");
    assert!(d.done);
    assert_eq!(d.body, b"\r\r\n\rX\r\n");
    assert_eq!(d.stats.bare_cr, 2);
}

#[test]
fn held_back_bytes_are_written_once_the_next_byte_decides() {
    let mut decoder = DataDecoder::new();
    let mut body = Vec::new();
    let p = decoder.decode(b"abc\r", &mut body);
    assert_eq!((p.consumed, p.done), (4, false));
    assert_eq!(body, b"abc", "a trailing CR waits for the next byte");
    decoder.decode(b"\n.", &mut body);
    assert_eq!(body, b"abc\r\n", "a line-start dot waits too");
    decoder.decode(b"\r", &mut body);
    assert_eq!(body, b"abc\r\n");
    let p = decoder.decode(b"\nNOOP\r\n", &mut body);
    assert_eq!((p.consumed, p.done), (1, true));
    assert_eq!(body, b"abc\r\n");
}

#[test]
fn unterminated_data_is_never_done() {
    for input in [
        &b""[..],
        b"\r\n",
        b".",
        b".\r",
        b".\n",
        b"\n.\n",
        b"a\r\n.\r",
        b"a\r\n.",
    ] {
        let d = decode_whole(input);
        assert!(!d.done, "{input:?}");
        assert_eq!(d.consumed, input.len());
    }
}

/// Inputs that exercise every decoder state at every position.
const TRICKY: &[&[u8]] = &[
    b".\r\n",
    b"a\r\n.\r\n",
    b"..\r\n.\r\n",
    b".\r\r\n.\r\n",
    b".\n.\r\n.\r\n",
    b"\r\r\n.\r\n",
    b"x\n.\nx\r.\rx\r\n.\r\n",
    b"\r\n\r\n..\r\n.\r.\r\n.\r\nTAIL",
    b".a\r\n\r.\r\n\n.\r\n\r\n.\r\n",
];

#[test]
fn output_is_identical_for_every_pair_of_split_points() {
    for input in TRICKY {
        let whole = decode_whole(input);
        assert!(whole.done, "{input:?}");
        for first in 0..=input.len() {
            for second in first..=input.len() {
                let split = decode_split(input, &[first, second]);
                assert_eq!(split, whole, "{input:?} cut at {first} and {second}");
            }
        }
    }
}

#[test]
fn large_body_decodes_the_same_in_any_chunk_size() {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for n in 0..20_000u32 {
        let line = format!(
            "{}line {n} with some text\r\n",
            if n % 7 == 0 { ".." } else { "" }
        );
        wire.extend_from_slice(line.as_bytes());
        expected.extend_from_slice(line.strip_prefix('.').unwrap_or(&line).as_bytes());
    }
    wire.extend_from_slice(b".\r\nQUIT\r\n");
    for size in [1, 3, 64, 4096, 65536, wire.len()] {
        let d = decode_chunks_of(&wire, size);
        assert!(d.done);
        assert_eq!(d.consumed, wire.len() - 6);
        assert_eq!(d.body, expected, "chunk size {size}");
    }
}

/// `lines` canonical 76-octet lines (CRLF), enough for the decoder's bulk
/// path to be taken before whatever follows.
fn canonical_lines(lines: usize) -> Vec<u8> {
    (0..lines)
        .flat_map(|n| {
            let mut line: Vec<u8> = (0..76)
                .map(|i| b"0123456789 abcdef"[(n + i) % 17])
                .collect();
            line.extend_from_slice(b"\r\n");
            line
        })
        .collect()
}

/// Decodes `wire` whole and in reads of several sizes, and checks each
/// against the reference decoder.
fn check_against_reference(wire: &[u8]) {
    let Some((body, consumed, stats)) = reference_decode(wire) else {
        panic!("the test input has no terminator");
    };
    let expected = Decoded {
        body,
        consumed,
        done: true,
        stats,
    };
    assert_eq!(decode_whole(wire), expected);
    for size in [1, 7, 64, 65, 129, 1000, 4096] {
        assert_eq!(decode_chunks_of(wire, size), expected, "reads of {size}");
    }
}

#[test]
fn a_flaw_is_seen_wherever_it_falls_in_canonical_text() {
    // The bulk path checks blocks of octets; a bare CR, a bare LF, a CR CR LF
    // or a stuffed dot must be seen at any offset, block boundaries included
    // (RFC 5321 §2.3.8, §4.5.2).
    let text = canonical_lines(4);
    for at in 0..text.len() {
        for flaw in [&b"\r"[..], b"\n", b"\r\r\n", b"\r\n.", b"\n.", b"\r\n..x"] {
            let mut wire = text.clone();
            wire.splice(at..at, flaw.iter().copied());
            wire.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
            check_against_reference(&wire);
        }
    }
}

#[test]
fn the_line_limit_holds_after_canonical_text() {
    // RFC 5321 §4.5.3.1.6: 1000 octets including CRLF; a stuffed dot does
    // not count. Lines just under, at and over the limit, after enough
    // canonical text for the bulk path, then more canonical text. A short
    // line before them moves where they start within the decoder's blocks
    // (of 128 octets).
    for (len, dotted, shift) in [990, 997, 998, 999, 1000, 1001, 2100]
        .into_iter()
        .flat_map(|len| [(len, false), (len, true)])
        .flat_map(|(len, dotted)| (0..130).map(move |shift| (len, dotted, shift)))
    {
        let mut wire = canonical_lines(3);
        wire.extend(std::iter::repeat_n(b'y', shift));
        wire.extend_from_slice(b"\r\n");
        if dotted {
            wire.push(b'.');
        }
        wire.extend(std::iter::repeat_n(b'x', len - 2));
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&canonical_lines(3));
        wire.extend_from_slice(b".\r\n");
        let decoded = decode_whole(&wire);
        assert_eq!(
            decoded.stats.long_lines,
            u64::from(len > MAX_TEXT_LINE),
            "{len} {dotted} {shift}"
        );
        check_against_reference(&wire);
    }
}

#[test]
fn a_crlf_split_between_two_reads_after_canonical_text() {
    // The CR ends one read, the LF starts the next: held back, then a line end.
    let mut wire = canonical_lines(3);
    let cr = wire.len() - 2;
    wire.extend_from_slice(&canonical_lines(2));
    wire.extend_from_slice(b".\r\n");
    let split = decode_split(&wire, &[cr + 1]);
    assert_eq!(split, decode_whole(&wire));
    assert_eq!((split.stats.bare_cr, split.stats.bare_lf), (0, 0));
    check_against_reference(&wire);
}

#[test]
fn stuffed_dots_one_after_another_in_canonical_text() {
    // The bulk path removes a stuffed dot itself when it has passed over at
    // least a block of text since the last one (RFC 5321 §4.5.2), and a new
    // line starts after it: runs of dotted lines of many lengths, around the
    // 1,000-octet limit too (§4.5.3.1.6), and a dot-only line and a line of
    // two dots among them, must decode as the reference does.
    for lengths in [
        &[76usize, 76, 76, 76, 76][..],
        &[3, 130, 3, 260, 1, 127, 128, 129],
        &[997, 998, 999, 1000, 1001, 300],
        &[500, 499, 501, 1, 998],
    ] {
        let mut wire = canonical_lines(3);
        for (n, &len) in lengths.iter().enumerate() {
            wire.push(b'.');
            wire.extend((0..len).map(|i| b"abcdefghij"[(n + i) % 10]));
            wire.extend_from_slice(b"\r\n");
            if n == 2 {
                wire.extend_from_slice(b"..\r\n");
                wire.extend_from_slice(&canonical_lines(2));
            }
        }
        wire.extend_from_slice(&canonical_lines(2));
        wire.extend_from_slice(b".\r\nQUIT\r\n");
        check_against_reference(&wire);
    }
}

#[test]
fn a_stuffed_dot_removed_in_bulk_starts_the_line_count_afresh() {
    // A read that ends in the middle of a line leaves the decoder counting
    // that line; the next read goes on with it, then passes a stuffed dot in
    // bulk. The dotted line after it (990 octets with its CRLF) is within
    // the limit of RFC 5321 §4.5.3.1.6 and must not inherit the octets
    // counted before the dot.
    let mut wire = canonical_lines(2);
    let cut = wire.len() + 100;
    wire.extend_from_slice(&canonical_lines(4));
    wire.push(b'.');
    wire.extend(std::iter::repeat_n(b'x', 988));
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(&canonical_lines(2));
    wire.extend_from_slice(b".\r\n");
    let split = decode_split(&wire, &[cut]);
    assert_eq!(split.stats.long_lines, 0);
    assert_eq!(split, decode_whole(&wire));
    check_against_reference(&wire);
}

#[test]
fn a_stuffed_dot_removed_in_bulk_at_every_split_and_before_bare_line_ends() {
    // After a block of canonical text, a dotted line: split at every point
    // (so a read may end on its LF, its dot, or the octet after the dot,
    // which the bulk path must see before it removes the dot), and followed
    // at once by a bare LF or a bare CR (RFC 5321 §2.3.8), which the exact
    // path counts after the bulk path removed the dot (§4.5.2); and a dot
    // alone on its line, the end of the data, which the bulk path must leave
    // to the exact path (§4.1.1.4).
    for dotted in [
        &b".a\r\nxyz\r\n"[..],
        b".a\nxyz\r\n",
        b".a\rb\r\n",
        b".\r\nx\r\n",
    ] {
        let mut wire = canonical_lines(3);
        wire.extend_from_slice(dotted);
        wire.extend_from_slice(&canonical_lines(2));
        wire.extend_from_slice(b".\r\nQUIT\r\n");
        let whole = decode_whole(&wire);
        for cut in 1..wire.len() {
            assert_eq!(
                decode_split(&wire, &[cut]),
                whole,
                "{dotted:?} cut at {cut}"
            );
        }
        check_against_reference(&wire);
    }
}
