//! smtp-wire side by side with `smtp-proto` (Stalwart's SMTP codec, 0.2.5)
//! in the same criterion run, on the same bytes (issue 20).
//!
//! Every group has two functions, `smtp-wire` and `smtp-proto`, and both are
//! given identical input. What each side does per iteration:
//!
//! * **`command/*`**: one command line as it arrives on the wire, CRLF
//!   included, to one owned, typed command.
//!   - smtp-wire: `LineDecoder::decode` finds the line end (LF, bare-LF
//!     flag, 512-octet limit of RFC 5321 §4.5.3.1.4), then
//!     `Command::parse` on the line builds a `Command` (mailbox as local
//!     part and domain `String`s, typed parameters).
//!   - smtp-proto: `Request::parse` on the same bytes (it finds the LF
//!     itself), then `Request::into_owned`, so that its borrowed `Cow`
//!     address and parameter values become `String`s too.
//!
//!   Both values are dropped inside the iteration.
//! * **`reply/*`**: one complete reply, CRLF line ends, to an owned value.
//!   - smtp-wire: one `ReplyParser` reused across iterations (it resets
//!     itself after each reply); `decode` returns a `Reply` (code, enhanced
//!     code, the lines joined by LF in one `String`).
//!   - smtp-proto: one `ResponseReceiver` reused, `reset()` after each
//!     reply as its users do; `parse` returns a `Response` (code, enhanced
//!     code, the lines joined by LF in one `String`).
//!   - `reply/ehlo_capabilities` goes one step further, to what a client
//!     wants from an EHLO reply: smtp-wire `ReplyParser::decode` then
//!     `Capabilities::from(reply)`, as the sender does (the reply's text
//!     kept, one bit per known keyword, the size); smtp-proto
//!     `EhloResponse::parse` (bit flags for the known keywords and AUTH
//!     mechanisms, the size).
//! * **`data/*`**: the same dot-stuffed wire form of `support::body` (about
//!   10 MiB of 76-octet CRLF lines, one in 50 starting with a dot, ended by
//!   `.<CRLF>`), fed whole or in 64 KiB reads, un-stuffed into one
//!   preallocated `Vec<u8>` (cleared each iteration) up to the end of data.
//!   - smtp-wire: `DataDecoder::decode` per read (it also counts bare CR,
//!     bare LF and lines over 1,000 octets, RFC 5321 §2.3.8 and
//!     §4.5.3.1.6).
//!   - smtp-proto: `DataReceiver::ingest` per read. Its fresh state does
//!     not treat the first octet as the start of a line, so it is first fed
//!     the CRLF that ended the `DATA` command line (into the output, which
//!     is then cleared): otherwise it would keep the body's leading stuffed
//!     dot. It counts nothing.
//!
//!   Before measuring, both outputs are checked to be the same octets.
//!
//! Run: `cargo bench -p smtp-wire --bench vs_smtp_proto`

// The inputs are fixed and valid; a failed expectation only reports a
// broken setup, before anything is measured.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use smtp_wire::capability::Capabilities;
use smtp_wire::command::Command;
use smtp_wire::line::{LineDecoder, LineEvent, MAX_COMMAND_LINE};
use smtp_wire::reply::ReplyParser;

mod support;
use support::{CHUNK, body, decode_all, encode_all};

/// The command lines, as a client sends them.
const COMMANDS: &[(&str, &[u8])] = &[
    ("rcpt_to", b"RCPT TO:<user@example.com>\r\n"),
    (
        "rcpt_to_dsn",
        b"RCPT TO:<user@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user@example.com\r\n",
    ),
    (
        "mail_from_size_body",
        b"MAIL FROM:<sender@example.org> SIZE=123456 BODY=8BITMIME\r\n",
    ),
    (
        "mail_from_five_params",
        b"MAIL FROM:<sender@example.org> SIZE=123456 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159\r\n",
    ),
    ("ehlo", b"EHLO client.example.org\r\n"),
];

/// A one-line reply with an enhanced code (RFC 2034).
const REPLY_SINGLE: &[u8] = b"250 2.1.5 Ok\r\n";

/// A typical EHLO reply (Postfix-like), 10 lines.
const REPLY_EHLO: &[u8] = b"250-mx.example.com Hello client.example.org [192.0.2.1]\r\n\
250-PIPELINING\r\n\
250-SIZE 52428800\r\n\
250-8BITMIME\r\n\
250-SMTPUTF8\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-CHUNKING\r\n\
250-DSN\r\n\
250-AUTH PLAIN LOGIN\r\n\
250 STARTTLS\r\n";

/// smtp-wire's path from wire bytes to a command: frame, then parse.
fn wire_command(input: &[u8]) -> Option<Command> {
    let mut lines = LineDecoder::new(MAX_COMMAND_LINE);
    match lines.decode(input).1 {
        LineEvent::Line { line, .. } => Command::parse(line).ok(),
        _ => None,
    }
}

/// smtp-proto's path from wire bytes to an owned request.
fn proto_command(input: &[u8]) -> Option<smtp_proto::Request<String>> {
    smtp_proto::Request::parse(&mut input.iter())
        .ok()
        .map(smtp_proto::Request::into_owned)
}

