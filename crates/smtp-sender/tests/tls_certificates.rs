//! Certificate verification over real loopback TLS: every bad certificate
//! fails with an error that says what is wrong with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use smtp_sender::{Client, ClientConfig, SendError, Timeouts, TlsError, TlsMode, TransportError};
use smtp_testkit::certs::self_signed_leaf;
use smtp_testkit::server::{serve, serve_tls};
use support::Pki;

fn config(port: u16, tls: TlsMode, pki: &Pki) -> ClientConfig {
    let mut c = ClientConfig::new("localhost", port);
    c.tls = tls;
    c.ca_file = Some(pki.ca_file.clone());
    c.timeouts = Timeouts::all(Duration::from_secs(5));
    c
}

/// A server that completes implicit TLS, greets and says EHLO.
async fn implicit_server(leaf: Arc<ServerConfig>) -> (u16, tokio::task::JoinHandle<bool>) {
    let (addr, handle) = serve_tls(leaf, |conn| async move {
        let Some(mut c) = conn else { return false };
        c.greet("250 mx\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
        true
    })
    .await;
    (addr.port(), handle)
}

async fn connect_error(cfg: ClientConfig) -> TlsError {
    match Client::connect(cfg).await {
        Err(SendError::Transport(TransportError::Tls(e))) => e,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_good_certificate_is_accepted_by_name_and_by_ip() {
    let pki = Pki::new("Good CA");
    for host in ["localhost", "127.0.0.1"] {
        let (port, server) = implicit_server(pki.leaf()).await;
        let mut cfg = config(port, TlsMode::Implicit, &pki);
        cfg.host = host.into();
        let mut client = Client::connect(cfg).await.unwrap();
        assert!(client.is_tls());
        client.quit().await.unwrap();
        assert!(server.await.unwrap());
    }
}

#[tokio::test]
async fn wrong_name() {
    let pki = Pki::new("Wrong Name CA");
    let (port, _server) = implicit_server(
        pki.pki
            .leaf_with(&["other.example"], |_| {})
            .unwrap()
            .server_config(),
    )
    .await;
    let err = connect_error(config(port, TlsMode::Implicit, &pki)).await;
    assert!(matches!(err, TlsError::WrongName { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not valid for localhost") && text.contains("other.example"),
        "{text}"
    );
}

#[tokio::test]
async fn wrong_name_after_starttls() {
    let pki = Pki::new("Wrong Name STARTTLS CA");
    let leaf = pki
        .pki
        .leaf_with(&["other.example"], |_| {})
        .unwrap()
        .server_config();
    let (addr, server) = serve(move |mut c| async move {
        c.greet("250-mx\r\n250 STARTTLS\r\n").await;
        c.expect("STARTTLS").await;
        c.send("220 go\r\n").await;
        c.accept_tls(leaf).await
    })
    .await;
    let err = connect_error(config(addr.port(), TlsMode::StartTls, &pki)).await;
    assert!(matches!(err, TlsError::WrongName { .. }), "{err}");
    assert!(!server.await.unwrap(), "the handshake must not complete");
}

#[tokio::test]
async fn servername_overrides_the_name_checked() {
    let pki = Pki::new("Servername CA");
    let (port, server) = implicit_server(
        pki.pki
            .leaf_with(&["mail.test"], |_| {})
            .unwrap()
            .server_config(),
    )
    .await;
    let mut cfg = config(port, TlsMode::Implicit, &pki);
    cfg.host = "127.0.0.1".into();
    cfg.servername = Some("mail.test".into());
    let mut client = Client::connect(cfg).await.unwrap();
    client.quit().await.unwrap();
    assert!(server.await.unwrap());
}

#[tokio::test]
async fn unknown_ca() {
    let trusted = Pki::new("Trusted CA");
    let stranger = Pki::new("Stranger CA");
    let (port, _server) = implicit_server(stranger.leaf()).await;
    let err = connect_error(config(port, TlsMode::Implicit, &trusted)).await;
    assert!(matches!(err, TlsError::UnknownIssuer { .. }), "{err}");
    assert!(err.to_string().contains("unknown certificate authority"));
}

#[tokio::test]
async fn self_signed() {
    let trusted = Pki::new("Trusted CA 2");
    let (port, _server) = implicit_server(self_signed_leaf().unwrap().server_config()).await;
    let err = connect_error(config(port, TlsMode::Implicit, &trusted)).await;
    assert!(matches!(err, TlsError::SelfSigned { .. }), "{err}");
    assert!(err.to_string().contains("self-signed"));
}

#[tokio::test]
async fn expired() {
    let pki = Pki::new("Expired CA");
    let (port, _server) = implicit_server(pki.pki.expired_leaf().unwrap().server_config()).await;
    let err = connect_error(config(port, TlsMode::Implicit, &pki)).await;
    assert!(matches!(err, TlsError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("expired"));
}

#[tokio::test]
async fn insecure_skip_verify_accepts_anything() {
    let pki = Pki::new("Unused CA");
    let (port, server) = implicit_server(self_signed_leaf().unwrap().server_config()).await;
    let mut cfg = config(port, TlsMode::Implicit, &pki);
    cfg.insecure_skip_verify = true;
    let mut client = Client::connect(cfg).await.unwrap();
    client.quit().await.unwrap();
    assert!(server.await.unwrap());
}

#[tokio::test]
async fn a_bad_ca_file_is_a_clear_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-ca.pem");
    std::fs::write(&path, "hello").unwrap();
    let mut cfg = ClientConfig::new("localhost", 1);
    cfg.ca_file = Some(path);
    let err = connect_error(cfg).await;
    assert!(matches!(err, TlsError::CaFile { .. }), "{err}");
}
