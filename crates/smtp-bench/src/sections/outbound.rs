//! Section 8: the outbound engine: a spool of N messages of 10 KiB
//! delivered to Postfix's smtp-sink, from the first attempt until the spool
//! is empty, beside Postfix delivering the same N messages from its own
//! queue to the same sink.
//!
//! - Ours: the spool is filled once with the library (`Spool::enqueue`,
//!   each entry durable) and copied before each round; `smtp-send queue run
//!   --once` routes `bench.test` by MX through dnsmasq (MX → 127.0.0.1,
//!   port: the sink's) and exits when the pass is over.
//! - Postfix: smtp-source puts the N messages into a private instance
//!   whose recipient restrictions hold every message on arrival
//!   (`static:HOLD`); `postsuper -H ALL` and `postqueue -f` release them,
//!   and the time runs until its queue is empty. Postfix cannot be pointed
//!   at a DNS server on another port, so it relays through
//!   `relayhost = [127.0.0.1]:PORT` (no lookup at all: a small advantage).
//! - Memory: the runner's peak resident memory (VmHWM) with a spool of N
//!   and of N/4 messages: a pass plans records in batches, so it stays flat.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use smtp_peers::{DnsRecord, Dnsmasq, Peer, PostfixConfig, SinkMode, SmtpSink, SourceOptions};
use smtp_sender::Envelope;
use smtp_sender::outbound::Spool;

use super::SOURCE_MESSAGE_OCTETS;
use crate::error::{BenchError, Context as _, Result};
use crate::memory::status_kib;
use crate::procs::wait_for_no_postfix;
use crate::stats::{Contender, Stats, alternate};
use crate::{Comparison, Ctx, Figure, Results};

