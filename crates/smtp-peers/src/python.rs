//! The Python peers: aiosmtpd (PyPI, in the venv .ci/install-peers makes)
//! and the stdlib's deprecated `smtpd`. Both bind port 0 on loopback and
//! print the port; both store every message with its envelope (see
//! [`crate::read_store`]).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{PeerError, Result};
use crate::store::StoringPeer;
use crate::{Peer, peer_temp_dir, script_command, venv_python};

const AIOSMTPD_SERVER: &str = include_str!("../scripts/aiosmtpd_server.py");
const SMTPD_SERVER: &str = include_str!("../scripts/python_smtpd_server.py");

/// How long a Python peer may take to start and print its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

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
}

impl AiosmtpdConfig {
    /// Plain text, no AUTH.
    pub fn plain() -> AiosmtpdConfig {
        AiosmtpdConfig {
            tls: AiosmtpdTls::Plain,
            cert_key: None,
            users: Vec::new(),
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

/// A running aiosmtpd; dropping it stops it and removes its store. Its
/// address and messages are [`StoringPeer`]'s.
#[derive(Debug)]
pub struct Aiosmtpd(StoringPeer);

impl Deref for Aiosmtpd {
    type Target = StoringPeer;
    fn deref(&self) -> &StoringPeer {
        &self.0
    }
}

impl Aiosmtpd {
    /// Starts aiosmtpd on 127.0.0.1, port chosen by the kernel.
    ///
    /// ```no_run
    /// # fn main() -> smtp_peers::Result<()> {
    /// use smtp_peers::{Aiosmtpd, AiosmtpdConfig, AiosmtpdTls};
    /// # let (cert, key) = (std::path::Path::new("server.pem"), std::path::Path::new("server.key"));
    /// // STARTTLS required, one AUTH user.
    /// let config = AiosmtpdConfig::tls(AiosmtpdTls::StartTls { required: true }, cert, key)
    ///     .user("alice", "secret");
    /// let aio = Aiosmtpd::start(&config)?;
    /// // ... send to aio.addr() ...
    /// let stored = aio.wait_for_messages(1, std::time::Duration::from_secs(5))?;
    /// assert_eq!(stored[0].envelope.login.as_deref(), Some("alice"));
    /// # Ok(()) }
    /// ```
    pub fn start(config: &AiosmtpdConfig) -> Result<Aiosmtpd> {
        Peer::Aiosmtpd.version()?;
        let dir = peer_temp_dir("aiosmtpd-")?;
        let mut cmd = script_command(
            venv_python(),
            dir.path(),
            "aiosmtpd_server.py",
            AIOSMTPD_SERVER,
        )?;
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--store"]);
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
                return Err(PeerError::Config(
                    "aiosmtpd with TLS needs a certificate and a key",
                ));
            };
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        for (name, password) in &config.users {
            cmd.arg("--user").arg(format!("{name}:{password}"));
        }
        StoringPeer::spawn("aiosmtpd", &mut cmd, dir, START_TIMEOUT).map(Aiosmtpd)
    }
}

/// A running stdlib `smtpd` (plain text only); dropping it stops it and
/// removes its store. Its address and messages are [`StoringPeer`]'s.
#[derive(Debug)]
pub struct PythonSmtpd(StoringPeer);

impl Deref for PythonSmtpd {
    type Target = StoringPeer;
    fn deref(&self) -> &StoringPeer {
        &self.0
    }
}

impl PythonSmtpd {
    /// Starts `smtpd` on 127.0.0.1, port chosen by the kernel;
    /// [`PeerError::NotInstalled`] on Python 3.12 and later.
    pub fn start() -> Result<PythonSmtpd> {
        Peer::PythonSmtpd.version()?;
        let dir = peer_temp_dir("python-smtpd-")?;
        let mut cmd = script_command(
            "python3",
            dir.path(),
            "python_smtpd_server.py",
            SMTPD_SERVER,
        )?;
        cmd.arg("127.0.0.1").arg(dir.path().join("store"));
        StoringPeer::spawn("python smtpd", &mut cmd, dir, START_TIMEOUT).map(PythonSmtpd)
    }
}
