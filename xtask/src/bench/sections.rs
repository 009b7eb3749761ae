//! The five comparisons of issue 8 and the sessions sweep behind the
//! chart. Each starts its servers, runs the contenders alternately, and
//! stops everything (the guards) before the next one starts.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use super::loads::{Bulk, Source, clear_maildir, count_maildir, rotate_maildir, wait_for_maildir};
use super::memory::{idle_sessions, raise_nofile_limit, reset_peak, status_kib};
use super::procs::{Aiosmtpd, OurReceiver, SmtpSink, Store, start_postfix};
use super::stats::{Contender, Stats, alternate};
use super::{Comparison, Ctx, Figure, Results, SweepPoint};

/// Postfix smtp-source's message with `-l 10000` is 10,138 octets on the
/// wire (headers and CRLFs included, measured from an smtp-sink dump):
/// smtp-send sends the same size.
const SOURCE_MESSAGE_OCTETS: u64 = 10_138;

/// Section 1: Receiver, no storage: smtp-receive --sink against smtp-sink.
pub fn receiver_sink(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let ours = OurReceiver::start(&ctx.bins, &Store::Sink, None, &ctx.log_dir("receive-sink"))?;
    let base = match &ctx.baseline {
        Some(bins) => Some(OurReceiver::start(
            bins,
            &Store::Sink,
            None,
            &ctx.log_dir("baseline-receive-sink"),
        )?),
        None => None,
    };
    let sink = SmtpSink::start(&ctx.log_dir("smtp-sink"))?;
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
            Contender::new("smtp-sink", per_run(sink.addr)),
        ];
        if let Some(base) = &base {
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

/// The name of the extra contender `--baseline DIR` adds: the same program
/// from another build, always the last contender.
const BASELINE: &str = "baseline build";

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
        fs::create_dir_all(aio_dir.join(sub))?;
    }
    let aio = Aiosmtpd::mailbox(&aio_dir, &ctx.log_dir("aiosmtpd-mailbox"))?;
    let base_dir = ctx.work.join("maildir-baseline");
    let base = match &ctx.baseline {
        Some(bins) => Some(OurReceiver::start(
            bins,
            &Store::Maildir(base_dir.clone()),
            None,
            &ctx.log_dir("baseline-receive-maildir"),
        )?),
        None => None,
    };
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
                bail!("{stored} messages in {} instead of {n}", dir.display());
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
    if let Some(base) = &base {
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
            "Postfix: private instance (xtask/src/peers/postfix.rs), virtual_mailbox_maps=static:inbox/".into(),
            load.command_line(),
        ],
    };
    comparison.add_baseline(&stats);
    results.comparisons.push(comparison);
    Ok(())
}

/// Section 3: Sender as load generator: smtp-send --count against smtp-source,
/// both to smtp-sink.
pub fn sender(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let (source, bulk) = ctx.plan.sender();
    let sink = SmtpSink::start(&ctx.log_dir("smtp-sink-sender"))?;
    let log = ctx.log_dir("sender-loads");
    let count = bulk.count as f64;
    let send = |bins| {
        let (bulk, log) = (bulk.clone(), log.clone());
        move || {
            let (finished, _) = bulk.smtp_send(bins, sink.addr, None, &log, ctx.plan.timeout)?;
            Ok(count / finished.elapsed.as_secs_f64())
        }
    };
    let mut contenders = vec![
        Contender::new("smtp-send --count", send(&ctx.bins)),
        Contender::new("smtp-source -d", || {
            Ok(f64::from(source.messages)
                / source.run(sink.addr, &log, ctx.plan.timeout)?.as_secs_f64())
        }),
    ];
    if let Some(bins) = &ctx.baseline {
        contenders.push(Contender::new(BASELINE, send(bins)));
    }
    let stats = alternate("sender", ctx.rounds, &mut contenders)?;
    drop(contenders);
    let mut comparison = Comparison::two(
        "sender",
        "3. Sender as load generator",
        format!(
            "{} messages of {} octets over {} sessions, to smtp-sink (wall time of each process)",
            bulk.count, bulk.size, bulk.sessions
        ),
        "msgs/s",
        ("smtp-send --count", &stats[0]),
        ("Postfix smtp-source -d", &stats[1]),
        vec![
            bulk.send_command_line(false),
            source.command_line(),
            "smtp-sink -u nobody 127.0.0.1:PORT 1000".into(),
        ],
    );
    comparison.add_baseline(&stats);
    results.comparisons.push(comparison);
    Ok(())
}

