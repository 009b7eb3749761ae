//! The CHUNKING cases (RFC 3030) against real servers: this project's
//! `smtp-receive --strict` and a private Postfix (skipped, saying so,
//! where Postfix is not installed or the tests do not run as root).

use std::time::Duration;

use crate::common::maildir_receiver;
use smtp_conformance::server::{self, ServerOptions};
use smtp_conformance::{Outcome, Report};
use smtp_peers::{Peer, Postfix, PostfixConfig};
use smtp_testkit::certs::TestPki;

fn chunking_options(addr: &str) -> ServerOptions {
    let mut o = ServerOptions::new(addr, "inbox@example.test");
    o.timeout = Duration::from_secs(5);
    o.grace = Duration::from_millis(500);
    o.only = vec!["chunking".into()];
    o
}

/// The outcome of every chunking case, the report printed for the record.
fn outcomes(report: &Report) -> Vec<(&'static str, Outcome)> {
    eprintln!("{}", smtp_conformance::output::text(report, false));
    report
        .results
        .iter()
        .map(|r| (r.info.id, r.outcome))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_receive_passes_every_chunking_case() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = maildir_receiver(dir.path(), "--listen", &["--strict"]);
    let addr = receiver.plain().unwrap().to_string();
    let report = server::run(&chunking_options(&addr)).await.unwrap();
    let all = outcomes(&report);
    assert_eq!(all.len(), 11);
    let bad: Vec<_> = all.iter().filter(|(_, o)| *o != Outcome::Pass).collect();
    assert!(bad.is_empty(), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_chunking() {
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = TestPki::generate().unwrap().write(dir.path()).unwrap();
    let config = PostfixConfig::new(&files.server_cert, &files.server_key);
    let postfix = tokio::task::spawn_blocking(move || Postfix::start(&config))
        .await
        .unwrap()
        .expect("Postfix starts");
    let addr = postfix.smtp_addr().to_string();
    let report = server::run(&chunking_options(&addr)).await.unwrap();
    let all = outcomes(&report);
    assert_eq!(all.len(), 11, "{}", postfix.log());
    let bad: Vec<_> = all.iter().filter(|(_, o)| *o != Outcome::Pass).collect();
    assert!(bad.is_empty(), "{bad:?}");
}
