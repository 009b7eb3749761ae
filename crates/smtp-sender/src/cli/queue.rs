//! `smtp-send enqueue` and `smtp-send queue run|list|flush|remove`: the
//! spool and its runner (the library's `outbound` module) on the command
//! line. `docs/outbound.md` has the worked example.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use smtp_sender::outbound::{
    QueueRunner, QueuedMessage, RecipientState, Reporter, RetryPolicy, Router, RunnerConfig, Spool,
    SpoolError, parse_envid, parse_notify, parse_ret, unix,
};
use smtp_sender::{Dsn, Envelope, TlsMode};
use smtp_wire::param::Orcpt;

use super::args::{MessageArgs, SessionArgs};
use super::{message, output, server_config, session_config};

const EXAMPLES: &str = "\
Examples:
  # Queue a message (a sendmail-style pipe), then deliver the spool once by MX:
  smtp-send enqueue --spool /var/spool/smtp-send --from alice@example.com \\
      --to bob@example.org --message - < letter.eml
  smtp-send queue run --spool /var/spool/smtp-send --once

  # The delivery daemon, through a smarthost with AUTH:
  SMTP_PASSWORD=s3cret smtp-send queue run --spool q --relay mail.example.com:587 --user alice

  # What is waiting, and why:
  smtp-send queue list --spool q

Exit status: 0 done; 64 a usage error; 65 an invalid address or message;
66 an input file missing; 75 (EX_TEMPFAIL) the spool could not be written
(a full disk among other causes; nothing half-written is left).";

/// The spool commands of smtp-send.
#[derive(Debug, Parser)]
#[command(name = "smtp-send", version, after_help = EXAMPLES)]
pub struct QueueCli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Put a message into the spool (the envelope and message options of smtp-send)
    Enqueue(Box<EnqueueArgs>),
    /// Deliver, list and manage the spool
    #[command(subcommand)]
    Queue(QueueCommand),
}

#[derive(Debug, clap::Args)]
struct EnqueueArgs {
    /// The spool directory (created when missing)
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,

    #[command(flatten)]
    mail: MessageArgs,

    /// DSN (RFC 3461): when to report on each recipient, NEVER or a comma
    /// list of SUCCESS, FAILURE, DELAY [default: failures]
    #[arg(long, value_name = "WHEN")]
    notify: Option<String>,

    /// DSN: return the FULL message or its HDRS in a failure report
    #[arg(long, value_name = "FULL|HDRS")]
    ret: Option<String>,

    /// DSN: an identifier of yours, returned in every report
    #[arg(long, value_name = "ID")]
    envid: Option<String>,

    /// The message file, as --message (`-` for stdin)
    #[arg(value_name = "FILE", conflicts_with = "message")]
    file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Deliver the spool: a pass now, then one every --poll (--once: one pass)
    Run(Box<RunArgs>),
    /// What is waiting: id, age, size, sender, each recipient's state and last reply
    List(ListArgs),
    /// Make every waiting recipient due now (a running `queue run` takes them at its next pass)
    Flush(SpoolArg),
    /// Remove messages from the spool without delivering them
    Remove(RemoveArgs),
}