fn commands(c: &mut Criterion) {
    for (name, line) in COMMANDS {
        // Both must accept the line, or the comparison means nothing.
        assert!(wire_command(line).is_some(), "smtp-wire refuses {name}");
        assert!(proto_command(line).is_some(), "smtp-proto refuses {name}");
        let mut group = c.benchmark_group(format!("vs/command/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("smtp-wire", |b| b.iter(|| wire_command(black_box(line))));
        group.bench_function("smtp-proto", |b| b.iter(|| proto_command(black_box(line))));
        group.finish();
    }
}

fn replies(c: &mut Criterion) {
    for (name, input) in [
        ("single_line", REPLY_SINGLE),
        ("ehlo_multiline", REPLY_EHLO),
    ] {
        let mut wire = ReplyParser::new();
        let mut proto = smtp_proto::response::parser::ResponseReceiver::default();
        let (used, reply) = wire.decode(input).unwrap();
        assert_eq!(used, input.len());
        let response = proto.parse(&mut input.iter()).unwrap();
        proto.reset();
        assert_eq!(reply.unwrap().code, response.code);

        let mut group = c.benchmark_group(format!("vs/reply/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("smtp-wire", |b| {
            b.iter(|| wire.decode(black_box(input)).ok().and_then(|(_, r)| r))
        });
        group.bench_function("smtp-proto", |b| {
            b.iter(|| {
                let response = proto.parse(&mut black_box(input).iter()).ok();
                proto.reset();
                response
            })
        });
        group.finish();
    }

    let mut wire = ReplyParser::new();
    let caps = wire_capabilities(&mut wire, REPLY_EHLO).unwrap();
    assert_eq!(caps.size_limit(), Some(52_428_800));
    let ehlo = smtp_proto::EhloResponse::parse(&mut REPLY_EHLO.iter()).unwrap();
    assert_eq!(ehlo.size, 52_428_800);
    let mut group = c.benchmark_group("vs/reply/ehlo_capabilities");
    group.throughput(Throughput::Elements(1));
    group.bench_function("smtp-wire", |b| {
        b.iter(|| wire_capabilities(&mut wire, black_box(REPLY_EHLO)))
    });
    group.bench_function("smtp-proto", |b| {
        b.iter(|| smtp_proto::EhloResponse::parse(&mut black_box(REPLY_EHLO).iter()).ok())
    });
    group.finish();
}

/// smtp-wire's path from an EHLO reply's bytes to its capabilities.
fn wire_capabilities(parser: &mut ReplyParser, input: &[u8]) -> Option<Capabilities> {
    let (_, reply) = parser.decode(input).ok()?;
    reply.map(Capabilities::from)
}

/// Feeds `wire` to smtp-proto's `DataReceiver`, `chunk` octets at a time,
/// until the end of data; returns the octets consumed.
fn proto_decode_all(wire: &[u8], chunk: usize, out: &mut Vec<u8>) -> usize {
    let mut receiver = smtp_proto::request::receiver::DataReceiver::new();
    // The CRLF of "DATA\r\n": the data starts at the start of a line.
    receiver.ingest(&mut b"\r\n".iter(), out);
    out.clear();
    let mut consumed = 0;
    for piece in wire.chunks(chunk) {
        let mut bytes = piece.iter();
        let done = receiver.ingest(&mut bytes, out);
        consumed += piece.len() - bytes.len();
        if done {
            break;
        }
    }
    consumed
}

fn data(c: &mut Criterion) {
    let mut wire = Vec::new();
    encode_all(&body(b"\r\n"), usize::MAX, &mut wire);
    let mut out = Vec::with_capacity(wire.len());
    for (name, chunk) in [("10MiB_whole", usize::MAX), ("10MiB_64KiB_reads", CHUNK)] {
        let mut expected = Vec::new();
        assert_eq!(decode_all(&wire, chunk, &mut expected), wire.len());
        out.clear();
        assert_eq!(proto_decode_all(&wire, chunk, &mut out), wire.len());
        assert!(out == expected, "smtp-proto and smtp-wire disagree");

        let mut group = c.benchmark_group(format!("vs/data/{name}"));
        slow(&mut group);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("smtp-wire", |b| {
            b.iter(|| {
                out.clear();
                let consumed = decode_all(black_box(&wire), chunk, &mut out);
                assert_eq!(consumed, wire.len());
                black_box(&out);
            })
        });
        group.bench_function("smtp-proto", |b| {
            b.iter(|| {
                out.clear();
                let consumed = proto_decode_all(black_box(&wire), chunk, &mut out);
                assert_eq!(consumed, wire.len());
                black_box(&out);
            })
        });
        group.finish();
    }
}

/// The setting of the `data` bench for milliseconds-long iterations: 20
/// samples (criterion's 100 would take minutes). The measurement time is
/// criterion's default (5 s) or the command line's, so that `cargo xtask
/// bench --quick` can shorten it.
fn slow(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(20);
}

criterion_group!(benches, commands, replies, data);
criterion_main!(benches);
