//! The wrong TLS mode for the port, over real loopback sockets and real
//! TLS: a STARTTLS client (the default off port 465) meets an implicit-TLS
//! port, which waits in silence for a ClientHello (RFC 8314 §3.3); an
//! implicit-TLS client meets a plain port, which greets in plain text
//! (RFC 5321 §3.1). Both end in moments and name the `--tls` to try;
//! against the scripted server, the binary and Postfix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use smtp_peers::{Peer, Postfix, PostfixConfig};
use smtp_sender::{
    Client, ClientConfig, SILENCE_LIMIT, SendError, Timeouts, TlsMode, TransportError,
};
use smtp_testkit::server::{serve, serve_tls};
use support::Pki;
use support::cli::smtp_send;

/// The silence limit the tests use (the default, 10 s, is measured by
/// `the_default_mode_and_its_silence_limit_follow_the_port` instead).
const QUICK: Duration = Duration::from_millis(400);
/// More than any of these tests should take.
const MOMENTS: Duration = Duration::from_secs(3);

fn transport(error: SendError) -> TransportError {
    match error {
        SendError::Transport(error) => error,
        other => panic!("expected a transport error, got {other:?}"),
    }
}

/// `ClientConfig::new` as a user writes it (mode from the port), with a
/// short silence limit.
fn by_port(port: u16, pki: &Pki) -> ClientConfig {
    let mut config = ClientConfig::new("localhost", port);
    config.ca_file = Some(pki.ca_file.clone());
    config.ehlo_name = Some("client.example".into());
    config.silence_limit = Some(QUICK);
    config
}

#[test]
fn the_default_mode_and_its_silence_limit_follow_the_port() {
    for (port, mode, limit) in [
        (465, TlsMode::Implicit, None),
        (25, TlsMode::StartTls, None),
        (587, TlsMode::StartTls, Some(SILENCE_LIMIT)),
        (4650, TlsMode::StartTls, Some(SILENCE_LIMIT)),
    ] {
        let config = ClientConfig::new("mx.example", port);
        assert_eq!((config.tls, config.silence_limit), (mode, limit), "{port}");
    }
    assert_eq!(SILENCE_LIMIT, Duration::from_secs(10));
    let chosen = ClientConfig::builder("mx.example", 4650)
        .tls(TlsMode::StartTls)
        .build();
    assert_eq!(
        chosen.silence_limit, None,
        "an explicit mode keeps the RFC wait"
    );
}

#[tokio::test]
async fn the_default_mode_on_an_implicit_tls_port_gives_up_quickly() {
    let pki = Pki::new("Silence Test CA");
    let (addr, server) = serve_tls(pki.leaf(), |conn| async move { conn.is_none() }).await;
    let started = Instant::now();
    let error = Client::connect(by_port(addr.port(), &pki))
        .await
        .unwrap_err();
    assert!(started.elapsed() < MOMENTS, "{:?}", started.elapsed());
    assert_eq!(
        error.to_string(),
        "no greeting after 0.4 s: this port may expect implicit TLS (RFC 8314); try --tls implicit"
    );
    assert!(matches!(
        transport(error),
        TransportError::NoGreeting { waited, closed: false } if waited == QUICK
    ));
    assert!(server.await.unwrap(), "the server never saw a ClientHello");
}

#[tokio::test]
async fn an_explicit_mode_keeps_the_greeting_timeout() {
    let pki = Pki::new("Patience Test CA");
    let (addr, server) = serve_tls(pki.leaf(), |conn| async move { conn.is_none() }).await;
    let greeting = Duration::from_millis(1500);
    let config = ClientConfig::builder("localhost", addr.port())
        .tls(TlsMode::StartTls)
        .ca_file(&pki.ca_file)
        .timeouts(Timeouts {
            greeting,
            ..Timeouts::default()
        })
        .build();
    let started = Instant::now();
    let error = transport(Client::connect(config).await.unwrap_err());
    assert!(started.elapsed() >= greeting - Duration::from_millis(50));
    assert!(
        matches!(error, TransportError::NoGreeting { waited, closed: false } if waited == greeting),
        "{error:?}"
    );
    assert!(server.await.unwrap());
}