#[derive(Debug, clap::Args)]
struct SpoolArg {
    /// The spool directory
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// The spool directory
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,
    /// The records as JSON, one array
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RemoveArgs {
    /// The spool directory
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,
    /// The ids to remove (as `queue list` shows them)
    #[arg(required = true, value_name = "ID")]
    ids: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The spool directory
    #[arg(long, value_name = "DIR")]
    spool: PathBuf,

    /// One pass, then exit
    #[arg(long)]
    once: bool,

    /// Try every waiting recipient, due or not (with --once: `queue flush` and a pass)
    #[arg(long)]
    force: bool,

    /// Send everything through this server (a smarthost) instead of by MX:
    /// HOST[:PORT], smtp:HOST:PORT, or LMTP to a mailbox server with
    /// lmtp:HOST:PORT or lmtp:unix:PATH
    #[arg(long, value_name = "HOST[:PORT]")]
    relay: Option<String>,

    /// MX delivery: the DNS server to ask [default: /etc/resolv.conf's]
    #[arg(long, value_name = "ADDR:PORT", conflicts_with = "relay")]
    dns: Option<SocketAddr>,

    /// MX delivery: the port to connect to on the exchangers
    #[arg(long, value_name = "N", default_value_t = 25, conflicts_with = "relay")]
    smtp_port: u16,

    #[command(flatten)]
    session: SessionArgs,

    /// Connections at once to one destination
    #[arg(long, value_name = "N", default_value_t = 20)]
    per_destination: usize,

    /// Connections at once in all
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_connections: usize,

    /// The first retry after a deferral (s, m, h, d suffixes)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    retry_first: Duration,

    /// The longest wait between two attempts
    #[arg(long, value_name = "DURATION", default_value = "4000s", value_parser = parse_duration)]
    retry_max: Duration,

    /// How long a message may wait before its deferred recipients fail (4.4.7)
    #[arg(long, value_name = "DURATION", default_value = "5d", value_parser = parse_duration)]
    lifetime: Duration,

    /// How often the daemon looks for new and due messages
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    poll: Duration,

    /// The name in delivery status reports (Reporting-MTA, MAILER-DAEMON@NAME) [default: this host's name]
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Print each conversation to stderr
    #[arg(short, long)]
    verbose: bool,
}

/// True when the command line names a spool command.
pub fn is_queue_command(first: Option<&str>) -> bool {
    matches!(first, Some("enqueue" | "queue"))
}

impl QueueCli {
    /// `-v` of `queue run`.
    pub fn verbose(&self) -> bool {
        matches!(&self.command, Command::Queue(QueueCommand::Run(run)) if run.verbose)
    }
}

/// Runs a spool command.
pub async fn run(cli: QueueCli) -> ExitCode {
    let result = match cli.command {
        Command::Enqueue(args) => enqueue(*args),
        Command::Queue(QueueCommand::Run(args)) => deliver(*args).await,
        Command::Queue(QueueCommand::List(args)) => list(&args),
        Command::Queue(QueueCommand::Flush(args)) => flush(&args),
        Command::Queue(QueueCommand::Remove(args)) => remove(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let spool_failed = error
                .chain()
                .any(|cause| cause.downcast_ref::<SpoolError>().is_some());
            if spool_failed {
                eprintln!("smtp-send: {error:#}");
                ExitCode::from(output::EX_TEMPFAIL)
            } else {
                // Prints the line itself.
                output::input_error(&error)
            }
        }
    }
}

fn enqueue(mut args: EnqueueArgs) -> Result<ExitCode> {
    if args.file.is_some() {
        args.mail.message = args.file.take();
    }
    let prepared = match message::prepare(&args.mail) {
        Ok(prepared) => prepared,
        Err(error) => return Ok(output::input_error(&error)),
    };
    let mut envelope = prepared.envelope;
    if let Some(dsn) = dsn_request(&args, &envelope)? {
        envelope.dsn = Some(dsn);
    }
    let spool = Spool::open(&args.spool).context("opening the spool")?;
    let id = spool
        .enqueue(&envelope, &prepared.message, SystemTime::now())
        .context("cannot queue the message")?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

/// `--notify`, `--ret`, `--envid`, checked by the wire grammar; every
/// recipient gets the same NOTIFY and its own ORCPT.
fn dsn_request(args: &EnqueueArgs, envelope: &Envelope) -> Result<Option<Dsn>> {
    if args.notify.is_none() && args.ret.is_none() && args.envid.is_none() {
        return Ok(None);
    }
    let mut dsn = Dsn {
        ret: args
            .ret
            .as_deref()
            .map(parse_ret)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        envid: args
            .envid
            .as_deref()
            .map(parse_envid)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--envid: {e}"))?,
        recipients: Vec::new(),
    };
    let notify = args
        .notify
        .as_deref()
        .map(parse_notify)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    for (i, to) in envelope.to.iter().enumerate() {
        let request = dsn.recipient_mut(i);
        request.notify = notify;
        request.orcpt = Some(Orcpt {
            addr_type: "rfc822".into(),
            addr: to.to_string().trim_matches(['<', '>']).to_string(),
        });
    }
    Ok(Some(dsn))
}

async fn deliver(args: RunArgs) -> Result<ExitCode> {
    let spool = Spool::open(&args.spool).context("opening the spool")?;
    let (router, client) = match &args.relay {
        Some(relay) => {
            let client = server_config(relay, &args.session)?;
            (Router::relay_to(&client), client)
        }
        None => {
            let router = Router::mx(args.dns, args.smtp_port).context("setting up DNS")?;
            let mut session = args.session.clone();
            // RFC 7435 opportunistic security is the default between MTAs.
            session.tls.get_or_insert(TlsMode::Opportunistic);
            let client = session_config("mx".into(), Some(args.smtp_port), &session)?;
            (router, client)
        }
    };
    let client = smtp_sender::with_shared_tls(client)?;
    let config = RunnerConfig {
        router,
        client,
        retry: RetryPolicy {
            first: args.retry_first,
            max: args.retry_max,
            lifetime: args.lifetime,
        },
        per_destination: args.per_destination.max(1),
        max_connections: args.max_connections.max(1),
        reporter: Reporter {
            host: args
                .hostname
                .clone()
                .unwrap_or_else(smtp_io::host::server_name),
        },
    };
    let runner = QueueRunner::new(spool, config);
    if args.once {
        let summary = runner.run_once(SystemTime::now(), args.force).await?;
        println!("pass {summary}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "smtp-send: delivering {} every {:?} (SIGINT or SIGTERM stops after the pass in progress)",
        args.spool.display(),
        args.poll
    );
    runner.run(args.poll, stop_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The TLS configuration, built once for every connection of the runner:
/// opportunistic TLS does not check certificates (RFC 7435 §1.3: it
/// protects against passive eavesdropping; a check that fails would make
/// mail to a server with a self-signed certificate wait forever, which
/// is why MTAs do not check at this level); `--tls starttls` or
/// `implicit` check them as smtp-send does.
#[cfg(unix)]
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn list(args: &ListArgs) -> Result<ExitCode> {
    let spool = Spool::open(&args.spool).context("opening the spool")?;
    let now = unix(SystemTime::now());
    let mut records = Vec::new();
    for id in spool.ids()? {
        match spool.record(&id) {
            Ok(record) => records.push(record),
            Err(SpoolError::NotFound(_)) => {}
            Err(error) => eprintln!("smtp-send: {error}"),
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&records)?;
        println!("{json}");
        return Ok(ExitCode::SUCCESS);
    }
    for record in &records {
        print!("{}", mailq_entry(record, now));
    }
    let waiting: usize = records
        .iter()
        .map(|r| r.recipients.iter().filter(|x| !x.state.is_final()).count())
        .sum();
    println!(
        "-- {} message{}, {waiting} recipient{} waiting",
        records.len(),
        if records.len() == 1 { "" } else { "s" },
        if waiting == 1 { "" } else { "s" }
    );
    for (id, reason) in spool.bad_entries()? {
        println!("bad {id}: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One message as `queue list` shows it, like Postfix's mailq.
fn mailq_entry(record: &QueuedMessage, now: u64) -> String {
    let sender = if record.from.is_empty() {
        "<>".to_string()
    } else {
        format!("<{}>", record.from)
    };
    let mut out = format!(
        "{}  {:>6}  {:>8}  {sender}\n",
        record.id,
        human_age(now.saturating_sub(record.created)),
        record.size
    );
    for r in &record.recipients {
        let mut line = format!("    {:<9} <{}>", r.state.as_str(), r.address);
        if let Some(reply) = &r.last_reply {
            line.push_str(&format!("  {reply}"));
        }
        if let Some(remote) = &r.remote {
            line.push_str(&format!(" ({remote})"));
        }
        if !r.state.is_final() && r.state != RecipientState::Pending {
            line.push_str(&format!(
                "  next attempt in {}",
                human_age(r.next_attempt.saturating_sub(now))
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn human_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn flush(args: &SpoolArg) -> Result<ExitCode> {
    let spool = Spool::open(&args.spool).context("opening the spool")?;
    let mut due = 0;
    for id in spool.ids()? {
        // Under the lock, so a runner's record of an attempt is not
        // overwritten; an entry being delivered is due anyway.
        if let Some(locked) = spool.lock(&id)? {
            let mut record = locked.record;
            record.make_due();
            spool.write_record(&record)?;
            due += 1;
        }
    }
    println!("{due} message{} due now", if due == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}

fn remove(args: &RemoveArgs) -> Result<ExitCode> {
    let spool = Spool::open(&args.spool).context("opening the spool")?;
    let mut missing = false;
    for id in &args.ids {
        let result = match spool.lock(id) {
            Ok(Some(_locked)) => spool.remove(id),
            Ok(None) if spool.record(id).is_ok() => Err(SpoolError::Locked(id.clone())),
            Ok(None) => Err(SpoolError::NotFound(id.clone())),
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => println!("removed {id}"),
            Err(error) => {
                eprintln!("smtp-send: {error}");
                missing = true;
            }
        }
    }
    Ok(if missing {
        ExitCode::from(output::EX_NOINPUT)
    } else {
        ExitCode::SUCCESS
    })
}

/// `30`, `30s`, `5m`, `4h`, `5d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with s, m, h or d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        other => return Err(format!("{text:?}: unknown unit {other:?} (s, m, h or d)")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5d").unwrap(), Duration::from_secs(432_000));
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("m").is_err());
    }
}
