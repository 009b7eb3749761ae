//! Every client check and scenario reaction passes for the reference client
//! and catches the fault it targets; a real client (Python's smtplib) is
//! judged too. Each session is also judged passively
//! ([`smtp_conformance::observe`]) from the judge's own recording: the two
//! judges must agree.

use std::collections::BTreeSet;
use std::time::Duration;

use smtp_conformance::client::{self, Check, ClientOptions, ClientTls, Listener, Scenario};
use smtp_conformance::observe::{self, Badge, Judgement};
use smtp_conformance::{Outcome, Report};
use smtp_wire::Transcript;

use crate::common::pki;
use crate::refclient::{self, CFault, CFault::*, ClientCfg, Mode};

fn judge_options(scenario: Scenario, tls: ClientTls) -> ClientOptions {
    let mut o = ClientOptions::new("127.0.0.1:0");
    o.scenario = scenario;
    o.tls = tls;
    o.reply_delay = Duration::from_millis(25);
    o.greeting_delay = Duration::from_millis(60);
    o.reaction_window = Duration::from_millis(400);
    o.idle_timeout = Duration::from_secs(5);
    o
}

/// Runs one judged session with the reference client: the report, and the
/// passive verdict on the judge's recording of it.
async fn judged(scenario: Scenario, tls: ClientTls, faults: Vec<CFault>) -> (Report, Passive) {
    let listener = Listener::bind(judge_options(scenario, tls)).await.unwrap();
    let ca = listener.ca_pem().map(str::to_string).unwrap_or_default();
    let addr = listener.local_addr();
    let mode = match tls {
        ClientTls::None => Mode::Plain,
        ClientTls::StartTls => Mode::StartTls,
        ClientTls::Implicit => Mode::Implicit,
    };
    let mut cfg = ClientCfg::new(mode, &ca);
    cfg.faults = faults;
    let client = tokio::spawn(async move { refclient::run(addr, cfg).await });
    let (report, transcript) = tokio::time::timeout(Duration::from_secs(20), async {
        listener.accept().await.unwrap().judge_recorded().await
    })
    .await
    .expect("the session ended");
    let _ = client.await;
    (report, Passive::of(&transcript))
}

/// The passive judge's verdict on a recording, with the recording.
struct Passive {
    judgement: Judgement,
    shown: String,
}

impl Passive {
    fn of(transcript: &Transcript) -> Passive {
        let judgement = observe::judge(transcript);
        let mut shown = String::from("passive judgement of the judge's recording:\n");
        for (n, line) in transcript.render().lines().enumerate() {
            shown.push_str(&format!("{n:3} {line}\n"));
            for f in judgement.on_line(n) {
                shown.push_str(&format!("      {} {}: {}\n", f.level, f.check, f.text));
            }
        }
        shown.push_str(&format!("badge: {}\n", judgement.badge));
        Passive { judgement, shown }
    }

    fn found(&self, id: &str) -> bool {
        self.judgement.findings.iter().any(|f| f.check == id)
    }
}

fn outcome(report: &Report, id: &str) -> Outcome {
    report
        .result(id)
        .map(|r| r.outcome)
        .unwrap_or(Outcome::Skip)
}

