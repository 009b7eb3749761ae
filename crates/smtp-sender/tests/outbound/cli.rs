//! `smtp-send enqueue` and `smtp-send queue ...` as a user runs them:
//! a sendmail-style pipe, a pass, `list`, `remove`, `flush`, a runner
//! killed with SIGKILL under load, two runners on one spool, and
//! Postfix's smtpd as the exchanger.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use smtp_peers::{Peer, Postfix, PostfixConfig};
use smtp_sender::outbound::Spool;

use crate::fixtures::*;
use crate::support::Pki;
use crate::support::cli::smtp_send;

/// The arguments that route by MX through the test DNS to `port`.
fn mx_args(dns: SocketAddr, port: u16) -> Vec<String> {
    vec![
        "--dns".into(),
        dns.to_string(),
        "--smtp-port".into(),
        port.to_string(),
        "--timeout".into(),
        "10".into(),
    ]
}

fn args<'a>(spool: &'a str, extra: &'a [String], head: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = head.to_vec();
    all.extend(["--spool", spool]);
    all.extend(extra.iter().map(String::as_str));
    all
}

/// `smtp-send enqueue --spool SPOOL ARGS...`.
async fn enqueue_cli(spool: &str, args: &[&str]) -> crate::support::cli::Output {
    let mut all = vec!["enqueue", "--spool", spool];
    all.extend(args);
    smtp_send(&all, None, &[]).await
}

