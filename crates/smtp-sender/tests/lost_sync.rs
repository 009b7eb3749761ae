//! Servers that answer out of turn or hang up in the middle of a
//! transaction, over real loopback sockets: extra replies (RFC 5321 §4.2:
//! one reply per command), a refusal followed by a close, an early reply
//! while the client is still writing (RFC 5321 §3.8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use smtp_sender::{
    Client, ClientConfig, Envelope, Outcome, ProtocolError, SendError, Timeouts, TlsMode,
};
use smtp_testkit::server::{Conn, serve};

const MESSAGE: &[u8] = b"Subject: test\r\n\r\nHello\r\n";

fn config(port: u16, pipelining: bool) -> ClientConfig {
    let mut c = ClientConfig::new("127.0.0.1", port);
    c.tls = TlsMode::None;
    c.ehlo_name = Some("client.example".into());
    c.pipelining = pipelining;
    c.timeouts = Timeouts::all(Duration::from_secs(5));
    c
}

fn envelope(to: &[&str]) -> Envelope {
    Envelope::new("alice@example.com", to).unwrap()
}

async fn greet(c: &mut Conn, keywords: &str) {
    c.send("220 mx.example.org ESMTP\r\n").await;
    c.expect("EHLO").await;
    c.send(&format!(
        "250-mx.example.org\r\n{keywords}250 ENHANCEDSTATUSCODES\r\n"
    ))
    .await;
}

/// Answers whatever comes as a plain server would (RCPT refused), and
/// returns the command lines it saw: the client must not get this far.
async fn answer_the_rest(mut c: Conn) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(line) = c.line().await {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        seen.push(line);
        let reply = match verb.as_str() {
            "RCPT" => "550 5.1.1 no such user\r\n",
            "DATA" => "354 go\r\n",
            "QUIT" => "221 bye\r\n",
            _ => "250 ok\r\n",
        };
        c.send(reply).await;
        if verb == "DATA" {
            c.read_data().await;
            c.send("250 queued\r\n").await;
        }
    }
    seen
}

/// The reviewer's reproduction: one extra reply after MAIL's; without the
/// check the 550 to RCPT was taken for the reply to DATA and the extra 250
/// for RCPT's, and a refused recipient was reported as accepted.
#[tokio::test]
async fn an_extra_reply_is_a_protocol_error_not_the_next_answer() {
    let (addr, server) = serve(|mut c| async move {
        greet(&mut c, "").await;
        c.expect("MAIL FROM:<alice@example.com>").await;
        c.send("250 mail ok\r\n250 2.1.5 bogus extra\r\n").await;
        answer_the_rest(c).await
    })
    .await;
    let mut client = Client::connect(config(addr.port(), false)).await.unwrap();
    let error = client
        .send(&envelope(&["x@y.example"]), MESSAGE)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Protocol(ProtocolError::UnexpectedServerReply { .. })
        ),
        "{error:?}"
    );
    assert!(error.is_temporary());
    assert!(error.to_string().contains("bogus extra"), "{error}");
    assert!(client.is_closed());
    let seen = server.await.unwrap();
    assert!(seen.is_empty(), "the client went on: {seen:?}");
}

/// With PIPELINING: the extra reply comes after the end-of-data reply; the
/// next transaction must not start on it.
#[tokio::test]
async fn an_extra_reply_after_a_transaction_stops_the_next_one() {
    let (addr, server) = serve(|mut c| async move {
        greet(&mut c, "250-PIPELINING\r\n").await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.expect("DATA").await;
        c.send("250 ok\r\n250 ok\r\n354 go\r\n").await;
        c.read_data().await;
        c.send("250 queued\r\n").await;
        // Separately, so it is not in the client's buffer with the 250.
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.send("250 2.1.5 bogus extra\r\n").await;
        answer_the_rest(c).await
    })
    .await;
    let mut client = Client::connect(config(addr.port(), true)).await.unwrap();
    let env = envelope(&["x@y.example"]);
    assert!(client.send(&env, MESSAGE).await.unwrap().all_accepted());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let error = client.send(&env, MESSAGE).await.unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Protocol(ProtocolError::UnexpectedServerReply { .. })
        ),
        "{error:?}"
    );
    assert!(server.await.unwrap().is_empty());
}

