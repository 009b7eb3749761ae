//! The Python peers: aiosmtpd (PyPI, in the venv .ci/install-peers makes)
//! and the stdlib's deprecated `smtpd`. Both bind port 0 on loopback and
//! print the port; both store every message with its envelope (see
//! [`super::maildir::read_store`]).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use super::maildir::{PeerMessage, read_store};
use super::process::{PeerProcess, poll_until, tail};

const AIOSMTPD_SERVER: &str = include_str!("aiosmtpd_server.py");
const SMTPD_SERVER: &str = include_str!("python_smtpd_server.py");

/// How long a Python peer may take to start and print its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The venv holding aiosmtpd: `$SMTP_PEERS_VENV`, else `.peers/venv` at the
/// repository root (where .ci/install-peers puts it).
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("SMTP_PEERS_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => super::repo_root().join(".peers/venv"),
    }
}

/// The venv's interpreter.
pub fn venv_python() -> PathBuf {
    venv_dir().join("bin/python")
}

/// `python3 --version` of the system interpreter (smtplib, smtpd), e.g. `3.11.7`.
pub fn python_version() -> Result<String> {
    let out = Command::new("python3")
        .arg("--version")
        .output()
        .context("python3 not found")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.trim().trim_start_matches("Python ").to_string())
}

/// How aiosmtpd offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiosmtpdTls {
    /// No TLS at all.
    Plain,
    /// STARTTLS offered (RFC 3207); `required`: MAIL refused before it.
    StartTls {
        /// `require_starttls=True`.
        required: bool,
    },
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

/// Options of an aiosmtpd peer.
#[derive(Debug, Clone)]
pub struct AiosmtpdConfig {
    /// TLS offered.
    pub tls: AiosmtpdTls,
    /// Certificate chain and key (PEM), needed unless `tls` is `Plain`.
    pub cert_key: Option<(PathBuf, PathBuf)>,
    /// AUTH PLAIN/LOGIN users as (name, password); empty: no AUTH.
    pub users: Vec<(String, String)>,
    /// Refuse MAIL before AUTH.
    pub auth_required: bool,
}

impl AiosmtpdConfig {
    /// Plain text, no AUTH.
    pub fn plain() -> AiosmtpdConfig {
        AiosmtpdConfig {
            tls: AiosmtpdTls::Plain,
            cert_key: None,
            users: Vec::new(),
            auth_required: false,
        }
    }

    /// TLS of kind `tls` with this certificate and key.
    pub fn tls(tls: AiosmtpdTls, cert: &Path, key: &Path) -> AiosmtpdConfig {
        AiosmtpdConfig {
            tls,
            cert_key: Some((cert.to_path_buf(), key.to_path_buf())),
            ..AiosmtpdConfig::plain()
        }
    }

    /// Adds an AUTH user.
    pub fn user(mut self, name: &str, password: &str) -> AiosmtpdConfig {
        self.users.push((name.into(), password.into()));
        self
    }
}

