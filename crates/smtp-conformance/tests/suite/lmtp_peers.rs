//! The LMTP cases (RFC 2033) against real LMTP servers: this project's
//! `smtp-receive --listen-lmtp` on TCP and on a Unix socket, and Dovecot's
//! LMTP service (skipped, saying so, where Dovecot is not installed or
//! the tests do not run as root).

use std::time::Duration;

use crate::common::maildir_receiver;
use smtp_conformance::server::{self, ServerOptions};
use smtp_conformance::{Outcome, Report};
use smtp_peers::{Dovecot, Peer};
use smtp_testkit::bins::{Bins, RunningReceiver};

/// Suite options for a real LMTP server: short waits, the slow families
/// left out (they are the SMTP suite's, and run there).
fn lmtp_options(target: String, rcpts: &[&str]) -> ServerOptions {
    let mut o = ServerOptions::new(&target, rcpts[0]);
    o.more_rcpts = rcpts[1..].iter().map(|r| r.to_string()).collect();
    o.timeout = Duration::from_secs(5);
    o.grace = Duration::from_millis(500);
    o.skip = vec!["limit".into()];
    o
}

fn outcome(report: &Report, id: &str) -> (Outcome, String) {
    let r = report.result(id).unwrap();
    (r.outcome, r.detail.clone())
}

/// Every lmtp case passes, except those in `allowed` which may end as
/// given; the report is printed so that a run shows what was measured.
fn lmtp_cases_pass(name: &str, report: &Report, allowed: &[(&str, Outcome)]) {
    eprintln!("{}", smtp_conformance::output::text(report, false));
    let mut seen = 0;
    for r in report
        .results
        .iter()
        .filter(|r| r.info.id.starts_with("lmtp."))
    {
        seen += 1;
        let ok = r.outcome == Outcome::Pass
            || allowed
                .iter()
                .any(|(id, o)| *id == r.info.id && *o == r.outcome);
        assert!(
            ok,
            "{name}: {} {}: {}\n    {}",
            r.outcome,
            r.info.id,
            r.detail,
            r.evidence.join("\n    ")
        );
    }
    assert_eq!(seen, 8, "{name}: every lmtp case ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_receive_lmtp_on_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = maildir_receiver(dir.path(), "--listen-lmtp", &["--strict"]);
    let addr = receiver.listeners()[0].addr;
    let o = lmtp_options(
        format!("lmtp:{addr}"),
        &[
            "inbox@example.test",
            "second@example.test",
            "third@example.test",
        ],
    );
    let report = server::run(&o).await.unwrap();
    // smtp-receive stores one copy for all recipients and answers each
    // alike, without naming them: the order cannot be seen.
    lmtp_cases_pass(
        "smtp-receive",
        &report,
        &[("lmtp.reply-order", Outcome::Skip)],
    );
    // The SMTP cases that apply to LMTP pass too (with --strict), or are
    // skipped (no TLS or AUTH set up here).
    let bad: Vec<_> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .map(|r| format!("{} {}: {}", r.outcome, r.info.id, r.detail))
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    let (o, why) = outcome(&report, "ehlo.accepted");
    assert_eq!(o, Outcome::Skip);
    assert!(why.contains("RFC 2033 §4.1"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_receive_lmtp_on_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let bins = Bins::for_tests().unwrap();
    let maildir = dir.path().join("maildir");
    let socket = dir.path().join("lmtp.sock");
    let mut lmtp = std::ffi::OsString::from("unix:");
    lmtp.push(socket.as_os_str());
    // The SMTP listener's line says the server is up; the socket is bound
    // before any line is printed.
    let _receiver = RunningReceiver::start(
        &bins.receive,
        [
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--listen-lmtp".as_ref(),
            lmtp.as_os_str(),
            "--domain".as_ref(),
            "example.test".as_ref(),
            "--maildir".as_ref(),
            maildir.as_os_str(),
        ],
        dir.path(),
    )
    .unwrap();
    let mut o = lmtp_options(
        format!("lmtp:unix:{}", socket.display()),
        &["inbox@example.test", "second@example.test"],
    );
    o.only = vec!["lmtp".into(), "data".into()];
    let report = server::run(&o).await.unwrap();
    lmtp_cases_pass(
        "smtp-receive (Unix socket)",
        &report,
        &[("lmtp.reply-order", Outcome::Skip)],
    );
    let (o, detail) = outcome(&report, "data.accepted");
    assert_eq!(o, Outcome::Pass, "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_lmtp() {
    if let Err(missing) = Peer::Dovecot.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let dovecot = tokio::task::spawn_blocking(Dovecot::start)
        .await
        .unwrap()
        .expect("Dovecot starts");
    let rcpts = [
        "alice@example.test",
        "bob@example.test",
        "carol@example.test",
    ];
    for target in [
        format!("lmtp:{}", dovecot.lmtp_addr()),
        format!("lmtp:unix:{}", dovecot.lmtp_socket().display()),
    ] {
        let mut o = lmtp_options(target.clone(), &rcpts);
        if target.contains("unix:") {
            o.only = vec!["lmtp".into()];
        }
        let report = server::run(&o).await.unwrap();
        lmtp_cases_pass(&format!("Dovecot at {target}"), &report, &[]);
    }
    // The messages of the per-recipient cases were stored, one per recipient.
    let stored = dovecot.count("bob@example.test").unwrap();
    assert!(stored >= 2, "bob has {stored} messages\n{}", dovecot.log());
}
