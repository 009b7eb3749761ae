//! Section 4: TLS, our two halves beside smtplib and aiosmtpd, and beside
//! the machine's own limits issue 20 measures them against: one core's
//! AES-128-GCM rate (openssl speed) and one TCP stream over loopback with
//! nothing on top for the big message, the disk's
//! sequential write rate with fsync (dd) for the big message into the
//! Maildir.

use std::path::Path;

use super::BASELINE;
use crate::error::{BenchError, Result};
use crate::loads::{Bulk, clear_maildir, count_maildir};
use crate::memory::{reset_peak, status_kib};
use crate::procs::{AiosmtpdCli, OurReceiver, Store};
use crate::reference::{
    AES_GCM, DD_FSYNC, LOOPBACK_TCP, aes_gcm_mb_per_s, dd_command_line, dd_fsync_mb_per_s,
    loopback_tcp_mb_per_s, openssl_command_line, openssl_version,
};
use crate::stats::{Contender, Stats, alternate};
use crate::{Comparison, Ctx, Figure, Results};

/// Section 4: TLS: smtp-send to smtp-receive over implicit TLS beside Python's
/// smtplib to aiosmtpd over implicit TLS: one big message (MB/s, and our
/// receiver's peak memory; openssl's AES-128-GCM rate and the loopback
/// TCP stream alternating with them), the same message into a Maildir beside dd writing as much with
/// fsync, then 1 KiB messages at 1 and 20 sessions.
pub fn tls(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let pki = &ctx.pki;
    let ours = OurReceiver::start(
        &ctx.bins,
        &Store::Sink,
        Some((&pki.server_cert, &pki.server_key)),
        &ctx.log_dir("receive-tls"),
    )?;
    let aio = AiosmtpdCli::tls_sink(
        &pki.server_cert,
        &pki.server_key,
        &ctx.log_dir("aiosmtpd-tls"),
    )?;
    // With --baseline: the baseline's sender to the baseline's receiver.
    let base = match &ctx.baseline {
        Some(bins) => Some((
            bins,
            OurReceiver::start(
                bins,
                &Store::Sink,
                Some((&pki.server_cert, &pki.server_key)),
                &ctx.log_dir("baseline-receive-tls"),
            )?,
        )),
        None => None,
    };
    let log = ctx.log_dir("tls-loads");
    let ca = pki.ca_cert.as_path();
    let section = "4. TLS (implicit, TLS 1.3)";
    let commands = |bulk: &Bulk| {
        vec![
            ours.command.clone(),
            bulk.send_command_line(true),
            aio.command.clone(),
            bulk.smtplib_command_line(),
        ]
    };

    let big = Bulk {
        count: 1,
        sessions: 1,
        size: ctx.plan.tls_big,
    };
    let mut peak = Stats::default();
    let mut contenders = vec![
        Contender::new("smtp-send → smtp-receive", || {
            reset_peak(ours.pid())?;
            let (_, line) =
                big.smtp_send(&ctx.bins, ours.addr, Some(ca), &log, ctx.plan.timeout)?;
            peak.samples
                .push(status_kib(ours.pid(), "VmHWM")? as f64 / 1024.0);
            Ok(line.mb_per_s)
        }),
        Contender::new("smtplib → aiosmtpd", || {
            Ok(big
                .smtplib(aio.addr, ca, &log, ctx.plan.timeout)?
                .1
                .mb_per_s)
        }),
    ];
    // One core's AES-GCM rate, measured between our rounds so that both
    // see the same machine. Without openssl the goal is judged on its
    // absolute part only (goals.rs says so), and the run goes on.
    let openssl = openssl_version();
    if openssl.is_none() {
        println!("  openssl is missing: no AES-128-GCM reference for the TLS goal");
    } else {
        contenders.push(Contender::new(AES_GCM, || {
            aes_gcm_mb_per_s(&log, ctx.plan.timeout)
        }));
    }
    // What the kernel alone moves over loopback: the ceiling of any two
    // programs here, TLS or not (docs/benchmarks.md, "DATA over TLS").
    let size = big.size;
    contenders.push(Contender::new(LOOPBACK_TCP, move || {
        loopback_tcp_mb_per_s(size, ctx.plan.timeout)
    }));
    if let Some((bins, receiver)) = &base {
        contenders.push(Contender::new(BASELINE, || {
            Ok(big
                .smtp_send(bins, receiver.addr, Some(ca), &log, ctx.plan.timeout)?
                .1
                .mb_per_s)
        }));
    }
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let stats = alternate("TLS, one big message", ctx.rounds, &mut contenders)?;
    drop(contenders);
    let mut commands_big = commands(&big);
    if let Some(version) = &openssl {
        commands_big.push(format!("{} # {version}", openssl_command_line()));
    }
    commands_big.push(format!(
        "(in the bench) one TCP connection on 127.0.0.1, {size} octets in 256 KiB writes and reads, two threads"
    ));
    let mut comparison = Comparison::two(
        "tls-big",
        section,
        format!("one message of {} MiB, connect to QUIT", big.size >> 20),
        "MB/s",
        ("smtp-send → smtp-receive", &stats[0]),
        ("smtplib → aiosmtpd", &stats[1]),
        commands_big,
    );
    // The references, between the peer and the baseline.
    for (name, stats) in names.iter().zip(&stats).skip(2) {
        if name != BASELINE {
            comparison.peers.push((name.clone(), stats.clone()));
        }
    }
    comparison.add_baseline(&stats);
    results.comparisons.push(comparison);
    results.figures.push(Figure {
        key: "peak-tls",
        what: format!(
            "smtp-receive peak RSS (VmHWM) receiving one {} MiB message over TLS (--sink)",
            big.size >> 20
        ),
        unit: "MiB",
        stats: peak,
    });

    tls_maildir(ctx, results, section, &big)?;

    for sessions in [1, 20] {
        let small = Bulk {
            count: ctx.plan.tls_small_count,
            sessions,
            size: 1024,
        };
        let mut contenders = vec![
            Contender::new("smtp-send → smtp-receive", || {
                Ok(small
                    .smtp_send(&ctx.bins, ours.addr, Some(ca), &log, ctx.plan.timeout)?
                    .1
                    .msgs_per_s)
            }),
            Contender::new("smtplib → aiosmtpd", || {
                Ok(small
                    .smtplib(aio.addr, ca, &log, ctx.plan.timeout)?
                    .1
                    .msgs_per_s)
            }),
        ];
        if let Some((bins, receiver)) = &base {
            contenders.push(Contender::new(BASELINE, || {
                Ok(small
                    .smtp_send(bins, receiver.addr, Some(ca), &log, ctx.plan.timeout)?
                    .1
                    .msgs_per_s)
            }));
        }
        let stats = alternate(
            &format!("TLS, 1 KiB x {sessions} sessions"),
            ctx.rounds,
            &mut contenders,
        )?;
        drop(contenders);
        let mut comparison = Comparison::two(
            if sessions == 1 {
                "tls-small-1"
            } else {
                "tls-small-20"
            },
            section,
            format!(
                "{} messages of 1 KiB over {sessions} session(s)",
                small.count
            ),
            "msgs/s",
            ("smtp-send → smtp-receive", &stats[0]),
            ("smtplib → aiosmtpd", &stats[1]),
            commands(&small),
        );
        comparison.add_baseline(&stats);
        results.comparisons.push(comparison);
    }
    Ok(())
}

