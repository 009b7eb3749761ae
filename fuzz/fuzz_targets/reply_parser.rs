//! ReplyParser::decode over the input split at a fuzzer-chosen point: never
//! panics, gives the same replies as the unsplit input, and every reply it
//! returns serializes to bytes that parse back to the same reply.
//!
//! Input layout: bytes 0..2 pick the split point, the rest is the wire.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_wire::reply::{Reply, ReplyError, ReplyParser};

/// Feeds `pieces` one after the other as a caller owning the buffer would;
/// returns the replies and the first error, if any.
fn parse(mut parser: ReplyParser, pieces: &[&[u8]]) -> (Vec<Reply>, Option<ReplyError>) {
    let mut buffer = Vec::new();
    let mut replies = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            match parser.decode(&buffer) {
                Ok((used, reply)) => {
                    assert!(used <= buffer.len(), "consumed more than given");
                    buffer.drain(..used);
                    match reply {
                        Some(reply) => replies.push(reply),
                        None => break,
                    }
                }
                Err(error) => return (replies, Some(error)),
            }
        }
    }
    (replies, None)
}

fuzz_target!(|data: &[u8]| {
    let [high, low, wire @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_be_bytes([*high, *low])) % (wire.len() + 1);
    let (first, second) = wire.split_at(split);

    let whole = parse(ReplyParser::new(), &[wire]);
    let pieces = parse(ReplyParser::new(), &[first, second]);
    assert_eq!(whole, pieces, "replies depend on where the input was split");

    for reply in &whole.0 {
        // Serializing normalises the form (a bare LF becomes CRLF, `250`
        // becomes `250 `, the enhanced code is repeated on every line), so
        // the check is that serialized bytes are a fixed point: they parse
        // to a reply with the same code and line count that serializes to
        // the very same bytes. Invalid UTF-8 was read as U+FFFD (3 octets
        // each), so the line may now exceed 512 octets: re-read without it.
        let bytes = reply.to_bytes();
        let (again, error) = parse(ReplyParser::with_limits(1 << 20, 100), &[&bytes]);
        assert_eq!(error, None, "{bytes:?} does not parse back");
        let [again] = again.as_slice() else {
            panic!("{bytes:?} parses to {} replies", again.len());
        };
        assert_eq!(again.code, reply.code, "{bytes:?}");
        assert_eq!(again.line_count(), reply.line_count(), "{bytes:?}");
        assert_eq!(again.to_bytes(), bytes, "{bytes:?}");
    }
});
