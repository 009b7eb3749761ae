//! STARTTLS (RFC 3207), implicit TLS (RFC 8314) and AUTH (RFC 4954) over
//! real TLS with certificates generated for the test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestCerts, code, codes, files, start, test_config};
use smtp_receiver::{MaildirHandler, SinkHandler, Users, WithUsers};
use smtp_wire::sasl::{self, Credentials};
use tokio::net::TcpStream;

fn users() -> Users {
    let mut users = Users::new();
    users.insert("alice", "s3cret");
    users
}

fn plain(user: &str, password: &str) -> String {
    sasl::plain_response(&Credentials::new(user, password))
}

#[tokio::test]
async fn starttls_discards_injected_plaintext_and_resets_the_session() {
    let certs = TestCerts::generate();
    let server = start(
        test_config(Some(&certs)),
        WithUsers::new(SinkHandler::default(), users()),
    )
    .await;
    let mut c = server.connect().await;
    c.reply().await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(ehlo.contains("250-STARTTLS\r\n"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "no AUTH before TLS: {ehlo}");
    // CVE-2011-0411: a command injected behind STARTTLS in the same packet.
    c.send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        .await;
    assert!(c.reply().await.starts_with("220 2.0.0 "));
    let mut c = c.upgrade(&certs.connector(), "localhost").await;
    // The injected MAIL was never executed: the first reply inside TLS is the NOOP's.
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK\r\n");
    // State reset: EHLO required again; STARTTLS not offered, AUTH is.
    assert!(
        c.cmd("MAIL FROM:<a@client.example>")
            .await
            .starts_with("503 ")
    );
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(
        !ehlo.contains("STARTTLS") && ehlo.contains("250-AUTH PLAIN LOGIN\r\n"),
        "{ehlo}"
    );
    assert!(c.cmd("STARTTLS").await.starts_with("503 "));
    c.cmd("QUIT").await;
    let transcript = &server.transcripts(1).await[0];
    assert!(
        transcript.contains("discarded 35 octets sent after STARTTLS"),
        "{transcript}"
    );
    server.stop().await;
}

#[tokio::test]
async fn garbage_or_silence_instead_of_a_handshake_never_falls_back_to_plaintext() {
    let certs = TestCerts::generate();
    let mut config = test_config(Some(&certs));
    config.session.timeouts.tls_handshake = Duration::from_millis(500);
    let server = start(config, SinkHandler::default()).await;

    let mut c = server.connect().await;
    c.reply().await;
    c.cmd("EHLO client.example").await;
    assert_eq!(code(&c.cmd("STARTTLS").await), 220);
    c.send("EHLO plaintext.example\r\nMAIL FROM:<a@client.example>\r\n")
        .await;
    let rest = c.read_to_end().await;
    assert!(
        !rest.contains("250") && !rest.contains("503"),
        "plaintext answered: {rest:?}"
    );

    let mut c = server.connect().await;
    c.reply().await;
    c.cmd("EHLO client.example").await;
    assert_eq!(code(&c.cmd("STARTTLS").await), 220);
    let started = Instant::now();
    assert_eq!(c.read_to_end().await, "", "silence: closed without a word");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Plaintext to the implicit-TLS port gets no SMTP reply either.
    let mut c = Client::new(TcpStream::connect(server.tls.unwrap()).await.unwrap());
    c.send("EHLO plaintext.example\r\n").await;
    let rest = c.read_to_end().await;
    assert!(!rest.contains("220") && !rest.contains("250"), "{rest:?}");
    server.stop().await;
}

#[tokio::test]
async fn implicit_tls_with_auth_and_delivery() {
    let certs = TestCerts::generate();
    let mail = tempfile::tempdir().unwrap();
    let handler = WithUsers::new(
        MaildirHandler::open(mail.path(), "mx.test").unwrap(),
        users(),
    );
    let server = start(test_config(Some(&certs)), handler).await;
    let mut c = server.connect_tls(&certs).await;
    assert!(c.reply().await.starts_with("220 mx.test "));
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(
        ehlo.contains("250-AUTH PLAIN LOGIN\r\n") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")))
            .await,
        "235 2.7.0 Authentication successful\r\n"
    );
    for line in [
        "MAIL FROM:<alice@client.example>",
        "RCPT TO:<bob@example.org>",
        "DATA",
    ] {
        assert!(code(&c.cmd(line).await) < 400);
    }
    assert!(
        c.cmd("Subject: tls\r\n\r\nsecret stuff\r\n.")
            .await
            .starts_with("250 2.0.0 Ok: queued as ")
    );
    c.cmd("QUIT").await;
    let stored = std::fs::read_to_string(&files(&mail.path().join("new"))[0]).unwrap();
    assert!(stored.contains("with ESMTPSA id "), "{stored}");
    assert!(stored.ends_with("Subject: tls\n\nsecret stuff\n"));
    server.stop().await;
}

#[tokio::test]
async fn auth_refused_before_tls_and_its_error_replies_inside() {
    let certs = TestCerts::generate();
    let server = start(
        test_config(Some(&certs)),
        WithUsers::new(SinkHandler::default(), users()),
    )
    .await;
    let mut c = server.connect().await;
    c.reply().await;
    c.cmd("EHLO client.example").await;
    let reply = c
        .cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")))
        .await;
    assert!(reply.starts_with("538 5.7.11 "), "{reply}");

    let mut c = c.starttls(&certs.connector(), "localhost").await;
    c.cmd("EHLO client.example").await;
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "wrong")))
            .await
            .starts_with("535 5.7.8 ")
    );
    assert!(c.cmd("AUTH PLAIN").await.starts_with("334 "));
    assert!(c.cmd("*").await.starts_with("501 "));
    assert!(c.cmd("AUTH LOGIN").await.starts_with("334 VXNlcm5hbWU6"));
    assert!(c.cmd("%%%").await.starts_with("501 5.5.2 "));
    assert!(
        c.cmd("MAIL FROM:<a@client.example>")
            .await
            .starts_with("250 ")
    );
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")))
            .await
            .starts_with("503 "),
        "AUTH in a transaction"
    );
    c.cmd("RSET").await;
    assert!(c.cmd("AUTH LOGIN").await.starts_with("334 "));
    assert!(
        c.cmd(&sasl::encode("alice"))
            .await
            .starts_with("334 UGFzc3dvcmQ6")
    );
    assert_eq!(code(&c.cmd(&sasl::encode("s3cret")).await), 235);
    assert!(
        c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")))
            .await
            .starts_with("503 "),
        "AUTH twice"
    );
    c.cmd("QUIT").await;

    // Credentials never reach the transcript.
    let transcript = &server.transcripts(1).await[0];
    for secret in [
        "s3cret",
        "wrong",
        &plain("alice", "s3cret"),
        &sasl::encode("s3cret"),
    ] {
        assert!(
            !transcript.contains(secret),
            "{secret} in transcript:\n{transcript}"
        );
    }
    assert!(transcript.contains("<redacted>"), "{transcript}");
    server.stop().await;
}

