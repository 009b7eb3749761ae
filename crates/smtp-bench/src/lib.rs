//! # smtp-bench: the benchmark harness behind `cargo xtask bench`
//!
//! Not published. This workspace's sender and receiver measured side by
//! side with the programs people use today (Postfix's smtpd, smtp-sink and
//! smtp-source; aiosmtpd; Python's smtplib), in the same run, on the same
//! machine, on loopback (issue 8), and against the machine's own limits
//! (one core's AES-GCM rate, the disk's write rate with fsync), and its
//! codec beside `smtp-proto` (criterion). After every run it judges the
//! goals of issues 15, 17 and 20 from what it measured.
//!
//! Every comparison runs its contenders alternately (A B A B ..., at least
//! three rounds) and reports medians with the min–max spread; the release
//! binaries are built once at the start; every server and client is a
//! guarded child process stopped by PID (also on error, panic or Ctrl-C).
//! The full run rewrites the generated part of docs/benchmarks.md and the
//! chart docs/bench-sessions.svg; `--quick` (small counts, seconds) checks
//! that everything still works and writes nothing under docs/.
//!
//! Progress goes to stdout as it happens (a full run takes minutes).
//!
//! ```no_run
//! let mut options = smtp_bench::Options::default();
//! options.quick = true; // seconds, writes nothing under docs/
//! smtp_bench::run(&options)?;
//! # Ok::<(), smtp_bench::BenchError>(())
//! ```
//!
//! ## Invariants
//! - Every contender of a comparison runs in the same rounds, alternately.
//! - A run that lost a message fails; it never becomes a figure.
//! - Nothing under docs/ changes unless every section of a full run ran
//!   with the binaries built from this tree.

mod chart;
pub mod cluster;
mod error;
mod goals;
mod loads;
mod memory;
mod procs;
mod reference;
mod report;
mod sections;
mod stats;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_testkit::bins::{Bins, Profile};
use smtp_testkit::certs::{PkiFiles, TestPki};

use error::Context as _;
pub use error::{BenchError, Result};
use loads::Source;
use stats::Stats;

/// The sections, in run order (`--only` names).
pub const SECTION_NAMES: [&str; 9] = [
    "sink", "maildir", "sender", "tls", "memory", "sweep", "inbox", "outbound", "codec",
];

/// What to run and where the results go (the flags of `cargo xtask bench`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Small counts and few sessions: a check that the bench works (CI);
    /// nothing under docs/ is written.
    pub quick: bool,
    /// Rounds per comparison (each contender runs once per round); `None`:
    /// 5, or 2 when quick.
    pub rounds: Option<u32>,
    /// Only these sections ([`SECTION_NAMES`]); empty: all.
    pub only: Vec<String>,
    /// Do not write docs/benchmarks.md and docs/bench-sessions.svg.
    pub no_write: bool,
    /// Keep the work folder (logs, certificates, Maildirs).
    pub keep: bool,
    /// Use the smtp-receive / smtp-send in this folder instead of building
    /// them; implies `no_write`.
    pub bin_dir: Option<PathBuf>,
    /// Also run the smtp-receive / smtp-send in this folder (e.g. a build
    /// of an older commit) as one more contender in every comparison:
    /// before / after figures measured alternately; implies `no_write`.
    pub baseline: Option<PathBuf>,
}

/// The full plan's sweep: 1 to 1,000 concurrent sessions (issue 20 asks
/// for the curve to 1,000 next to Postfix; the goal checks every point).
pub(crate) const FULL_SWEEP_SESSIONS: [u32; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000];

/// Counts and sizes of one run.
#[derive(Debug, Clone)]
pub struct Plan {
    sink_reuse: Source,
    sink_new: Source,
    maildir: Source,
    sender_source: Source,
    tls_big: u64,
    tls_small_count: u64,
    idle_sessions: usize,
    sweep_sessions: Vec<u32>,
    /// Messages per sweep point, raised to
    /// [`SWEEP_MESSAGES_PER_SESSION`](sections::SWEEP_MESSAGES_PER_SESSION)
    /// per session where that is more.
    sweep_messages: u32,
    /// Messages in the outbound section's spool.
    outbound_messages: u32,
    /// The codec section's criterion times per function.
    codec: sections::CodecPlan,
    timeout: Duration,
}

