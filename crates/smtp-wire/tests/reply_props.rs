//! Property tests: serialize-then-parse is the identity for replies under
//! arbitrary chunk splits, any text gives a well-formed reply, and the parser
//! never panics on arbitrary bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use proptest::prelude::*;
use smtp_wire::reply::{EnhancedCode, Reply, ReplyError, ReplyParser};

/// Feed `wire` split at the given chunk sizes; return every reply and what is left.
fn feed(
    parser: &mut ReplyParser,
    wire: &[u8],
    sizes: &[usize],
) -> Result<(Vec<Reply>, Vec<u8>), ReplyError> {
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    let mut rest = wire;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let (used, reply) = parser.decode(&buf)?;
            assert!(used <= buf.len());
            buf.drain(..used);
            match reply {
                Some(r) => replies.push(r),
                None => break,
            }
        }
    }
    Ok((replies, buf))
}

/// Codes 200-599 with an optional enhanced code of the same class
/// (RFC 3463 has classes 2, 4 and 5 only), and 1-5 printable lines.
fn reply_strategy() -> impl Strategy<Value = Reply> {
    (
        200u16..600,
        any::<bool>(),
        0u16..1000,
        0u16..1000,
        prop::collection::vec("[ -~]{0,80}", 1..=5),
    )
        .prop_map(|(code, with_enhanced, subject, detail, lines)| {
            let class = (code / 100) as u8;
            let enhanced =
                (with_enhanced && class != 3).then(|| EnhancedCode::new(class, subject, detail));
            let mut reply = Reply::from_lines(code, lines);
            reply.enhanced = enhanced;
            reply
        })
        // Without an enhanced code, a first line that itself starts with one
        // is read back as enhanced (the wire cannot tell them apart).
        .prop_filter("first line looks like an enhanced code", |r| {
            r.enhanced.is_some()
                || r.first_line()
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .parse::<EnhancedCode>()
                    .is_err()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn serialize_then_parse_is_identity(
        replies in prop::collection::vec(reply_strategy(), 1..4),
        sizes in prop::collection::vec(1usize..40, 1..20),
    ) {
        let mut wire = Vec::new();
        for r in &replies {
            r.write_to(&mut wire);
        }
        let mut parser = ReplyParser::new();
        let (parsed, left) = feed(&mut parser, &wire, &sizes).unwrap();
        prop_assert!(left.is_empty());
        prop_assert_eq!(parsed, replies);
    }

    #[test]
    fn any_text_gives_one_well_formed_reply(code in 200u16..600, text in any::<String>()) {
        let reply = Reply::new(code, &text);
        let wire = reply.to_bytes();
        // A CR only ever appears as part of a line's CRLF.
        for (i, &b) in wire.iter().enumerate() {
            if b == b'\r' { prop_assert_eq!(wire.get(i + 1), Some(&b'\n')); }
            if b == b'\n' { prop_assert_eq!(i.checked_sub(1).map(|j| wire[j]), Some(b'\r')); }
        }
        let mut parser = ReplyParser::with_limits(usize::MAX, usize::MAX);
        let (used, parsed) = parser.decode(&wire).unwrap();
        prop_assert_eq!(used, wire.len());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.code, code);
        prop_assert_eq!(parsed.line_count(), reply.line_count());
        if parsed.enhanced.is_none() {
            prop_assert_eq!(parsed.text(), reply.text());
        }
    }

    #[test]
    fn parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        sizes in prop::collection::vec(1usize..600, 1..10),
        max_line in 0usize..600,
        max_lines in 0usize..10,
    ) {
        for mut parser in [ReplyParser::new(), ReplyParser::with_limits(max_line, max_lines)] {
            // After an error the parser resets; keep going with the rest.
            let mut rest = bytes.as_slice();
            while !rest.is_empty() {
                match feed(&mut parser, rest, &sizes) {
                    Ok(_) => break,
                    Err(_) => rest = &rest[1..],
                }
            }
        }
    }

    #[test]
    fn parser_never_panics_on_reply_like_bytes(
        lines in prop::collection::vec(("[0-9]{0,4}", "[ -]?", "[ -~\t\r\u{80}-\u{10ffff}]{0,20}", "(\r\n|\n|)"), 0..30),
        sizes in prop::collection::vec(1usize..50, 1..10),
    ) {
        let wire: String = lines.iter().map(|(a, b, c, d)| format!("{a}{b}{c}{d}")).collect();
        let mut parser = ReplyParser::new();
        let _ = feed(&mut parser, wire.as_bytes(), &sizes);
    }
}
