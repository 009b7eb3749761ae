//! Sections 1 and 2: the receiver without storage, and into a Maildir.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use smtp_peers::{SinkMode, SmtpSink};

use super::BASELINE;
use crate::error::{BenchError, Context as _, Result};
use crate::loads::{count_maildir, rotate_maildir, wait_for_maildir};
use crate::procs::{AiosmtpdCli, OurReceiver, Store, start_postfix};
use crate::stats::{Contender, alternate};
use crate::{Comparison, Ctx, Results};

/// Section 1: Receiver, no storage: smtp-receive --sink against smtp-sink.
pub fn receiver_sink(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let ours = OurReceiver::start(&ctx.bins, &Store::Sink, None, &ctx.log_dir("receive-sink"))?;
    let base = ctx.baseline_receiver(&Store::Sink, None, "baseline-receive-sink")?;
    let sink = SmtpSink::start(SinkMode::Discard)?;
    let sink_addr = sink.addr();
    let log = ctx.log_dir("sink-loads");
    for (load, what) in [
        (ctx.plan.sink_reuse, "one connection per session"),
        (ctx.plan.sink_new, "new connection per message"),
    ] {
        let per_run =
            |addr| {
                let log = log.clone();
                move || {
                    Ok(f64::from(load.messages)
                        / load.run(addr, &log, ctx.plan.timeout)?.as_secs_f64())
                }
            };
        let case = format!(
            "{what}: {}",
            load.command_line().replace("smtp-source ", "")
        );
        let mut contenders = vec![
            Contender::new("smtp-receive --sink", per_run(ours.addr)),
            Contender::new("smtp-sink", per_run(sink_addr)),
        ];
        if let Some((_, base)) = &base {
            contenders.push(Contender::new(BASELINE, per_run(base.addr)));
        }
        let stats = alternate("receiver, no storage", ctx.rounds, &mut contenders)?;
        let mut comparison = Comparison::two(
            if load.reuse { "sink-reuse" } else { "sink-new" },
            "1. Receiver, no storage",
            case,
            "msgs/s",
            ("smtp-receive --sink", &stats[0]),
            ("Postfix smtp-sink", &stats[1]),
            vec![
                ours.command.clone(),
                "smtp-sink -u nobody 127.0.0.1:PORT 1000".into(),
                load.command_line(),
            ],
        );
        comparison.add_baseline(&stats);
        results.comparisons.push(comparison);
    }
    Ok(())
}

/// Section 2: Receiver into a Maildir with fsync: smtp-receive --maildir against
/// aiosmtpd's Mailbox handler and Postfix delivering through virtual(8);
/// every message is counted in the Maildir.
pub fn receiver_maildir(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let load = ctx.plan.maildir;
    let ours_dir = ctx.work.join("maildir-ours");
    let ours = OurReceiver::start(
        &ctx.bins,
        &Store::Maildir(ours_dir.clone()),
        None,
        &ctx.log_dir("receive-maildir"),
    )?;
    let aio_dir = ctx.work.join("maildir-aiosmtpd");
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(aio_dir.join(sub)).context("creating aiosmtpd's Maildir")?;
    }
    let aio = AiosmtpdCli::mailbox(&aio_dir, &ctx.log_dir("aiosmtpd-mailbox"))?;
    let base_dir = ctx.work.join("maildir-baseline");
    let base = ctx.baseline_receiver(
        &Store::Maildir(base_dir.clone()),
        None,
        "baseline-receive-maildir",
    )?;
    let postfix = start_postfix(&ctx.pki.server_cert, &ctx.pki.server_key)?;
    let log = ctx.log_dir("maildir-loads");
    let n = load.messages as usize;
    // Until every message is in new/: Postfix says 250 when the message is
    // in its queue and delivers it afterwards, so its figure counts both.
    let per_run = |addr, dir: PathBuf| {
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
            if stored != n {
                return Err(BenchError::Measurement(format!(
                    "{stored} messages in {} instead of {n}",
                    dir.display()
                )));
            }
            Ok(n as f64 / elapsed.as_secs_f64())
        }
    };
    let mut contenders = vec![
        Contender::new(
            "smtp-receive --maildir",
            per_run(ours.addr, ours_dir.clone()),
        ),
        Contender::new("aiosmtpd Mailbox", per_run(aio.addr, aio_dir.clone())),
        Contender::new(
            "Postfix → Maildir",
            per_run(postfix.smtp_addr(), postfix.maildir()),
        ),
    ];
    if let Some((_, base)) = &base {
        contenders.push(Contender::new(
            BASELINE,
            per_run(base.addr, base_dir.clone()),
        ));
    }
    let stats = alternate("receiver, Maildir + fsync", ctx.rounds, &mut contenders)?;
    let version = postfix.running_version().to_string();
    drop(postfix);
    let mut comparison = Comparison {
        key: "maildir".into(),
        section: "2. Receiver into a Maildir, fsync before 250",
        case: format!(
            "new connection per message: {}; until all {n} are in new/",
            load.command_line().replace("smtp-source ", "")
        ),
        unit: "msgs/s",
        ours: ("smtp-receive --maildir".into(), stats[0].clone()),
        peers: vec![
            ("aiosmtpd Mailbox".into(), stats[1].clone()),
            (format!("Postfix {version} → virtual(8) Maildir"), stats[2].clone()),
        ],
        commands: vec![
            ours.command.clone(),
            aio.command.replace(&aio_dir.display().to_string(), "DIR"),
            "Postfix: private instance (crates/smtp-peers/src/postfix.rs), virtual_mailbox_maps=static:inbox/".into(),
            load.command_line(),
        ],
    };
    comparison.add_baseline(&stats);
    results.comparisons.push(comparison);
    Ok(())
}
