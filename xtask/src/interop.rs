//! `cargo xtask interop`: this workspace's halves against SMTP software
//! nobody here wrote (issue 7).
//!
//! - `smtp-receive` driven by Python's smtplib, curl, swaks, msmtp and
//!   Postfix's smtp-source; each message is checked in the Maildir.
//! - `smtp-send` talking to aiosmtpd, a private Postfix smtpd (TLS, SASL,
//!   Maildir), Postfix's smtp-sink and Python's smtpd; each message is
//!   checked where the peer stored it.
//!
//! Every peer runs on loopback, on a port the kernel chose (or a free high
//! port for the peers that cannot report one), and is stopped by PID when
//! its case ends, also on failure or panic. The task prints a table and
//! fails when any case failed. See docs/interop.md.

mod messages;
mod ours;
mod receiver_cases;
mod report;
mod sender_cases;

use std::cell::OnceCell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use smtp_testkit::certs::{PkiFiles, TestPki};

use crate::peers::{
    self, Aiosmtpd, Postfix, PostfixConfig, SmtpSink, python_version, stop_peers_on_signal,
    versions,
};
use ours::Bins;
use report::{Outcome, Row};

/// Options of `cargo xtask interop`.
#[derive(clap::Args)]
pub struct Args {
    /// Only the cases whose name contains one of these (repeatable).
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
    /// Build and test the release binaries instead of the debug ones.
    #[arg(long)]
    release: bool,
    /// Use the smtp-receive / smtp-send binaries in DIR instead of building them.
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

/// The independent programs the cases talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Python's smtplib (client).
    Smtplib,
    /// curl's SMTP support (client).
    Curl,
    /// swaks (client).
    Swaks,
    /// msmtp (client).
    Msmtp,
    /// Postfix's smtp-source (client).
    SmtpSource,
    /// aiosmtpd (server).
    Aiosmtpd,
    /// Postfix's smtpd (server).
    Postfix,
    /// Postfix's smtp-sink (server).
    SmtpSink,
    /// Python's stdlib smtpd (server).
    PythonSmtpd,
}

impl Peer {
    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Smtplib => "Python smtplib",
            Peer::Curl => "curl",
            Peer::Swaks => "swaks",
            Peer::Msmtp => "msmtp",
            Peer::SmtpSource => "Postfix smtp-source",
            Peer::Aiosmtpd => "aiosmtpd",
            Peer::Postfix => "Postfix smtpd",
            Peer::SmtpSink => "Postfix smtp-sink",
            Peer::PythonSmtpd => "Python smtpd",
        }
    }

    /// Its version, or why it cannot be used.
    fn version(self) -> Result<String> {
        let missing = || {
            anyhow!(
                "{} is not installed: run `bash .ci/install-peers`",
                self.name()
            )
        };
        match self {
            Peer::Smtplib => python_version(),
            Peer::PythonSmtpd if !peers::PythonSmtpd::available() => {
                bail!("python3 has no smtpd module")
            }
            Peer::PythonSmtpd => python_version(),
            Peer::Curl => versions::curl().ok_or_else(missing),
            Peer::Swaks => versions::swaks().ok_or_else(missing),
            Peer::Msmtp => versions::msmtp().ok_or_else(missing),
            Peer::Aiosmtpd => Aiosmtpd::version(),
            Peer::Postfix => Postfix::version(),
            Peer::SmtpSource | Peer::SmtpSink if !SmtpSink::available() => Err(missing()),
            Peer::SmtpSource | Peer::SmtpSink => Postfix::version(),
        }
    }

    /// Whether the peer is the client (driving `smtp-receive`).
    fn is_client(self) -> bool {
        matches!(
            self,
            Peer::Smtplib | Peer::Curl | Peer::Swaks | Peer::Msmtp | Peer::SmtpSource
        )
    }
}

/// How the session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text.
    None,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
    /// STARTTLS when offered.
    Opportunistic,
}