#[tokio::test]
async fn repeated_auth_failures_end_with_421() {
    let certs = TestCerts::generate();
    let server = start(
        test_config(Some(&certs)),
        WithUsers::new(SinkHandler::default(), users()),
    )
    .await;
    let mut c = server.connect_tls(&certs).await;
    c.reply().await;
    c.cmd("EHLO client.example").await;
    let attempt = format!("AUTH PLAIN {}\r\n", plain("alice", "guess"));
    c.send(attempt.repeat(3)).await;
    let rest = c.read_to_end().await;
    assert_eq!(codes(&rest), [535, 535, 535, 421], "{rest}");
    server.stop().await;
}

#[tokio::test]
async fn plaintext_auth_on_loopback_only_when_allowed() {
    let mut config = test_config(None);
    config.session.auth.enabled = true;
    config.session.auth.allow_plaintext_on_loopback = true;
    let server = start(config, WithUsers::new(SinkHandler::default(), users())).await;
    let mut c = server.connect().await;
    c.reply().await;
    assert!(
        c.cmd("EHLO client.example")
            .await
            .contains("250-AUTH PLAIN LOGIN")
    );
    assert_eq!(
        code(
            &c.cmd(&format!("AUTH PLAIN {}", plain("alice", "s3cret")))
                .await
        ),
        235
    );
    server.stop().await;
}

/// A message of many TLS records (1.2 MB, records of at most 16 KiB, read
/// several at a time when they are already there) and two more commands
/// pipelined behind it: stored byte for byte, and every reply comes, in
/// order.
#[tokio::test]
async fn a_large_message_over_implicit_tls_is_stored_exactly() {
    let certs = TestCerts::generate();
    let mail = tempfile::tempdir().unwrap();
    let handler = MaildirHandler::open(mail.path(), "mx.test").unwrap();
    let mut config = test_config(Some(&certs));
    config.session.limits.message_size = 8 << 20;
    let server = start(config, handler).await;
    let mut c = server.connect_tls(&certs).await;
    assert_eq!(code(&c.reply().await), 220);
    common::envelope(&mut c).await;
    assert_eq!(code(&c.cmd("DATA").await), 354);
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..27_000 {
        body.extend_from_slice(format!("line {i:05} {}\r\n", "t".repeat(i % 70)).as_bytes());
    }
    c.send([body.as_slice(), b".\r\nNOOP\r\nQUIT\r\n"].concat())
        .await;
    let replies = c.replies(3).await;
    assert!(
        replies[0].starts_with("250 2.0.0 Ok: queued as "),
        "{replies:?}"
    );
    assert_eq!(
        (code(&replies[1]), code(&replies[2])),
        (250, 221),
        "{replies:?}"
    );
    let stored = files(&mail.path().join("new"));
    assert_eq!(stored.len(), 1);
    let content = std::fs::read(&stored[0]).unwrap();
    assert!(
        common::strip_trace(&content) == common::lf(&body),
        "content differs"
    );
    server.stop().await;
}
