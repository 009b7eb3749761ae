//! Postfix's test programs: `smtp-sink` (a server that accepts everything
//! and, when asked, dumps every transaction) and `smtp-source` (a client
//! that sends many generated messages over one or more sessions). Neither
//! speaks TLS.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext as _, PeerError, Result};
use crate::output::{CommandOutput, poll_until, run_with_timeout};
use crate::process::PeerProcess;
use crate::procfs::{free_port, running_as_root};
use crate::store::{PeerEnvelope, PeerMessage, StoredFile};
use crate::{Peer, peer_temp_dir};

pub(crate) const SMTP_SINK: &str = "/usr/sbin/smtp-sink";
pub(crate) const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

/// How long smtp-sink may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What `smtp-sink` does with what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// Writes each transaction to a file (`-d`), for checking what arrived
    /// ([`SmtpSink::dumps`]); listen backlog 64.
    Dump,
    /// Discards everything, listen backlog 1000: a load target that costs
    /// as little as possible.
    Discard,
}

/// A running `smtp-sink`; dropping it stops it and removes its folder.
#[derive(Debug)]
pub struct SmtpSink {
    // Declared first: stopped before the folder goes.
    process: PeerProcess,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl SmtpSink {
    /// Starts `smtp-sink` on a free loopback port. It drops to `nobody`
    /// when started as root (it refuses to run as root otherwise).
    ///
    /// ```no_run
    /// # fn main() -> smtp_peers::Result<()> {
    /// use smtp_peers::{SinkMode, SmtpSink};
    /// let sink = SmtpSink::start(SinkMode::Dump)?;
    /// // ... send two messages to sink.addr() ...
    /// let dumps = sink.wait_for_dumps(2, std::time::Duration::from_secs(10))?;
    /// assert_eq!(dumps[0].envelope.rcpt_to, ["bob@example.test"]);
    /// # Ok(()) }
    /// ```
    pub fn start(mode: SinkMode) -> Result<SmtpSink> {
        Peer::SmtpSink.version()?;
        let dir = peer_temp_dir("sink-")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut cmd = Command::new(SMTP_SINK);
        if running_as_root() {
            cmd.args(["-u", "nobody"]);
        }
        let backlog = match mode {
            SinkMode::Dump => {
                let dumps = dir.path().join("dumps");
                fs::create_dir_all(&dumps).context("creating the dump folder")?;
                // Written by smtp-sink after it dropped to nobody.
                fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
                    .context("opening the sink folder")?;
                fs::set_permissions(&dumps, fs::Permissions::from_mode(0o777))
                    .context("opening the dump folder")?;
                // strftime template; smtp-sink appends a random hex suffix.
                cmd.arg("-d")
                    .arg(format!("{}/%Y%m%d%H%M%S.", dumps.display()));
                "64"
            }
            SinkMode::Discard => "1000",
        };
        cmd.arg(addr.to_string()).arg(backlog);
        let mut process = PeerProcess::spawn("smtp-sink", &mut cmd, &dir.path().join("log"))?;
        process.wait_for_listen(addr, START_TIMEOUT)?;
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

    /// The dumped transactions so far ([`SinkMode::Dump`]). Each dump starts
    /// with `X-Client-Addr`, `X-Helo-Args`, `X-Mail-Args`, `X-Rcpt-Args` and
    /// a `Received:` line, then the message; the envelope is taken from those.
    pub fn dumps(&self) -> Result<Vec<PeerMessage>> {
        let dir = self.dir.path().join("dumps");
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .context_with(|| format!("reading {}", dir.display()))?
            .filter_map(|e| Some(e.ok()?.path()))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let bytes =
                    fs::read(&path).context_with(|| format!("reading {}", path.display()))?;
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
            None => Err(PeerError::TimedOut {
                what: format!(
                    "smtp-sink dumped {} of {count} message(s)",
                    self.dumps()?.len()
                ),
                waited: timeout,
            }),
        }
    }
}

/// What `smtp-source` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// Several messages per connection (`-d`), else one connection each.
    pub reuse_connection: bool,
    /// Parallel sessions (`-s`).
    pub sessions: u32,
    /// Messages in all (`-m`).
    pub messages: u32,
    /// Message size in octets (`-l`).
    pub size: u32,
    /// Recipients per message (`-r`); smtp-source numbers them (`2to@...`).
    pub recipients: u32,
    /// Envelope sender (`-f`).
    pub from: String,
    /// Envelope recipient (`-t`).
    pub to: String,
}

impl SourceOptions {
    /// The options as given to smtp-source, without the address (`-r`
    /// only when more than one recipient: 1 is its default).
    ///
    /// ```
    /// let options = smtp_peers::SourceOptions {
    ///     reuse_connection: true,
    ///     sessions: 2,
    ///     messages: 10,
    ///     size: 100,
    ///     recipients: 1,
    ///     from: "a@example.test".into(),
    ///     to: "b@example.test".into(),
    /// };
    /// assert_eq!(
    ///     options.args().join(" "),
    ///     "-d -s 2 -m 10 -l 100 -f a@example.test -t b@example.test"
    /// );
    /// ```
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.reuse_connection {
            args.push("-d".to_string());
        }
        args.extend([
            "-s".into(),
            self.sessions.to_string(),
            "-m".into(),
            self.messages.to_string(),
            "-l".into(),
            self.size.to_string(),
        ]);
        if self.recipients > 1 {
            args.extend(["-r".into(), self.recipients.to_string()]);
        }
        args.extend(["-f".into(), self.from.clone(), "-t".into(), self.to.clone()]);
        args
    }
}

/// Runs `smtp-source` against `addr` until it has sent everything; its
/// exit status is in the output (it exits non-zero on any unexpected reply).
pub fn smtp_source(
    addr: SocketAddr,
    options: &SourceOptions,
    log_dir: &Path,
    timeout: Duration,
) -> Result<CommandOutput> {
    Peer::SmtpSource.version()?;
    let mut cmd = Command::new(SMTP_SOURCE);
    cmd.args(options.args()).arg(addr.to_string());
    run_with_timeout("smtp-source", &mut cmd, None, log_dir, timeout)
}
