//! `cargo xtask interop`: runs the interop tests (`tests/tests/interop/`,
//! also part of `cargo test`) against this build and prints their table,
//! as in docs/interop.md. The cases, their peers and their checks live in
//! the tests; this command only chooses the binaries, the folder and the
//! filter, and reads the records the tests leave (`smtp_e2e::interop`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use smtp_e2e::interop::{WORK_ENV, failures, markdown, read_records, table};
use smtp_testkit::bins::{BIN_DIR_ENV, Bins, Profile, cargo_command};

/// Options of `cargo xtask interop`.
#[derive(clap::Args)]
pub struct Args {
    /// Only the cases whose name contains one of these (repeatable).
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
    /// Build and test the release binaries instead of the debug ones.
    #[arg(long)]
    release: bool,
    /// Use the smtp-receive / smtp-send / smtp-conform binaries in DIR instead of building them.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Also print the table as Markdown (for docs/interop.md).
    #[arg(long)]
    markdown: bool,
    /// Keep the work folder (certificates, logs, transcripts, mail) even when all cases pass.
    #[arg(long)]
    keep: bool,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
}

/// The interop tests: `cargo test -p smtp-e2e-tests --test interop`.
fn test_command() -> Command {
    let mut cmd = cargo_command();
    cmd.args([
        "test",
        "--quiet",
        "-p",
        "smtp-e2e-tests",
        "--test",
        "interop",
    ]);
    cmd
}

/// libtest filters for `--only`: a case `swaks-plain` is the test `swaks_plain`.
fn filters(only: &[String]) -> Vec<String> {
    only.iter().map(|o| o.replace('-', "_")).collect()
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    if args.list {
        let status = test_command()
            .arg("--")
            .args(filters(&args.only))
            .args(["--list", "--format", "terse"])
            .status()
            .context("running cargo test --list")?;
        if !status.success() {
            bail!("cargo test --list failed ({status})");
        }
        return Ok(());
    }
    let started = Instant::now();
    let bins = match &args.bin_dir {
        Some(dir) => Bins::in_dir(dir)?,
        None => {
            let profile = if args.release {
                Profile::Release
            } else {
                Profile::Debug
            };
            println!("building smtp-receive, smtp-send and smtp-conform ({profile})");
            Bins::build(profile)?
        }
    };
    let bin_dir = bins
        .receive
        .parent()
        .context("smtp-receive has no folder")?
        .to_path_buf();
    let work = tempfile::Builder::new()
        .prefix("smtp-interop-")
        .tempdir()
        .context("creating the work folder")?;
    let status = test_command()
        .env(BIN_DIR_ENV, &bin_dir)
        .env(WORK_ENV, work.path())
        .arg("--")
        .args(filters(&args.only))
        .status()
        .context("running the interop tests")?;
    let records = read_records(work.path()).context("reading the cases' records")?;
    if records.is_empty() {
        bail!("no case ran ({status}); see --list");
    }
    println!();
    print!("{}", table(&records));
    if args.markdown {
        println!();
        print!("{}", markdown(&records));
    }
    let failed = records.iter().filter(|r| r.outcome.failed()).count();
    let passed = records.iter().filter(|r| r.outcome.passed()).count();
    let skipped = records.len() - passed - failed;
    print!("{}", failures(&records));
    if failed > 0 || !status.success() || args.keep {
        let kept = work.keep();
        println!(
            "\nlogs, transcripts and stored mail kept in {}",
            kept.display()
        );
    }
    println!(
        "\n{} cases in {:.1}s",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    // The closing line CI reads: "interop: N passed, N failed[, N skipped]".
    let skipped = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    println!("interop: {passed} passed, {failed} failed{skipped}");
    if failed > 0 || !status.success() {
        bail!("{failed} interop case(s) failed (cargo test: {status})");
    }
    Ok(())
}