/// How many times each subject arrived.
fn subjects(got: &Arc<Mutex<Vec<Got>>>) -> HashMap<String, usize> {
    let mut count = HashMap::new();
    for g in got.lock().unwrap().iter() {
        let text = String::from_utf8_lossy(&g.body);
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_string();
        *count.entry(subject).or_default() += 1;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_a_pass_and_the_queue_commands() {
    let Some(dns) = dns() else { return };
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().to_str().unwrap();

    // sendmail-style: the message on stdin, the envelope from its headers.
    let letter = b"From: alice@example.org\nTo: bob@example.test\nSubject: piped\n\nhello\n";
    let out = smtp_send(&["enqueue", "--spool", spool, "-"], Some(letter), &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = out.stdout.trim().to_string();
    let out = enqueue_cli(
        spool,
        &[
            "--from",
            "alice@example.org",
            "--to",
            "carol@example.test",
            "--subject",
            "composed",
            "--text",
            "hi",
            "--notify",
            "FAILURE,DELAY",
            "--ret",
            "HDRS",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = smtp_send(&["queue", "list", "--spool", spool], None, &[]).await;
    assert!(out.stdout.contains(&id), "{}", out.stdout);
    assert!(
        out.stdout.contains("pending   <bob@example.test>"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("-- 2 messages, 2 recipients waiting"),
        "{}",
        out.stdout
    );
    let out = smtp_send(&["queue", "list", "--spool", spool, "--json"], None, &[]).await;
    let records: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(records[1]["recipients"][0]["notify"], "FAILURE,DELAY");
    assert_eq!(records[1]["ret"], "HDRS");

    let extra = mx_args(dns.addr(), port);
    let out = smtp_send(
        &args(spool, &extra, &["queue", "run", "--once", "--tls", "none"]),
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("pass entries=2 transactions=2 delivered=2"),
        "{}",
        out.stdout
    );
    let seen = subjects(&got);
    assert_eq!((seen["piped"], seen["composed"]), (1, 1));
    let out = smtp_send(&["queue", "list", "--spool", spool], None, &[]).await;
    assert!(
        out.stdout.contains("-- 0 messages, 0 recipients waiting"),
        "{}",
        out.stdout
    );

    // remove, flush, and their errors.
    let out = enqueue_cli(
        spool,
        &[
            "--from",
            "a@example.org",
            "--to",
            "b@example.test",
            "--text",
            "x",
        ],
    )
    .await;
    let id = out.stdout.trim().to_string();
    let out = smtp_send(&["queue", "flush", "--spool", spool], None, &[]).await;
    assert_eq!(out.stdout.trim(), "1 message due now");
    let out = smtp_send(
        &["queue", "remove", "--spool", spool, &id, "nosuchid"],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 66, "{}", out.stderr);
    assert!(out.stdout.contains(&format!("removed {id}")));
    assert!(
        out.stderr.contains("no message nosuchid in the spool"),
        "{}",
        out.stderr
    );
    let out = enqueue_cli(
        spool,
        &[
            "--from",
            "a@example.org",
            "--to",
            "b@example.test",
            "--text",
            "x",
            "--notify",
            "NEVER,SUCCESS",
        ],
    )
    .await;
    assert_eq!(
        out.code, 65,
        "NOTIFY=NEVER stands alone (RFC 3461 §4.1): {}",
        out.stderr
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
}

#[tokio::test]
async fn an_unwritable_spool_is_a_clear_error_with_nothing_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().to_str().unwrap();
    Spool::open(dir.path()).unwrap();
    // tmp/ replaced by a file: every write fails, as on a full disk.
    std::fs::remove_dir(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("tmp"), b"").unwrap();
    let out = enqueue_cli(
        spool,
        &[
            "--from",
            "a@example.org",
            "--to",
            "b@example.test",
            "--text",
            "x",
        ],
    )
    .await;
    assert_eq!(out.code, 75, "EX_TEMPFAIL: {}", out.stderr);
    assert!(out.stderr.contains("/tmp: File exists"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert_eq!(
        std::fs::read_dir(dir.path().join("queue")).unwrap().count(),
        0,
        "no half entry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_and_two_runners_never_send_twice() {
    let Some(dns) = dns() else { return };
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    exchanger("mx1", SocketAddr::new(ip("127.0.0.2"), port), &got).await;
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().to_str().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    const MESSAGES: usize = 600;
    for i in 0..MESSAGES {
        enqueue(
            &spool,
            "alice@example.org",
            &["bob@example.test"],
            &format!("k{i}"),
            SystemTime::now(),
        );
    }
    let extra = mx_args(dns.addr(), port);
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(args(
            spool_dir,
            &extra,
            &["queue", "run", "--tls", "none", "--poll", "1s"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL once a fair part went out: mid-pass, transactions in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < MESSAGES / 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner delivers nothing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
    let at_kill = got.lock().unwrap().len();
    assert!(at_kill < MESSAGES, "killed too late to prove anything");

    // Two runners finish the spool together.
    let once = args(
        spool_dir,
        &extra,
        &["queue", "run", "--once", "--tls", "none"],
    );
    let a = smtp_send(&once, None, &[]);
    let b = smtp_send(&once, None, &[]);
    let (a, b) = tokio::join!(a, b);
    assert_eq!((a.code, b.code), (0, 0), "{}{}", a.stderr, b.stderr);
    assert!(spool.ids().unwrap().is_empty(), "the spool is empty");

    let seen = subjects(&got);
    for i in 0..MESSAGES {
        assert!(seen.contains_key(&format!("k{i}")), "k{i} was lost");
    }
    // The duplicate window: at most the transactions in flight at the
    // kill, one per connection (20 per destination by default).
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert!(duplicates <= 20, "{duplicates} duplicates");
    eprintln!("killed after {at_kill} of {MESSAGES}; {duplicates} sent twice (limit 20)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_as_the_exchanger_with_opportunistic_starttls() {
    let Some(_) = Peer::Dnsmasq.version().ok() else {
        eprintln!("SKIPPED: dnsmasq not installed (run .ci/install-peers)");
        return;
    };
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let pki = Pki::new("Outbound Postfix CA");
    let files = pki.files.clone();
    let postfix = tokio::task::spawn_blocking(move || {
        Postfix::start(&PostfixConfig::new(&files.server_cert, &files.server_key))
    })
    .await
    .unwrap()
    .expect("Postfix starts");
    let dns = smtp_peers::Dnsmasq::start(&[
        smtp_peers::DnsRecord::mx("example.test", "mx.example.test", 10),
        smtp_peers::DnsRecord::host("mx.example.test", &[ip("127.0.0.1")]),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().to_str().unwrap();
    let out = enqueue_cli(
        spool,
        &[
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.test",
            "--subject",
            "to postfix",
            "--text",
            "hello Postfix",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let extra = mx_args(dns.addr(), postfix.smtp_addr().port());
    // The default TLS for MX delivery: STARTTLS when offered, unchecked.
    let out = smtp_send(&args(spool, &extra, &["queue", "run", "--once"]), None, &[]).await;
    assert!(
        out.stdout.contains("delivered=1"),
        "{}{}\n{}",
        out.stdout,
        out.stderr,
        postfix.log()
    );
    let stored = tokio::task::spawn_blocking(move || {
        postfix.wait_for_messages(1, Duration::from_secs(20), |_| true)
    })
    .await
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&stored[0].bytes).to_string();
    assert!(text.contains("Subject: to postfix"), "{text}");
    assert!(text.contains("with ESMTPS"), "TLS was used: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiosmtpd_as_the_exchanger() {
    let Some(_) = Peer::Dnsmasq.version().ok() else {
        eprintln!("SKIPPED: dnsmasq not installed (run .ci/install-peers)");
        return;
    };
    if let Err(missing) = Peer::Aiosmtpd.version() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let aio = smtp_peers::Aiosmtpd::start(&smtp_peers::AiosmtpdConfig::plain()).unwrap();
    let dns = smtp_peers::Dnsmasq::start(&[
        smtp_peers::DnsRecord::mx("example.test", "mx.example.test", 10),
        smtp_peers::DnsRecord::host("mx.example.test", &[ip("127.0.0.1")]),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().to_str().unwrap();
    let out = enqueue_cli(
        spool,
        &[
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.test",
            "--to",
            "carol@example.test",
            "--subject",
            "to aiosmtpd",
            "--text",
            ".dot first\nlast",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let extra = mx_args(dns.addr(), aio.addr().port());
    let out = smtp_send(&args(spool, &extra, &["queue", "run", "--once"]), None, &[]).await;
    assert!(
        out.stdout.contains("transactions=1 delivered=2"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let stored = aio.wait_for_messages(1, Duration::from_secs(10)).unwrap();
    let text = String::from_utf8_lossy(&stored[0].file.bytes).to_string();
    assert!(text.contains("Subject: to aiosmtpd"), "{text}");
    assert!(
        text.contains("\n.dot first"),
        "dot-stuffing undone by the peer: {text}"
    );
    assert_eq!(
        stored[0].envelope.rcpt_to.len(),
        2,
        "one transaction for the domain"
    );
}
