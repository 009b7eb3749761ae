//! Many messages over one connection against the benchmark's sink, with
//! pipelining on and off: every message is counted once, and pipelining
//! really groups the commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smtp_sender::{Client, ClientConfig, Envelope, TlsMode};
use smtp_testkit::server::Sink;

async fn send_many(sink: &Sink, pipelining: bool, n: usize) -> Client {
    let mut config = ClientConfig::new("127.0.0.1", sink.addr.port());
    config.tls = TlsMode::None;
    config.pipelining = pipelining;
    let env = Envelope::new(
        "alice@example.com",
        &["bob@example.org", "carol@example.org"],
    )
    .unwrap();
    let mut client = Client::connect(config).await.unwrap();
    for i in 0..n {
        let message = format!("Subject: {i}\r\n\r\nmessage {i}\r\n.\r\n");
        let report = client.send(&env, message.as_bytes()).await.unwrap();
        assert!(report.all_accepted());
    }
    client.quit().await.unwrap();
    client
}

#[tokio::test]
async fn many_messages_with_and_without_pipelining() {
    let sink = Sink::start().await.unwrap();
    let client = send_many(&sink, true, 200).await;
    assert_eq!(sink.delivered(), 200);
    let transcript = client.transcript().render();
    assert_eq!(
        transcript.matches("C: RSET").count(),
        199,
        "RSET between messages"
    );

    send_many(&sink, false, 200).await;
    assert_eq!(sink.delivered(), 400);
}
