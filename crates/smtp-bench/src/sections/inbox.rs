//! Section 6: the test inbox (issue 15). Ingest with the SQLite index on
//! and fsync on, side by side with the plain Maildir receiver; then, with
//! a large stored mailbox, the API's first page and a `subject:` search
//! (p99 over repeated requests), start-up with an existing index, and the
//! resident memory. Mailpit cannot run here (it needs a newer Go than
//! Debian's): its documented 70–100 msgs/s is quoted in the report.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::BASELINE;
use crate::error::{BenchError, Context as _, Result};
use crate::loads::{count_maildir, rotate_maildir, wait_for_maildir};
use crate::memory::status_kib;
use crate::procs::{OurReceiver, Store};
use crate::stats::{Contender, Stats, alternate};
use crate::{Comparison, Ctx, Figure, Results};

/// Requests per latency figure.
const REQUESTS: usize = 200;

pub fn inbox(ctx: &Ctx, results: &mut Results) -> Result<()> {
    ingest(ctx, results)?;
    stored(ctx, results)
}

/// The index's message count, from the API.
fn indexed(http: std::net::SocketAddr) -> Result<u64> {
    let body = get(http, "/api/v1/messages?limit=1")?;
    let json: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| BenchError::Measurement(format!("the listing is not JSON: {e}")))?;
    json["total"]
        .as_u64()
        .ok_or_else(|| BenchError::Measurement("no total in the listing".into()))
}

fn get(http: std::net::SocketAddr, path: &str) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a runtime")?;
    runtime.block_on(async {
        let response = reqwest::get(format!("http://{http}{path}"))
            .await
            .map_err(http_error)?;
        if !response.status().is_success() {
            return Err(BenchError::Measurement(format!(
                "GET {path}: {}",
                response.status()
            )));
        }
        response.text().await.map_err(http_error)
    })
}

fn http_error(error: reqwest::Error) -> BenchError {
    BenchError::Measurement(format!("HTTP: {error}"))
}

fn ingest(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let load = ctx.plan.maildir;
    let n = load.messages as usize;
    let inbox_dir = ctx.work.join("inbox-ingest");
    let plain_dir = ctx.work.join("inbox-plain-maildir");
    let inbox = OurReceiver::start(
        &ctx.bins,
        &Store::Inbox(inbox_dir.clone()),
        None,
        &ctx.log_dir("receive-inbox"),
    )?;
    let plain = OurReceiver::start(
        &ctx.bins,
        &Store::Maildir(plain_dir.clone()),
        None,
        &ctx.log_dir("receive-inbox-plain"),
    )?;
    let http = inbox
        .http
        .ok_or_else(|| BenchError::Measurement("no HTTP listener".into()))?;
    let log = ctx.log_dir("inbox-loads");
    let per_run = |addr, dir: std::path::PathBuf, index: Option<std::net::SocketAddr>| {
        let log = log.clone();
        let mut round = 0;
        move || {
            round += 1;
            rotate_maildir(&dir, round)?;
            let started = Instant::now();
            load.run(addr, &log, ctx.plan.timeout)?;
            wait_for_maildir(&dir, n, ctx.plan.timeout)?;
            let elapsed = started.elapsed();
            let stored = count_maildir(&dir);
            // Every 250 came after the index row: the index holds them all.
            let rows = index.map(indexed).transpose()?;
            if stored != n || rows.is_some_and(|r| r != (round * n) as u64) {
                return Err(BenchError::Measurement(format!(
                    "{stored} files (index: {rows:?}) instead of {n} in {}",
                    dir.display()
                )));
            }
            Ok(n as f64 / elapsed.as_secs_f64())
        }
    };
    let mut contenders = vec![
        Contender::new(
            "smtp-receive --http (inbox)",
            per_run(inbox.addr, inbox_dir.clone(), Some(http)),
        ),
        Contender::new(
            "smtp-receive --maildir",
            per_run(plain.addr, plain_dir.clone(), None),
        ),
    ];
    let base_dir = ctx.work.join("inbox-baseline");
    // The baseline is the older build's inbox: before and after of the
    // same thing.
    let base = ctx.baseline_receiver(&Store::Inbox(base_dir.clone()), None, "baseline-inbox")?;
    if let Some((_, base)) = &base {
        let http = base
            .http
            .ok_or_else(|| BenchError::Measurement("no HTTP listener (baseline)".into()))?;
        contenders.push(Contender::new(
            BASELINE,
            per_run(base.addr, base_dir.clone(), Some(http)),
        ));
    }
    let stats = alternate("inbox ingest", ctx.rounds, &mut contenders)?;
    let mut comparison = Comparison::two(
        "inbox-ingest",
        "6. Test inbox: ingest with the index and fsync",
        format!(
            "new connection per message: {}; until all {n} are in new/ and indexed",
            load.command_line().replace("smtp-source ", "")
        ),
        "msgs/s",
        ("smtp-receive --maildir --http (SQLite index)", &stats[0]),
        ("smtp-receive --maildir (no index)", &stats[1]),
        vec![
            inbox.command.clone(),
            plain.command.clone(),
            load.command_line(),
        ],
    );
    comparison.add_baseline(&stats);
    results.comparisons.push(comparison);
    Ok(())
}

