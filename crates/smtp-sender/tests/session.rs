//! Whole sessions over real loopback sockets and real TLS, against a
//! scripted server that misbehaves on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use smtp_sender::{
    Client, ClientConfig, Credentials, Envelope, Outcome, ProtocolError, SendError, Timeouts,
    TlsMode, TransportError,
};
use smtp_testkit::server::{Conn, serve, serve_tls};
use support::Pki;

const MESSAGE: &[u8] = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: test\r\n\r\n\
Hello Bob.\r\n.A line that starts with a dot\r\n.\r\nThe line above is a lone dot.\r\n";

fn config(port: u16, tls: TlsMode, pki: Option<&Pki>) -> ClientConfig {
    let mut c = ClientConfig::new("localhost", port);
    c.tls = tls;
    c.ca_file = pki.map(|p| p.ca_file.clone());
    c.ehlo_name = Some("client.example".into());
    c.timeouts = Timeouts::all(Duration::from_secs(5));
    c
}

fn envelope(to: &[&str]) -> Envelope {
    Envelope::new("alice@example.com", to).unwrap()
}

#[tokio::test]
async fn starttls_auth_pipelining_refused_recipient_and_two_messages() {
    let pki = Pki::new("Session Test CA");
    let leaf = pki.leaf();
    let (addr, server) = serve(move |mut c| async move {
        c.send("220-mx.example.org ESMTP\r\n220-multi-line greeting\r\n220 ready\r\n").await;
        c.expect("EHLO client.example").await;
        c.send("250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n").await;
        c.expect("STARTTLS").await;
        c.send("220 2.0.0 go ahead\r\n").await;
        assert!(c.accept_tls(leaf).await);
        c.expect("EHLO client.example").await;
        c.send("250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n").await;
        let auth = c.expect("AUTH PLAIN ").await;
        assert_eq!(&auth[11..], "AGFsaWNlAHMzY3JldA==");
        c.send("235 2.7.0 ok\r\n").await;
        let mut messages = Vec::new();
        for round in 0..2 {
            if round == 1 {
                c.expect("RSET").await;
            }
            c.expect("MAIL FROM:<alice@example.com> SIZE=").await;
            c.expect("RCPT TO:<bob@example.org>").await;
            c.expect("RCPT TO:<nobody@example.org>").await;
            c.expect("RCPT TO:<carol@example.org>").await;
            c.expect("DATA").await;
            // All replies of the flight at once (RFC 2920).
            let rset = if round == 1 { "250 2.0.0 reset\r\n" } else { "" };
            c.send(&format!(
                "{rset}250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n354 go\r\n"
            ))
            .await;
            messages.push(c.read_data().await);
            c.send("250 2.0.0 queued\r\n").await;
        }
        c.expect("QUIT").await;
        c.send("221 2.0.0 bye\r\n").await;
        messages
    })
    .await;

    let mut cfg = config(addr.port(), TlsMode::StartTls, Some(&pki));
    cfg.credentials = Some(Credentials::new("alice", "s3cret"));
    let mut client = Client::connect(cfg).await.unwrap();
    assert!(client.is_tls());
    assert!(client.server_info().authenticated);
    let env = envelope(&["bob@example.org", "nobody@example.org", "carol@example.org"]);
    for _ in 0..2 {
        let report = client.send(&env, MESSAGE).await.unwrap();
        let outcomes: Vec<_> = report.recipients.iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes,
            [Outcome::Accepted, Outcome::Refused, Outcome::Accepted]
        );
        assert_eq!(
            report.recipients[1].reply.to_string(),
            "550 5.1.1 no such user"
        );
        assert!(report.enhanced_status_codes);
    }
    client.quit().await.unwrap();
    assert!(client.is_closed());

    let received = server.await.unwrap();
    assert_eq!(
        received,
        vec![MESSAGE.to_vec(), MESSAGE.to_vec()],
        "byte-identical after unstuffing"
    );

    let transcript = client.transcript().render();
    assert!(transcript.contains("-- TLS started --"), "{transcript}");
    assert!(
        transcript.contains("C: AUTH PLAIN <redacted>"),
        "{transcript}"
    );
    assert!(
        !transcript.contains("AGFsaWNlAHMzY3JldA=="),
        "secret in transcript"
    );
    assert!(transcript.contains("S: 550 5.1.1 no such user"));
}

