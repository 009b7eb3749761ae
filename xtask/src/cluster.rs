//! `cargo xtask cluster`: HAProxy in front of N `smtp-receive` processes
//! delivering into Dovecot over LMTP, loaded by smtplib clients, one
//! receiver killed halfway; prints what it started, the figures and the
//! checks (smtp_bench::cluster does the work). Exit status 1 when a check
//! fails.

use anyhow::{Context as _, bail};
use smtp_bench::cluster::{ClusterOptions, lmtp_latency, run_cluster};
use smtp_peers::Peer;
use smtp_testkit::bins::{Bins, Profile};

/// Options of `cargo xtask cluster`.
#[derive(clap::Args)]
pub struct Args {
    /// Receivers behind HAProxy.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=20))]
    receivers: u16,
    /// Concurrent smtplib clients (each from its own 127.0.0.x address).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    clients: u32,
    /// Messages in all.
    #[arg(long, default_value_t = 2000)]
    messages: u32,
    /// Do not kill a receiver halfway.
    #[arg(long)]
    no_kill: bool,
    /// Keep the work folder (spools, logs).
    #[arg(long)]
    keep: bool,
    /// Also measure what LMTP delivery adds for one client: N messages in
    /// a row into a Maildir, into Dovecot through the spool, and into
    /// Dovecot while the client waits
    #[arg(long, value_name = "N")]
    latency: Option<u32>,
}

/// Runs the task.
pub fn run(args: Args) -> anyhow::Result<()> {
    for peer in [Peer::Haproxy, Peer::Dovecot] {
        if let Err(missing) = peer.usable() {
            bail!("{missing}");
        }
    }
    let bins = Bins::build(Profile::Release).context("building smtp-receive")?;
    let work = tempfile::Builder::new()
        .prefix("smtp-cluster-")
        .tempdir()
        .context("creating the work folder")?;
    let options = ClusterOptions {
        receivers: usize::from(args.receivers),
        clients: args.clients,
        messages: args.messages,
        kill: !args.no_kill && args.receivers > 1,
        work: work.path().to_path_buf(),
    };
    let result = run_cluster(&bins, &options).and_then(|report| {
        let latency = match args.latency {
            Some(n) => Some(lmtp_latency(&bins, n.max(1), work.path())?),
            None => None,
        };
        Ok((report, latency))
    });
    if args.keep {
        println!("work folder kept: {}", work.keep().display());
    }
    let (report, latency) = result?;
    println!("{report}");
    if let Some(latency) = latency {
        print!("{latency}");
    }
    if !report.passed() {
        bail!("the cluster lost, duplicated or misattributed mail (see above)");
    }
    Ok(())
}