fn show(report: &Report) -> String {
    smtp_conformance::output::text(report, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_client_passes_every_check() {
    let _ = pki();
    for (scenario, tls) in [
        (Scenario::Normal, ClientTls::StartTls),
        (Scenario::Minimal, ClientTls::StartTls),
        (Scenario::Normal, ClientTls::Implicit),
    ] {
        let (report, passive) = judged(scenario, tls, vec![]).await;
        let bad: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .filter(|r| !(scenario == Scenario::Minimal && r.info.id == "client.size-declared"))
            .filter(|r| !(tls == ClientTls::Implicit && r.info.id == "client.ehlo-after-starttls"))
            .collect();
        assert!(bad.is_empty(), "{scenario} {tls:?}:\n{}", show(&report));
        assert_eq!(
            passive.judgement.badge,
            Badge::Conforming,
            "{}",
            passive.shown
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_client_passes_without_tls() {
    let (report, passive) = judged(Scenario::Normal, ClientTls::None, vec![]).await;
    assert_eq!(
        passive.judgement.badge,
        Badge::Conforming,
        "{}",
        passive.shown
    );
    let bad: Vec<_> = report
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Fail | Outcome::Warn | Outcome::Inconclusive
            )
        })
        .collect();
    assert!(bad.is_empty(), "{}", show(&report));
    assert!(report.conforms());
}

/// (check id, scenario, the client faults that break it).
fn check_table() -> Vec<(&'static str, Scenario, Vec<CFault>)> {
    use Scenario::{Minimal, Normal};
    vec![
        ("client.greeting-wait", Normal, vec![EarlyTalker]),
        ("client.crlf", Normal, vec![BareLf]),
        ("client.command-syntax", Normal, vec![BadSyntax]),
        ("client.ehlo-first", Normal, vec![MailFirst]),
        ("client.ehlo-preferred", Normal, vec![HeloFirst]),
        ("client.command-order", Normal, vec![RcptBeforeMail]),
        (
            "client.waits-for-replies",
            Minimal,
            vec![PipelineWithoutOffer],
        ),
        ("client.waits-for-replies", Normal, vec![BodyBeforeReply]),
        ("client.dot-stuffing", Normal, vec![NoDotStuffing]),
        ("client.line-length", Normal, vec![LongLine]),
        ("client.8bit-data", Normal, vec![EightBitUndeclared]),
        ("client.smtputf8", Normal, vec![Utf8Undeclared]),
        ("client.params-offered", Normal, vec![UnofferedParam]),
        ("client.size-declared", Normal, vec![SizeUnderstated]),
        ("client.no-auth-in-clear", Normal, vec![AuthInClear]),
        ("client.ehlo-after-starttls", Normal, vec![NoEhloAfterTls]),
        ("client.quit", Normal, vec![NoQuit]),
    ]
}

/// (scenario, the client fault its reaction check must catch).
fn scenario_table() -> Vec<(Scenario, CFault)> {
    vec![
        (Scenario::EhloRefused, NoHeloFallback),
        (Scenario::RcptRefused, IgnoreRcptRefusal),
        (Scenario::SizeTooSmall, IgnoreSize),
        (Scenario::Shutdown421, Ignore421),
        (Scenario::TempfailMail, IgnoreTempfail),
        (Scenario::MultilineGreeting, NoGreetingWait),
        (Scenario::StartTlsInjection, ReadsInjected),
        (Scenario::NoStartTls, OpportunisticTls),
        (Scenario::BadCertName, TrustAnyCert),
        (Scenario::UntrustedCert, TrustAnyCert),
    ]
}

#[test]
fn every_check_and_scenario_is_in_a_table() {
    let checks: BTreeSet<&str> = client::catalogue().iter().map(|c| c.id).collect();
    let tested: BTreeSet<&str> = check_table().iter().map(|(id, _, _)| *id).collect();
    assert_eq!(checks, tested);
    let reactions: BTreeSet<&str> = client::reactions().iter().map(|(s, _)| s.name()).collect();
    let tested: BTreeSet<&str> = scenario_table().iter().map(|(s, _)| s.name()).collect();
    assert_eq!(reactions, tested);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_check_detects_its_fault() {
    let _ = pki();
    let mut set = tokio::task::JoinSet::new();
    for (id, scenario, faults) in check_table() {
        set.spawn(async move {
            let level = Check::ALL
                .iter()
                .map(|c| c.info())
                .find(|i| i.id == id)
                .unwrap()
                .level;
            let shown = format!("{faults:?}");
            let (report, passive) = judged(scenario, ClientTls::StartTls, faults).await;
            let got = outcome(&report, id);
            let mut missed = Vec::new();
            if got != level.violated() {
                missed.push(format!(
                    "{id} with {shown}: expected {}, got {got}\n{}",
                    level.violated(),
                    show(&report)
                ));
            }
            if !passive.found(id) {
                missed.push(format!(
                    "{id} with {shown}: not found passively\n{}",
                    passive.shown
                ));
            }
            missed
        });
    }
    let mut missed = Vec::new();
    while let Some(r) = set.join_next().await {
        missed.extend(r.unwrap());
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_judges_the_reaction() {
    let _ = pki();
    let mut set = tokio::task::JoinSet::new();
    for (scenario, fault) in scenario_table() {
        set.spawn(async move {
            let info = scenario.reaction().unwrap();
            // Falling back to HELO is only expected of a client that does
            // not insist on TLS.
            let tls = if scenario == Scenario::EhloRefused {
                ClientTls::None
            } else {
                ClientTls::StartTls
            };
            let (good, good_passive) = judged(scenario, tls, vec![]).await;
            let (bad, bad_passive) = judged(scenario, tls, vec![fault]).await;
            let mut problems = Vec::new();
            if outcome(&good, info.id) != Outcome::Pass {
                problems.push(format!(
                    "{scenario}: the reference client should pass\n{}",
                    show(&good)
                ));
            }
            if good_passive.judgement.badge != Badge::Conforming {
                problems.push(format!("{scenario}: {}", good_passive.shown));
            }
            let passive_rule = observe::checks().iter().any(|c| c.id == info.id);
            if passive_rule && !bad_passive.found(info.id) {
                problems.push(format!(
                    "{scenario} with {fault:?}: not found passively\n{}",
                    bad_passive.shown
                ));
            }
            if outcome(&bad, info.id) != info.level.violated() {
                problems.push(format!(
                    "{scenario} with {fault:?}: expected {}\n{}",
                    info.level.violated(),
                    show(&bad)
                ));
            }
            problems
        });
    }
    let mut problems = Vec::new();
    while let Some(r) = set.join_next().await {
        problems.extend(r.unwrap());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A real, independent client: Python's smtplib with STARTTLS and AUTH.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_smtplib_is_judged() {
    let listener = Listener::bind(judge_options(Scenario::Normal, ClientTls::StartTls))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, listener.ca_pem().unwrap()).unwrap();
    let port = listener.local_addr().port();
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile={ca:?})
s = smtplib.SMTP("localhost", {port}, timeout=10)
s.starttls(context=ctx)
s.login("alice", "secret")
s.sendmail("a@example.test", ["b@example.test"], "Subject: hi\r\n\r\n.dotted line\r\nbye\r\n")
s.quit()
"#,
        ca = ca.display().to_string()
    );
    let child = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not available: skipped");
        return;
    };
    let (report, transcript) = tokio::time::timeout(Duration::from_secs(20), async {
        listener.accept().await.unwrap().judge_recorded().await
    })
    .await
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "smtplib failed:\n{}", show(&report));
    assert!(report.conforms(), "{}", show(&report));
    assert_eq!(
        outcome(&report, "client.dot-stuffing"),
        Outcome::Pass,
        "{}",
        show(&report)
    );
    assert_eq!(outcome(&report, "client.no-auth-in-clear"), Outcome::Pass);
    let passive = Passive::of(&transcript);
    assert_eq!(
        passive.judgement.badge,
        Badge::Conforming,
        "{}",
        passive.shown
    );
}

/// OAuth bearer tokens from an independent client: smtplib's `auth()` with
/// XOAUTH2 and OAUTHBEARER messages (initial responses), and a malformed
/// one, which the judge refuses with what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_smtplib_token_mechanisms_are_judged() {
    let listener = Listener::bind(judge_options(Scenario::Normal, ClientTls::StartTls))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, listener.ca_pem().unwrap()).unwrap();
    let port = listener.local_addr().port();
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile={ca:?})
s = smtplib.SMTP("localhost", {port}, timeout=10)
s.starttls(context=ctx)
s.ehlo()
assert "XOAUTH2" in s.esmtp_features["auth"].split() and "OAUTHBEARER" in s.esmtp_features["auth"].split()
try:
    s.auth("XOAUTH2", lambda challenge=None: "user=alice\x01\x01", initial_response_ok=True)
    raise SystemExit("a message without a token was accepted")
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 501, e
code, _ = s.auth("OAUTHBEARER", lambda challenge=None: "n,a=alice@example.test,\x01auth=Bearer ya29.t\x01\x01", initial_response_ok=True)
assert code == 235, code
s.sendmail("a@example.test", ["b@example.test"], "Subject: hi\r\n\r\nbye\r\n")
s.quit()
"#,
        ca = ca.display().to_string()
    );
    let child = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not available: skipped");
        return;
    };
    let (report, transcript) = tokio::time::timeout(Duration::from_secs(20), async {
        listener.accept().await.unwrap().judge_recorded().await
    })
    .await
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "smtplib failed:\n{}", show(&report));
    assert_eq!(outcome(&report, "client.no-auth-in-clear"), Outcome::Pass);
    let shown = transcript.render();
    assert!(shown.contains("C: AUTH OAUTHBEARER <redacted>"), "{shown}");
    assert!(shown.contains("S: 235 "), "{shown}");
    assert!(!shown.contains("ya29"), "the token never shows");
}