impl TlsMode {
    fn label(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "STARTTLS",
            TlsMode::Implicit => "implicit",
            TlsMode::Opportunistic => "opportunistic",
        }
    }
}

/// One interoperability case.
pub struct Case {
    /// Unique, used by `--only` and for its log folder.
    pub name: &'static str,
    /// The independent program.
    pub peer: Peer,
    /// TLS mode.
    pub tls: TlsMode,
    /// AUTH mechanism, or `-`.
    pub auth: &'static str,
    /// Runs it; `Ok` carries a short note of what was checked.
    pub run: fn(&Ctx, &Path) -> Result<String>,
}

/// What every case can use.
pub struct Ctx {
    /// The binaries under test.
    pub bins: Bins,
    /// The test PKI, written in the work folder.
    pub pki: PkiFiles,
    /// One Postfix instance shared by the Postfix cases (started on first use).
    postfix: OnceCell<std::result::Result<Postfix, String>>,
}

impl Ctx {
    /// The shared Postfix instance (TLS on both ports, AUTH user when SASL
    /// is installed, Maildir for example.test).
    pub fn postfix(&self) -> Result<&Postfix> {
        let started = self.postfix.get_or_init(|| {
            let mut config = PostfixConfig::new(&self.pki.server_cert, &self.pki.server_key);
            if Postfix::sasl_available() {
                config
                    .users
                    .push((ours::USER.into(), ours::PASSWORD.into()));
            }
            Postfix::start(&config).map_err(|e| format!("{e:#}"))
        });
        started
            .as_ref()
            .map_err(|e| anyhow!("starting Postfix: {e}"))
    }
}

fn all_cases() -> Vec<Case> {
    let mut cases = receiver_cases::cases();
    cases.extend(sender_cases::cases());
    cases
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| args.only.is_empty() || args.only.iter().any(|o| c.name.contains(o.as_str())))
        .collect();
    if args.list {
        for case in &cases {
            println!(
                "{:<40} {} {} {}",
                case.name,
                case.peer.name(),
                case.tls.label(),
                case.auth
            );
        }
        return Ok(());
    }
    if cases.is_empty() {
        bail!("no case matches {:?} (see --list)", args.only);
    }
    stop_peers_on_signal();
    let started = Instant::now();
    let bins = Bins::locate(args.bin_dir.as_deref(), args.release)?;
    let work = tempfile::Builder::new()
        .prefix("smtp-interop-")
        .tempdir()
        .context("creating the work folder")?;
    peers::set_temp_parent(work.path(), args.keep).context("preparing the work folder")?;
    let pki = TestPki::generate()
        .context("generating the test PKI")?
        .write(&work.path().join("pki"))
        .context("writing the test PKI")?;
    let ctx = Ctx {
        bins,
        pki,
        postfix: OnceCell::new(),
    };

    let mut versions: HashMap<Peer, std::result::Result<String, String>> = HashMap::new();
    let mut rows = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if peers::interrupted() {
            break;
        }
        let version = versions
            .entry(case.peer)
            .or_insert_with(|| case.peer.version().map_err(|e| format!("{e:#}")))
            .clone();
        let dir = work.path().join(format!("{:02}-{}", i + 1, case.name));
        print!("[{:>2}/{}] {:<44}", i + 1, cases.len(), case.name);
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let begun = Instant::now();
        let outcome = match &version {
            // Python 3.12 removed smtpd: nothing to install, so not a failure.
            Err(why) if case.peer == Peer::PythonSmtpd => Outcome::Skip(why.clone()),
            Err(why) => Outcome::Fail(why.clone()),
            Ok(_) => run_case(case, &ctx, &dir),
        };
        let elapsed = begun.elapsed();
        println!("{} ({:.1}s)", outcome.short(), elapsed.as_secs_f64());
        rows.push(Row {
            case: case.name,
            peer: case.peer.name(),
            version: version.unwrap_or_else(|_| "missing".into()),
            direction: if case.peer.is_client() {
                format!("{} → smtp-receive", case.peer.name())
            } else {
                format!("smtp-send → {}", case.peer.name())
            },
            tls: case.tls.label(),
            auth: case.auth,
            outcome,
            elapsed,
            dir,
        });
    }
    if let Some(Ok(postfix)) = ctx.postfix.get() {
        // Its folder goes with it (unless --keep): save the log for failures.
        let _ = std::fs::write(work.path().join("postfix.log"), postfix.log());
    }
    // Stop the shared Postfix before reporting: nothing may outlive the task.
    drop(ctx);
    let total = started.elapsed();
    println!();
    print!("{}", report::table(&rows));
    if args.markdown {
        println!();
        print!("{}", report::markdown(&rows));
    }
    let failed = rows.iter().filter(|r| r.outcome.failed()).count();
    let passed = rows.iter().filter(|r| r.outcome.passed()).count();
    let skipped = rows.len() - passed - failed;
    print!("{}", report::failures(&rows));
    if failed > 0 || args.keep {
        let kept = work.keep();
        println!(
            "\nlogs, transcripts and stored mail kept in {}",
            kept.display()
        );
    }
    println!("\n{} cases in {:.1}s", rows.len(), total.as_secs_f64());
    // The closing line CI reads: "interop: N passed, N failed[, N skipped]".
    let skipped = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    println!("interop: {passed} passed, {failed} failed{skipped}");
    if failed > 0 {
        bail!("{failed} interop case(s) failed");
    }
    Ok(())
}

