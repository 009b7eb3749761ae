//! Section 4: TLS, our two halves beside smtplib and aiosmtpd.

use super::BASELINE;
use crate::error::Result;
use crate::loads::Bulk;
use crate::memory::{reset_peak, status_kib};
use crate::procs::{AiosmtpdCli, OurReceiver, Store};
use crate::stats::{Contender, Stats, alternate};
use crate::{Comparison, Ctx, Figure, Results};

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
