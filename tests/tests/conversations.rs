//! The demo's conversations, as tests: sender <-> receiver over loopback
//! TLS, every message checked in the Maildir.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use smtp_e2e::demo;
use smtp_e2e::harness::Receiver;

async fn receiver() -> (Receiver, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start_in(dir.path()).await.unwrap();
    (receiver, dir)
}

fn assert_passed(c: &demo::Conversation) {
    let failed: Vec<_> = c
        .checks
        .iter()
        .filter(|k| !k.passed)
        .map(|k| &k.what)
        .collect();
    assert!(
        failed.is_empty() && !c.checks.is_empty(),
        "{}: failed checks {failed:?}\ntranscript:\n{}",
        c.title,
        demo::render(&c.transcript)
    );
}

#[tokio::test]
async fn classic_rfc821_over_starttls() {
    let (r, _dir) = receiver().await;
    let c = demo::classic_rfc821(&r).await;
    assert_passed(&c);
    let text = demo::render(&c.transcript);
    assert!(text.contains("-- TLS"), "{text}");
    assert!(
        !text.contains(
            "C: EHLO client.example.com\nS: 250-mx.example.org\nS: 250-PIPELINING\nC: MAIL"
        )
    );
    r.stop().await.unwrap();
}

#[tokio::test]
async fn esmtp_implicit_tls_auth_and_mime() {
    let (r, _dir) = receiver().await;
    let c = demo::esmtp_auth_mime(&r).await;
    assert_passed(&c);
    assert!(!demo::render(&c.transcript).contains(smtp_e2e::harness::PASSWORD));
    r.stop().await.unwrap();
}

#[tokio::test]
async fn pipelining_with_one_refused_recipient() {
    let (r, _dir) = receiver().await;
    let c = demo::pipelined_refusal(&r).await;
    assert_passed(&c);
    assert_eq!(c.report.len(), 4, "{:?}", c.report);
    r.stop().await.unwrap();
}

#[tokio::test]
async fn dot_stuffing_and_smuggling_through_the_sender() {
    let (r, _dir) = receiver().await;
    let c = demo::dots_and_smuggling(&r).await;
    assert_passed(&c);
    r.stop().await.unwrap();
}

#[tokio::test]
async fn raw_smuggling_attack_gives_one_message_and_no_second_transaction() {
    let (r, _dir) = receiver().await;
    let c = demo::raw::smuggling_attack(&r).await;
    assert_passed(&c);
    r.stop().await.unwrap();
}

/// `cargo xtask demo --web`: the same conversations through the test
/// inbox pass the same checks, and the web page's API then has each
/// session (judged) and each message.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_through_the_test_inbox_records_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let pki = smtp_testkit::certs::TestPki::generate()
        .unwrap()
        .write(&dir.path().join("pki"))
        .unwrap();
    let (r, inbox) = Receiver::start_with_inbox(&dir.path().join("maildir"), &pki)
        .await
        .unwrap();
    let conversations = demo::run_all(&r).await;
    conversations.iter().for_each(assert_passed);
    r.stop().await.unwrap();
    let mut recorded = 0;
    for _ in 0..200 {
        recorded = inbox.store().sessions(None, 0, 0).await.unwrap().0;
        if recorded >= conversations.len() as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        recorded >= conversations.len() as u64,
        "{recorded} sessions"
    );
    let page = inbox
        .store()
        .page(smtp_receiver::inbox::search::Filter::all(), 0, 0)
        .await
        .unwrap();
    assert!(page.total >= 4, "{} messages indexed", page.total);
}
