//! Command parser and serializer speed (goal: at least 5 million
//! `RCPT TO:<user@example.com>` lines per second on one core, release build).
//!
//! Run: `cargo bench -p smtp-wire --bench command`

// The two fixed lines are valid; a panic would only report a broken parser.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smtp_wire::command::Command;

const RCPT: &[u8] = b"RCPT TO:<user@example.com>";
const MAIL: &[u8] = b"MAIL FROM:<sender@example.org> SIZE=123456 BODY=8BITMIME";

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("command/parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rcpt_to", |b| {
        b.iter(|| Command::parse(black_box(RCPT)));
    });
    group.bench_function("mail_from_with_params", |b| {
        b.iter(|| Command::parse(black_box(MAIL)));
    });
    group.bench_function("noop", |b| {
        b.iter(|| Command::parse(black_box(b"NOOP")));
    });
    group.finish();
}

fn serialize(c: &mut Criterion) {
    let mut group = c.benchmark_group("command/serialize");
    group.throughput(Throughput::Elements(1));
    let rcpt = Command::parse(RCPT).expect("valid RCPT");
    let mail = Command::parse(MAIL).expect("valid MAIL");
    let mut out = Vec::with_capacity(128);
    group.bench_function("rcpt_to", |b| {
        b.iter(|| {
            out.clear();
            black_box(&rcpt).write_to(&mut out);
            black_box(out.len())
        });
    });
    group.bench_function("mail_from_with_params", |b| {
        b.iter(|| {
            out.clear();
            black_box(&mail).write_to(&mut out);
            black_box(out.len())
        });
    });
    group.finish();
}

criterion_group!(benches, parse, serialize);
criterion_main!(benches);