/// RFC 5321 §3.3 + §4.2.1: MAIL refused for good and the server hangs up
/// before answering the pipelined RCPT and DATA: the 550 decides.
#[tokio::test]
async fn a_refused_sender_then_a_close_is_permanent() {
    let (addr, _) = serve(|mut c| async move {
        greet(&mut c, "250-PIPELINING\r\n").await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.expect("DATA").await;
        c.send("550 5.7.1 sender blocked\r\n").await;
    })
    .await;
    let mut client = Client::connect(config(addr.port(), true)).await.unwrap();
    let error = client
        .send(&envelope(&["x@y.example"]), MESSAGE)
        .await
        .unwrap_err();
    match &error {
        SendError::Protocol(ProtocolError::SenderRefused(reply)) => assert_eq!(reply.code, 550),
        other => panic!("{other:?}"),
    }
    assert!(error.is_permanent());
    assert!(client.is_closed());
}

/// A recipient refused with 5xx stays refused when the connection drops
/// before the transaction ends; the one not yet decided is deferred.
#[tokio::test]
async fn refused_recipients_stay_refused_after_a_close() {
    let (addr, _) = serve(|mut c| async move {
        greet(&mut c, "250-PIPELINING\r\n").await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.expect("RCPT").await;
        c.expect("DATA").await;
        c.send("250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n")
            .await;
    })
    .await;
    let mut client = Client::connect(config(addr.port(), true)).await.unwrap();
    let report = client
        .send(&envelope(&["no@y.example", "ok@y.example"]), MESSAGE)
        .await
        .unwrap();
    let outcomes: Vec<_> = report.recipients.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Refused, Outcome::Deferred]);
    assert_eq!(report.recipients[0].reply.code, 550);
    assert!(
        report.recipients[1]
            .reply
            .to_string()
            .contains("closed the connection"),
        "{}",
        report.recipients[1].reply
    );
    assert!(client.is_closed());
}

/// RFC 5321 §4.1.1.4: DATA refused (554) for the accepted recipient, then a
/// close before RSET is answered: the 554 is the answer, not the close.
#[tokio::test]
async fn a_definite_data_refusal_wins_over_a_later_close() {
    let (addr, _) = serve(|mut c| async move {
        greet(&mut c, "").await;
        c.expect("MAIL").await;
        c.send("250 ok\r\n").await;
        c.expect("RCPT").await;
        c.send("250 ok\r\n").await;
        c.expect("DATA").await;
        c.send("554 5.7.1 no thanks\r\n").await;
    })
    .await;
    let mut client = Client::connect(config(addr.port(), false)).await.unwrap();
    let report = client
        .send(&envelope(&["x@y.example"]), MESSAGE)
        .await
        .unwrap();
    assert_eq!(report.recipients[0].outcome, Outcome::Refused);
    assert_eq!(report.recipients[0].reply.code, 554);
}

/// RFC 5321 §3.8: the server answers in the middle of the content (552,
/// too big) and hangs up; the write then fails, and the 552 waiting in the
/// socket is the answer to report.
#[tokio::test]
async fn an_early_reply_mid_data_is_reported_not_the_write_error() {
    let (addr, _) = serve(|mut c| async move {
        greet(&mut c, "").await;
        c.expect("MAIL").await;
        c.send("250 ok\r\n").await;
        c.expect("RCPT").await;
        c.send("250 ok\r\n").await;
        c.expect("DATA").await;
        c.send("354 go\r\n").await;
        c.expect("Subject").await;
        c.send("552 5.3.4 message too big\r\n").await;
        // Dropped with unread data: the client's next writes fail.
    })
    .await;
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    for _ in 0..200_000 {
        message.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    let mut client = Client::connect(config(addr.port(), false)).await.unwrap();
    let result = client.send(&envelope(&["x@y.example"]), &message).await;
    let report = result.unwrap();
    assert_eq!(report.recipients[0].outcome, Outcome::Refused);
    assert_eq!(report.recipients[0].reply.code, 552);
    assert!(client.is_closed());
}
