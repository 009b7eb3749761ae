//! Section 5: memory per idle session, and the peak while storing.

use std::time::Instant;

use crate::error::{BenchError, Context as _, Result};
use crate::loads::{Bulk, clear_maildir, count_maildir};
use crate::memory::{idle_sessions, raise_nofile_limit, reset_peak, status_kib};
use crate::procs::{LIFTED_LIMITS, OurReceiver, Store};
use crate::stats::Stats;
use crate::{Ctx, Figure, Results};

/// 1 GiB in KiB.
const GIB_KIB: f64 = 1024.0 * 1024.0;

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
        // Holding this many sessions is what is measured: the total is
        // raised past it (loopback is exempt from the per-client limit in
        // the current build; the baseline build's limits are lifted).
        let total = (sessions + 100).to_string();
        let extra: &[&str] = if baseline {
            &LIFTED_LIMITS
        } else {
            &["--max-connections", &total]
        };
        let receiver = OurReceiver::start_with(
            bins,
            &Store::Sink,
            cert_key,
            &ctx.log_dir("receive-idle"),
            extra,
        )?;
        let started = Instant::now();
        let idle = idle_sessions(
            receiver.pid(),
            receiver.addr,
            tls.then(|| ctx.tls_client.clone()),
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
        if !baseline {
            // Issue 20 asks for 10,000 idle sessions held at once: the
            // count actually held (idle_sessions fails unless every one
            // got its EHLO reply), lower when RLIMIT_NOFILE cut it.
            results.figures.push(Figure {
                key: if tls {
                    "idle-tls-held"
                } else {
                    "idle-plain-held"
                },
                what: format!(
                    "idle {label} sessions smtp-receive held at once, each after its EHLO reply"
                ),
                unit: "sessions",
                stats: Stats {
                    samples: vec![idle.sessions as f64],
                },
            });
            // What the figure means for an operator: idle sessions that fit
            // in 1 GiB of resident memory, the process's own start-up
            // memory taken out.
            let per_gib = (GIB_KIB - idle.before_kib as f64) / idle.per_session_kib().max(0.1);
            println!("  memory | idle {label} sessions within 1 GiB: {per_gib:.0}");
            results.figures.push(Figure {
                key: if tls { "idle-per-gib-tls" } else { "idle-per-gib-plain" },
                what: format!(
                    "idle {label} sessions one smtp-receive holds within 1 GiB resident (from the figure above)"
                ),
                unit: "sessions",
                stats: Stats {
                    samples: vec![per_gib.floor()],
                },
            });
        }
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
            .context_with(|| format!("peak memory, round {round}"))?;
        peak.samples
            .push(status_kib(receiver.pid(), "VmHWM")? as f64 / 1024.0);
        if count_maildir(&dir) != 1 {
            return Err(BenchError::Measurement(format!(
                "the big message is not in {}",
                dir.display()
            )));
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