/// Writes `count` messages straight into `DIR/new`, named as the receiver
/// names them (so their times read back), about 2 KiB each, one subject
/// in a hundred per topic.
fn seed(dir: &Path, count: usize) -> Result<()> {
    let new = dir.join("new");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(dir.join(sub)).context("creating the Maildir")?;
    }
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        - count as u64;
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n".repeat(30);
    for n in 0..count {
        let text = format!(
            "Return-Path: <sender{n}@example.com>\r\nX-Original-To: rcpt{}@example.org\r\n\
             From: Sender {n} <sender{n}@example.com>\r\nTo: rcpt{}@example.org\r\n\
             Subject: bench message {n} topic-{}\r\nMessage-ID: <{n}@bench.example>\r\n\r\n{body}",
            n % 50,
            n % 50,
            n % 100
        );
        let name = format!("{}M{:06}P1Q{n}.bench", start + n as u64, n % 1_000_000);
        fs::write(new.join(name), text).context("writing a seeded message")?;
    }
    Ok(())
}

/// p99 of `REQUESTS` GETs of `path`, in milliseconds.
fn p99(http: std::net::SocketAddr, path: &str) -> Result<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("a runtime")?;
    let mut millis = runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://{http}{path}");
        let mut millis = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let began = Instant::now();
            let response = client.get(&url).send().await.map_err(http_error)?;
            let ok = response.status().is_success();
            response.bytes().await.map_err(http_error)?;
            if !ok {
                return Err(BenchError::Measurement(format!("GET {path} failed")));
            }
            millis.push(began.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(millis)
    })?;
    millis.sort_by(f64::total_cmp);
    Ok(millis[(millis.len() * 99).div_ceil(100) - 1])
}

fn figure(results: &mut Results, key: &'static str, what: String, unit: &'static str, value: f64) {
    println!("  inbox | {what}: {value:.1} {unit}");
    results.figures.push(Figure {
        key,
        what,
        unit,
        stats: Stats {
            samples: vec![value],
        },
    });
}

fn stored(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let count = if ctx.plan.timeout < Duration::from_secs(100) {
        5_000
    } else {
        100_000
    };
    let dir = ctx.work.join("inbox-stored");
    let began = Instant::now();
    seed(&dir, count)?;
    println!(
        "  inbox | seeded {count} messages in {:.1}s",
        began.elapsed().as_secs_f64()
    );
    let store = Store::Inbox(dir.clone());
    let began = Instant::now();
    let first = OurReceiver::start(&ctx.bins, &store, None, &ctx.log_dir("inbox-first-start"))?;
    let built = began.elapsed().as_secs_f64();
    drop(first);
    figure(
        results,
        "inbox-index-build",
        format!("first start: index {count} messages from the Maildir"),
        "s",
        built,
    );
    let began = Instant::now();
    let receiver = OurReceiver::start(&ctx.bins, &store, None, &ctx.log_dir("inbox-restart"))?;
    let startup = began.elapsed().as_secs_f64();
    let http = receiver
        .http
        .ok_or_else(|| BenchError::Measurement("no HTTP listener".into()))?;
    figure(
        results,
        "inbox-startup",
        format!("start-up with an existing index of {count} messages (until the API listens)"),
        "s",
        startup,
    );
    if indexed(http)? != count as u64 {
        return Err(BenchError::Measurement(format!(
            "the index lists {} of {count}",
            indexed(http)?
        )));
    }
    let page = p99(http, "/api/v1/messages")?;
    figure(
        results,
        "inbox-page-p99",
        format!("GET /api/v1/messages (first page of 50 of {count}), p99 of {REQUESTS}"),
        "ms",
        page,
    );
    let search = p99(http, "/api/v1/search?query=subject:topic-42")?;
    figure(
        results,
        "inbox-search-p99",
        format!(
            "GET /api/v1/search?query=subject:topic-42 ({} of {count} match), p99 of {REQUESTS}",
            count / 100
        ),
        "ms",
        search,
    );
    let rss = status_kib(receiver.pid(), "VmHWM")? as f64 / 1024.0;
    figure(
        results,
        "inbox-rss",
        format!(
            "smtp-receive peak resident memory with {count} messages indexed, after the queries"
        ),
        "MiB",
        rss,
    );
    Ok(())
}
