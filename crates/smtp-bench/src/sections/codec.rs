//! Issue 20's codec goals: smtp-wire beside `smtp-proto` (Stalwart's SMTP
//! codec) on the same bytes, in one criterion binary
//! (`crates/smtp-wire/benches/vs_smtp_proto.rs`, whose doc comment says
//! what each side does per iteration).
//!
//! The binary runs once per round (the run's rounds, as every section); in
//! each run every operation is measured for smtp-wire and then for
//! smtp-proto, so the two alternate as in the other sections. Criterion's `bencher` output gives the median time per
//! iteration; it becomes operations per second, so that a higher figure is
//! better here too and the ratio reads as everywhere else.

use std::time::Duration;

use smtp_peers::run_with_timeout;
use smtp_testkit::bins::cargo_command;

use crate::error::{BenchError, Result};
use crate::stats::{Stats, human};
use crate::{Comparison, Ctx, Results};

/// The report's heading for these comparisons (the goals find them by it).
pub const SECTION: &str = "9. Codec: smtp-wire beside smtp-proto 0.2.5 (criterion)";
/// The name criterion gives our side of every group.
const OURS: &str = "smtp-wire";
/// ... and the other codec's.
const THEIRS: &str = "smtp-proto";

/// The most building the bench may take (a cold build compiles criterion
/// and smtp-proto in release mode; minutes on 2 cores).
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The most one run of it may take (about a minute at the full plan's
/// times).
const RUN_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The operations, by criterion group (after `vs/`), as the report names
/// them. A group not listed is reported under its own name.
const CASES: [(&str, &str); 10] = [
    ("command/rcpt_to", "RCPT TO:<user@example.com>"),
    ("command/rcpt_to_dsn", "RCPT with NOTIFY and ORCPT"),
    (
        "command/mail_from_size_body",
        "MAIL FROM with SIZE and BODY",
    ),
    (
        "command/mail_from_five_params",
        "MAIL FROM with five parameters",
    ),
    ("command/ehlo", "EHLO client.example.org"),
    ("reply/single_line", "reply `250 2.1.5 Ok`"),
    ("reply/ehlo_multiline", "10-line EHLO reply"),
    (
        "reply/ehlo_capabilities",
        "10-line EHLO reply to capabilities",
    ),
    ("data/10MiB_whole", "DATA, 10 MiB dot-stuffed, whole"),
    (
        "data/10MiB_64KiB_reads",
        "DATA, 10 MiB dot-stuffed, in 64 KiB reads",
    ),
];

/// How long criterion warms up and measures each function in one run.
#[derive(Debug, Clone, Copy)]
pub struct CodecPlan {
    /// `--warm-up-time`, seconds.
    pub warm_up: &'static str,
    /// `--measurement-time`, seconds.
    pub measurement: &'static str,
}

/// The codec section: builds the criterion bench, runs it once per round,
/// and adds one comparison per operation.
pub fn codec(ctx: &Ctx, results: &mut Results) -> Result<()> {
    let plan = ctx.plan.codec;
    let log = ctx.log_dir("codec");
    let bench = ["bench", "-p", "smtp-wire", "--bench", "vs_smtp_proto"];
    let criterion_args = [
        "--output-format",
        "bencher",
        "--warm-up-time",
        plan.warm_up,
        "--measurement-time",
        plan.measurement,
    ];
    let shown = format!("cargo {} -- {}", bench.join(" "), criterion_args.join(" "));
    println!("  building the criterion bench (release)");
    run_with_timeout(
        "codec-build",
        cargo_command().args(bench).arg("--no-run"),
        None,
        &log,
        BUILD_TIMEOUT,
    )?
    .success("building the codec bench")?;
    let mut rounds: Vec<Vec<Timing>> = Vec::new();
    for round in 1..=ctx.rounds {
        let output = run_with_timeout(
            &format!("codec-round-{round}"),
            cargo_command().args(bench).arg("--").args(criterion_args),
            None,
            &log,
            RUN_TIMEOUT,
        )?
        .success(&format!("the codec bench, round {round}"))?;
        let timings = parse_bencher(&output.stdout);
        if timings.is_empty() {
            return Err(BenchError::Measurement(format!(
                "round {round} of `{shown}` printed no `bench:` line"
            )));
        }
        rounds.push(timings);
    }
    for comparison in comparisons(&rounds, &shown)? {
        println!(
            "  {}: {OURS} {} ops/s, {THEIRS} {} ops/s",
            comparison.case,
            human(comparison.ours.1.median()),
            comparison
                .peers
                .first()
                .map_or_else(|| "n/a".into(), |(_, s)| human(s.median()))
        );
        results.comparisons.push(comparison);
    }
    Ok(())
}

/// One function's median time per iteration, from one run.
#[derive(Debug, Clone, PartialEq)]
struct Timing {
    /// The criterion group without its `vs/` prefix: `command/rcpt_to`.
    operation: String,
    /// `smtp-wire` or `smtp-proto`.
    codec: String,
    /// Nanoseconds per iteration (criterion's median).
    nanos: f64,
}

/// The `test vs/GROUP/FUNCTION ... bench: N ns/iter (+/- D)` lines of
/// criterion's `bencher` output (N has thousands separators). Other lines
/// (build output, warnings) are skipped.
fn parse_bencher(output: &str) -> Vec<Timing> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (id, rest) = rest.split_once(" ... bench:")?;
            let (number, rest) = rest.trim_start().split_once(' ')?;
            if !rest.starts_with("ns/iter") {
                return None;
            }
            let nanos: f64 = number.replace(',', "").parse().ok()?;
            let id = id.strip_prefix("vs/")?;
            let (operation, codec) = id.rsplit_once('/')?;
            Some(Timing {
                operation: operation.to_string(),
                codec: codec.to_string(),
                nanos,
            })
        })
        .collect()
}

