//! Command-line framing: policy table, limits, the Exim CVE-2020-28026
//! regression, and properties (no panic, chunk-independence).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use proptest::prelude::*;
use smtp_wire::line::{LineDecoder, LineEvent, MAX_COMMAND_LINE};

/// An owned event, for comparing runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Line(Vec<u8>, bool),
    TooLong,
}

/// Feed `input` with the caller-owned-buffer pattern in chunks of the given
/// sizes (cycled); collect every event except NeedMore.
fn run(max_len: usize, input: &[u8], sizes: &[usize]) -> Vec<Ev> {
    let mut decoder = LineDecoder::new(max_len);
    let mut buf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().cycle();
    let mut peak = 0;
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        peak = peak.max(buf.len());
        loop {
            let (used, event) = decoder.decode(&buf);
            assert!(used <= buf.len());
            let ev = match event {
                LineEvent::Line { line, bare_lf } => Ev::Line(line.to_vec(), bare_lf),
                LineEvent::TooLong => Ev::TooLong,
                LineEvent::NeedMore => {
                    buf.drain(..used);
                    break;
                }
            };
            buf.drain(..used);
            events.push(ev);
        }
        // Bounded memory: the caller's buffer never holds much more than
        // one line plus one chunk.
        assert!(
            buf.len() < max_len.max(2) + n,
            "buffer {} > limit {} + chunk {n}",
            buf.len(),
            max_len
        );
    }
    events
}

/// The reference framing, written the obvious way on the whole input.
fn model(max_len: usize, input: &[u8]) -> Vec<Ev> {
    let max_len = max_len.max(2);
    let mut events = Vec::new();
    let mut rest = input;
    while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
        let raw = &rest[..lf];
        if lf + 1 > max_len {
            events.push(Ev::TooLong);
        } else if let Some(line) = raw.strip_suffix(b"\r") {
            events.push(Ev::Line(line.to_vec(), false));
        } else {
            events.push(Ev::Line(raw.to_vec(), true));
        }
        rest = &rest[lf + 1..];
    }
    // An unterminated tail that already cannot fit is reported too.
    if rest.len() >= max_len {
        events.push(Ev::TooLong);
    }
    events
}

#[test]
fn policy_table() {
    let line = |s: &[u8], bare| Ev::Line(s.to_vec(), bare);
    let table: &[(&[u8], Vec<Ev>)] = &[
        (b"NOOP\r\n", vec![line(b"NOOP", false)]),
        (b"\r\n", vec![line(b"", false)]),
        // Bare LF ends the line, flagged.
        (b"NOOP\n", vec![line(b"NOOP", true)]),
        (b"\n", vec![line(b"", true)]),
        // Bare CR is an ordinary byte.
        (b"NO\rOP\r\n", vec![line(b"NO\rOP", false)]),
        (b"NOOP\r\r\n", vec![line(b"NOOP\r", false)]),
        (b"\r\rRSET\n", vec![line(b"\r\rRSET", true)]),
        // Pipelined commands (RFC 2920).
        (
            b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
            vec![
                line(b"MAIL FROM:<a@b>", false),
                line(b"RCPT TO:<c@d>", false),
                line(b"DATA", false),
            ],
        ),
        // Incomplete: nothing.
        (b"QUI", vec![]),
        (b"QUIT\r", vec![]),
        (b"NUL\0 and \xff\r\n", vec![line(b"NUL\0 and \xff", false)]),
    ];
    for (input, expected) in table {
        assert_eq!(
            &run(MAX_COMMAND_LINE, input, &[input.len().max(1)]),
            expected,
            "{input:?}"
        );
        assert_eq!(
            &run(MAX_COMMAND_LINE, input, &[1]),
            expected,
            "{input:?} byte by byte"
        );
    }
}

#[test]
fn limit_is_512_including_crlf() {
    // RFC 5321 §4.5.3.1.4.
    let exact = [vec![b'x'; 510], b"\r\n".to_vec()].concat();
    assert_eq!(
        run(MAX_COMMAND_LINE, &exact, &[600]),
        [Ev::Line(vec![b'x'; 510], false)]
    );
    let bare_exact = [vec![b'x'; 511], b"\n".to_vec()].concat();
    assert_eq!(
        run(MAX_COMMAND_LINE, &bare_exact, &[600]),
        [Ev::Line(vec![b'x'; 511], true)]
    );
    let over = [vec![b'x'; 511], b"\r\n".to_vec()].concat();
    assert_eq!(run(MAX_COMMAND_LINE, &over, &[600]), [Ev::TooLong]);
    assert_eq!(run(MAX_COMMAND_LINE, &over, &[1]), [Ev::TooLong]);
    // Configurable; 10 octets including CRLF.
    assert_eq!(
        run(10, b"12345678\r\n123456789\r\nok\r\n", &[3]),
        [
            Ev::Line(b"12345678".to_vec(), false),
            Ev::TooLong,
            Ev::Line(b"ok".to_vec(), false)
        ]
    );
    assert_eq!(LineDecoder::default().max_len(), MAX_COMMAND_LINE);
}

