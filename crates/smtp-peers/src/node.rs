//! nodemailer's smtp-server (npm, in the `.peers/node` folder that
//! .ci/install-peers fills): a scriptable SMTP server library, run by a
//! small script with the library's defaults and an application's few
//! decisions (AUTH users, local domains). It binds port 0 on loopback,
//! prints the port, and stores every message with its envelope like
//! aiosmtpd does (see [`crate::read_store`]).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{PeerError, Result};
use crate::store::StoringPeer;
use crate::{Peer, node_modules_dir, peer_temp_dir, script_command};

const SERVER_SCRIPT: &str = include_str!("../scripts/node_smtp_server.js");

/// How long the server may take to start and print its port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How smtp-server offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSmtpTls {
    /// No TLS (STARTTLS and AUTH disabled).
    Plain,
    /// STARTTLS offered (RFC 3207), not required.
    StartTls,
    /// TLS from the first byte (RFC 8314; `secure: true`).
    Implicit,
}

/// Options of an smtp-server peer.
#[derive(Debug, Clone)]
pub struct NodeSmtpServerConfig {
    /// TLS offered.
    pub tls: NodeSmtpTls,
    /// Certificate chain and key (PEM), needed unless `tls` is `Plain`.
    pub cert_key: Option<(PathBuf, PathBuf)>,
    /// AUTH PLAIN/LOGIN users as (name, password), offered under TLS only;
    /// empty: no AUTH.
    pub users: Vec<(String, String)>,
    /// Recipient domains accepted, with `<Postmaster>` (others get 550);
    /// empty: any.
    pub domains: Vec<String>,
}

impl NodeSmtpServerConfig {
    /// TLS of kind `tls` with this certificate and key, no AUTH, any recipient.
    pub fn tls(tls: NodeSmtpTls, cert: &Path, key: &Path) -> NodeSmtpServerConfig {
        NodeSmtpServerConfig {
            tls,
            cert_key: Some((cert.to_path_buf(), key.to_path_buf())),
            users: Vec::new(),
            domains: Vec::new(),
        }
    }

    /// Adds an AUTH user.
    pub fn user(mut self, name: &str, password: &str) -> NodeSmtpServerConfig {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Accepts recipients in `domain` (and, once one is given, only those).
    pub fn domain(mut self, domain: &str) -> NodeSmtpServerConfig {
        self.domains.push(domain.into());
        self
    }
}

/// A running smtp-server; dropping it stops it and removes its store.
/// Its address and messages are [`StoringPeer`]'s.
#[derive(Debug)]
pub struct NodeSmtpServer(StoringPeer);

impl Deref for NodeSmtpServer {
    type Target = StoringPeer;
    fn deref(&self) -> &StoringPeer {
        &self.0
    }
}

impl NodeSmtpServer {
    /// Starts smtp-server on 127.0.0.1, port chosen by the kernel.
    ///
    /// ```no_run
    /// # fn main() -> smtp_peers::Result<()> {
    /// use smtp_peers::{NodeSmtpServer, NodeSmtpServerConfig, NodeSmtpTls};
    /// # let (cert, key) = (std::path::Path::new("server.pem"), std::path::Path::new("server.key"));
    /// let config = NodeSmtpServerConfig::tls(NodeSmtpTls::StartTls, cert, key)
    ///     .user("alice", "secret")
    ///     .domain("example.test");
    /// let server = NodeSmtpServer::start(&config)?;
    /// // ... send to server.addr() ...
    /// let stored = server.wait_for_messages(1, std::time::Duration::from_secs(5))?;
    /// # Ok(()) }
    /// ```
    pub fn start(config: &NodeSmtpServerConfig) -> Result<NodeSmtpServer> {
        Peer::NodeSmtpServer.version()?;
        let dir = peer_temp_dir("smtp-server-")?;
        let mut cmd = script_command("node", dir.path(), "smtp_server.js", SERVER_SCRIPT)?;
        cmd.env("NODE_PATH", node_modules_dir());
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--store"]);
        cmd.arg(dir.path().join("store"));
        let mode = match config.tls {
            NodeSmtpTls::Plain => "plain",
            NodeSmtpTls::StartTls => "starttls",
            NodeSmtpTls::Implicit => "implicit",
        };
        cmd.args(["--mode", mode]);
        if config.tls != NodeSmtpTls::Plain {
            let Some((cert, key)) = &config.cert_key else {
                return Err(PeerError::Config(
                    "smtp-server with TLS needs a certificate and a key",
                ));
            };
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        for (name, password) in &config.users {
            cmd.arg("--user").arg(format!("{name}:{password}"));
        }
        for domain in &config.domains {
            cmd.arg("--domain").arg(domain);
        }
        StoringPeer::spawn("smtp-server", &mut cmd, dir, START_TIMEOUT).map(NodeSmtpServer)
    }
}
