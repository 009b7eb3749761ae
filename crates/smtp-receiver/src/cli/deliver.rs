//! `--deliver`, `--spool`, `--deliver-sync`, `--deliver-tls`: where
//! accepted mail goes. A Maildir (`maildir:DIR`, what `--maildir DIR`
//! means), a next hop (`lmtp:HOST:PORT`, `lmtp:unix:PATH`,
//! `smtp:HOST:PORT`) through the spool and an in-process queue runner, or
//! both.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use smtp_receiver::forward::{ForwardConfig, Forwarder};
use smtp_receiver::maildir::Maildir;
use smtp_sender::outbound::{
    NextHop, QueueRunner, Reporter, RetryPolicy, Router, RunnerConfig, Spool,
};
use smtp_sender::{ClientConfig, TlsMode};

/// How often the in-process runner looks at the spool when nothing woke
/// it: deferred messages are retried on their own schedule, new ones are
/// sent at once (the receiver wakes the runner).
const POLL: Duration = Duration::from_secs(10);

/// The delivery options.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// Where accepted mail goes (repeatable: a Maildir and a next hop):
    /// maildir:DIR (what --maildir DIR means), lmtp:HOST:PORT or
    /// lmtp:unix:PATH (a mailbox server such as Dovecot), smtp:HOST:PORT
    /// (a smarthost). A next hop needs --spool
    #[arg(long, value_name = "DEST")]
    pub deliver: Vec<Destination>,
    /// The spool where messages for the next hop wait (the outbound
    /// engine's format: `smtp-send queue list --spool DIR` reads it). The
    /// 250 is sent once a message is durably in it
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Answer the client only after the next hop has answered: its
    /// refusal becomes the client's; recipients it did not take at once
    /// go through the spool
    #[arg(long, requires = "spool")]
    pub deliver_sync: bool,
    /// TLS towards the next hop [default: opportunistic for smtp: and
    /// lmtp: on TCP, none on a Unix socket]
    #[arg(long, value_name = "MODE")]
    pub deliver_tls: Option<TlsMode>,
}

/// One `--deliver` value.
#[derive(Debug, Clone)]
pub enum Destination {
    /// `maildir:DIR`.
    Maildir(PathBuf),
    /// A next hop.
    Onward(NextHop),
}

impl FromStr for Destination {
    type Err = String;

    fn from_str(value: &str) -> Result<Destination, String> {
        match value.strip_prefix("maildir:") {
            Some("") => Err("maildir: needs a directory".into()),
            Some(dir) => Ok(Destination::Maildir(PathBuf::from(dir))),
            None if value.starts_with("lmtp:") || value.starts_with("smtp:") => value
                .parse()
                .map(Destination::Onward)
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "{value:?}: expected maildir:DIR, lmtp:HOST:PORT, lmtp:unix:PATH or smtp:HOST:PORT"
            )),
        }
    }
}

/// Where mail goes, once the options are checked.
#[derive(Debug, Default)]
pub struct Plan {
    /// The Maildir, if any.
    pub maildir: Option<PathBuf>,
    /// The next hop and the spool where its messages wait, if any.
    pub onward: Option<(NextHop, PathBuf)>,
}

impl DeliverArgs {
    /// Checks the combination: at most one Maildir (`--maildir` counts)
    /// and one next hop, and a next hop needs the spool.
    pub fn plan(&self, maildir: Option<&Path>) -> anyhow::Result<Plan> {
        let mut plan = Plan {
            maildir: maildir.map(Path::to_path_buf),
            onward: None,
        };
        let mut hop = None;
        for destination in &self.deliver {
            match destination {
                Destination::Maildir(dir) if plan.maildir.is_none() => {
                    plan.maildir = Some(dir.clone());
                }
                Destination::Maildir(_) => {
                    bail!("one Maildir at most (--maildir or --deliver maildir:)")
                }
                Destination::Onward(next) if hop.is_none() => hop = Some(next.clone()),
                Destination::Onward(_) => bail!("one next hop at most (--deliver lmtp: or smtp:)"),
            }
        }
        match (hop, &self.spool) {
            (Some(hop), Some(spool)) => plan.onward = Some((hop, spool.clone())),
            (Some(hop), None) => {
                bail!("--deliver {hop} needs --spool DIR, where messages wait for it")
            }
            (None, Some(_)) => {
                bail!("--spool holds mail for a next hop: add --deliver lmtp:... or smtp:...")
            }
            (None, None) if self.deliver_sync => bail!("--deliver-sync needs a next hop"),
            (None, None) => {}
        }
        Ok(plan)
    }
}

/// The forwarder and its runner, for the next hop `hop` through the
/// spool in `dir`.
pub fn forwarder(
    args: &DeliverArgs,
    (hop, dir): &(NextHop, PathBuf),
    maildir: Option<&Path>,
    hostname: &str,
) -> anyhow::Result<(Forwarder, QueueRunner)> {
    let spool =
        Spool::open(dir).with_context(|| format!("cannot open the spool {}", dir.display()))?;
    let mut client = ClientConfig::new(hostname, 25);
    hop.configure(&mut client, args.deliver_tls.is_some());
    match args.deliver_tls {
        Some(tls) => {
            client.tls = tls;
            client.silence_limit = None;
        }
        // RFC 7435: between MTAs, encrypt when offered, whatever the
        // certificate (LMTP's defaults are NextHop's).
        None if !hop.is_lmtp() => client.tls = TlsMode::Opportunistic,
        None => {}
    }
    client.ehlo_name = Some(hostname.to_string());
    let client = smtp_sender::with_shared_tls(client).context("setting up TLS to the next hop")?;
    let runner = QueueRunner::new(
        spool.clone(),
        RunnerConfig {
            router: Router::relay_to(&client),
            client: client.clone(),
            retry: RetryPolicy::default(),
            per_destination: 20,
            max_connections: 100,
            reporter: Reporter {
                host: hostname.to_string(),
            },
        },
    );
    let maildir = maildir
        .map(|dir| Maildir::create(dir, hostname))
        .transpose()
        .context("cannot open the Maildir")?;
    let forwarder = Forwarder::new(ForwardConfig {
        spool,
        next_hop: args.deliver_sync.then_some(client),
        maildir,
        runner: Some(runner.clone()),
    });
    Ok((forwarder, runner))
}

/// Runs the queue runner until `stopped` turns true, then finishes the
/// pass in progress.
pub fn spawn_runner(
    runner: QueueRunner,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        if let Err(error) = runner.run(POLL, stop).await {
            tracing::error!(%error, "the queue runner stopped");
        }
    })
}