#[test]
fn ten_thousand_byte_line_then_rset_is_too_long_then_rset() {
    // Exim CVE-2020-28026: the tail of an over-long line must never become a command.
    let mut input = vec![b'A'; 10_000];
    input.extend_from_slice(b"\r\nRSET\r\n");
    for chunk in [1, 2, 7, 100, 511, 512, 513, 1000, 4096, input.len()] {
        assert_eq!(
            run(MAX_COMMAND_LINE, &input, &[chunk]),
            [Ev::TooLong, Ev::Line(b"RSET".to_vec(), false)],
            "chunk {chunk}"
        );
    }
    // The same directly on one buffer: exactly one TooLong, then RSET.
    let mut decoder = LineDecoder::new(MAX_COMMAND_LINE);
    let (used, event) = decoder.decode(&input);
    assert_eq!((used, event), (10_002, LineEvent::TooLong));
    assert_eq!(
        decoder.decode(&input[used..]),
        (
            6,
            LineEvent::Line {
                line: b"RSET",
                bare_lf: false
            }
        )
    );
    assert_eq!(decoder.decode(b""), (0, LineEvent::NeedMore));
}

#[test]
fn tail_of_an_over_long_line_is_not_a_command() {
    // The tail looks like a command; with a naive "cut at 512" it would run.
    let mut input = b"MAIL FROM:<".to_vec();
    input.extend(vec![b'a'; 501]);
    input.extend_from_slice(b"RCPT TO:<victim@example.com>\r\nQUIT\r\n");
    for chunk in [1, 64, 512, 1024] {
        assert_eq!(
            run(MAX_COMMAND_LINE, &input, &[chunk]),
            [Ev::TooLong, Ev::Line(b"QUIT".to_vec(), false)]
        );
    }
}

#[test]
fn endless_line_is_discarded_while_skipping() {
    let mut decoder = LineDecoder::new(MAX_COMMAND_LINE);
    let (used, event) = decoder.decode(&[b'x'; 600]);
    assert_eq!((used, event), (600, LineEvent::TooLong));
    // Still inside the over-long line: bytes are consumed (discarded), no second TooLong.
    for _ in 0..1000 {
        assert_eq!(decoder.decode(&[b'y'; 4096]), (4096, LineEvent::NeedMore));
    }
    assert_eq!(
        decoder.decode(b"yy\r\nNOOP\r\n"),
        (
            10,
            LineEvent::Line {
                line: b"NOOP",
                bare_lf: false
            }
        )
    );
}

#[test]
fn need_more_consumes_nothing_and_does_not_rescan() {
    let mut decoder = LineDecoder::new(MAX_COMMAND_LINE);
    assert_eq!(decoder.decode(b"HEL"), (0, LineEvent::NeedMore));
    assert_eq!(decoder.decode(b"HELO x"), (0, LineEvent::NeedMore));
    // White-box: the caller (wrongly) plants an LF in bytes already scanned.
    // The decoder continues from offset 6 and does not see it.
    assert_eq!(
        decoder.decode(b"HE\nO x\r\n"),
        (
            8,
            LineEvent::Line {
                line: b"HE\nO x",
                bare_lf: false
            }
        )
    );
}

#[test]
fn trickled_bytes_cost_linear_time() {
    // With a large limit and a 1-byte trickle, rescanning from the start on
    // every call would be quadratic (2 * 10^10 byte comparisons here).
    let mut decoder = LineDecoder::new(1 << 30);
    let mut buf = Vec::with_capacity(200_001);
    let start = std::time::Instant::now();
    for _ in 0..200_000 {
        buf.push(b'x');
        assert_eq!(decoder.decode(&buf), (0, LineEvent::NeedMore));
    }
    buf.extend_from_slice(b"\r\n");
    assert!(matches!(
        decoder.decode(&buf),
        (200_002, LineEvent::Line { .. })
    ));
    // Generous bound for a debug build on a loaded machine; the quadratic
    // version takes minutes.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..4000),
        sizes in prop::collection::vec(1usize..700, 1..10),
        max_len in 0usize..600,
    ) {
        run(max_len, &bytes, &sizes);
    }

    #[test]
    fn same_lines_whatever_the_chunk_boundaries(
        // Short lines, long lines, bare CR / LF, in any mix.
        pieces in prop::collection::vec(prop_oneof![
            Just(b"\r\n".to_vec()), Just(b"\n".to_vec()), Just(b"\r".to_vec()),
            "[A-Z ]{0,12}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..40),
        ], 0..60),
        sizes in prop::collection::vec(1usize..50, 1..10),
        max_len in 2usize..40,
    ) {
        let input = pieces.concat();
        let expected = model(max_len, &input);
        prop_assert_eq!(run(max_len, &input, &[input.len().max(1)]), expected.clone());
        prop_assert_eq!(run(max_len, &input, &sizes), expected.clone());
        prop_assert_eq!(run(max_len, &input, &[1]), expected);
    }
}
