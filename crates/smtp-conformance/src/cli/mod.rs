//! Command-line interface.

mod client;
mod judge;
mod replay;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use smtp_conformance::{Report, output};

/// Conformance suites for SMTP: test someone's server or client against
/// RFC 5321 and its extensions, rule by rule, with the RFC section.
#[derive(Parser)]
#[command(
    name = "smtp-conform",
    version,
    after_help = "Examples:\n  \
      smtp-conform server 127.0.0.1:25 --rcpt postmaster@example.com\n  \
      smtp-conform server mx.example:25 --tls starttls --ca ca.pem --rcpt me@example --json\n  \
      smtp-conform server 127.0.0.1:2525 --rcpt a@example.test --only smuggle,pipe --junit out.xml\n  \
      smtp-conform server 127.0.0.1:2525 --rcpt a@example.test --html report.html\n  \
      smtp-conform server lmtp:unix:/run/dovecot/lmtp --rcpt a@example.test --rcpt b@example.test\n  \
      smtp-conform server 127.0.0.1:25 --rcpt a@example.test --relay-to b@relay.test --judge-listen 127.0.0.1:2600\n  \
      smtp-conform client --listen 127.0.0.1:0 --once\n  \
      smtp-conform client --listen 127.0.0.1:2526 --scenario starttls-injection --once\n  \
      smtp-receive -v ... 2> sessions.txt; smtp-conform judge sessions.txt\n  \
      smtp-conform list\n\n\
      Exit status: 0 when no MUST rule failed, 1 when one did, 2 when the suite could not run.\n\
      judge: 0 when no session broke a MUST or hardening rule, 1 when one did, 2 when the file\n\
      could not be read."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Test an SMTP server at HOST:PORT, or an LMTP server at
    /// lmtp:HOST:PORT or lmtp:unix:PATH.
    Server(Box<server::Args>),
    /// Listen as a judging receiver and test the clients that connect.
    Client(client::Args),
    /// Judge the clients of recorded sessions: each line with its RFC note
    /// and findings, then a badge per session.
    Judge(judge::Args),
    /// Explain recorded sessions: each line with what the step is and the
    /// RFC section that says so (this project's transcripts, the RFCs'
    /// C:/S: examples, swaks output).
    Explain(judge::Args),
    /// Replay the client side of recorded sessions against a server and
    /// show where its replies differ from the recorded ones.
    Replay(replay::Args),
    /// List every case, check and scenario.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Whom to trust as the server's certificate: `--ca`, `--insecure`,
/// `--servername` (the server suite and `replay`).
#[derive(clap::Args)]
pub(crate) struct TrustArgs {
    /// Trust this CA (PEM) instead of the system roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// Accept any certificate (the server suite sends nothing secret
    /// unless --auth).
    #[arg(long, conflicts_with = "ca")]
    insecure: bool,
    /// Name to check the certificate against (default: the host).
    #[arg(long, value_name = "NAME")]
    pub(crate) servername: Option<String>,
}

impl TrustArgs {
    /// The trust these options name (the system roots when none).
    pub(crate) fn trust(&self) -> smtp_conformance::tls::Trust {
        use smtp_conformance::tls::Trust;
        match (&self.ca, self.insecure) {
            (Some(ca), _) => Trust::CaFile(ca.clone()),
            (None, true) => Trust::Insecure,
            (None, false) => Trust::System,
        }
    }
}

/// `--tls` values.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum TlsArg {
    /// No TLS.
    None,
    /// STARTTLS (RFC 3207).
    Starttls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

/// `--html FILE` and `--junit FILE`: the report files of both suites.
#[derive(clap::Args)]
pub(crate) struct ReportFiles {
    /// Also write the report as one self-contained HTML page: every case
    /// with its level, RFC section, outcome, evidence and annotated transcript.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Also write a JUnit XML report. With `client`, both files are
    /// rewritten after every session.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
}

impl ReportFiles {
    /// Writes the files asked for, each holding all of `reports`.
    pub(crate) fn write(&self, reports: &[Report]) -> anyhow::Result<()> {
        if let Some(path) = &self.html {
            std::fs::write(path, output::html(reports))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(path) = &self.junit {
            std::fs::write(path, output::junit(reports))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Server(args) => server::run(*args).await,
        Command::Client(args) => client::run(args).await,
        Command::Judge(args) => judge::run(&args, judge::Mode::Judge),
        Command::Explain(args) => judge::run(&args, judge::Mode::Explain),
        Command::Replay(args) => replay::run(args).await,
        Command::List { json } => {
            list(json);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(json: bool) {
    use smtp_conformance::{client as c, server as s};
    let server = s::catalogue();
    let checks = c::catalogue();
    let reactions = c::reactions();
    if json {
        let item = |suite: &str, i: &smtp_conformance::CaseInfo| {
            format!(
                "{{\"suite\":{},\"id\":{},\"level\":{},\"rfc\":{},\"title\":{}}}",
                output::json_string(suite),
                output::json_string(i.id),
                output::json_string(i.level.as_str()),
                output::json_string(i.rfc),
                output::json_string(i.title)
            )
        };
        let mut all: Vec<String> = server.iter().map(|i| item("server", i)).collect();
        all.extend(checks.iter().map(|i| item("client", i)));
        all.extend(reactions.iter().map(|(_, i)| item("client-scenario", i)));
        println!("[{}]", all.join(",\n "));
        return;
    }
    println!("server cases ({}):", server.len());
    for i in &server {
        println!(
            "  {:<34} {:<9} {:<32} {}",
            i.id,
            i.level.as_str(),
            i.rfc,
            i.title
        );
    }
    println!(
        "\nclient checks ({}), applied to every session:",
        checks.len()
    );
    for i in &checks {
        println!(
            "  {:<34} {:<9} {:<32} {}",
            i.id,
            i.level.as_str(),
            i.rfc,
            i.title
        );
    }
    println!("\nclient scenarios (--scenario NAME):");
    for sc in c::Scenario::ALL {
        println!("  {:<22} {}", sc.name(), sc.describe());
        if let Some(i) = sc.reaction() {
            println!(
                "  {:<22}   judged by {} ({}, {}): {}",
                "", i.id, i.level, i.rfc, i.title
            );
        }
    }
}