/// Section 8: spool → smtp-sink, ours against Postfix's queue.
pub fn outbound(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let n = ctx.plan.outbound_messages;
    Peer::Dnsmasq.version()?;
    let sink = SmtpSink::start(SinkMode::Discard)?;
    let dns = Dnsmasq::start(&[
        DnsRecord::mx("bench.test", "mx.bench.test", 10),
        DnsRecord::host(
            "mx.bench.test",
            &["127.0.0.1"
                .parse()
                .map_err(|_| BenchError::Measurement("127.0.0.1".into()))?],
        ),
    ])?;
    let template = ctx.work.join("outbound-template");
    let filled = Instant::now();
    fill_spool(&template, n)?;
    println!(
        "  outbound | spool of {n} messages filled in {:.1}s",
        filled.elapsed().as_secs_f64()
    );
    let ours_args = |spool: &Path| -> Vec<String> {
        vec![
            "queue".into(),
            "run".into(),
            "--once".into(),
            "--spool".into(),
            spool.display().to_string(),
            "--dns".into(),
            dns.addr().to_string(),
            "--smtp-port".into(),
            sink.addr().port().to_string(),
            "--tls".into(),
            "none".into(),
            "--hostname".into(),
            "bench.invalid".into(),
        ]
    };
    let round_dir = ctx.work.join("outbound-round");
    let mut peak_kib = 0u64;
    let ours = |peak: &mut u64| -> Result<f64> {
        copy_spool(&template, &round_dir)?;
        let (elapsed, hwm) = run_runner(&ctx.bins.send, &ours_args(&round_dir), ctx.plan.timeout)?;
        *peak = (*peak).max(hwm);
        let left = Spool::open(&round_dir)
            .map_err(|e| BenchError::Measurement(e.to_string()))?
            .ids()
            .map_err(|e| BenchError::Measurement(e.to_string()))?
            .len();
        if left != 0 {
            return Err(BenchError::Measurement(format!(
                "{left} messages left in the spool"
            )));
        }
        Ok(f64::from(n) / elapsed.as_secs_f64())
    };

    wait_for_no_postfix(Duration::from_secs(600))?;
    let mut config = PostfixConfig::new(&ctx.pki.server_cert, &ctx.pki.server_key);
    config.main_cf = [
        // Hold every message on arrival: the queue fills, nothing leaves.
        ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
        (
            "smtpd_recipient_restrictions",
            "check_recipient_access static:HOLD",
        ),
        ("relayhost", &format!("[127.0.0.1]:{}", sink.addr().port())),
        ("default_transport", "smtp"),
        ("relay_transport", "smtp"),
        ("smtp_tls_security_level", "none"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let postfix = smtp_peers::Postfix::start(&config)?;
    let version = postfix.running_version().to_string();
    let log = ctx.log_dir("outbound-postfix-loads");
    let source = SourceOptions {
        reuse_connection: true,
        sessions: 20,
        messages: n,
        size: 10_000,
        recipients: 1,
        from: "a@example.org".into(),
        to: "b@bench.test".into(),
    };
    let postfix_run = || -> Result<f64> {
        smtp_peers::smtp_source(postfix.smtp_addr(), &source, &log, ctx.plan.timeout)?;
        let hold = postfix.queue_dir().join("hold");
        wait_until(
            ctx.plan.timeout,
            || count_files(&hold) >= n as usize,
            || format!("{} of {n} messages held by Postfix", count_files(&hold)),
        )?;
        let etc = postfix.config_dir();
        let started = Instant::now();
        postfix_command("postsuper", &etc, &["-H", "ALL"])?;
        postfix_command("postqueue", &etc, &["-f"])?;
        let queue = postfix.queue_dir();
        wait_until(
            ctx.plan.timeout,
            || {
                ["hold", "incoming", "active", "deferred"]
                    .iter()
                    .all(|d| count_files(&queue.join(d)) == 0)
            },
            || "Postfix's queue is not empty".to_string(),
        )?;
        Ok(f64::from(n) / started.elapsed().as_secs_f64())
    };
    let mut peak = 0u64;
    let stats = alternate(
        "outbound",
        ctx.rounds,
        &mut [
            Contender::new("smtp-send queue run --once", || ours(&mut peak)),
            Contender::new("Postfix queue → smtp", postfix_run),
        ],
    )?;
    peak_kib = peak_kib.max(peak);
    drop(postfix);

    // Memory with a quarter of the spool, for "flat in the number of messages".
    let quarter = n / 4;
    let small = ctx.work.join("outbound-small");
    fill_spool(&small, quarter)?;
    let (_, small_kib) = run_runner(&ctx.bins.send, &ours_args(&small), ctx.plan.timeout)?;
    println!(
        "  outbound | runner peak memory: {small_kib} KiB with {quarter} messages, {peak_kib} KiB with {n}"
    );
    results.comparisons.push(Comparison::two(
        "outbound",
        "8. Outbound: spool to smtp-sink",
        format!(
            "{n} messages of {SOURCE_MESSAGE_OCTETS} octets, one recipient each, from a full spool until it is empty; 20 connections per destination (both)"
        ),
        "msgs/s",
        ("smtp-send queue run --once", &stats[0]),
        (&format!("Postfix {version} queue → smtp(8)"), &stats[1]),
        vec![
            "smtp-send queue run --once --spool SPOOL --dns 127.0.0.1:DNSPORT --smtp-port SINKPORT --tls none (MX through dnsmasq)".into(),
            "Postfix: smtp-source -d -s 20 -m N -l 10000 into a private instance holding every message (check_recipient_access static:HOLD), then postsuper -H ALL; postqueue -f; timed until hold/incoming/active/deferred are empty; relayhost=[127.0.0.1]:SINKPORT".into(),
            "smtp-sink -u nobody 127.0.0.1:SINKPORT 1000".into(),
        ],
    ));
    results.figures.push(Figure {
        key: "outbound-memory",
        what: format!(
            "smtp-send queue run --once peak resident memory (VmHWM) with {n} queued messages (with {quarter}: {small_kib} KiB)"
        ),
        unit: "KiB",
        stats: Stats {
            samples: vec![peak_kib as f64],
        },
    });
    results.figures.push(Figure {
        key: "outbound-memory-ratio",
        what: format!("peak memory with {n} queued / with {quarter} queued"),
        unit: "×",
        stats: Stats {
            samples: vec![peak_kib as f64 / small_kib.max(1) as f64],
        },
    });
    Ok(())
}

/// A spool of `n` messages of smtp-source's size, one recipient each.
fn fill_spool(dir: &Path, n: u32) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let spool = Spool::open(dir).map_err(|e| BenchError::Measurement(e.to_string()))?;
    let envelope = Envelope::new("a@example.org", &["b@bench.test"])
        .map_err(|e| BenchError::Measurement(e.to_string()))?;
    let header = "From: <a@example.org>\r\nTo: <b@bench.test>\r\nSubject: outbound bench\r\n\r\n";
    let line = format!("{}\r\n", "x".repeat(78));
    let mut message = header.to_string();
    while message.len() + line.len() <= SOURCE_MESSAGE_OCTETS as usize {
        message.push_str(&line);
    }
    let now = SystemTime::now();
    for _ in 0..n {
        spool
            .enqueue(&envelope, message.as_bytes(), now)
            .map_err(|e| BenchError::Measurement(e.to_string()))?;
    }
    Ok(())
}

/// A fresh copy of the template spool (`cp -a`, no fsync: the copy is only
/// read by the runner being measured).
fn copy_spool(template: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(to);
    let status = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(to)
        .status()
        .context("cp -a the spool")?;
    if !status.success() {
        return Err(BenchError::Measurement("cp -a the spool failed".into()));
    }
    Ok(())
}

/// Runs the runner to its end: its wall time and peak resident memory.
fn run_runner(bin: &Path, args: &[String], timeout: Duration) -> Result<(Duration, u64)> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting smtp-send queue run")?;
    let pid = child.id();
    let mut hwm = 0;
    loop {
        if let Ok(kib) = status_kib(pid, "VmHWM") {
            hwm = hwm.max(kib);
        }
        if child.try_wait().context("waiting for smtp-send")?.is_some() {
            break;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            return Err(BenchError::Measurement(
                "smtp-send queue run timed out".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let out = child
        .wait_with_output()
        .context("reading smtp-send's output")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !stdout.contains(" remaining=0") {
        return Err(BenchError::Measurement(format!(
            "smtp-send queue run: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok((elapsed, hwm))
}

fn postfix_command(name: &str, etc: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new(format!("/usr/sbin/{name}"))
        .arg("-c")
        .arg(etc)
        .args(args)
        .status()
        .context_with(|| format!("running {name}"))?;
    if !status.success() {
        return Err(BenchError::Measurement(format!("{name} {args:?} failed")));
    }
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    fn walk(dir: &Path, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path: PathBuf = entry.path();
            if path.is_dir() {
                walk(&path, n);
            } else {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, &mut n);
    n
}

fn wait_until(
    timeout: Duration,
    mut done: impl FnMut() -> bool,
    why: impl Fn() -> String,
) -> Result<()> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > timeout {
            return Err(BenchError::Measurement(format!("timed out: {}", why())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
