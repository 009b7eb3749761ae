//! What the outbound tests share: dnsmasq with the test zone, this
//! project's receiver as an exchanger, a runner, enqueueing.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use smtp_peers::{DnsRecord, Dnsmasq, Peer};
use smtp_receiver::config::RecipientPolicy;
use smtp_receiver::{
    Envelope as Received, ForwardPath, Handler, MessageBody, RcptParams, Reply, Server,
    ServerConfig,
};
use smtp_sender::outbound::{QueueRunner, Reporter, RetryPolicy, Router, RunnerConfig, Spool};
use smtp_sender::{ClientConfig, Envelope, Timeouts, TlsMode};
use smtp_wire::reply::EnhancedCode;

/// A message as one exchanger got it.
#[derive(Debug, Clone)]
pub struct Got {
    pub exchanger: &'static str,
    pub envelope: Received,
    pub body: Vec<u8>,
}

/// This project's receiver as an exchanger: `nobody@` is refused for
/// good, `later@` once for now, everything else accepted and recorded.
#[derive(Clone)]
pub struct Exchanger {
    name: &'static str,
    got: Arc<Mutex<Vec<Got>>>,
    refused_once: Arc<AtomicBool>,
}

impl Handler for Exchanger {
    async fn rcpt(&mut self, to: &ForwardPath, _: &RcptParams) -> Result<(), Reply> {
        let to = to.to_string();
        if to.starts_with("<nobody@") {
            return Err(Reply::enhanced(
                550,
                EnhancedCode::new(5, 1, 1),
                "no such user",
            ));
        }
        if to.starts_with("<later@") && !self.refused_once.swap(true, Ordering::SeqCst) {
            return Err(Reply::enhanced(
                451,
                EnhancedCode::new(4, 3, 0),
                "try again later",
            ));
        }
        Ok(())
    }

    async fn data(&mut self, envelope: &Received, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        let mut bytes = Vec::new();
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            bytes.extend_from_slice(chunk);
        }
        self.got.lock().unwrap().push(Got {
            exchanger: self.name,
            envelope: envelope.clone(),
            body: bytes,
        });
        Ok(())
    }
}

/// A receiver listening on `addr`, recording into `got`.
pub async fn exchanger(
    name: &'static str,
    addr: SocketAddr,
    got: &Arc<Mutex<Vec<Got>>>,
) -> Arc<AtomicBool> {
    let refused_once = Arc::new(AtomicBool::new(false));
    let mut config = ServerConfig::new(name);
    config.listen_plain(addr);
    config.session.recipients = RecipientPolicy::domains(["example.test", "implicit.test"]);
    let handler = Exchanger {
        name,
        got: got.clone(),
        refused_once: refused_once.clone(),
    };
    let server = Server::bind(config, handler).await.unwrap();
    tokio::spawn(server.run());
    refused_once
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The test zone: example.test has two exchangers (10: mx1 on
/// 127.0.0.2, 20: mx2 on 127.0.0.3), implicit.test has no MX but an
/// address, nullmx.test a null MX; any other name under .test is
/// NXDOMAIN, and names outside .test are REFUSED (a temporary failure).
pub fn dns() -> Option<Dnsmasq> {
    if let Err(missing) = Peer::Dnsmasq.version() {
        eprintln!("SKIPPED: {missing}");
        return None;
    }
    Some(
        Dnsmasq::start(&[
            DnsRecord::mx("example.test", "mx1.example.test", 10),
            DnsRecord::mx("example.test", "mx2.example.test", 20),
            DnsRecord::host("mx1.example.test", &[ip("127.0.0.2")]),
            DnsRecord::host("mx2.example.test", &[ip("127.0.0.3")]),
            DnsRecord::host("implicit.test", &[ip("127.0.0.4")]),
            DnsRecord::mx("nullmx.test", ".", 0),
        ])
        .unwrap(),
    )
}

pub fn runner(spool: &Spool, router: Router) -> QueueRunner {
    let client = ClientConfig::builder("unused", 25)
        .tls(TlsMode::Opportunistic)
        .timeouts(Timeouts::all(Duration::from_secs(10)))
        .build();
    QueueRunner::new(
        spool.clone(),
        RunnerConfig {
            router,
            client,
            retry: RetryPolicy::default(),
            per_destination: 4,
            max_connections: 16,
            reporter: Reporter {
                host: "mta.example.test".into(),
            },
        },
    )
}

pub fn enqueue(spool: &Spool, from: &str, to: &[&str], subject: &str, now: SystemTime) -> String {
    let envelope = Envelope::new(from, to).unwrap();
    let message =
        format!("From: <{from}>\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n..dot\r\n");
    spool.enqueue(&envelope, message.as_bytes(), now).unwrap()
}

pub fn free_port() -> u16 {
    smtp_peers::free_port().unwrap()
}

pub fn runner_for(spool: &Spool, dns: SocketAddr, port: u16) -> QueueRunner {
    runner(spool, Router::mx(Some(dns), port).unwrap())
}

/// Python's email package must read the report as RFC 3464 says.
pub fn check_report_with_python(report: &[u8], expect: &[(&str, &str)]) {
    let script = r#"
import email, sys, json
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
parts = m.get_payload()
assert parts[0].get_content_type() == "text/plain"
assert parts[1].get_content_type() == "message/delivery-status"
blocks = parts[1].get_payload()
assert blocks[0]["Reporting-MTA"] == "dns; mta.example.test", blocks[0]["Reporting-MTA"]
assert parts[2].get_content_type() in ("message/rfc822", "text/rfc822-headers")
print(json.dumps([dict(b.items()) for b in blocks[1:]]))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(report).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks = String::from_utf8_lossy(&out.stdout).to_string();
    for (field, value) in expect {
        assert!(
            blocks.contains(&format!("\"{field}\": \"{value}\"")),
            "{field}: {value} not in {blocks}"
        );
    }
}

/// What most engine tests start from: the test zone in dnsmasq, a port
/// for the exchangers, `mx1` (127.0.0.2) up when asked, an empty spool
/// and a runner that routes by MX.
pub struct World {
    pub dns: Dnsmasq,
    pub port: u16,
    pub got: Arc<Mutex<Vec<Got>>>,
    pub spool: Spool,
    pub runner: QueueRunner,
    _dir: tempfile::TempDir,
}

impl World {
    /// `None` (and a SKIPPED line) without dnsmasq.
    pub async fn start(with_mx1: bool) -> Option<World> {
        let dns = dns()?;
        let port = free_port();
        let got = Arc::new(Mutex::new(Vec::new()));
        if with_mx1 {
            exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let runner = runner_for(&spool, dns.addr(), port);
        Some(World {
            dns,
            port,
            got,
            spool,
            runner,
            _dir: dir,
        })
    }
}