impl Plan {
    /// The issue's parameters.
    fn full() -> Plan {
        let source = |reuse, messages| Source {
            reuse,
            sessions: 20,
            messages,
            size: 10_000,
        };
        Plan {
            sink_reuse: source(true, 20_000),
            sink_new: source(false, 5_000),
            maildir: source(false, 5_000),
            sender_source: source(true, 20_000),
            tls_big: 100 << 20,
            tls_small_count: 3_000,
            idle_sessions: 10_000,
            sweep_sessions: FULL_SWEEP_SESSIONS.to_vec(),
            sweep_messages: 6_000,
            outbound_messages: 20_000,
            codec: sections::CodecPlan {
                warm_up: "0.5",
                measurement: "1.5",
            },
            timeout: sections::timeout_for(false),
        }
    }

    /// Seconds, not minutes: every code path, small counts.
    fn quick() -> Plan {
        let source = |reuse, messages| Source {
            reuse,
            sessions: 5,
            messages,
            size: 10_000,
        };
        Plan {
            sink_reuse: source(true, 500),
            sink_new: source(false, 200),
            maildir: source(false, 200),
            sender_source: source(true, 500),
            tls_big: 4 << 20,
            tls_small_count: 100,
            idle_sessions: 200,
            sweep_sessions: vec![1, 5],
            sweep_messages: 200,
            outbound_messages: 400,
            codec: sections::CodecPlan {
                warm_up: "0.05",
                measurement: "0.1",
            },
            timeout: sections::timeout_for(true),
        }
    }
}

/// What every section can use.
pub struct Ctx {
    bins: Bins,
    /// `--baseline DIR`: another build run beside `bins`.
    baseline: Option<Bins>,
    pki: PkiFiles,
    /// A TLS client configuration that trusts the test CA.
    tls_client: Arc<rustls::ClientConfig>,
    work: PathBuf,
    plan: Plan,
    rounds: usize,
    logs: Cell<u32>,
}

impl Ctx {
    /// With `--baseline DIR`: the older build's receiver for `store` (TLS
    /// with `tls`), started with its limits lifted
    /// ([`OurReceiver::start_baseline`](procs::OurReceiver::start_baseline)),
    /// with the binaries it came from; `None` without a baseline.
    fn baseline_receiver(
        &self,
        store: &procs::Store,
        tls: Option<(&Path, &Path)>,
        log_name: &str,
    ) -> Result<Option<(&Bins, procs::OurReceiver)>> {
        self.baseline
            .as_ref()
            .map(|bins| {
                let log = self.log_dir(log_name);
                Ok((
                    bins,
                    procs::OurReceiver::start_baseline(bins, store, tls, &log)?,
                ))
            })
            .transpose()
    }

    /// A fresh log folder for one server or load (numbered, in run order).
    fn log_dir(&self, name: &str) -> PathBuf {
        let n = self.logs.get() + 1;
        self.logs.set(n);
        self.work.join("logs").join(format!("{n:02}-{name}"))
    }
}

/// One comparison: our program against one or more peers.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Stable name, for the goals.
    key: String,
    section: &'static str,
    case: String,
    unit: &'static str,
    ours: (String, Stats),
    peers: Vec<(String, Stats)>,
    commands: Vec<String>,
}

impl Comparison {
    /// With `--baseline`, the baseline build is the last contender: it
    /// becomes one more peer (the ratio then says what changed).
    fn add_baseline(&mut self, stats: &[Stats]) {
        let peers_and_ours = self.peers.len() + 1;
        if let Some(base) = stats.get(peers_and_ours) {
            self.peers
                .push((format!("{} (baseline build)", self.ours.0), base.clone()));
        }
    }

    fn two(
        key: &str,
        section: &'static str,
        case: String,
        unit: &'static str,
        ours: (&str, &Stats),
        peer: (&str, &Stats),
        commands: Vec<String>,
    ) -> Comparison {
        Comparison {
            key: key.into(),
            section,
            case,
            unit,
            ours: (ours.0.into(), ours.1.clone()),
            peers: vec![(peer.0.into(), peer.1.clone())],
            commands,
        }
    }
}

/// A figure of ours alone (memory).
#[derive(Debug, Clone)]
pub struct Figure {
    /// Stable name, for the goals.
    key: &'static str,
    what: String,
    unit: &'static str,
    stats: Stats,
}

