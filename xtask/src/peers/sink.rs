//! Postfix's test programs: `smtp-sink` (a server that accepts and,
//! here, dumps every message) and `smtp-source` (a client that sends many
//! generated messages over one or more sessions). Neither speaks TLS.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::maildir::{PeerEnvelope, PeerMessage, StoredFile};
use super::process::{
    CommandOutput, PeerProcess, free_port, poll_until, run_with_timeout, running_as_root,
};

const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

/// A running `smtp-sink`; dropping it stops it and removes the dumps.
pub struct SmtpSink {
    process: PeerProcess,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl SmtpSink {
    /// True when smtp-sink and smtp-source are installed (Debian: postfix).
    pub fn available() -> bool {
        Path::new(SMTP_SINK).exists() && Path::new(SMTP_SOURCE).exists()
    }

    /// Starts `smtp-sink` on a free loopback port, dumping each transaction
    /// into a file (`-d`), with `extra` options (e.g. `-L` for LMTP, `-e` for
    /// no ESMTP). It drops to `nobody` when started as root (it refuses
    /// to run as root otherwise).
    pub fn start(extra: &[&str]) -> Result<SmtpSink> {
        if !SmtpSink::available() {
            bail!("smtp-sink not found: run `bash .ci/install-peers`");
        }
        let dir = super::peer_temp_dir("interop-sink-")?;
        let dumps = dir.path().join("dumps");
        fs::create_dir_all(&dumps)?;
        // Written by smtp-sink after it dropped to nobody.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        fs::set_permissions(&dumps, fs::Permissions::from_mode(0o777))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut cmd = Command::new(SMTP_SINK);
        if running_as_root() {
            cmd.args(["-u", "nobody"]);
        }
        // strftime template; smtp-sink appends a random hex suffix.
        cmd.arg("-d")
            .arg(format!("{}/%Y%m%d%H%M%S.", dumps.display()));
        cmd.args(extra).arg(addr.to_string()).arg("64");
        let mut process = PeerProcess::spawn("smtp-sink", &mut cmd, &dir.path().join("log"))?;
        process.wait_for_listen(addr, Duration::from_secs(10))?;
        Ok(SmtpSink { process, dir, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it printed.
    pub fn log(&self) -> String {
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }

    /// The dumped transactions so far. Each dump starts with `X-Client-Addr`,
    /// `X-Helo-Args`, `X-Mail-Args`, `X-Rcpt-Args` and a `Received:` line,
    /// then the message; the envelope is taken from those.
    pub fn dumps(&self) -> Result<Vec<PeerMessage>> {
        let dir = self.dir.path().join("dumps");
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)?
            .filter_map(|e| Some(e.ok()?.path()))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let bytes =
                    fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let file = StoredFile { path, bytes };
                let strip = |v: String| v.trim_start_matches('<').trim_end_matches('>').to_string();
                let envelope = PeerEnvelope {
                    mail_from: file.header("X-Mail-Args").map(strip).unwrap_or_default(),
                    rcpt_to: file.headers("X-Rcpt-Args").into_iter().map(strip).collect(),
                    helo: file.header("X-Helo-Args"),
                    ..PeerEnvelope::default()
                };
                Ok(PeerMessage { file, envelope })
            })
            .collect()
    }

    /// Waits up to `timeout` for `count` dumps (smtp-sink writes a dump when
    /// the transaction ends).
    pub fn wait_for_dumps(&self, count: usize, timeout: Duration) -> Result<Vec<PeerMessage>> {
        match poll_until(timeout, || self.dumps().ok().filter(|d| d.len() >= count)) {
            Some(dumps) => Ok(dumps),
            None => bail!(
                "smtp-sink dumped {} of {count} message(s)",
                self.dumps()?.len()
            ),
        }
    }
}

/// What `smtp-source` sends.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Parallel sessions (`-s`).
    pub sessions: u32,
    /// Messages in all (`-m`).
    pub messages: u32,
    /// Message size in octets (`-l`).
    pub size: u32,
    /// Recipients per message (`-r`); smtp-source numbers them (`1to@...`).
    pub recipients: u32,
    /// Envelope sender (`-f`).
    pub from: String,
    /// Envelope recipient (`-t`).
    pub to: String,
    /// Several messages per connection (`-d`), else one connection each.
    pub reuse_connection: bool,
}

/// Runs `smtp-source` against `addr` until it has sent everything (it
/// exits non-zero on any unexpected reply).
pub fn smtp_source(
    addr: SocketAddr,
    options: &SourceOptions,
    log_dir: &Path,
    timeout: Duration,
) -> Result<CommandOutput> {
    if !SmtpSink::available() {
        bail!("smtp-source not found: run `bash .ci/install-peers`");
    }
    let mut cmd = Command::new(SMTP_SOURCE);
    if options.reuse_connection {
        cmd.arg("-d");
    }
    cmd.args(["-s", &options.sessions.to_string()])
        .args(["-m", &options.messages.to_string()])
        .args(["-l", &options.size.to_string()])
        .args(["-r", &options.recipients.to_string()])
        .args(["-f", &options.from, "-t", &options.to])
        .arg(addr.to_string());
    run_with_timeout("smtp-source", &mut cmd, None, log_dir, timeout)
}
