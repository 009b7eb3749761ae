//! OAuth 2.0 bearer tokens (OAUTHBEARER, RFC 7628, and XOAUTH2) over
//! STARTTLS against this project's receiver, whose test handler accepts
//! one token: as a library, and as `smtp-send --oauth-token-env` /
//! `--oauth-token-file`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::net::SocketAddr;

use smtp_receiver::{
    Credentials as Presented, Envelope as Received, Handler, Mechanism, MessageBody, Reply, Server,
    ServerConfig,
};
use smtp_sender::{Client, ClientConfig, Credentials, Envelope, ProtocolError, SendError};
use support::Pki;
use support::cli::smtp_send;

/// Accepts the token `good-token` for alice, by either token mechanism.
#[derive(Clone)]
struct TokenChecker;

impl Handler for TokenChecker {
    async fn auth(&mut self, mechanism: Mechanism, credentials: &Presented) -> Result<(), Reply> {
        match (mechanism, credentials.token()) {
            (Mechanism::OAuthBearer | Mechanism::XOAuth2, Some("good-token"))
                if credentials.username == "alice@example.org" =>
            {
                Ok(())
            }
            _ => Err(Reply::new(535, "5.7.8 token refused")),
        }
    }

    async fn data(&mut self, _: &Received, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        while body.chunk().await.map_err(|e| e.reply())?.is_some() {}
        Ok(())
    }
}

async fn receiver(pki: &Pki) -> SocketAddr {
    let mut config = ServerConfig::new("mx.test");
    config.listen_plain("127.0.0.1:0".parse().unwrap());
    config.tls = Some(pki.leaf());
    config.session.starttls = true;
    config.session.auth.enabled = true;
    config.session.auth.tokens = true;
    config.session.recipients = smtp_receiver::config::RecipientPolicy::domains(["example.org"]);
    let server = Server::bind(config, TokenChecker).await.unwrap();
    let addr = server
        .local_addr(smtp_receiver::config::ListenerKind::Plain)
        .unwrap();
    tokio::spawn(server.run());
    addr
}

fn with_token(addr: SocketAddr, pki: &Pki, token: &str) -> ClientConfig {
    ClientConfig::builder("localhost", addr.port())
        .ca_file(&pki.ca_file)
        .credentials(Credentials::bearer("alice@example.org", token))
        .build()
}

#[tokio::test]
async fn oauthbearer_and_xoauth2_against_our_receiver() {
    let pki = Pki::new("OAuth Test CA");
    let addr = receiver(&pki).await;
    let mut client = Client::connect(with_token(addr, &pki, "good-token"))
        .await
        .unwrap();
    assert!(client.server_info().authenticated);
    let envelope = Envelope::new("alice@example.org", &["bob@example.org"]).unwrap();
    let report = client
        .send(&envelope, b"Subject: t\r\n\r\nhi\r\n")
        .await
        .unwrap();
    assert!(report.all_accepted());
    let transcript = client.transcript().render();
    assert!(
        transcript.contains("C: AUTH OAUTHBEARER <redacted>"),
        "{transcript}"
    );
    assert!(!transcript.contains("good-token"), "the token never shows");
    client.quit().await.unwrap();

    // XOAUTH2 when chosen.
    let config = with_token(addr, &pki, "good-token");
    let mut config = config;
    config.credentials = config
        .credentials
        .map(|c| c.with_mechanism(smtp_sender::Mechanism::XOAuth2));
    let mut client = Client::connect(config).await.unwrap();
    assert!(client.server_info().authenticated);
    assert!(
        client
            .transcript()
            .render()
            .contains("C: AUTH XOAUTH2 <redacted>")
    );
    client.quit().await.unwrap();

    // A refused token: the error challenge, the client's %x01, then 535.
    let error = Client::connect(with_token(addr, &pki, "expired"))
        .await
        .unwrap_err();
    let SendError::Protocol(ProtocolError::AuthFailed(reply)) = error else {
        panic!("{error:?}")
    };
    assert_eq!(reply.code, 535);
}

#[tokio::test]
async fn smtp_send_takes_the_token_from_the_environment_or_a_file() {
    let pki = Pki::new("OAuth CLI CA");
    let addr = receiver(&pki).await;
    let server = format!("127.0.0.1:{}", addr.port());
    let ca = pki.ca_file.display().to_string();
    let base = [
        "--server",
        &server,
        "--servername",
        "localhost",
        "--ca",
        &ca,
        "--user",
        "alice@example.org",
        "--from",
        "alice@example.org",
        "--to",
        "bob@example.org",
        "--text",
        "hi",
        "-v",
    ];
    let mut args = base.to_vec();
    args.extend(["--oauth-token-env", "MY_TOKEN"]);
    let out = smtp_send(&args, None, &[("MY_TOKEN", "good-token")]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("C: AUTH OAUTHBEARER <redacted>"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("good-token"));

    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(out.stderr.contains("MY_TOKEN is not set"), "{}", out.stderr);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "expired\n").unwrap();
    let mut args = base.to_vec();
    let path = file.display().to_string();
    args.extend(["--oauth-token-file", &path, "--auth-mechanism", "xoauth2"]);
    let out = smtp_send(&args, None, &[]).await;
    assert_eq!(out.code, 69, "a refused token is permanent: {}", out.stderr);
    assert!(out.stderr.contains("535"), "{}", out.stderr);
    assert!(
        out.stderr.contains("C: AUTH XOAUTH2 <redacted>"),
        "{}",
        out.stderr
    );
}