/// Section 4: TLS: smtp-send to smtp-receive over implicit TLS beside Python's
/// smtplib to aiosmtpd over implicit TLS: one big message (MB/s, and our
/// receiver's peak memory), then 1 KiB messages at 1 and 20 sessions.
pub fn tls(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let pki = &ctx.pki;
    let ours = OurReceiver::start(
        &ctx.bins,
        &Store::Sink,
        Some((&pki.server_cert, &pki.server_key)),
        &ctx.log_dir("receive-tls"),
    )?;
    let aio = Aiosmtpd::tls_sink(
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
    if let Some((bins, receiver)) = &base {
        contenders.push(Contender::new(BASELINE, || {
            Ok(big
                .smtp_send(bins, receiver.addr, Some(ca), &log, ctx.plan.timeout)?
                .1
                .mb_per_s)
        }));
    }
    let stats = alternate("TLS, one big message", ctx.rounds, &mut contenders)?;
    drop(contenders);
    let mut comparison = Comparison::two(
        "tls-big",
        section,
        format!("one message of {} MiB, connect to QUIT", big.size >> 20),
        "MB/s",
        ("smtp-send → smtp-receive", &stats[0]),
        ("smtplib → aiosmtpd", &stats[1]),
        commands(&big),
    );
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

/// Section 5: Memory: resident memory per idle session (plain, TLS), and the peak
/// while one big message goes into the Maildir (plain text).
pub fn memory(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let limit = raise_nofile_limit()?;
    // Each side holds one descriptor per session, plus a margin.
    let sessions = ctx
        .plan
        .idle_sessions
        .min(limit.saturating_sub(200) as usize);
    if sessions < ctx.plan.idle_sessions {
        println!("  RLIMIT_NOFILE is {limit}: measuring {sessions} idle sessions");
    }
    let pki = &ctx.pki;
    let builds =
        std::iter::once((&ctx.bins, false)).chain(ctx.baseline.as_ref().map(|b| (b, true)));
    for ((bins, baseline), tls) in builds.flat_map(|b| [(b, false), (b, true)]) {
        let cert_key = tls.then_some((pki.server_cert.as_path(), pki.server_key.as_path()));
        let label = match (tls, baseline) {
            (false, false) => "plain",
            (true, false) => "implicit TLS",
            (false, true) => "plain (baseline build)",
            (true, true) => "implicit TLS (baseline build)",
        };
        let receiver =
            OurReceiver::start(bins, &Store::Sink, cert_key, &ctx.log_dir("receive-idle"))?;
        let started = Instant::now();
        let idle = idle_sessions(
            receiver.pid(),
            receiver.addr,
            tls.then_some(pki.ca_cert.as_path()),
            sessions,
        )?;
        println!(
            "  memory | {sessions} idle {label} sessions: VmRSS {} -> {} KiB: {:.1} KiB/session ({:.1}s)",
            idle.before_kib,
            idle.after_kib,
            idle.per_session_kib(),
            started.elapsed().as_secs_f64()
        );
        results.figures.push(Figure {
            key: match (tls, baseline) {
                (false, false) => "idle-plain",
                (true, false) => "idle-tls",
                (false, true) => "idle-plain-baseline",
                (true, true) => "idle-tls-baseline",
            },
            what: format!(
                "smtp-receive resident memory per idle {label} session ({sessions} sessions after EHLO; VmRSS {} → {} KiB)",
                idle.before_kib, idle.after_kib
            ),
            unit: "KiB",
            stats: Stats {
                samples: vec![idle.per_session_kib()],
            },
        });
    }

    // Peak while storing one big message (fsync on), plain text.
    let dir = ctx.work.join("maildir-peak");
    let receiver = OurReceiver::start(
        &ctx.bins,
        &Store::Maildir(dir.clone()),
        None,
        &ctx.log_dir("receive-peak"),
    )?;
    let big = Bulk {
        count: 1,
        sessions: 1,
        size: ctx.plan.tls_big,
    };
    let log = ctx.log_dir("peak-loads");
    let mut peak = Stats::default();
    for round in 1..=ctx.rounds {
        clear_maildir(&dir)?;
        reset_peak(receiver.pid())?;
        big.smtp_send(&ctx.bins, receiver.addr, None, &log, ctx.plan.timeout)
            .with_context(|| format!("peak memory, round {round}"))?;
        peak.samples
            .push(status_kib(receiver.pid(), "VmHWM")? as f64 / 1024.0);
        if count_maildir(&dir) != 1 {
            bail!("the big message is not in {}", dir.display());
        }
    }
    println!(
        "  memory | peak RSS storing {} MiB: {:.1} MiB (max)",
        big.size >> 20,
        peak.max()
    );
    results.figures.push(Figure {
        key: "peak-maildir",
        what: format!(
            "smtp-receive peak RSS (VmHWM) storing one {} MiB message in the Maildir (plain)",
            big.size >> 20
        ),
        unit: "MiB",
        stats: peak,
    });
    Ok(())
}

/// The chart: msgs/s against the number of sessions, for both receivers
/// (loaded by smtp-source -d) and both senders (into smtp-sink).
pub fn sweep(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let ours = OurReceiver::start(&ctx.bins, &Store::Sink, None, &ctx.log_dir("receive-sweep"))?;
    let sink = SmtpSink::start(&ctx.log_dir("smtp-sink-sweep"))?;
    let log = ctx.log_dir("sweep-loads");
    for &sessions in &ctx.plan.sweep_sessions {
        let source = Source {
            reuse: true,
            sessions,
            messages: ctx.plan.sweep_messages,
            size: 10_000,
        };
        let bulk = Bulk {
            count: u64::from(source.messages),
            sessions: u64::from(sessions),
            size: SOURCE_MESSAGE_OCTETS,
        };
        let m = f64::from(source.messages);
        let timeout = ctx.plan.timeout;
        let receive = |addr| {
            let log = log.clone();
            move || Ok(m / source.run(addr, &log, timeout)?.as_secs_f64())
        };
        let stats = alternate(
            &format!("sweep, {sessions} sessions"),
            ctx.rounds,
            &mut [
                Contender::new("smtp-source → smtp-receive", receive(ours.addr)),
                Contender::new("smtp-source → smtp-sink", receive(sink.addr)),
                Contender::new("smtp-send → smtp-sink", || {
                    Ok(m / bulk
                        .smtp_send(&ctx.bins, sink.addr, None, &log, timeout)?
                        .0
                        .elapsed
                        .as_secs_f64())
                }),
            ],
        )?;
        results.sweep.push(SweepPoint {
            sessions,
            receive: stats[0].clone(),
            sink: stats[1].clone(),
            send: stats[2].clone(),
        });
    }
    Ok(())
}

/// The smtp-source / smtp-send pair of section 3.
impl super::Plan {
    fn sender(&self) -> (Source, Bulk) {
        let source = self.sender_source;
        let bulk = Bulk {
            count: u64::from(source.messages),
            sessions: u64::from(source.sessions),
            size: SOURCE_MESSAGE_OCTETS,
        };
        (source, bulk)
    }
}

/// A generous deadline for one run.
pub fn timeout_for(quick: bool) -> Duration {
    Duration::from_secs(if quick { 60 } else { 300 })
}
