//! `smtp-conform client --listen ADDR`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use smtp_conformance::client::{ClientOptions, ClientTls, Listener, Scenario};
use smtp_conformance::{Report, output};

use super::TlsArg;

/// Options of `smtp-conform client`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Address to listen on; port 0 picks a free one (printed on start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: String,
    /// TLS: starttls (offered, default), implicit (TLS from the first byte), none.
    #[arg(long, value_enum, default_value = "starttls")]
    tls: TlsArg,
    /// Server certificate chain (PEM); default: generated on the fly with rcgen.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key for --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Where to write the generated CA certificate for the client to trust
    /// (default: a file in the temporary directory, printed on start).
    #[arg(long, value_name = "FILE")]
    ca_out: Option<PathBuf>,
    /// How the judge misbehaves: normal, minimal, ehlo-refused,
    /// rcpt-refused, size-too-small, 421-mid-session, tempfail-mail,
    /// multiline-greeting, starttls-injection, no-starttls, bad-cert-name,
    /// untrusted-cert (see `smtp-conform list`).
    #[arg(long, value_name = "NAME", default_value = "normal")]
    scenario: Scenario,
    /// The judge's name in its greeting.
    #[arg(long, value_name = "DOMAIN", default_value = "localhost")]
    domain: String,
    /// SIZE limit advertised, in octets.
    #[arg(long, value_name = "OCTETS", default_value_t = 10 * 1024 * 1024)]
    size: u64,
    /// Milliseconds before each reply (what makes unrequested pipelining visible).
    #[arg(long, value_name = "MS", default_value_t = 50)]
    reply_delay: u64,
    /// Seconds of silence after which a session ends.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    idle_timeout: u64,
    /// Judge one session, then exit with its verdict (0: no MUST failed).
    #[arg(long)]
    once: bool,
    /// Print each session's report as one JSON line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    files: super::ReportFiles,
    /// Show the detail of passing checks too.
    #[arg(short, long)]
    verbose: bool,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut o = ClientOptions::new(&args.listen);
    o.tls = match args.tls {
        TlsArg::None => ClientTls::None,
        TlsArg::Starttls => ClientTls::StartTls,
        TlsArg::Implicit => ClientTls::Implicit,
    };
    o.cert = args.cert.clone().zip(args.key.clone());
    o.scenario = args.scenario;
    o.domain = args.domain.clone();
    o.size_limit = args.size;
    o.reply_delay = Duration::from_millis(args.reply_delay);
    o.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    let listener = Listener::bind(o).await?;
    println!("smtp-conform: listening on {}", listener.local_addr());
    if let Some(ca) = listener.ca_pem() {
        let path = args.ca_out.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("smtp-conform-{}-ca.pem", std::process::id()))
        });
        std::fs::write(&path, ca).with_context(|| format!("writing {}", path.display()))?;
        println!("smtp-conform: CA certificate {}", path.display());
    }
    println!(
        "smtp-conform: scenario {}: {}",
        args.scenario,
        args.scenario.describe()
    );
    std::io::stdout().flush().ok();

    let mut reports: Vec<Report> = Vec::new();
    loop {
        let session = listener.accept().await?;
        // One session at a time: sessions are short, and each report is
        // printed whole.
        let report = session.judge().await;
        if args.json {
            println!("{}", output::json(&report));
        } else {
            print!("{}", output::text(&report, args.verbose));
        }
        std::io::stdout().flush().ok();
        let conforms = report.conforms();
        // Kept only for the report files, and the transcripts only for the
        // page: a long-running judge does not grow for nothing.
        if args.files.html.is_some() {
            reports.push(report);
        } else if args.files.junit.is_some() {
            reports.push(Report {
                session: Vec::new(),
                ..report
            });
        }
        args.files.write(&reports)?;
        if args.once {
            return Ok(if conforms {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
    }
}
