//! dnsmasq as the DNS of the outbound tests: MX, A, AAAA and null MX
//! records for test domains, on a free loopback port, authoritative for
//! `.test` (`--local=/test/`): a name it has no record of is NXDOMAIN, a
//! name without the asked type is NODATA, and a name outside `.test`
//! is REFUSED (what a resolver sees as a temporary failure).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::error::Result;
use crate::installed::DNSMASQ;
use crate::peer_temp_dir;
use crate::process::PeerProcess;
use crate::procfs::free_port;

/// A running dnsmasq; dropping it stops it.
#[derive(Debug)]
pub struct Dnsmasq {
    process: PeerProcess,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// One record to serve.
#[derive(Debug, Clone)]
pub enum DnsRecord {
    /// `MX preference exchange` for `domain`; exchange `.` is a null MX
    /// (RFC 7505).
    Mx {
        /// The domain.
        domain: String,
        /// The exchanger's name.
        exchange: String,
        /// Its preference.
        preference: u16,
    },
    /// A and AAAA records for `name`.
    Host {
        /// The name.
        name: String,
        /// Its addresses.
        addrs: Vec<std::net::IpAddr>,
    },
}

impl DnsRecord {
    /// An MX record.
    pub fn mx(domain: &str, exchange: &str, preference: u16) -> DnsRecord {
        DnsRecord::Mx {
            domain: domain.into(),
            exchange: exchange.into(),
            preference,
        }
    }

    /// A/AAAA records.
    pub fn host(name: &str, addrs: &[std::net::IpAddr]) -> DnsRecord {
        DnsRecord::Host {
            name: name.into(),
            addrs: addrs.to_vec(),
        }
    }

    fn option(&self) -> String {
        match self {
            DnsRecord::Mx {
                domain,
                exchange,
                preference,
            } => format!("--mx-host={domain},{exchange},{preference}"),
            DnsRecord::Host { name, addrs } => {
                let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                format!("--host-record={name},{}", list.join(","))
            }
        }
    }
}

impl Dnsmasq {
    /// Starts dnsmasq on 127.0.0.1 serving `records`.
    pub fn start(records: &[DnsRecord]) -> Result<Dnsmasq> {
        let dir = peer_temp_dir("dnsmasq-")?;
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(DNSMASQ);
        command.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--local=/test/",
            "--log-queries",
            "--user=root",
        ]);
        command.arg(format!("--port={port}"));
        command.arg(format!("--pid-file={}", dir.path().join("pid").display()));
        command.args(records.iter().map(DnsRecord::option));
        let mut process = PeerProcess::spawn("dnsmasq", &mut command, dir.path())?;
        process.wait_for_listen(addr, Duration::from_secs(10))?;
        Ok(Dnsmasq {
            process,
            addr,
            _dir: dir,
        })
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its log (every query, `--log-queries`).
    pub fn log(&self) -> String {
        self.process.stderr()
    }
}