/// Runs one case; a panic inside it is a failure like any other (the
/// guards it held have stopped their processes while unwinding).
fn run_case(case: &Case, ctx: &Ctx, dir: &Path) -> Outcome {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Outcome::Fail(format!("creating {}: {e}", dir.display()));
    }
    match catch_unwind(AssertUnwindSafe(|| (case.run)(ctx, dir))) {
        Ok(Ok(note)) => Outcome::Pass(note),
        Ok(Err(e)) => Outcome::Fail(format!("{e:#}")),
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Outcome::Fail(format!("panicked: {text}"))
        }
    }
}

/// True when a client transcript shows `commands` written one after the
/// other with no reply between them: a PIPELINING group (RFC 2920 §3.1).
/// Lines are client lines when they start with one of `client_marks`
/// (`C: ` for smtp-send, `-> `/`~> ` for swaks, plain/TLS).
pub fn pipelined(transcript: &str, client_marks: &[&str], commands: &[&str]) -> bool {
    let sent: Vec<Option<&str>> = transcript
        .lines()
        .map(|l| {
            let l = l.trim_start();
            client_marks.iter().find_map(|m| l.strip_prefix(m))
        })
        .collect();
    let Some(first) = commands.first() else {
        return false;
    };
    sent.iter()
        .enumerate()
        .filter(|(_, l)| l.is_some_and(|l| l.starts_with(first)))
        .any(|(i, _)| {
            commands.iter().enumerate().all(|(k, c)| {
                sent.get(i + k)
                    .copied()
                    .flatten()
                    .is_some_and(|l| l.starts_with(c))
            })
        })
}

/// A shared deadline for waiting on peers that deliver asynchronously.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests {
    use super::pipelined;

    #[test]
    fn pipelining_is_seen_only_when_no_reply_comes_between() {
        let grouped = "C: MAIL FROM:<a@b>\nC: RCPT TO:<c@d>\nC: DATA\nS: 250 ok\n";
        let lockstep = "C: MAIL FROM:<a@b>\nS: 250 ok\nC: RCPT TO:<c@d>\nS: 250 ok\nC: DATA\n";
        let cmds = ["MAIL FROM", "RCPT TO", "DATA"];
        assert!(pipelined(grouped, &["C: "], &cmds));
        assert!(!pipelined(lockstep, &["C: "], &cmds));
        assert!(pipelined(
            " ~> MAIL FROM:<a@b>\n ~> RCPT TO:<c@d>\n ~> DATA\n",
            &["-> ", "~> "],
            &cmds
        ));
        assert!(!pipelined("", &["C: "], &cmds));
    }
}