/// A running aiosmtpd; dropping it stops it and removes its store.
pub struct Aiosmtpd {
    process: PeerProcess,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Aiosmtpd {
    /// aiosmtpd's version, or an error saying how to install it.
    pub fn version() -> Result<String> {
        let python = venv_python();
        let out = Command::new(&python)
            .args(["-c", "import aiosmtpd; print(aiosmtpd.__version__)"])
            .output()
            .with_context(|| {
                format!(
                    "{} not found: run `bash .ci/install-peers`",
                    python.display()
                )
            })?;
        if !out.status.success() {
            bail!(
                "aiosmtpd is not installed in {}: run `bash .ci/install-peers`",
                venv_dir().display()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Starts aiosmtpd on 127.0.0.1, port chosen by the kernel.
    pub fn start(config: &AiosmtpdConfig) -> Result<Aiosmtpd> {
        let dir = super::peer_temp_dir("interop-aiosmtpd-")?;
        let script = dir.path().join("aiosmtpd_server.py");
        fs::write(&script, AIOSMTPD_SERVER)?;
        let mut cmd = Command::new(venv_python());
        cmd.arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0", "--store"]);
        cmd.arg(dir.path().join("store"));
        let mode = match config.tls {
            AiosmtpdTls::Plain => "plain",
            AiosmtpdTls::StartTls { required } => {
                if required {
                    cmd.arg("--require-starttls");
                }
                "starttls"
            }
            AiosmtpdTls::Implicit => "implicit",
        };
        cmd.args(["--mode", mode]);
        if config.tls != AiosmtpdTls::Plain {
            let Some((cert, key)) = &config.cert_key else {
                bail!("aiosmtpd with TLS needs a certificate and a key");
            };
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        for (name, password) in &config.users {
            cmd.arg("--user").arg(format!("{name}:{password}"));
        }
        if config.auth_required {
            cmd.arg("--auth-required");
        }
        let mut process = PeerProcess::spawn("aiosmtpd", &mut cmd, &dir.path().join("log"))?;
        let addr = listening_addr(&mut process)?;
        Ok(Aiosmtpd { process, dir, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it logged (stderr).
    pub fn log(&self) -> String {
        self.process.stderr()
    }

    /// The messages stored so far, in arrival order.
    pub fn messages(&self) -> Result<Vec<PeerMessage>> {
        read_store(&self.dir.path().join("store"))
    }

    /// Waits up to `timeout` for at least `count` messages.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Result<Vec<PeerMessage>> {
        wait_for_store(&self.dir.path().join("store"), count, timeout, || {
            self.log()
        })
    }
}

/// A running stdlib `smtpd` (plain text only); dropping it stops it.
pub struct PythonSmtpd {
    process: PeerProcess,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl PythonSmtpd {
    /// True when the system python3 still ships `smtpd` (removed in 3.12).
    pub fn available() -> bool {
        Command::new("python3")
            .args(["-W", "ignore", "-c", "import smtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Starts `smtpd` on 127.0.0.1, port chosen by the kernel.
    pub fn start() -> Result<PythonSmtpd> {
        if !PythonSmtpd::available() {
            bail!("python3 has no smtpd module (removed in Python 3.12)");
        }
        let dir = super::peer_temp_dir("interop-smtpd-")?;
        let script = dir.path().join("python_smtpd_server.py");
        fs::write(&script, SMTPD_SERVER)?;
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg("127.0.0.1")
            .arg(dir.path().join("store"));
        let mut process = PeerProcess::spawn("python-smtpd", &mut cmd, &dir.path().join("log"))?;
        let addr = listening_addr(&mut process)?;
        Ok(PythonSmtpd { process, dir, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits up to `timeout` for at least `count` messages.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Result<Vec<PeerMessage>> {
        wait_for_store(&self.dir.path().join("store"), count, timeout, || {
            self.process.stderr()
        })
    }
}

/// The `listening on HOST:PORT` line both scripts print.
fn listening_addr(process: &mut PeerProcess) -> Result<SocketAddr> {
    let addrs = process.wait_for_stdout(START_TIMEOUT, |line| {
        line.strip_prefix("listening on ")?
            .trim()
            .parse::<SocketAddr>()
            .ok()
    })?;
    addrs.into_iter().next().context("no listening line")
}

fn wait_for_store(
    store: &Path,
    count: usize,
    timeout: Duration,
    log: impl Fn() -> String,
) -> Result<Vec<PeerMessage>> {
    match poll_until(timeout, || {
        read_store(store).ok().filter(|m| m.len() >= count)
    }) {
        Some(messages) => Ok(messages),
        None => {
            let seen = read_store(store)?.len();
            bail!(
                "the peer stored {seen} of {count} expected message(s); log: {}",
                tail(&log(), 6)
            )
        }
    }
}
