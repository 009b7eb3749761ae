//! Large messages and bulk sending: a message of many DATA blocks arrives
//! byte for byte (dot-stuffing across block boundaries, sent from the
//! caller's buffer without a copy, or from a canonical copy when it has
//! bare line ends), the transcript of a large message stays small, and
//! `smtp-send --count` delivers every message over several sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smtp_sender::{Client, ClientConfig, Envelope, TlsMode};
use smtp_testkit::server::{Sink, serve};

/// About 1 MiB over 16 DATA blocks, with lines that need dot-stuffing
/// everywhere (so some fall on block boundaries) and a last line ".".
fn big_message(line_end: &str) -> Vec<u8> {
    let mut m = format!("Subject: big{line_end}{line_end}").into_bytes();
    for i in 0..14_000 {
        let line = match i % 3 {
            0 => format!(".leading dot {i}"),
            1 => format!("..two dots {i}"),
            _ => format!("plain line {i} {}", "x".repeat(i % 70)),
        };
        m.extend_from_slice(line.as_bytes());
        m.extend_from_slice(line_end.as_bytes());
    }
    m.extend_from_slice(format!(".{line_end}").as_bytes());
    m
}

async fn send_to_recording_server(message: &[u8]) -> (Vec<u8>, String) {
    let (addr, server) = serve(|mut c| async move {
        c.send("220 mx\r\n").await;
        c.expect("EHLO").await;
        c.send("250-mx\r\n250 PIPELINING\r\n").await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.expect("DATA").await;
        c.send("250 ok\r\n250 ok\r\n354 go ahead\r\n").await;
        let content = c.read_data().await;
        c.send("250 2.0.0 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
        content
    })
    .await;
    let mut config = ClientConfig::new("127.0.0.1", addr.port());
    config.tls = TlsMode::None;
    let mut client = Client::connect(config).await.unwrap();
    let envelope = Envelope::new("a@example.org", &["b@example.org"]).unwrap();
    let report = client.send(&envelope, message).await.unwrap();
    assert!(report.all_accepted());
    client.quit().await.unwrap();
    (server.await.unwrap(), client.transcript().render())
}

#[tokio::test]
async fn a_large_canonical_message_arrives_byte_for_byte() {
    let message = big_message("\r\n");
    let (received, transcript) = send_to_recording_server(&message).await;
    assert_eq!(received.len(), message.len());
    assert!(received == message, "content differs");
    // The middle blocks are counted, not recorded; the session around them is.
    assert!(
        transcript.contains("of message content (whole lines) not recorded"),
        "{transcript}"
    );
    assert!(transcript.contains("C: ..leading dot 0\n"), "{transcript}");
    assert!(
        transcript.contains("C: ...two dots 13999\n"),
        "{transcript}"
    );
    assert!(
        transcript.contains("C: ..\nC: .\nS: 250 2.0.0 queued"),
        "{transcript}"
    );
    assert!(
        transcript.ends_with("C: QUIT\nS: 221 bye\n"),
        "{transcript}"
    );
    assert!(transcript.len() < 8 * 1024, "{} octets", transcript.len());
}

#[tokio::test]
async fn a_large_message_with_bare_line_ends_is_normalised() {
    let (received, _) = send_to_recording_server(&big_message("\n")).await;
    assert!(received == big_message("\r\n"), "content differs");
}

#[tokio::test]
async fn bulk_mode_delivers_every_message_over_several_sessions() {
    let sink = Sink::start().await.unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(["--server", &sink.addr.to_string(), "--tls", "none"])
        .args(["--from", "a@example.org", "--to", "b@example.org"])
        .args(["--count", "120", "--sessions", "4", "--size", "3K"])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("bulk messages=120 accepted=120 failed=0 sessions=4 size=3072 seconds="),
        "{stdout}"
    );
    assert_eq!(sink.delivered(), 120);
}

#[tokio::test]
async fn bulk_mode_fails_when_messages_are_lost() {
    // Nobody listens: every session fails to connect.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_smtp-send"))
        .args(["--server", &format!("127.0.0.1:{port}"), "--tls", "none"])
        .args([
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--count",
            "5",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("accepted=0 failed=5"), "{stdout}");
}