/// The big message over TLS into a Maildir (fsync of the file and of
/// `new/` before the 250), beside dd writing as many MiB with fsync into
/// the same folder: how close the receiver comes to the disk.
fn tls_maildir(ctx: &Ctx, results: &mut Results, section: &'static str, big: &Bulk) -> Result<()> {
    let pki = &ctx.pki;
    let cert_key = Some((pki.server_cert.as_path(), pki.server_key.as_path()));
    let ours_dir = ctx.work.join("maildir-tls");
    let ours = OurReceiver::start(
        &ctx.bins,
        &Store::Maildir(ours_dir.clone()),
        cert_key,
        &ctx.log_dir("receive-tls-maildir"),
    )?;
    let base_dir = ctx.work.join("maildir-tls-baseline");
    let base = ctx.baseline_receiver(
        &Store::Maildir(base_dir.clone()),
        cert_key,
        "baseline-receive-tls-maildir",
    )?;
    let log = ctx.log_dir("tls-maildir-loads");
    let ca = pki.ca_cert.as_path();
    let mib = big.size >> 20;
    // One message per round, into an emptied Maildir: the round fails
    // unless exactly that message is in new/ when smtp-send has its 250.
    let store = |bins, addr, dir: &Path| -> Result<f64> {
        clear_maildir(dir)?;
        let (_, line) = big.smtp_send(bins, addr, Some(ca), &log, ctx.plan.timeout)?;
        if count_maildir(dir) != 1 {
            return Err(BenchError::Measurement(format!(
                "the big message is not in {}",
                dir.display()
            )));
        }
        Ok(line.mb_per_s)
    };
    let mut contenders = vec![
        Contender::new("smtp-send → smtp-receive --maildir", || {
            store(&ctx.bins, ours.addr, &ours_dir)
        }),
        // In the Maildir's own folder: the same file system, the same disk.
        Contender::new(DD_FSYNC, || {
            dd_fsync_mb_per_s(&ours_dir, mib, &log, ctx.plan.timeout)
        }),
    ];
    if let Some((bins, receiver)) = &base {
        contenders.push(Contender::new(BASELINE, || {
            store(bins, receiver.addr, &base_dir)
        }));
    }
    let stats = alternate("TLS into the Maildir", ctx.rounds, &mut contenders)?;
    drop(contenders);
    // Not kept: 100 MiB per build would only take disk space until the
    // work folder goes.
    clear_maildir(&ours_dir)?;
    if base.is_some() {
        clear_maildir(&base_dir)?;
    }
    let mut comparison = Comparison::two(
        "tls-maildir",
        section,
        format!("one message of {mib} MiB into the Maildir (fsync before 250), connect to QUIT"),
        "MB/s",
        ("smtp-send → smtp-receive --maildir", &stats[0]),
        (DD_FSYNC, &stats[1]),
        vec![
            ours.command.clone(),
            big.send_command_line(true),
            dd_command_line(mib),
        ],
    );
    comparison.add_baseline(&stats);
    results.comparisons.push(comparison);
    Ok(())
}