/// One point of the sessions sweep (msgs/s).
#[derive(Debug, Clone)]
pub struct SweepPoint {
    sessions: u32,
    /// Messages each contender sent at this point.
    messages: u32,
    /// smtp-source -d → smtp-receive --sink.
    receive: Stats,
    /// smtp-source -d → smtp-sink (also the sender reference).
    sink: Stats,
    /// smtp-send --count → smtp-sink.
    send: Stats,
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    comparisons: Vec<Comparison>,
    figures: Vec<Figure>,
    sweep: Vec<SweepPoint>,
    /// The sweep's servers and loads, for the report's exact commands.
    sweep_commands: Vec<String>,
    failures: Vec<String>,
}

type Section = fn(&Ctx, &mut Results) -> Result<()>;

const SECTIONS: [(&str, Section); SECTION_NAMES.len()] = [
    ("sink", sections::receiver_sink),
    ("maildir", sections::receiver_maildir),
    ("sender", sections::sender),
    ("tls", sections::tls),
    ("memory", sections::memory),
    ("sweep", sections::sweep),
    ("inbox", sections::inbox),
    ("outbound", sections::outbound),
    ("codec", sections::codec),
];

/// Runs the bench: builds the release binaries (unless `bin_dir`), runs
/// the sections, prints the report and the goals, and writes them into
/// docs/ after a full run. A failed section does not stop the others; the
/// result is then [`BenchError::Sections`].
pub fn run(args: &Options) -> Result<()> {
    for name in &args.only {
        if !SECTION_NAMES.contains(&name.as_str()) {
            return Err(BenchError::Usage(format!(
                "unknown section {name:?}; sections: {}",
                SECTION_NAMES.join(", ")
            )));
        }
    }
    smtp_peers::stop_peers_on_signal();
    let started = Instant::now();
    let load_before = report::load_average();
    let bins = match &args.bin_dir {
        Some(dir) => Bins::in_dir(dir)?,
        None => {
            println!("building smtp-receive and smtp-send (release)");
            Bins::build(Profile::Release)?
        }
    };
    let work = tempfile::Builder::new()
        .prefix("smtp-bench-")
        .tempdir()
        .context("creating the work folder")?;
    // The peers' folders (logs, configuration) go beside ours.
    smtp_peers::set_temp_parent(work.path(), args.keep)?;
    let test_pki = TestPki::generate()?;
    let pki = test_pki.write(&work.path().join("pki"))?;
    let plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let baseline = args.baseline.as_deref().map(Bins::in_dir).transpose()?;
    let ctx = Ctx {
        bins,
        baseline,
        pki,
        tls_client: test_pki.client_config(),
        work: work.path().to_path_buf(),
        plan,
        rounds: args.rounds.unwrap_or(if args.quick { 2 } else { 5 }) as usize,
        logs: Cell::new(0),
    };
    let mut results = Results::default();
    for (name, section) in SECTIONS {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        println!("== {name}");
        let begun = Instant::now();
        if let Err(e) = section(&ctx, &mut results) {
            println!("  {name} FAILED: {e}");
            results.failures.push(format!("{name}: {e}"));
        }
        println!("   ({name}: {:.1}s)", begun.elapsed().as_secs_f64());
    }
    let run = report::RunInfo {
        quick: args.quick,
        rounds: ctx.rounds,
        elapsed: started.elapsed(),
        load_before,
        load_after: report::load_average(),
    };
    let markdown = report::markdown(&results, &run);
    let everything = args.only.is_empty();
    let other_build = args.bin_dir.is_some() || args.baseline.is_some();
    if args.quick || args.no_write || other_build || !everything {
        println!("\n{markdown}");
        write_chart_if_any(&results, &ctx.work.join("bench-sessions.svg"))?;
    } else {
        let docs = workspace_root().join("docs");
        report::write_into(&docs.join("benchmarks.md"), &markdown)?;
        write_chart_if_any(&results, &docs.join("bench-sessions.svg"))?;
        println!("wrote docs/benchmarks.md and docs/bench-sessions.svg");
    }
    print!("{}", goals::goals_text(&results, args.quick));
    println!("total {:.0}s", started.elapsed().as_secs_f64());
    if args.keep {
        println!("work folder kept: {}", work.keep().display());
    }
    if !results.failures.is_empty() {
        return Err(BenchError::Sections(results.failures));
    }
    Ok(())
}

/// The workspace root: this crate lives two levels below it.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

fn write_chart_if_any(results: &Results, path: &Path) -> Result<()> {
    if results.sweep.is_empty() {
        return Ok(());
    }
    std::fs::write(path, chart::svg(&results.sweep))
        .context_with(|| format!("writing {}", path.display()))
}