#[tokio::test]
async fn implicit_tls_and_helo_fallback() {
    let pki = Pki::new("Implicit CA");
    let (addr, server) = serve_tls(pki.leaf(), |c| async move {
        let mut c = c.expect("handshake");
        c.send("220 old-fashioned server\r\n").await;
        c.expect("EHLO").await;
        c.send("502 5.5.1 command not implemented\r\n").await;
        c.expect("HELO client.example").await;
        c.send("250 hello\r\n").await;
        // No extensions after HELO: no SIZE, no pipelining.
        c.expect("MAIL FROM:<alice@example.com>").await;
        c.send("250 ok\r\n").await;
        c.expect("RCPT TO:<bob@example.org>").await;
        c.send("250 ok\r\n").await;
        c.expect("DATA").await;
        c.send("354 go\r\n").await;
        let data = c.read_data().await;
        c.send("250 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
        data
    })
    .await;
    let cfg = config(addr.port(), TlsMode::Implicit, Some(&pki));
    let report = smtp_sender::send_mail(cfg, &envelope(&["bob@example.org"]), MESSAGE)
        .await
        .unwrap();
    assert!(report.all_accepted());
    assert_eq!(server.await.unwrap(), MESSAGE);
}

#[tokio::test]
async fn size_limit_too_small_is_refused_before_mail() {
    let (addr, server) = serve(|mut c| async move {
        c.greet("250-mx\r\n250 SIZE 50\r\n").await;
        // The next thing must be QUIT, not MAIL.
        c.line().await
    })
    .await;
    let mut client = Client::connect(config(addr.port(), TlsMode::None, None))
        .await
        .unwrap();
    let err = client
        .send(&envelope(&["bob@example.org"]), MESSAGE)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Protocol(ProtocolError::MessageTooLarge { limit: 50, .. })
        ),
        "{err}"
    );
    assert!(err.is_permanent());
    assert!(!client.is_closed(), "a local refusal keeps the session");
    client.quit().await.unwrap_or_default();
    assert_eq!(server.await.unwrap().as_deref(), Some("QUIT"));
}

#[tokio::test]
async fn service_closing_421_in_the_middle() {
    let (addr, _server) = serve(|mut c| async move {
        c.greet("250 mx\r\n").await;
        c.expect("MAIL").await;
        c.send("250 ok\r\n").await;
        c.expect("RCPT").await;
        c.send("421 4.3.2 system shutting down\r\n").await;
        c.drain().await
    })
    .await;
    let mut client = Client::connect(config(addr.port(), TlsMode::None, None))
        .await
        .unwrap();
    let err = client
        .send(
            &envelope(&["bob@example.org", "carol@example.org"]),
            MESSAGE,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Protocol(ProtocolError::ServiceClosing(_))),
        "{err}"
    );
    assert!(err.is_temporary());
    assert!(client.is_closed());
    assert!(matches!(
        client.send(&envelope(&["x@example.org"]), MESSAGE).await,
        Err(SendError::Transport(TransportError::Closed))
    ));
}

#[tokio::test]
async fn starttls_response_injection_is_refused() {
    let pki = Pki::new("Injection CA");
    let (addr, server) = serve(|mut c| async move {
        c.greet("250-mx\r\n250 STARTTLS\r\n").await;
        c.expect("STARTTLS").await;
        // The 220 and a forged EHLO reply in one packet (CVE-2011-0411).
        c.send("220 go ahead\r\n250-mx\r\n250 AUTH PLAIN\r\n").await;
        c.drain().await
    })
    .await;
    let mut cfg = config(addr.port(), TlsMode::StartTls, Some(&pki));
    cfg.credentials = Some(Credentials::new("alice", "s3cret"));
    let err = Client::connect(cfg).await.unwrap_err();
    assert!(
        matches!(err, SendError::Protocol(ProtocolError::ResponseInjection)),
        "{err}"
    );
    let rest = server.await.unwrap();
    assert!(
        !rest.contains("AUTH") && !rest.contains("MAIL"),
        "sent after injection: {rest:?}"
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered() {
    let (addr, server) = serve(|mut c| async move {
        c.greet("250-mx\r\n250 AUTH PLAIN\r\n").await;
        let next = c.line().await;
        c.send("221 bye\r\n").await;
        (next, c.drain().await)
    })
    .await;
    let mut cfg = config(addr.port(), TlsMode::StartTls, None);
    cfg.credentials = Some(Credentials::new("alice", "s3cret"));
    let err = Client::connect(cfg).await.unwrap_err();
    assert!(
        matches!(err, SendError::Protocol(ProtocolError::StartTlsUnavailable)),
        "{err}"
    );
    let (next, rest) = server.await.unwrap();
    assert_eq!(
        next.as_deref(),
        Some("QUIT"),
        "only a courtesy QUIT, never AUTH or MAIL"
    );
    assert_eq!(rest, "");
}

#[tokio::test]
async fn malformed_reply_ends_the_session() {
    for bad in [
        "22O hello\r\n",
        "220hello\r\n",
        "999 nine nine nine\r\n",
        "220-a\r\n250 b\r\n",
    ] {
        let (addr, _server) = serve(move |mut c| async move {
            c.send(bad).await;
            c.drain().await
        })
        .await;
        let err = Client::connect(config(addr.port(), TlsMode::None, None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, SendError::Protocol(ProtocolError::MalformedReply(_))),
            "{bad:?}: {err}"
        );
        assert!(err.is_temporary());
    }
}

#[tokio::test]
async fn endless_continuation_and_endless_line_are_cut_off() {
    let (addr, _server) = serve(|mut c| async move {
        for _ in 0..100_000 {
            if !c.send_bytes(b"220-more and more\r\n").await {
                break;
            }
        }
    })
    .await;
    let err = Client::connect(config(addr.port(), TlsMode::None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Protocol(ProtocolError::MalformedReply(
                smtp_wire::ReplyError::TooManyLines
            ))
        ),
        "{err}"
    );

    let (addr, _server) = serve(|mut c| async move {
        let chunk = vec![b'a'; 4096];
        c.send("220 ").await;
        for _ in 0..1000 {
            if !c.send_bytes(&chunk).await {
                break;
            }
        }
    })
    .await;
    let err = Client::connect(config(addr.port(), TlsMode::None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Protocol(ProtocolError::MalformedReply(_))
                | SendError::Protocol(ProtocolError::ReplyTooLong(_))
        ),
        "{err}"
    );
}

#[tokio::test]
async fn greeting_timeout() {
    // A greeting begun and never finished (a silent server is told apart:
    // wrong_tls_mode.rs).
    let (addr, _server) = serve(|mut c| async move {
        c.send("220-slow\r\n").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        c.send("220 too late\r\n").await;
    })
    .await;
    let mut cfg = config(addr.port(), TlsMode::None, None);
    cfg.timeouts.greeting = Duration::from_millis(200);
    let err = Client::connect(cfg).await.unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Transport(TransportError::Timeout {
                stage: "the greeting",
                ..
            })
        ),
        "{err}"
    );
    assert!(err.is_temporary());
}

