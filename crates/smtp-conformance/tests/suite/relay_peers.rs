//! The relay cases against real relays: this project's `smtp-receive
//! --deliver smtp:JUDGE` (queued through its spool) and a private Postfix
//! whose `relay_transport` points at the judge (skipped, saying so, where
//! Postfix is not installed or the tests do not run as root). The suite
//! starts its judge on the address the relay was told.

use std::time::Duration;

use smtp_conformance::server::{self, RelayOptions, ServerOptions};
use smtp_conformance::{Outcome, Report};
use smtp_peers::{Peer, Postfix, PostfixConfig};
use smtp_testkit::bins::{Bins, RunningReceiver};
use smtp_testkit::certs::TestPki;

use crate::server_cases::judge_addr;

const RCPT: &str = "someone@relay.test";

fn relay_options(addr: &str, judge: std::net::SocketAddr) -> ServerOptions {
    let mut o = ServerOptions::new(addr, RCPT);
    o.timeout = Duration::from_secs(5);
    o.grace = Duration::from_millis(500);
    o.only = vec!["relay".into()];
    o.relay = Some(RelayOptions {
        rcpt: RCPT.into(),
        judge_listen: judge.to_string(),
        wait: Duration::from_secs(20),
    });
    o
}

/// The outcome and detail of every relay case, the report printed for
/// the record.
fn outcomes(report: &Report) -> Vec<(&'static str, Outcome, String)> {
    eprintln!("{}", smtp_conformance::output::text(report, true));
    report
        .results
        .iter()
        .map(|r| (r.info.id, r.outcome, r.detail.clone()))
        .collect()
}

fn receiver(
    bins: &Bins,
    dir: &std::path::Path,
    judge: std::net::SocketAddr,
    strict: bool,
) -> RunningReceiver {
    let spool = dir.join("spool");
    let next_hop = format!("smtp:{judge}");
    let mut args: Vec<std::ffi::OsString> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--domain".into(),
        "relay.test".into(),
        "--deliver".into(),
        next_hop.into(),
        "--spool".into(),
        spool.into_os_string(),
    ];
    if strict {
        args.push("--strict".into());
    }
    RunningReceiver::start(&bins.receive, args, dir).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_receive_forwarding_passes_every_relay_case() {
    let bins = Bins::for_tests().unwrap();
    for strict in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let judge = judge_addr();
        let receiver = receiver(&bins, dir.path(), judge, strict);
        let addr = receiver.plain().unwrap().to_string();
        let report = server::run(&relay_options(&addr, judge)).await.unwrap();
        let all = outcomes(&report);
        assert_eq!(all.len(), 5);
        // Every case passes, relay.no-return-path included: what
        // smtp-receive sends on carries its Received: field alone.
        for (id, outcome, detail) in &all {
            assert_eq!(*outcome, Outcome::Pass, "strict={strict} {id}: {detail}");
        }
        let (_, _, smuggling) = all
            .iter()
            .find(|(id, ..)| *id == "relay.no-smuggling")
            .unwrap();
        if strict {
            // --strict refuses bare-LF content at the end of data.
            assert!(smuggling.contains("refused"), "{smuggling}");
        } else {
            // The default normalises bare LFs: kept as data, sent on with CRLF.
            assert!(
                smuggling.contains("one message at the judge"),
                "{smuggling}"
            );
        }
    }
}

/// A private Postfix relaying `relay.test` to the judge, with `extra`
/// main.cf settings; the outcome of each relay case.
async fn postfix_relay(extra: &[(&str, &str)]) -> Vec<(&'static str, Outcome, String)> {
    let dir = tempfile::tempdir().unwrap();
    let files = TestPki::generate().unwrap().write(dir.path()).unwrap();
    let judge = judge_addr();
    let mut config = PostfixConfig::new(&files.server_cert, &files.server_key);
    config.main_cf.extend([
        ("relay_domains".into(), "relay.test".into()),
        // Brackets: no MX lookup, straight to the judge.
        (
            "relay_transport".into(),
            format!("smtp:[{}]:{}", judge.ip(), judge.port()),
        ),
    ]);
    config
        .main_cf
        .extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let postfix = tokio::task::spawn_blocking(move || Postfix::start(&config))
        .await
        .unwrap()
        .expect("Postfix starts");
    let addr = postfix.smtp_addr().to_string();
    let report = server::run(&relay_options(&addr, judge)).await.unwrap();
    let all = outcomes(&report);
    assert_eq!(all.len(), 5, "{}", postfix.log());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_as_a_relay() {
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    // Debian's defaults: smtpd_forbid_bare_newline = no, so a bare LF ends
    // a line, the look-alike ends the data and the smuggled MAIL runs: a
    // second message reaches the judge (CVE-2023-51764).
    for (id, outcome, detail) in postfix_relay(&[]).await {
        let expected = match id {
            "relay.no-smuggling" => Outcome::Fail,
            _ => Outcome::Pass,
        };
        assert_eq!(outcome, expected, "{id}: {detail}");
    }
    // Postfix's remedy, for every client (loopback is in $mynetworks,
    // which the exclusions name by default): the look-alike stays data,
    // one message arrives, with CRLF line ends.
    let fixed = postfix_relay(&[
        ("smtpd_forbid_bare_newline", "yes"),
        ("smtpd_forbid_bare_newline_exclusions", ""),
    ])
    .await;
    for (id, outcome, detail) in fixed {
        assert_eq!(outcome, Outcome::Pass, "{id}: {detail}");
    }
}
