//! HAProxy as the load balancer in front of receivers: TCP mode, each
//! backend server sent a PROXY protocol header (v1 `send-proxy` or v2
//! `send-proxy-v2`) and health-checked through it (`check-send-proxy`
//! sends the same version the server line names). A connection refused by
//! a server that died is tried again on another (`option redispatch`).
//! Foreground (`-db`), stopped by PID like every peer.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext as _, Result};
use crate::installed::HAPROXY;
use crate::peer_temp_dir;
use crate::process::PeerProcess;
use crate::procfs::free_port;

/// Which PROXY protocol version HAProxy sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    /// `send-proxy`: the text header.
    V1,
    /// `send-proxy-v2`: the binary header.
    V2,
}

/// A running HAProxy; dropping it stops it.
#[derive(Debug)]
pub struct Haproxy {
    process: PeerProcess,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Listens on a free 127.0.0.1 port and spreads connections over
    /// `backends` (round robin), each sent a PROXY header of `version`
    /// and health-checked every 300 ms.
    pub fn start(backends: &[SocketAddr], version: ProxyVersion) -> Result<Haproxy> {
        let dir = peer_temp_dir("haproxy-")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let send = match version {
            ProxyVersion::V1 => "send-proxy",
            ProxyVersion::V2 => "send-proxy-v2",
        };
        let mut config = format!(
            "# Written by smtp-peers (haproxy.rs) for one run.\n\
             defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
             \x20 retries 3\n  option redispatch\n\
             frontend smtp\n  bind {addr}\n  default_backend receivers\n\
             backend receivers\n  balance roundrobin\n"
        );
        for (i, backend) in backends.iter().enumerate() {
            let _ = writeln!(
                config,
                "  server r{i} {backend} {send} check check-send-proxy inter 300ms"
            );
        }
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).context("writing haproxy.cfg")?;
        let mut process = PeerProcess::spawn(
            "haproxy",
            Command::new(HAPROXY).arg("-f").arg(&file).arg("-db"),
            dir.path(),
        )?;
        process.wait_for_listen(addr, Duration::from_secs(10))?;
        Ok(Haproxy {
            process,
            addr,
            _dir: dir,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What HAProxy printed.
    pub fn log(&self) -> String {
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }
}
