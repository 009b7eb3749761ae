//! `smtp-conform server HOST:PORT`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use smtp_conformance::output;
use smtp_conformance::server::{RelayOptions, ServerOptions, TlsMode, run as run_suite};

use super::{TlsArg, TrustArgs};

/// Options of `smtp-conform server`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The server: HOST:PORT (SMTP), lmtp:HOST:PORT or lmtp:unix:PATH
    /// (LMTP, RFC 2033: the lmtp cases run, the EHLO/HELO ones are skipped).
    addr: String,
    /// A recipient the server accepts (RCPT TO). Give it again for more:
    /// the LMTP cases send to several.
    #[arg(long, value_name = "ADDR", required = true)]
    rcpt: Vec<String>,
    /// Run the relay cases: a recipient (or a domain: conform-relay@DOMAIN)
    /// that the server forwards to the judge at --judge-listen.
    #[arg(long, value_name = "ADDR|DOMAIN", requires = "judge_listen")]
    relay_to: Option<String>,
    /// Where the relay judge listens (HOST:PORT); the server under test
    /// must deliver the --relay-to recipient there.
    #[arg(long, value_name = "HOST:PORT", requires = "relay_to")]
    judge_listen: Option<String>,
    /// Seconds a relay case waits for the forwarded message.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    relay_wait: u64,
    /// The sender address for MAIL FROM.
    #[arg(long, value_name = "ADDR", default_value = "conform@example.net")]
    from: String,
    /// The EHLO/HELO domain.
    #[arg(long, value_name = "DOMAIN", default_value = "conform.example.net")]
    helo: String,
    /// TLS: none (STARTTLS cases still run when offered), starttls (every
    /// session upgrades), implicit (TLS from the first byte).
    #[arg(long, value_enum, default_value = "none")]
    tls: TlsArg,
    #[command(flatten)]
    trust: TrustArgs,
    /// User for the AUTH cases that need valid credentials; the password
    /// comes from --password-file or the SMTP_PASSWORD environment variable.
    #[arg(long, value_name = "USER")]
    auth: Option<String>,
    /// File holding the password (first line).
    #[arg(long, value_name = "FILE", requires = "auth")]
    password_file: Option<PathBuf>,
    /// Run only these cases (ids or family names such as `smuggle`).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    only: Vec<String>,
    /// Skip these cases (ids or family names).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    skip: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    files: super::ReportFiles,
    /// Seconds to wait for each reply.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    /// Milliseconds to wait for a reply that must not come.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    grace: u64,
    /// Run the idle and slow-client cases, waiting at most this many
    /// seconds (at most 900) for the server to hang up.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=900))]
    idle_wait: Option<u64>,
    /// Concurrent sessions opened by limit.concurrent-sessions.
    #[arg(long, value_name = "N", default_value_t = 20)]
    sessions: usize,
    /// Recipients limit.recipients-bounded sends before calling the server unbounded.
    #[arg(long, value_name = "N", default_value_t = 1100)]
    rcpt_probe: usize,
    /// Largest message size.actual-over-limit may send, in octets.
    #[arg(long, value_name = "OCTETS", default_value_t = 64 * 1024 * 1024)]
    max_message: u64,
    /// Show the detail and transcript of passing cases too.
    #[arg(short, long)]
    verbose: bool,
}

fn password(args: &Args) -> anyhow::Result<Option<(String, String)>> {
    let Some(user) = &args.auth else {
        return Ok(None);
    };
    let password = match &args.password_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        None => std::env::var("SMTP_PASSWORD")
            .context("--auth needs --password-file FILE or SMTP_PASSWORD in the environment")?,
    };
    Ok(Some((user.clone(), password)))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (first, more) = args.rcpt.split_first().context("--rcpt ADDR is required")?;
    let mut o = ServerOptions::new(&args.addr, first);
    o.more_rcpts = more.to_vec();
    if let (Some(to), Some(listen)) = (&args.relay_to, &args.judge_listen) {
        o.relay = Some(RelayOptions {
            rcpt: if to.contains('@') {
                to.clone()
            } else {
                format!("conform-relay@{to}")
            },
            judge_listen: listen.clone(),
            wait: Duration::from_secs(args.relay_wait.max(1)),
        });
    }
    o.tls = match args.tls {
        TlsArg::None => TlsMode::None,
        TlsArg::Starttls => TlsMode::StartTls,
        TlsArg::Implicit => TlsMode::Implicit,
    };
    o.trust = args.trust.trust();
    o.server_name = args.trust.servername.clone();
    o.from = args.from.clone();
    o.helo = args.helo.clone();
    o.auth = password(&args)?;
    o.timeout = Duration::from_secs_f64(args.timeout.max(0.1));
    o.grace = Duration::from_millis(args.grace);
    o.idle_wait = args.idle_wait.map(Duration::from_secs);
    o.sessions = args.sessions;
    o.rcpt_probe = args.rcpt_probe;
    o.max_message = args.max_message;
    o.only = args.only.clone();
    o.skip = args.skip.clone();
    let report = run_suite(&o).await?;
    if args.json {
        println!("{}", output::json(&report));
    } else {
        print!("{}", output::text(&report, args.verbose));
    }
    args.files.write(std::slice::from_ref(&report))?;
    Ok(if report.conforms() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
