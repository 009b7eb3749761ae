//! `cargo xtask`: the project's tasks.
//!
//! ```text
//! cargo xtask certs [--out DIR]   test CA + server/client certificates (rcgen), idempotent
//! cargo xtask demo [--web]        the RFC 821 exchange and friends, sender <-> receiver over loopback TLS
//! cargo xtask interop             the interop tests (this workspace against Postfix, aiosmtpd, swaks, curl, smtplib) and their table
//! cargo xtask conformance         the smtp-conform suites against peers and against our own halves
//! cargo xtask bench [--quick]     side by side with Postfix, aiosmtpd, smtplib; writes docs/benchmarks.md
//! cargo xtask cluster             HAProxy, 3 receivers, Dovecot LMTP; 2,000 messages, one receiver killed halfway
//! cargo xtask ci                  what .ci/run runs: fmt, clippy, tests, demo
//! ```
//!
//! Orchestration only: the peers are in `smtp-peers`, the interop cases
//! are tests of `smtp-e2e-tests`, the benchmark harness is `smtp-bench`,
//! and `smtp_testkit::bins` builds this workspace's binaries for all of them.

mod bench;
mod cluster;
mod conformance;
mod demo;
mod interop;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use smtp_testkit::bins::cargo_command;
use smtp_testkit::certs::{Ensured, TestPki};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Project tasks for the SMTP workspace")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Create (or reuse, when still valid) a test CA, a server certificate for
    /// localhost/127.0.0.1/::1 and a client certificate, as PEM files.
    Certs {
        /// Where to put the files (default: .certs/ at the repository root, ignored by git).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The guided tour: the sender and the receiver talk over loopback TLS;
    /// every line is shown with the RFC section behind it.
    Demo {
        /// Then serve the web page with the demo's messages and conversations
        /// (http://127.0.0.1:8025/, another port when that one is taken) until Ctrl-C.
        #[arg(long)]
        web: bool,
    },
    /// Regenerate the transcript in docs/rfc821-walkthrough.md from the
    /// demo's first conversation (a test checks that it stays true).
    Walkthrough,
    /// Run the interop tests (this workspace's sender and receiver against
    /// independent SMTP peers on loopback) and print their result table.
    Interop(interop::Args),
    /// Run the conformance suites (smtp-conform) against independent peers and
    /// against this workspace's halves; writes the matrix.
    Conformance(conformance::Args),
    /// Benchmarks side by side with Postfix, aiosmtpd and smtplib on
    /// loopback; writes docs/benchmarks.md (`--quick`: a CI check).
    Bench(bench::Args),
    /// The reference deployment on loopback: HAProxy (PROXY v2) in front of
    /// N smtp-receive delivering into Dovecot over LMTP; smtplib clients
    /// send, one receiver is killed halfway; checks that no acknowledged
    /// message is lost and every Received: names the real client.
    Cluster(cluster::Args),
    /// Run what .ci/run runs: cargo fmt --check, clippy, the tests, the demo.
    Ci,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.task {
        Task::Certs { out } => {
            let dir = out.unwrap_or_else(|| repo_root().join(".certs"));
            let (files, what) = TestPki::ensure(&dir).context("making the test certificates")?;
            let verb = match what {
                Ensured::Reused => "reused valid certificates",
                Ensured::Generated => "generated new certificates",
            };
            println!("{verb} in {}", dir.display());
            for (what, path) in [
                ("CA certificate", &files.ca_cert),
                ("server certificate", &files.server_cert),
                ("server key", &files.server_key),
                ("client certificate", &files.client_cert),
                ("client key", &files.client_key),
            ] {
                println!("  {what:<19} {}", path.display());
            }
            Ok(())
        }
        Task::Demo { web } => demo::run(&repo_root(), web),
        Task::Walkthrough => demo::write_walkthrough(&repo_root()),
        Task::Interop(args) => interop::run(args),
        Task::Conformance(args) => conformance::run(args),
        Task::Bench(args) => bench::run(args),
        Task::Cluster(args) => cluster::run(args),
        Task::Ci => {
            run_cargo(&["fmt", "--all", "--", "--check"])?;
            run_cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])?;
            run_cargo(&["test", "--workspace"])?;
            run_cargo(&["xtask", "demo"])
        }
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn run_cargo(args: &[&str]) -> anyhow::Result<()> {
    println!("==> cargo {}", args.join(" "));
    let status = cargo_command()
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
