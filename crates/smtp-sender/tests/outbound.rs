//! The outbound engine against a real DNS server (dnsmasq) and real
//! receivers on loopback: this project's receiver in-process (one per
//! exchanger address, 127.0.0.2, 127.0.0.3 ...), and Postfix's smtpd.
//! The clock is injected: retries are reached by passing a later time to
//! `run_once`, never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

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
use smtp_sender::outbound::{
    PassSummary, QueueRunner, RecipientState, Reporter, RetryPolicy, Router, RunnerConfig, Spool,
};
use smtp_sender::{ClientConfig, Envelope, Timeouts, TlsMode};
use smtp_wire::reply::EnhancedCode;

/// A message as one exchanger got it.
#[derive(Debug, Clone)]
struct Got {
    exchanger: &'static str,
    envelope: Received,
    body: Vec<u8>,
}

/// This project's receiver as an exchanger: `nobody@` is refused for
/// good, `later@` once for now, everything else accepted and recorded.
#[derive(Clone)]
struct Exchanger {
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
async fn exchanger(
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

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The test zone: example.test has two exchangers (10: mx1 on
/// 127.0.0.2, 20: mx2 on 127.0.0.3), implicit.test has no MX but an
/// address, nullmx.test a null MX; any other name under .test is
/// NXDOMAIN, and names outside .test are REFUSED (a temporary failure).
fn dns() -> Option<Dnsmasq> {
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

fn runner(spool: &Spool, router: Router) -> QueueRunner {
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

fn enqueue(spool: &Spool, from: &str, to: &[&str], subject: &str, now: SystemTime) -> String {
    let envelope = Envelope::new(from, to).unwrap();
    let message =
        format!("From: <{from}>\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n..dot\r\n");
    spool.enqueue(&envelope, message.as_bytes(), now).unwrap()
}

fn free_port() -> u16 {
    smtp_peers::free_port().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_preference_fallback_and_implicit_mx() {
    let Some(dns) = dns() else { return };
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    // mx1 (preference 10) is down at first: only mx2 and implicit.test listen.
    exchanger("mx2", SocketAddr::new(ip("127.0.0.3"), port), &got).await;
    exchanger("implicit", SocketAddr::new(ip("127.0.0.4"), port), &got).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let runner = runner(&spool, Router::mx(Some(dns.addr()), port).unwrap());
    let now = SystemTime::now();
    enqueue(
        &spool,
        "alice@example.org",
        &["bob@example.test", "carol@implicit.test"],
        "first",
        now,
    );

    let pass = runner.run_once(now, false).await.unwrap();
    assert_eq!((pass.delivered, pass.remaining), (2, 0), "{pass}");
    let seen: Vec<_> = got.lock().unwrap().iter().map(|g| g.exchanger).collect();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.contains(&"mx2"),
        "fell back to the second exchanger: {seen:?}"
    );
    assert!(seen.contains(&"implicit"), "implicit MX: {seen:?}");
    let first = got.lock().unwrap()[0].body.clone();
    assert!(
        String::from_utf8_lossy(&first).contains("\r\n..dot\r\n")
            || String::from_utf8_lossy(&first).contains("\r\n.dot\r\n"),
        "content arrived"
    );

    // Once mx1 is up, the lower preference wins.
    exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
    enqueue(
        &spool,
        "alice@example.org",
        &["bob@example.test"],
        "second",
        now,
    );
    let pass = runner.run_once(now, false).await.unwrap();
    assert_eq!(pass.delivered, 1, "{pass}");
    assert_eq!(got.lock().unwrap().last().unwrap().exchanger, "mx1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_defers_and_the_retry_delivers_with_the_clock_injected() {
    let Some(dns) = dns() else { return };
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let runner = runner(&spool, Router::mx(Some(dns.addr()), port).unwrap());
    let t0 = SystemTime::now();
    let id = enqueue(
        &spool,
        "alice@example.org",
        &["later@example.test", "bob@example.test"],
        "retry",
        t0,
    );

    let pass = runner.run_once(t0, false).await.unwrap();
    assert_eq!(
        (pass.delivered, pass.deferred, pass.remaining),
        (1, 1, 1),
        "{pass}"
    );
    let record = spool.record(&id).unwrap();
    assert_eq!(record.recipients[0].state, RecipientState::Deferred);
    assert_eq!(record.recipients[0].status.as_deref(), Some("4.3.0"));
    assert_eq!(record.recipients[1].state, RecipientState::Delivered);

    // Not due yet a minute later (first retry after 5 minutes).
    let pass = runner
        .run_once(t0 + Duration::from_secs(60), false)
        .await
        .unwrap();
    assert_eq!(pass.transactions, 0, "{pass}");

    let pass = runner
        .run_once(t0 + Duration::from_secs(301), false)
        .await
        .unwrap();
    assert_eq!((pass.delivered, pass.remaining), (1, 0), "{pass}");
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 2, "bob once, later once");
    assert_eq!(
        got[1].envelope.recipients.len(),
        1,
        "only the deferred recipient again"
    );
}

/// Python's email package must read the report as RFC 3464 says.
fn check_report_with_python(report: &[u8], expect: &[(&str, &str)]) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_bounce_as_delivery_status_reports_but_never_to_the_null_sender() {
    let Some(dns) = dns() else { return };
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let runner = runner(&spool, Router::mx(Some(dns.addr()), port).unwrap());
    let now = SystemTime::now();
    enqueue(
        &spool,
        "alice@example.org",
        &[
            "nobody@example.test",
            "x@nullmx.test",
            "y@nosuchdomain.test",
            "z@refused.example",
        ],
        "bounce",
        now,
    );
    let pass = runner.run_once(now, false).await.unwrap();
    assert_eq!(
        (pass.failed, pass.deferred, pass.reports),
        (3, 1, 1),
        "{pass}"
    );

    // The report: one entry from <> to alice, about the three failures.
    let ids = spool.ids().unwrap();
    assert_eq!(
        ids.len(),
        2,
        "the message (one recipient deferred) and its report"
    );
    let report_id = ids
        .iter()
        .find(|id| spool.record(id).unwrap().from.is_empty())
        .unwrap();
    let record = spool.record(report_id).unwrap();
    assert_eq!(record.recipients[0].address, "alice@example.org");
    let report = spool.message(report_id).unwrap();
    check_report_with_python(
        &report,
        &[
            ("Final-Recipient", "rfc822; nobody@example.test"),
            ("Status", "5.1.1"),
            ("Remote-MTA", "dns; mx1.example.test"),
            ("Diagnostic-Code", "smtp; 550 5.1.1 no such user"),
            ("Final-Recipient", "rfc822; x@nullmx.test"),
            ("Status", "5.1.10"),
            ("Final-Recipient", "rfc822; y@nosuchdomain.test"),
            ("Status", "5.1.2"),
            ("Action", "failed"),
        ],
    );
    let deferred = spool
        .record(ids.iter().find(|id| *id != report_id).unwrap())
        .unwrap();
    let z = &deferred.recipients[3];
    assert_eq!(
        (z.state, z.status.as_deref()),
        (RecipientState::Deferred, Some("4.4.3")),
        "{z:?}"
    );

    // A message from <> that fails is dropped with no report (no loops).
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let runner = runner_for(&spool, dns.addr(), port);
    enqueue(&spool, "", &["nobody@example.test"], "a report", now);
    let pass = runner.run_once(now, false).await.unwrap();
    assert_eq!(
        (pass.failed, pass.reports, pass.remaining),
        (1, 0, 0),
        "{pass}"
    );
}

fn runner_for(spool: &Spool, dns: SocketAddr, port: u16) -> QueueRunner {
    runner(spool, Router::mx(Some(dns), port).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_carries_many_messages_and_bad_records_go_aside() {
    let Some(dns) = dns() else { return };
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let runner = runner_for(&spool, dns.addr(), port);
    let now = SystemTime::now();
    for i in 0..40 {
        enqueue(
            &spool,
            "alice@example.org",
            &["bob@example.test", "carol@example.test"],
            &format!("m{i}"),
            now,
        );
    }
    let broken = enqueue(
        &spool,
        "alice@example.org",
        &["bob@example.test"],
        "broken",
        now,
    );
    std::fs::write(
        dir.path().join(format!("queue/{broken}.env")),
        b"{\"format\":1}",
    )
    .unwrap();

    let pass: PassSummary = runner.run_once(now, false).await.unwrap();
    assert_eq!(
        (pass.transactions, pass.delivered, pass.bad, pass.remaining),
        (40, 80, 1, 0),
        "{pass}"
    );
    let got = got.lock().unwrap();
    assert_eq!(
        got.len(),
        40,
        "one transaction per message for its two recipients"
    );
    assert!(got.iter().all(|g| g.envelope.recipients.len() == 2));
    let peers: std::collections::HashSet<_> = got.iter().map(|g| g.envelope.peer).collect();
    assert!(
        peers.len() <= 4,
        "at most per_destination connections: {}",
        peers.len()
    );
    let bad = spool.bad_entries().unwrap();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].1.contains("missing field"), "{bad:?}");
}
