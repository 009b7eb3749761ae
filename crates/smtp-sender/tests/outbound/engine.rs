//! The engine as a library: routing, retries, reports, sessions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use smtp_sender::outbound::{PassSummary, RecipientState, Router, Spool};

use crate::fixtures::*;

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
    let Some(world) = World::start(true).await else {
        return;
    };
    let World {
        got, spool, runner, ..
    } = &world;
    let t0 = SystemTime::now();
    let id = enqueue(
        spool,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_bounce_as_delivery_status_reports_but_never_to_the_null_sender() {
    let Some(world) = World::start(true).await else {
        return;
    };
    let World {
        dns,
        port,
        spool,
        runner,
        ..
    } = &world;
    let now = SystemTime::now();
    enqueue(
        spool,
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
    let runner = runner_for(&spool, dns.addr(), *port);
    enqueue(&spool, "", &["nobody@example.test"], "a report", now);
    let pass = runner.run_once(now, false).await.unwrap();
    assert_eq!(
        (pass.failed, pass.reports, pass.remaining),
        (1, 0, 0),
        "{pass}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_carries_many_messages_and_bad_records_go_aside() {
    let Some(world) = World::start(true).await else {
        return;
    };
    let World {
        got, spool, runner, ..
    } = &world;
    let now = SystemTime::now();
    for i in 0..40 {
        enqueue(
            spool,
            "alice@example.org",
            &["bob@example.test", "carol@example.test"],
            &format!("m{i}"),
            now,
        );
    }
    let broken = enqueue(
        spool,
        "alice@example.org",
        &["bob@example.test"],
        "broken",
        now,
    );
    std::fs::write(
        spool.root().join(format!("queue/{broken}.env")),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsn_requests_arrive_intact_at_the_receiver() {
    use smtp_sender::{Dsn, Envelope};
    use smtp_wire::param::{Orcpt, Ret};
    let Some(world) = World::start(true).await else {
        return;
    };
    let World {
        got, spool, runner, ..
    } = &world;
    let mut envelope = Envelope::new(
        "alice@example.org",
        &["bob@example.test", "carol@example.test"],
    )
    .unwrap();
    let mut dsn = Dsn {
        ret: Some(Ret::Hdrs),
        envid: Some("QQ+314159 x=1".into()),
        ..Dsn::default()
    };
    dsn.recipient_mut(0).notify =
        Some(smtp_sender::outbound::parse_notify("SUCCESS,DELAY").unwrap());
    dsn.recipient_mut(0).orcpt = Some(Orcpt {
        addr_type: "rfc822".into(),
        addr: "Bob+Smith@example.test".into(),
    });
    envelope.dsn = Some(dsn);
    spool
        .enqueue(&envelope, b"Subject: dsn\r\n\r\nhi\r\n", SystemTime::now())
        .unwrap();
    let pass = runner.run_once(SystemTime::now(), false).await.unwrap();
    assert_eq!(
        (pass.delivered, pass.reports),
        (2, 0),
        "the receiver offers DSN: it reports success itself: {pass}"
    );
    let got = got.lock().unwrap();
    let received = &got[0].envelope;
    assert_eq!(received.mail_params.ret, Some(Ret::Hdrs));
    assert_eq!(received.mail_params.envid.as_deref(), Some("QQ+314159 x=1"));
    let bob = &received.recipients[0].params;
    let notify = bob.notify.unwrap();
    assert!(notify.success && notify.delay && !notify.failure);
    assert_eq!(bob.orcpt.as_ref().unwrap().addr, "Bob+Smith@example.test");
    assert_eq!(received.recipients[1].params.notify, None);
}
