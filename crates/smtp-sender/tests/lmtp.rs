//! The LMTP client (RFC 2033) against a real mailbox server, Dovecot:
//! over TCP and over its Unix socket, as a library, as `smtp-send --server
//! lmtp:...`, and as the queue runner's `--relay lmtp:unix:...`. Each
//! recipient's reply after the data is its own (Dovecot names the
//! recipient in it), and each message lands in its mailbox once.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use smtp_peers::{Dovecot, Peer};
use smtp_sender::{Client, ClientConfig, Envelope, Outcome, TlsMode};
use support::cli::smtp_send;

fn dovecot() -> Option<Dovecot> {
    if let Err(missing) = Peer::Dovecot.usable() {
        eprintln!("SKIPPED: {missing}");
        return None;
    }
    Some(Dovecot::start().expect("Dovecot starts"))
}

#[tokio::test]
async fn library_over_tcp_and_unix_socket_reads_a_reply_per_recipient() {
    let Some(dovecot) = dovecot() else { return };
    let envelope = Envelope::new(
        "alice@example.test",
        &["bob@example.test", "carol@example.test"],
    )
    .unwrap();
    let tcp = ClientConfig::builder("127.0.0.1", dovecot.lmtp_addr().port())
        .tls(TlsMode::None)
        .lmtp(true)
        .build();
    let unix = ClientConfig::builder("localhost", 0)
        .tls(TlsMode::None)
        .lmtp(true)
        .unix_socket(dovecot.lmtp_socket())
        .build();
    for config in [tcp, unix] {
        let mut client = Client::connect(config).await.unwrap();
        let report = client
            .send(&envelope, b"Subject: over LMTP\r\n\r\nHello\r\n")
            .await
            .unwrap();
        client.quit().await.unwrap();
        assert!(client.transcript().render().contains("C: LHLO "));
        for (r, who) in report.recipients.iter().zip(["bob", "carol"]) {
            assert_eq!(r.outcome, Outcome::Accepted, "{report}");
            // Dovecot's reply names the recipient it is about.
            assert!(
                r.reply.text().contains(&format!("<{who}@example.test>")),
                "{report}"
            );
        }
    }
    assert_eq!(dovecot.count("bob@example.test").unwrap(), 2);
    assert_eq!(dovecot.count("carol@example.test").unwrap(), 2);
}

#[tokio::test]
async fn smtp_send_and_the_queue_runner_deliver_over_lmtp() {
    let Some(dovecot) = dovecot() else { return };
    let socket = format!("lmtp:unix:{}", dovecot.lmtp_socket().display());
    let tcp = format!("lmtp:{}", dovecot.lmtp_addr());
    for server in [&socket, &tcp] {
        let out = smtp_send(
            &[
                "--server",
                server,
                "--from",
                "a@example.test",
                "--to",
                "dave@example.test",
                "--message",
                "-",
            ],
            Some(b"Subject: from smtp-send\r\n\r\nhi\r\n"),
            &[],
        )
        .await;
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("accepted <dave@example.test>"),
            "{}",
            out.stdout
        );
    }
    // Plain HOST:PORT with --lmtp is LMTP too; port 25 is refused for it.
    let addr = dovecot.lmtp_addr().to_string();
    let out = smtp_send(
        &[
            "--server",
            &addr,
            "--lmtp",
            "--tls",
            "none",
            "--from",
            "a@example.test",
            "--to",
            "dave@example.test",
            "--message",
            "-",
        ],
        Some(b"Subject: with --lmtp\r\n\r\nhi\r\n"),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = smtp_send(
        &[
            "--server",
            "lmtp:127.0.0.1:25",
            "--from",
            "a@x.test",
            "--to",
            "b@x.test",
        ],
        None,
        &[],
    )
    .await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("RFC 2033"), "{}", out.stderr);

    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().to_str().unwrap();
    let out = smtp_send(
        &[
            "enqueue",
            "--spool",
            spool_dir,
            "--from",
            "a@example.test",
            "--to",
            "erin@example.test",
            "--to",
            "frank@example.test",
            "-",
        ],
        Some(b"Subject: queued\r\n\r\nhi\r\n"),
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = smtp_send(
        &[
            "queue", "run", "--spool", spool_dir, "--once", "--relay", &socket,
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("delivered=2 deferred=0 failed=0"),
        "{}",
        out.stdout
    );
    let out = smtp_send(&["queue", "list", "--spool", spool_dir], None, &[]).await;
    assert!(
        !out.stdout.contains("erin"),
        "the spool is empty: {}",
        out.stdout
    );

    assert_eq!(dovecot.count("dave@example.test").unwrap(), 3);
    assert_eq!(dovecot.count("erin@example.test").unwrap(), 1);
    assert_eq!(dovecot.count("frank@example.test").unwrap(), 1);
    let headers = dovecot.headers("erin@example.test").unwrap();
    assert!(headers[0].contains("Subject: queued"), "{headers:?}");
}
