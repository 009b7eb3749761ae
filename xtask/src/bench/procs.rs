//! The programs the bench runs: this workspace's release binaries and the
//! peer servers in the configurations the bench needs (the interop peers
//! in `crate::peers` dump or record every message, which a throughput
//! benchmark must not pay for). Every server is a [`PeerProcess`] guard:
//! dropped, also on error or panic, it is stopped by PID.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::peers::{
    PeerProcess, Postfix, PostfixConfig, free_port, repo_root, running_as_root, venv_python,
};

/// How long a server may take to start listening.
const START: Duration = Duration::from_secs(30);

/// The release binaries under test, built once when the bench starts.
#[derive(Debug, Clone)]
pub struct Bins {
    /// `smtp-receive`.
    pub receive: PathBuf,
    /// `smtp-send`.
    pub send: PathBuf,
}

impl Bins {
    /// `cargo build --release` of both binaries (honours CARGO_TARGET_DIR).
    pub fn build() -> Result<Bins> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        println!("building smtp-receive and smtp-send (release)");
        let status = Command::new(cargo)
            .current_dir(repo_root())
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "smtp-receiver",
                "-p",
                "smtp-sender",
                "--bins",
            ])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --release of smtp-receive / smtp-send failed ({status})");
        }
        let dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => repo_root().join(dir),
            None => repo_root().join("target"),
        }
        .join("release");
        Bins::in_dir(&dir)
    }

    /// The binaries in `dir`, as they are.
    pub fn in_dir(dir: &Path) -> Result<Bins> {
        let bins = Bins {
            receive: dir.join("smtp-receive"),
            send: dir.join("smtp-send"),
        };
        for bin in [&bins.receive, &bins.send] {
            if !bin.is_file() {
                bail!("{} not found after the build", bin.display());
            }
        }
        Ok(bins)
    }
}

/// Where `smtp-receive` puts accepted mail.
#[derive(Debug, Clone)]
pub enum Store {
    /// `--sink`: nowhere.
    Sink,
    /// `--maildir DIR` (fsync of file and directory before the 250).
    Maildir(PathBuf),
}

/// A running `smtp-receive`.
pub struct OurReceiver {
    /// The guard.
    pub process: PeerProcess,
    /// Its listener (plain, or implicit TLS when started with a certificate).
    pub addr: SocketAddr,
    /// The command line, for the report.
    pub command: String,
}

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
        }
        args.extend(
            [
                "--hostname",
                "localhost",
                "--accept-any-recipient",
                "--max-size",
                "200M",
                "--max-connections",
                "30000",
                "--max-connections-per-ip",
                "30000",
            ]
            .map(String::from),
        );
        let mut process = PeerProcess::spawn(
            "smtp-receive",
            Command::new(&bins.receive).args(&args),
            log_dir,
        )?;
        let addrs = process.wait_for_stdout(START, |line| {
            line.strip_prefix("listening on ")?
                .split(' ')
                .next()?
                .parse::<SocketAddr>()
                .ok()
        })?;
        let addr = *addrs.first().context("smtp-receive printed no listener")?;
        Ok(OurReceiver {
            process,
            addr,
            command: format!("smtp-receive {}", args.join(" ")),
        })
    }

    /// The process id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

/// Postfix's `smtp-sink` accepting and discarding everything (no dumps).
pub struct SmtpSink {
    /// The guard: stops the process when dropped.
    _process: PeerProcess,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl SmtpSink {
    /// `smtp-sink [-u nobody] 127.0.0.1:PORT 1000` (1000: the listen backlog).
    pub fn start(log_dir: &Path) -> Result<SmtpSink> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut cmd = Command::new("/usr/sbin/smtp-sink");
        if running_as_root() {
            cmd.args(["-u", "nobody"]); // it refuses to run as root
        }
        cmd.arg(addr.to_string()).arg("1000");
        let mut process = PeerProcess::spawn("smtp-sink", &mut cmd, log_dir)?;
        process.wait_for_listen(addr, START)?;
        Ok(SmtpSink {
            _process: process,
            addr,
        })
    }
}

/// aiosmtpd from its command line: the Mailbox handler into a Maildir, or
/// the Sink handler over implicit TLS.
pub struct Aiosmtpd {
    /// The guard: stops the process when dropped.
    _process: PeerProcess,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The command line, for the report.
    pub command: String,
}

impl Aiosmtpd {
    /// `python -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox -l ADDR DIR`.
    pub fn mailbox(maildir: &Path, log_dir: &Path) -> Result<Aiosmtpd> {
        let dir = maildir.display().to_string();
        Aiosmtpd::start(&["-c", "aiosmtpd.handlers.Mailbox"], &[&dir], log_dir)
    }

    /// `python -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l ADDR --smtpscert C --smtpskey K -s 200M`.
    pub fn tls_sink(cert: &Path, key: &Path, log_dir: &Path) -> Result<Aiosmtpd> {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        Aiosmtpd::start(
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

    fn start(options: &[&str], class_args: &[&str], log_dir: &Path) -> Result<Aiosmtpd> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let listen = addr.to_string();
        let mut args = vec!["-m", "aiosmtpd", "-n", "-l", &listen];
        args.extend_from_slice(options);
        args.extend_from_slice(class_args);
        let python = venv_python();
        let mut process =
            PeerProcess::spawn("aiosmtpd", Command::new(&python).args(&args), log_dir)?;
        process.wait_for_listen(addr, START)?;
        Ok(Aiosmtpd {
            _process: process,
            addr,
            command: format!("python {}", args.join(" ")),
        })
    }
}

/// Waits until no other Postfix `master` runs on this machine (the interop
/// and conformance tasks start their own), so that two configurations never
/// run at once; gives up after `patience`.
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
            bail!(
                "another Postfix master is still running after {patience:?} (pgrep -f postfix/master)"
            );
        }
        if !said {
            println!("  waiting for another Postfix instance to stop (pgrep -f postfix/master)");
            said = true;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// A private Postfix (crate::peers) that delivers mail for `example.test`
/// into its Maildir through virtual(8), started once no other runs.
pub fn start_postfix(cert: &Path, key: &Path) -> Result<Postfix> {
    wait_for_no_postfix(Duration::from_secs(600))?;
    Postfix::start(&PostfixConfig::new(cert, key))
}