/// One comparison per operation that every round measured for both
/// codecs, in the bench's order; operations per second. An operation that
/// a round lacks is an error: a median over fewer rounds would hide it.
fn comparisons(rounds: &[Vec<Timing>], command: &str) -> Result<Vec<Comparison>> {
    let Some(first) = rounds.first() else {
        return Ok(Vec::new());
    };
    let mut operations: Vec<&str> = Vec::new();
    for timing in first {
        if !operations.contains(&timing.operation.as_str()) {
            operations.push(&timing.operation);
        }
    }
    let per_second = |operation: &str, codec: &str| -> Result<Stats> {
        let mut stats = Stats::default();
        for (n, round) in rounds.iter().enumerate() {
            let timing = round
                .iter()
                .find(|t| t.operation == operation && t.codec == codec && t.nanos > 0.0)
                .ok_or_else(|| {
                    BenchError::Measurement(format!(
                        "codec bench, round {}: no time for {codec} on {operation}",
                        n + 1
                    ))
                })?;
            stats.samples.push(1e9 / timing.nanos);
        }
        Ok(stats)
    };
    operations
        .into_iter()
        .map(|operation| {
            let ours = per_second(operation, OURS)?;
            let theirs = per_second(operation, THEIRS)?;
            let case = CASES
                .iter()
                .find(|(group, _)| *group == operation)
                .map_or(operation, |(_, case)| case);
            Ok(Comparison::two(
                &key(operation),
                SECTION,
                case.to_string(),
                "ops/s",
                (OURS, &ours),
                (THEIRS, &theirs),
                vec![command.to_string()],
            ))
        })
        .collect()
}

/// The comparison's key: `codec-command/rcpt_to`.
fn key(operation: &str) -> String {
    format!("codec-{operation}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
   Compiling smtp-wire v0.1.0
test vs/command/rcpt_to/smtp-wire ... bench:         138 ns/iter (+/- 5)
test vs/command/rcpt_to/smtp-proto ... bench:         118 ns/iter (+/- 4)
Warning: Unable to complete 20 samples in 0.1s.
test vs/data/10MiB_whole/smtp-wire ... bench:   1,967,400 ns/iter (+/- 80,211)
test vs/data/10MiB_whole/smtp-proto ... bench:   1,323,700 ns/iter (+/- 9,100)
test other ... bench: 3 ms/iter (+/- 1)
";

    #[test]
    fn bencher_lines_are_read_and_the_rest_skipped() {
        let timings = parse_bencher(OUTPUT);
        assert_eq!(timings.len(), 4);
        assert_eq!(
            timings[2],
            Timing {
                operation: "data/10MiB_whole".into(),
                codec: "smtp-wire".into(),
                nanos: 1_967_400.0,
            }
        );
    }

    #[test]
    fn rounds_become_rates_per_operation() {
        let round = parse_bencher(OUTPUT);
        let mut faster = round.clone();
        for t in &mut faster {
            t.nanos /= 2.0;
        }
        let list = comparisons(&[round.clone(), faster, round], "cmd").unwrap();
        assert_eq!(list.len(), 2);
        let rcpt = &list[0];
        assert_eq!(rcpt.key, key("command/rcpt_to"));
        assert_eq!(rcpt.case, "RCPT TO:<user@example.com>");
        // Medians of 1e9/138, 2e9/138, 1e9/138.
        assert!((rcpt.ours.1.median() - 1e9 / 138.0).abs() < 1e-6);
        let ratio = crate::goals::ratio(&rcpt.ours.1, &rcpt.peers[0].1);
        assert!((ratio - 118.0 / 138.0).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn a_round_without_an_operation_is_an_error() {
        let round = parse_bencher(OUTPUT);
        let short: Vec<Timing> = round[..2].to_vec();
        let error = comparisons(&[round, short], "cmd").unwrap_err();
        assert!(error.to_string().contains("data/10MiB_whole"), "{error}");
    }
}
