//! Onward delivery with `smtp-receive --deliver`: into Dovecot over LMTP
//! through the spool (queued), and to Postfix as a smarthost while the
//! client waits (`--deliver-sync`), with Postfix's refusal passed back to
//! the client and a partly refused message finished by the spool.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;
use std::time::Duration;

use smtp_peers::{Dovecot, Peer, Postfix, PostfixConfig, poll_until};
use smtp_testkit::bins::RunningReceiver;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-receive");

/// Sends one message with smtplib from 127.0.0.7; prints what sendmail
/// refused, or `ERROR code text` when it raised.
const SEND: &str = r#"
import smtplib, sys
port, sender, subject, *rcpts = sys.argv[1:]
try:
    with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example",
                      source_address=("127.0.0.7", 0), timeout=30) as s:
        print(s.sendmail(sender, rcpts, f"Subject: {subject}\r\nMessage-ID: <{subject}@client.example>\r\n\r\nhi\r\n.line\r\n"))
except smtplib.SMTPDataError as e:
    print("ERROR", e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print("REFUSED", e.recipients)
"#;

async fn send(port: u16, sender: &str, subject: &str, rcpts: &[&str]) -> String {
    let mut args = vec![port.to_string(), sender.to_string(), subject.to_string()];
    args.extend(rcpts.iter().map(|r| r.to_string()));
    common::python(SEND, &args).await
}

fn receiver(args: &[&str], dir: &Path) -> RunningReceiver {
    let mut all = vec!["--listen", "127.0.0.1:0", "--hostname", "relay.test"];
    all.extend_from_slice(args);
    RunningReceiver::start(Path::new(BIN), &all, dir).unwrap()
}

fn spool_is_empty(spool: &Path) -> bool {
    std::fs::read_dir(spool.join("queue")).is_ok_and(|mut d| d.next().is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_into_dovecot_over_lmtp_with_a_maildir_copy() {
    if let Err(missing) = Peer::Dovecot.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let dovecot = Dovecot::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let copy = dir.path().join("copy");
    let hop = format!("lmtp:unix:{}", dovecot.lmtp_socket().display());
    let running = receiver(
        &[
            "--domain",
            "example.test",
            "--deliver",
            &hop,
            "--deliver",
            &format!("maildir:{}", copy.display()),
            "--spool",
            spool.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    // With onward delivery, --http serves the health endpoints alone.
    let http = format!("http://{}", running.http().unwrap());
    let status = |path: &'static str| {
        let url = format!("{http}{path}");
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/readyz").await, 200);
    assert_eq!(status("/livez").await, 200);
    assert_eq!(status("/api/v1/messages").await, 404, "no inbox to show");
    let port = running.plain().unwrap().port();
    for i in 0..3 {
        let out = send(
            port,
            "alice@client.example",
            &format!("m{i}"),
            &["bob@example.test", "carol@example.test"],
        )
        .await;
        assert_eq!(out.trim(), "{}", "all accepted");
    }
    let arrived = poll_until(Duration::from_secs(20), || {
        (dovecot.count("bob@example.test").ok()? == 3
            && dovecot.count("carol@example.test").ok()? == 3)
            .then_some(())
    });
    assert!(arrived.is_some(), "3 each in Dovecot: {}", dovecot.log());
    let headers = dovecot.headers("bob@example.test").unwrap();
    for h in &headers {
        assert!(h.contains("by relay.test"), "our Received: {h}");
        assert!(h.contains("([127.0.0.7])"), "the client's address: {h}");
        // A relay adds no Return-Path (Dovecot adds the one) and never
        // passes on the list of recipients (RFC 5321 §4.4, §7.2).
        assert_eq!(h.matches("Return-Path:").count(), 1, "{h}");
        assert!(!h.contains("X-Original-To"), "{h}");
        assert!(!h.contains("carol@"), "bob's copy names carol: {h}");
    }
    let copied = std::fs::read_to_string(&common::files(&copy.join("new"))[0]).unwrap();
    assert!(
        copied.starts_with("Return-Path: <alice@client.example>"),
        "{copied}"
    );
    assert!(copied.contains("X-Original-To"), "{copied}");
    assert_eq!(
        common::files(&copy.join("new")).len(),
        3,
        "the Maildir copy"
    );
    assert!(
        poll_until(Duration::from_secs(10), || spool_is_empty(&spool)
            .then_some(()))
        .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_through_postfix_passes_its_answers_back() {
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let certs = common::TestCerts::generate();
    let mut config = PostfixConfig::new(&certs.files.server_cert, &certs.files.server_key);
    config.domains = vec!["example.test".into()];
    let postfix = tokio::task::spawn_blocking(move || Postfix::start(&config))
        .await
        .unwrap()
        .expect("Postfix starts");
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let hop = format!("smtp:{}", postfix.smtp_addr());
    let copy = dir.path().join("copy");
    let maildir = format!("maildir:{}", copy.display());
    let running = receiver(
        &[
            "--accept-any-recipient",
            "--deliver",
            &hop,
            "--deliver",
            &maildir,
            "--spool",
            spool.to_str().unwrap(),
            "--deliver-sync",
        ],
        dir.path(),
    );
    let port = running.plain().unwrap().port();

    // Accepted by Postfix: 250, and it is in Postfix's Maildir.
    let out = send(
        port,
        "alice@example.test",
        "accepted",
        &["bob@example.test"],
    )
    .await;
    assert_eq!(out.trim(), "{}");
    // Refused by Postfix (no relay to elsewhere.test): its 554 5.7.1 is ours.
    let out = send(port, "alice@example.test", "refused", &["x@elsewhere.test"]).await;
    assert!(out.starts_with("ERROR 554"), "{out}");
    assert!(
        out.contains("5.7.1") && out.contains("Relay access denied"),
        "{out}"
    );
    assert!(spool_is_empty(&spool), "a refused message is the client's");
    // Partly refused: 250; the refused recipient goes through the spool,
    // fails there for good, and the failure report reaches alice.
    let out = send(
        port,
        "alice@example.test",
        "partly",
        &["carol@example.test", "y@elsewhere.test"],
    )
    .await;
    assert_eq!(out.trim(), "{}");
    let stored = postfix
        .wait_for_messages(3, Duration::from_secs(30), |_| true)
        .expect("the message, the partly one and the report");
    let texts: Vec<String> = stored
        .iter()
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("Subject: accepted")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("Subject: partly")),
        "{texts:?}"
    );
    let report = texts
        .iter()
        .find(|t| t.contains("multipart/report"))
        .unwrap_or_else(|| panic!("a failure report: {texts:?}"));
    assert!(
        report.contains("y@elsewhere.test") && report.contains("5.7.1"),
        "{report}"
    );
    assert!(
        poll_until(Duration::from_secs(10), || spool_is_empty(&spool)
            .then_some(()))
        .is_some()
    );
    // The Maildir copy holds what the next hop accepted, not the refused one.
    let copies: Vec<String> = common::files(&copy.join("new"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(!copies.iter().any(|c| c.contains("Subject: refused")));
    drop(running);
}

#[test]
fn bad_combinations_are_refused_with_a_reason() {
    for (args, says) in [
        (&["--deliver", "lmtp:127.0.0.1:24"][..], "needs --spool"),
        (
            &["--deliver", "lmtp:127.0.0.1:25", "--spool", "s"][..],
            "RFC 2033",
        ),
        (
            &["--deliver", "ftp:x", "--spool", "s"][..],
            "expected maildir:DIR",
        ),
        (
            &["--spool", "s", "--sink"][..],
            "--spool holds mail for a next hop",
        ),
        (
            &[
                "--deliver",
                "smtp:a:25",
                "--deliver",
                "lmtp:b:24",
                "--spool",
                "s",
            ][..],
            "one next hop at most",
        ),
    ] {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
