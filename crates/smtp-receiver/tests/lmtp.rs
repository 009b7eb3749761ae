//! LMTP (RFC 2033) with a real MTA: Postfix takes a message over SMTP for
//! two recipients of example.test and delivers it through lmtp(8) to this
//! project's receiver (`virtual_transport = lmtp:inet:...`). The receiver
//! refuses one recipient at RCPT; Postfix bounces that one and delivers
//! the other, which lands in the Maildir with `with LMTP` in `Received:`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{files, test_config};
use smtp_peers::{Peer, Postfix, PostfixConfig};
use smtp_receiver::config::{ListenerKind, RecipientPolicy};
use smtp_receiver::{
    Envelope, ForwardPath, Handler, MaildirHandler, MessageBody, RcptParams, Reply, Server,
};

/// The Maildir, refusing `nobody@` at RCPT.
#[derive(Clone)]
struct RefuseNobody(MaildirHandler);

impl Handler for RefuseNobody {
    async fn rcpt(&mut self, to: &ForwardPath, params: &RcptParams) -> Result<(), Reply> {
        if to.to_string().starts_with("<nobody@") {
            return Err(Reply::new(550, "5.1.1 no such user here"));
        }
        self.0.rcpt(to, params).await
    }

    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        self.0.data(envelope, body).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_delivers_through_our_lmtp_listener() {
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let mail = tempfile::tempdir().unwrap();
    let mut config = test_config(None);
    config.listeners.clear();
    config.listen_lmtp("127.0.0.1:0".parse().unwrap());
    config.session.recipients = RecipientPolicy::domains(["example.test"]);
    let handler = RefuseNobody(MaildirHandler::open(mail.path(), "lmtp.test").unwrap());
    let server = Server::bind(config, handler).await.unwrap();
    let lmtp = server.local_addr(ListenerKind::Lmtp).unwrap();
    tokio::spawn(server.run());

    let certs = common::TestCerts::generate();
    let mut postfix = PostfixConfig::new(&certs.files.server_cert, &certs.files.server_key);
    postfix
        .main_cf
        .push(("virtual_transport".into(), format!("lmtp:inet:{lmtp}")));
    let postfix = tokio::task::spawn_blocking(move || Postfix::start(&postfix))
        .await
        .unwrap()
        .expect("Postfix starts");
    let port = postfix.smtp_addr().port().to_string();
    let script = r#"
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    refused = s.sendmail("alice@client.example", ["bob@example.test", "nobody@example.test"],
                         b"Subject: through LMTP\r\n\r\nhello\r\n")
    assert refused == {}, refused
"#;
    common::python(script, &[port]).await;

    let new = mail.path().join("new");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while files(&new).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing delivered:\n{}",
            postfix.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&files(&new)[0]).unwrap();
    assert!(text.contains(" with LMTP id "), "{text}");
    assert!(
        text.contains("X-Original-To: bob@example.test\n"),
        "only bob: {text}"
    );
    // Postfix read the per-recipient replies: bob sent, nobody bounced.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let log = postfix.log();
        let sent = log.contains("to=<bob@example.test>") && log.contains("status=sent");
        let bounced = log.contains("to=<nobody@example.test>") && log.contains("status=bounced");
        if sent && bounced {
            assert!(log.contains("no such user here"), "{log}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// LMTP on a Unix socket, with this project's LMTP client: the refused
/// recipient gets its own RCPT refusal, the other its reply after the
/// data; a stale socket file is replaced, and the socket goes at shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_lmtp_with_our_client() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lmtp.sock");
    // A socket left by a server that is gone.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let mut config = test_config(None);
    config.lmtp_sockets.push(socket.clone());
    config.session.recipients = RecipientPolicy::domains(["example.test"]);
    let mail = dir.path().join("mail");
    let handler = RefuseNobody(MaildirHandler::open(&mail, "lmtp.test").unwrap());
    let server = Server::bind(config, handler).await.unwrap();
    assert_eq!(server.local_sockets(), [socket.as_path()]);
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.run());

    let client = smtp_sender::ClientConfig::builder("localhost", 0)
        .tls(smtp_sender::TlsMode::None)
        .lmtp(true)
        .unix_socket(&socket)
        .build();
    let mut session = smtp_sender::Client::connect(client).await.unwrap();
    let envelope = smtp_sender::Envelope::new(
        "a@client.test",
        &["bob@example.test", "nobody@example.test"],
    )
    .unwrap();
    let report = session
        .send(&envelope, b"Subject: over a socket\r\n\r\nhi\r\n")
        .await
        .unwrap();
    session.quit().await.unwrap();
    assert_eq!(
        report.recipients[0].outcome,
        smtp_sender::Outcome::Accepted,
        "{report}"
    );
    assert_eq!(report.recipients[1].reply.code, 550, "{report}");
    let stored = files(&mail.join("new"));
    assert_eq!(stored.len(), 1);
    let text = std::fs::read_to_string(&stored[0]).unwrap();
    assert!(text.contains("with LMTP"), "{text}");

    shutdown.shutdown();
    task.await.unwrap().unwrap();
    assert!(!socket.exists(), "removed at shutdown");
}