#[tokio::test]
async fn server_hangs_up() {
    let (addr, _server) = serve(|mut c| async move {
        c.send("220 mx\r\n").await;
        c.expect("EHLO").await;
    })
    .await;
    let err = Client::connect(config(addr.port(), TlsMode::None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Transport(TransportError::ConnectionClosed { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn bad_ehlo_name_is_refused_before_connecting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config(listener.local_addr().unwrap().port(), TlsMode::None, None);
    cfg.ehlo_name = Some("client.example\r\nMAIL FROM:<x@y>".into());
    let err = Client::connect(cfg).await.unwrap_err();
    assert!(
        matches!(
            err,
            SendError::Protocol(ProtocolError::InvalidInput {
                what: "EHLO name",
                ..
            })
        ),
        "{err}"
    );
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "no connection may be opened");
}

#[tokio::test]
async fn chunking_over_a_socket() {
    let (addr, server) = serve(|mut c| async move {
        c.greet("250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n")
            .await;
        c.expect("MAIL").await;
        c.expect("RCPT").await;
        c.send("250 ok\r\n250 ok\r\n").await;
        let bdat = c.expect("BDAT ").await;
        let size: usize = bdat.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(bdat.ends_with(" LAST"));
        let content = c.read_exact(size).await;
        c.send("250 2.0.0 queued\r\n").await;
        c.expect("QUIT").await;
        content
    })
    .await;
    let mut cfg = config(addr.port(), TlsMode::None, None);
    cfg.chunking = true;
    let report = smtp_sender::send_mail(cfg, &envelope(&["bob@example.org"]), MESSAGE)
        .await
        .unwrap();
    assert!(report.all_accepted());
    assert_eq!(server.await.unwrap(), MESSAGE);
}

#[tokio::test]
async fn auth_login_in_the_clear_only_when_allowed_and_never_in_the_transcript() {
    let script = |mut c: Conn| async move {
        c.greet("250-mx\r\n250 AUTH LOGIN\r\n").await;
        let first = c.line().await;
        if first.as_deref() != Some("AUTH LOGIN") {
            c.send("221 bye\r\n").await;
            return (first, Vec::new());
        }
        c.send("334 VXNlcm5hbWU6\r\n").await;
        let user = c.line().await.unwrap();
        c.send("334 UGFzc3dvcmQ6\r\n").await;
        let pass = c.line().await.unwrap();
        c.send("235 2.7.0 ok\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
        (first, vec![user, pass])
    };

    // Not allowed: nothing secret leaves, the error says why.
    let (addr, server) = serve(script).await;
    let mut cfg = config(addr.port(), TlsMode::None, None);
    cfg.credentials = Some(Credentials::new("alice", "s3cret"));
    let err = Client::connect(cfg.clone()).await.unwrap_err();
    assert!(
        matches!(err, SendError::Protocol(ProtocolError::AuthRequiresTls)),
        "{err}"
    );
    assert_eq!(server.await.unwrap().0.as_deref(), Some("QUIT"));

    // Explicitly allowed.
    let (addr, server) = serve(script).await;
    cfg.port = addr.port();
    cfg.allow_plaintext_auth = true;
    let mut client = Client::connect(cfg).await.unwrap();
    client.quit().await.unwrap();
    let (_, secrets) = server.await.unwrap();
    assert_eq!(secrets, ["YWxpY2U=", "czNjcmV0"]);
    let transcript = client.transcript().render();
    assert!(transcript.contains("C: AUTH LOGIN"), "{transcript}");
    for secret in &secrets {
        assert!(
            !transcript.contains(secret.as_str()),
            "{secret} in\n{transcript}"
        );
    }
    assert!(!format!("{client:?}").contains("s3cret"));
}
