//! The programs the bench runs as servers: this workspace's release
//! `smtp-receive`, aiosmtpd from its own command line and a private
//! Postfix. (The interop tests' aiosmtpd records every message, which a
//! throughput benchmark must not pay for.) Every server is a guard:
//! dropped, also on error or panic, it is stopped by PID.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use smtp_peers::{PeerProcess, Postfix, PostfixConfig, free_port, venv_python};
use smtp_testkit::bins::{Bins, RunningReceiver};

use crate::error::{BenchError, Result};

/// How long a server may take to start listening.
const START: Duration = Duration::from_secs(30);

/// Where `smtp-receive` puts accepted mail.
#[derive(Debug, Clone)]
pub enum Store {
    /// `--sink`: nowhere.
    Sink,
    /// `--maildir DIR` (fsync of file and directory before the 250).
    Maildir(PathBuf),
    /// `--maildir DIR --http 127.0.0.1:0 --max-messages 0`: the test inbox
    /// (the SQLite index row also before the 250).
    Inbox(PathBuf),
}

/// A running `smtp-receive`.
pub struct OurReceiver {
    running: RunningReceiver,
    /// Its listener (plain, or implicit TLS when started with a certificate).
    pub addr: SocketAddr,
    /// The HTTP API ([`Store::Inbox`]).
    pub http: Option<SocketAddr>,
    /// The command line, for the report.
    pub command: String,
}

/// Session limits high enough for any load the bench makes.
pub const LIFTED_LIMITS: [&str; 4] = [
    "--max-connections",
    "30000",
    "--max-connections-per-ip",
    "30000",
];

impl OurReceiver {
    /// Starts `smtp-receive` on a port the kernel picks: a plain listener,
    /// or an implicit-TLS one when `tls` holds (certificate, key). Limits
    /// are raised so that no session of the bench is refused.
    pub fn start(
        bins: &Bins,
        store: &Store,
        tls: Option<(&Path, &Path)>,
        log_dir: &Path,
    ) -> Result<OurReceiver> {
        Self::start_with(bins, store, tls, log_dir, &[])
    }

    /// A baseline build: started with the session limits lifted, since
    /// the first wave's defaults (16 sessions per client address, loopback
    /// not exempt) refuse the bench's parallel sessions. The current build
    /// runs with its defaults.
    pub fn start_baseline(
        bins: &Bins,
        store: &Store,
        tls: Option<(&Path, &Path)>,
        log_dir: &Path,
    ) -> Result<OurReceiver> {
        Self::start_with(bins, store, tls, log_dir, &LIFTED_LIMITS)
    }

    /// [`start`](Self::start) with `extra` arguments after the others.
    pub fn start_with(
        bins: &Bins,
        store: &Store,
        tls: Option<(&Path, &Path)>,
        log_dir: &Path,
        extra: &[&str],
    ) -> Result<OurReceiver> {
        let mut args: Vec<String> = Vec::new();
        match tls {
            None => args.extend(["--listen".into(), "127.0.0.1:0".into()]),
            Some((cert, key)) => args.extend([
                "--listen-tls".into(),
                "127.0.0.1:0".into(),
                "--cert".into(),
                cert.display().to_string(),
                "--key".into(),
                key.display().to_string(),
            ]),
        }
        match store {
            Store::Sink => args.push("--sink".into()),
            Store::Maildir(dir) => args.extend(["--maildir".into(), dir.display().to_string()]),
            Store::Inbox(dir) => args.extend(
                [
                    "--maildir",
                    &dir.display().to_string(),
                    "--http",
                    "127.0.0.1:0",
                    "--max-messages",
                    "0",
                ]
                .map(String::from),
            ),
        }
        args.extend(
            [
                "--hostname",
                "localhost",
                "--accept-any-recipient",
                "--max-size",
                "200M",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|a| a.to_string()));
        let running = RunningReceiver::start(&bins.receive, &args, log_dir)?;
        let addr =
            running.listeners().first().map(|l| l.addr).ok_or_else(|| {
                BenchError::Measurement("smtp-receive printed no listener".into())
            })?;
        Ok(OurReceiver {
            http: running.http(),
            running,
            addr,
            command: format!("smtp-receive {}", args.join(" ")),
        })
    }

    /// The process id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.running.pid()
    }
}

/// aiosmtpd from its command line (`python -m aiosmtpd`): the Mailbox
/// handler into a Maildir, or the Sink handler over implicit TLS.
pub struct AiosmtpdCli {
    /// The guard: stops the process when dropped.
    _process: PeerProcess,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The command line, for the report.
    pub command: String,
}

impl AiosmtpdCli {
    /// `python -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox -l ADDR DIR`.
    pub fn mailbox(maildir: &Path, log_dir: &Path) -> Result<AiosmtpdCli> {
        let dir = maildir.display().to_string();
        AiosmtpdCli::start(&["-c", "aiosmtpd.handlers.Mailbox"], &[&dir], log_dir)
    }

    /// `python -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l ADDR --smtpscert C --smtpskey K -s 200M`.
    pub fn tls_sink(cert: &Path, key: &Path, log_dir: &Path) -> Result<AiosmtpdCli> {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        AiosmtpdCli::start(
            &[
                "-c",
                "aiosmtpd.handlers.Sink",
                "--smtpscert",
                &cert,
                "--smtpskey",
                &key,
                "-s",
                "209715200",
            ],
            &[],
            log_dir,
        )
    }

    fn start(options: &[&str], class_args: &[&str], log_dir: &Path) -> Result<AiosmtpdCli> {
        smtp_peers::Peer::Aiosmtpd.version()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let listen = addr.to_string();
        let mut args = vec!["-m", "aiosmtpd", "-n", "-l", &listen];
        args.extend_from_slice(options);
        args.extend_from_slice(class_args);
        let python = venv_python();
        let mut process =
            PeerProcess::spawn("aiosmtpd", Command::new(&python).args(&args), log_dir)?;
        process.wait_for_listen(addr, START)?;
        Ok(AiosmtpdCli {
            _process: process,
            addr,
            command: format!("python {}", args.join(" ")),
        })
    }
}

/// Waits until no other Postfix `master` runs on this machine (the interop
/// tests and the conformance task start their own), so that two
/// configurations never compete for the machine; gives up after `patience`.
pub fn wait_for_no_postfix(patience: Duration) -> Result<()> {
    let started = Instant::now();
    let mut said = false;
    loop {
        let busy = Command::new("pgrep")
            .args(["-f", "postfix/master"])
            .output()
            .is_ok_and(|out| out.status.success());
        if !busy {
            return Ok(());
        }
        if started.elapsed() > patience {
            return Err(BenchError::Measurement(format!(
                "another Postfix master is still running after {patience:?} (pgrep -f postfix/master)"
            )));
        }
        if !said {
            println!("  waiting for another Postfix instance to stop (pgrep -f postfix/master)");
            said = true;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// A private Postfix (smtp-peers) that delivers mail for `example.test`
/// into its Maildir through virtual(8), started once no other runs.
pub fn start_postfix(cert: &Path, key: &Path) -> Result<Postfix> {
    wait_for_no_postfix(Duration::from_secs(600))?;
    Ok(Postfix::start(&PostfixConfig::new(cert, key))?)
}
