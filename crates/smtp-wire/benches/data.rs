//! DATA throughput: the dot-unstuffing decoder and the dot-stuffing encoder
//! over a 10 MiB body of 76-octet lines (goal: at least 1 GiB/s each on one
//! core, release build).
//!
//! Run: `cargo bench -p smtp-wire --bench data`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod support;
use support::{CHUNK, body, decode_all, encode_all};

fn decoder(c: &mut Criterion) {
    let mut wire = Vec::new();
    encode_all(&body(b"\r\n"), usize::MAX, &mut wire);
    let mut out = Vec::with_capacity(wire.len());
    let mut group = c.benchmark_group("data_decoder");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for (name, chunk) in [("10MiB_whole", usize::MAX), ("10MiB_64KiB_reads", CHUNK)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let consumed = decode_all(black_box(&wire), chunk, &mut out);
                assert_eq!(consumed, wire.len());
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn encoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("data_encoder");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for (name, eol, chunk) in [
        ("10MiB_crlf_whole", &b"\r\n"[..], usize::MAX),
        ("10MiB_crlf_64KiB_writes", b"\r\n", CHUNK),
        ("10MiB_bare_lf_whole", b"\n", usize::MAX),
    ] {
        let input = body(eol);
        let mut out = Vec::with_capacity(input.len() * 2);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                encode_all(black_box(&input), chunk, &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decoder, encoder);
criterion_main!(benches);
