//! Large messages and bulk sending: a message of many DATA blocks arrives
//! byte for byte (dot-stuffing across block boundaries, sent from the
//! caller's buffer without a copy, or from a canonical copy when it has
//! bare line ends), the transcript of a large message stays small, and
//! `smtp-send --count` delivers every message over several sessions and
//! its summary counts failed messages and failed sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;

use smtp_sender::{Client, ClientConfig, Envelope, TlsMode};
use smtp_testkit::server::{Sink, serve};
use support::cli::smtp_send;
use tokio::io::{AsyncWriteExt, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};

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
        c.greet("250-mx\r\n250 PIPELINING\r\n").await;
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

const BULK: [&str; 4] = ["--from", "a@example.org", "--to", "b@example.org"];

#[tokio::test]
async fn bulk_mode_delivers_every_message_over_several_sessions() {
    let sink = Sink::start().await.unwrap();
    let server = sink.addr.to_string();
    let mut args = vec!["--server", &server, "--tls", "none"];
    args.extend(BULK);
    args.extend(["--count", "120", "--sessions", "4", "--size", "3K"]);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with(
            "bulk messages=120 accepted=120 failed=0 sessions=4 sessions_failed=0 size=3072 seconds="
        ),
        "{}",
        out.stdout
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
    let server = format!("127.0.0.1:{port}");
    let mut args = vec!["--server", &server, "--tls", "none", "--count", "5"];
    args.extend(BULK);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 75);
    assert!(
        out.stdout
            .contains("accepted=0 failed=5 sessions=1 sessions_failed=1"),
        "{}",
        out.stdout
    );
}

/// A server in front of `sink` that refuses its first `refuse` connections
/// with `421` at the greeting, as a server over its per-client limit does,
/// and passes the others through.
async fn refusing_first(refuse: usize, sink: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if n < refuse {
                    let _ = client
                        .write_all(b"421 4.7.0 too many connections from your address\r\n")
                        .await;
                    return;
                }
                let mut server = TcpStream::connect(sink).await.unwrap();
                let _ = copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn refused_sessions_show_in_the_summary_even_when_every_message_arrived() {
    // The first wave's `--count 400 --sessions 20` against a limit of 16
    // per address: 4 sessions refused, every message accepted over the
    // others, exit 75 under a summary that said nothing had failed.
    let sink = Sink::start().await.unwrap();
    let front = refusing_first(2, sink.addr).await.to_string();
    let mut args = vec!["--server", &front, "--tls", "none"];
    args.extend(BULK);
    args.extend(["--count", "60", "--sessions", "5"]);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(sink.delivered(), 60);
    assert_eq!(out.code, 75, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("accepted=60 failed=0 sessions=5 sessions_failed=2 "),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(
            "smtp-send: 2 of 5 sessions failed: the server is closing the connection: \
             421 4.7.0 too many connections from your address"
        ),
        "{}",
        out.stderr
    );
}
