//! `cargo xtask bench`: the flags of the benchmark harness (smtp-bench),
//! which does the work.

use std::path::PathBuf;

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Small counts and few sessions: a check that the bench works (CI);
    /// nothing under docs/ is written.
    #[arg(long)]
    quick: bool,
    /// Rounds per comparison (each contender runs once per round)
    /// [default: 5, or 2 with --quick]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// Only these sections: sink, maildir, sender, tls, memory, sweep, inbox, outbound, codec (repeatable).
    #[arg(long, value_name = "SECTION")]
    only: Vec<String>,
    /// Do not write docs/benchmarks.md and docs/bench-sessions.svg.
    #[arg(long)]
    no_write: bool,
    /// Keep the work folder (logs, certificates, Maildirs).
    #[arg(long)]
    keep: bool,
    /// Use the smtp-receive / smtp-send in DIR instead of building them;
    /// implies --no-write.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Also run the smtp-receive / smtp-send in DIR (e.g. a build of an
    /// older commit) as one more contender in every comparison: before /
    /// after figures measured alternately; implies --no-write.
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
}

/// Runs the bench with these flags.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut options = smtp_bench::Options::default();
    options.quick = args.quick;
    options.rounds = args.rounds;
    options.only = args.only;
    options.no_write = args.no_write;
    options.keep = args.keep;
    options.bin_dir = args.bin_dir;
    options.baseline = args.baseline;
    Ok(smtp_bench::run(&options)?)
}