#[tokio::test]
async fn a_greeting_that_starts_at_once_may_take_its_time() {
    // Postfix's postscreen: "220-" at once, the rest seconds later.
    let pki = Pki::new("Postscreen Test CA");
    let (addr, server) = serve(|mut c| async move {
        c.send("220-mx.example.org ESMTP\r\n").await;
        tokio::time::sleep(QUICK * 3).await;
        c.send("220 mx.example.org ready\r\n").await;
        c.expect("EHLO client.example").await;
        c.send("250 mx.example.org\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
    })
    .await;
    let mut config = by_port(addr.port(), &pki);
    config.tls = TlsMode::None;
    let mut client = Client::connect(config).await.unwrap();
    client.quit().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn implicit_tls_on_a_plain_port_names_starttls() {
    let pki = Pki::new("Plain Port Test CA");
    let (addr, server) = serve(|mut c| async move {
        c.send("220 mx.example.org ESMTP ready\r\n").await;
        c.drain().await
    })
    .await;
    let config = ClientConfig::builder("localhost", addr.port())
        .tls(TlsMode::Implicit)
        .ca_file(&pki.ca_file)
        .build();
    let started = Instant::now();
    let error = Client::connect(config).await.unwrap_err();
    assert!(started.elapsed() < MOMENTS);
    assert!(
        error.is_permanent(),
        "the port answers the same way next time"
    );
    assert!(
        matches!(transport(error), TransportError::PlainSmtp { ref said } if said == "220 mx.example.org ESMTP ready")
    );
    // What the server read: the start of a TLS ClientHello (a handshake record).
    assert!(server.await.unwrap().starts_with('\u{16}'));
}

#[tokio::test]
async fn smtp_send_names_the_fix_for_either_mistake() {
    let pki = Pki::new("CLI Mode Test CA");
    let ca = pki.ca_file.to_str().unwrap().to_string();
    let message = [
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--text",
        "hi",
    ];

    let (addr, server) = serve_tls(pki.leaf(), |conn| async move { conn.is_none() }).await;
    let server_arg = format!("localhost:{}", addr.port());
    let mut args = vec!["--server", &server_arg, "--ca", &ca, "--timeout", "1"];
    args.extend(message);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 75, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "no greeting after 1 s: this port may expect implicit TLS (RFC 8314); try --tls implicit"
        ),
        "{}",
        out.stderr
    );
    assert!(server.await.unwrap());

    let (addr, server) = serve(|mut c| async move {
        c.send("220 mx.example.org ESMTP\r\n").await;
        c.drain().await
    })
    .await;
    let server_arg = format!("localhost:{}", addr.port());
    let mut args = vec!["--server", &server_arg, "--ca", &ca, "--tls", "implicit"];
    args.extend(message);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 69, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the server speaks plain SMTP on this port; try --tls starttls"),
        "{}",
        out.stderr
    );
    server.await.unwrap();
}

#[tokio::test]
async fn postfix_either_way() {
    if let Err(missing) = Peer::PostfixSmtpd.usable() {
        eprintln!("skipped: {missing}");
        return;
    }
    let pki = Pki::new("Postfix Mode Test CA");
    let files = pki.files.clone();
    let postfix = tokio::task::spawn_blocking(move || {
        Postfix::start(&PostfixConfig::new(&files.server_cert, &files.server_key))
    })
    .await
    .unwrap()
    .expect("Postfix starts");

    // The mode chosen from the port on Postfix's smtpd with wrappermode.
    let started = Instant::now();
    let error = Client::connect(by_port(postfix.smtps_addr().port(), &pki))
        .await
        .unwrap_err();
    assert!(started.elapsed() < MOMENTS);
    assert!(
        matches!(transport(error), TransportError::NoGreeting { .. }),
        "{}",
        postfix.log()
    );

    // Implicit TLS on Postfix's plain port.
    let mut implicit = by_port(postfix.smtp_addr().port(), &pki);
    implicit.tls = TlsMode::Implicit;
    let error = transport(Client::connect(implicit).await.unwrap_err());
    assert!(
        matches!(error, TransportError::PlainSmtp { ref said } if said.starts_with("220 localhost ESMTP")),
        "{error:?}"
    );

    // The right mode on each port, with the silence limit in force.
    let mut client = Client::connect(by_port(postfix.smtp_addr().port(), &pki))
        .await
        .unwrap();
    assert!(client.is_tls(), "STARTTLS");
    client.quit().await.unwrap();
    let mut implicit = by_port(postfix.smtps_addr().port(), &pki);
    implicit.tls = TlsMode::Implicit;
    let mut client = Client::connect(implicit).await.unwrap();
    assert!(client.is_tls());
    client.quit().await.unwrap();
    tokio::task::spawn_blocking(move || postfix.stop())
        .await
        .unwrap();
}
