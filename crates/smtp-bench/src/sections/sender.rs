//! Section 3, the sender as a load generator, and the sessions sweep
//! behind the chart (1 to 1,000 concurrent sessions).

use smtp_peers::{SinkMode, SmtpSink};

use super::{BASELINE, SOURCE_MESSAGE_OCTETS};
use crate::error::Result;
use crate::loads::{Bulk, Source};
use crate::memory::raise_nofile_limit;
use crate::procs::{OurReceiver, Store};
use crate::stats::{Contender, alternate};
use crate::{Comparison, Ctx, Results, SweepPoint};

/// Section 3: Sender as load generator: smtp-send --count against smtp-source,
/// both to smtp-sink.
pub fn sender(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let (source, bulk) = ctx.plan.sender();
    let sink = SmtpSink::start(SinkMode::Discard)?;
    let sink_addr = sink.addr();
    let log = ctx.log_dir("sender-loads");
    let count = bulk.count as f64;
    let send = |bins| {
        let (bulk, log) = (bulk.clone(), log.clone());
        move || {
            let (finished, _) = bulk.smtp_send(bins, sink_addr, None, &log, ctx.plan.timeout)?;
            Ok(count / finished.elapsed.as_secs_f64())
        }
    };
    let mut contenders = vec![
        Contender::new("smtp-send --count", send(&ctx.bins)),
        Contender::new("smtp-source -d", || {
            Ok(f64::from(source.messages)
                / source.run(sink_addr, &log, ctx.plan.timeout)?.as_secs_f64())
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

/// Messages each session sends at least at a sweep point: at 1,000
/// sessions the plan's 6,000 messages would be 6 per connection, a run of
/// a fraction of a second that measures little but connection set-up.
pub const SWEEP_MESSAGES_PER_SESSION: u32 = 10;

/// Descriptors a process needs beyond one per session (standard streams,
/// listeners, the runtime's own).
const FD_MARGIN: u64 = 100;

/// The chart: msgs/s against the number of sessions (1 to 1,000 in the
/// full plan, issue 20), for both receivers (loaded by smtp-source -d) and
/// both senders (into smtp-sink).
///
/// 1,000 sessions hold 1,000 sockets in smtp-source, smtp-sink and
/// smtp-send each: the open-files limit is raised to the hard limit first
/// (the children inherit it; smtp-receive raises its own). smtp-sink
/// listens with a backlog of 1,000 (smtp-peers' discard mode). smtp-receive
/// runs with its defaults: loopback clients are exempt from the per-client
/// session limit, and the total is fitted to the open-files limit, so no
/// flag is needed; a refused session would make smtp-source exit non-zero
/// and fail the point rather than lower its figure.
pub fn sweep(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let limit = raise_nofile_limit()?;
    let (points, too_many): (Vec<u32>, Vec<u32>) = ctx
        .plan
        .sweep_sessions
        .iter()
        .copied()
        .partition(|&s| u64::from(s) + FD_MARGIN <= limit);
    if !too_many.is_empty() {
        // The curve is then incomplete, and the goal says so.
        println!("  RLIMIT_NOFILE is {limit}: no sweep point at {too_many:?} sessions");
    }
    let ours = OurReceiver::start(&ctx.bins, &Store::Sink, None, &ctx.log_dir("receive-sweep"))?;
    let sink = SmtpSink::start(SinkMode::Discard)?;
    let sink_addr = sink.addr();
    let log = ctx.log_dir("sweep-loads");
    // Recorded as they start, so a point that fails is in the report too.
    results.sweep_commands = vec![
        ours.command.clone(),
        "smtp-sink -u nobody 127.0.0.1:PORT 1000".to_string(),
    ];
    println!("  sweep | {}", ours.command);
    for &sessions in &points {
        let source = Source {
            reuse: true,
            sessions,
            messages: ctx
                .plan
                .sweep_messages
                .max(sessions.saturating_mul(SWEEP_MESSAGES_PER_SESSION)),
            size: 10_000,
        };
        let bulk = Bulk {
            count: u64::from(source.messages),
            sessions: u64::from(sessions),
            size: SOURCE_MESSAGE_OCTETS,
        };
        for command in [source.command_line(), bulk.send_command_line(false)] {
            println!("  sweep | {command}");
            results.sweep_commands.push(command);
        }
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
                Contender::new("smtp-source → smtp-sink", receive(sink_addr)),
                Contender::new("smtp-send → smtp-sink", || {
                    Ok(m / bulk
                        .smtp_send(&ctx.bins, sink_addr, None, &log, timeout)?
                        .0
                        .elapsed
                        .as_secs_f64())
                }),
            ],
        )?;
        results.sweep.push(SweepPoint {
            sessions,
            messages: source.messages,
            receive: stats[0].clone(),
            sink: stats[1].clone(),
            send: stats[2].clone(),
        });
    }
    Ok(())
}
