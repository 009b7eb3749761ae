//! Reply rules over real sockets: one test per stage, a probability rule
//! with a fixed seed, and Mailpit's chaos endpoint mapped onto rules.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod inbox_support;

use std::time::{Duration, Instant};

use common::{TestServer, code, start, test_config};
use smtp_receiver::config::RecipientPolicy;
use smtp_receiver::rules::{Rule, Rules, Stage, WithRules};
use smtp_receiver::{SinkHandler, Users, WithUsers};

async fn ruled(rules: &[&str], seed: u64) -> TestServer {
    let set = Rules::new(seed);
    for rule in rules {
        set.add(rule.parse::<Rule>().unwrap());
    }
    let mut config = test_config(None);
    config.session.recipients = RecipientPolicy::AcceptAny;
    config.session.auth.enabled = true;
    config.session.auth.allow_plaintext_on_loopback = true;
    let mut users = Users::new();
    users.insert("ann", "pw");
    start(
        config,
        WithRules::new(WithUsers::new(SinkHandler::default(), users), set),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_drop_answers_421_and_closes() {
    let server = ruled(&["connect:127.0.0.*=drop"], 1).await;
    let mut client = server.connect().await;
    let rest = client.read_to_end().await;
    assert!(rest.starts_with("421 4.3.2"), "{rest}");
    assert_eq!(rest.lines().count(), 1, "nothing after the 421: {rest}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ehlo_rule_refuses_one_name() {
    let server = ruled(&["ehlo:bad.example=550 5.7.1 go away"], 1).await;
    let mut client = server.connect().await;
    client.reply().await;
    assert_eq!(
        client.cmd("EHLO bad.example").await,
        "550 5.7.1 go away\r\n"
    );
    assert_eq!(code(&client.cmd("EHLO good.example").await), 250);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_rule_refuses_good_credentials() {
    let server = ruled(&["auth:ann=535 5.7.8 not today"], 1).await;
    let mut client = server.connect().await;
    client.reply().await;
    client.cmd("EHLO c.example").await;
    // "\0ann\0pw"
    assert_eq!(
        client.cmd("AUTH PLAIN AGFubgBwdw==").await,
        "535 5.7.8 not today\r\n"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_rule_delays_then_goes_on() {
    let server = ruled(&["mail:*@slow.test=delay 300ms"], 1).await;
    let mut client = server.connect().await;
    client.reply().await;
    client.cmd("EHLO c.example").await;
    let began = Instant::now();
    assert_eq!(code(&client.cmd("MAIL FROM:<a@slow.test>").await), 250);
    assert!(began.elapsed() >= Duration::from_millis(300));
    client.cmd("RSET").await;
    let began = Instant::now();
    assert_eq!(code(&client.cmd("MAIL FROM:<a@fast.test>").await), 250);
    assert!(began.elapsed() < Duration::from_millis(300));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rcpt_rule_bounces_one_domain() {
    let server = ruled(&["rcpt:*@bounce.test=550 5.1.1 no such user"], 1).await;
    let mut client = server.connect().await;
    client.reply().await;
    client.cmd("EHLO c.example").await;
    client.cmd("MAIL FROM:<a@c.example>").await;
    assert_eq!(
        client.cmd("RCPT TO:<Bob@Bounce.test>").await,
        "550 5.1.1 no such user\r\n"
    );
    assert_eq!(code(&client.cmd("RCPT TO:<bob@example.org>").await), 250);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn data_rule_refuses_after_the_body() {
    let server = ruled(&["data:*=451 4.3.0 try later"], 1).await;
    let mut client = server.connect().await;
    client.reply().await;
    for line in [
        "EHLO c.example",
        "MAIL FROM:<a@c.example>",
        "RCPT TO:<b@example.org>",
    ] {
        client.cmd(line).await;
    }
    assert_eq!(code(&client.cmd("DATA").await), 354);
    assert_eq!(
        client.cmd("Subject: x\r\n\r\nhello\r\n.").await,
        "451 4.3.0 try later\r\n"
    );
    assert_eq!(code(&client.cmd("NOOP").await), 250, "the session goes on");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probability_rule_with_a_fixed_seed_repeats() {
    let rule = "rcpt:*@flaky.test=50% 451 4.3.0 flaky";
    // What the seeded generator decides, straight from the rule set.
    let expected: Vec<u16> = {
        let rules = Rules::new(42);
        rules.add(rule.parse().unwrap());
        (0..20)
            .map(|_| {
                if rules.decide(Stage::Rcpt, &["x@flaky.test"]).is_some() {
                    451
                } else {
                    250
                }
            })
            .collect()
    };
    assert!(
        expected.contains(&451) && expected.contains(&250),
        "{expected:?}"
    );
    let server = ruled(&[rule], 42).await;
    let mut client = server.connect().await;
    client.reply().await;
    client.cmd("EHLO c.example").await;
    client.cmd("MAIL FROM:<a@c.example>").await;
    let mut seen = Vec::new();
    for n in 0..20 {
        seen.push(code(
            &client.cmd(&format!("RCPT TO:<u{n}@flaky.test>")).await,
        ));
    }
    assert_eq!(seen, expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mailpit_chaos_triggers_are_rules() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox_support::start_inbox(dir.path(), Default::default(), |_| {}).await;
    let chaos = inbox.json("/api/v1/chaos").await;
    assert_eq!(
        chaos["Recipient"],
        serde_json::json!({"ErrorCode": 451, "Probability": 0})
    );
    let put = |body: &'static str| inbox.http.put(inbox.url("/api/v1/chaos")).body(body).send();
    let r = put(r#"{"recipient": {"ErrorCode": 550, "Probability": 100}}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: serde_json::Value = r.json().await.unwrap();
    assert_eq!(state["Recipient"]["ErrorCode"], 550);
    assert_eq!(state["Sender"]["ErrorCode"], 451);
    assert_eq!(
        put(r#"{"Sender": {"ErrorCode": 250}}"#)
            .await
            .unwrap()
            .status(),
        400
    );
    let rules = inbox.json("/api/v1/rules").await;
    assert!(
        rules["Rules"]
            .to_string()
            .contains("rcpt:*=550 Chaos recipient error"),
        "{rules}"
    );

    let mut client = inbox.server.connect().await;
    client.reply().await;
    client.cmd("EHLO c.example").await;
    client.cmd("MAIL FROM:<a@c.example>").await;
    assert_eq!(
        client.cmd("RCPT TO:<b@example.org>").await,
        "550 Chaos recipient error\r\n"
    );
    client.cmd("QUIT").await;
    let sessions = inbox.sessions(1).await;
    assert_eq!(sessions["sessions"][0]["Outcome"], "refused");
    assert_eq!(sessions["sessions"][0]["Code"], 550);
    // {} resets every trigger.
    put("{}").await.unwrap();
    assert_eq!(
        inbox.json("/api/v1/chaos").await["Recipient"]["Probability"],
        0
    );
    inbox.stop().await;
}
