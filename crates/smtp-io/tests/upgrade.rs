//! A real TLS handshake over an in-memory duplex stream: the server side
//! with a self-made certificate, the client side once verifying against the
//! self-made CA and once with the dangerous accept-any verifier.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use smtp_io::MaybeTls;
use smtp_io::tls::self_signed::SelfMade;
use smtp_io::tls::{dangerous, parse_certs, provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const LIMIT: Duration = Duration::from_secs(10);

async fn upgrade_and_talk(client_config: Arc<rustls::ClientConfig>, made: &SelfMade) {
    let (a, b) = tokio::io::duplex(16 * 1024);
    let acceptor = TlsAcceptor::from(made.server_config().unwrap());
    let connector = TlsConnector::from(client_config);
    let server = tokio::spawn(async move {
        let mut server = MaybeTls::plain(b);
        server.accept(&acceptor, LIMIT).await.unwrap();
        let mut line = [0u8; 6];
        server.read_exact(&mut line).await.unwrap();
        server.write_all(b"250 ok\r\n").await.unwrap();
        server.flush().await.unwrap();
        (line, server.tls_parameters())
    });
    let mut client = MaybeTls::plain(a);
    assert!(!client.is_tls());
    let name = ServerName::try_from("localhost").unwrap();
    client.connect(&connector, name, LIMIT).await.unwrap();
    assert!(client.is_tls());
    client.write_all(b"NOOP\r\n").await.unwrap();
    let mut reply = [0u8; 8];
    client.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"250 ok\r\n");
    let (line, parameters) = server.await.unwrap();
    assert_eq!(&line, b"NOOP\r\n");
    let parameters = parameters.unwrap();
    assert_eq!(parameters.version, "TLSv1.3");
    assert!(parameters.cipher.starts_with("TLS13_"), "{parameters:?}");
    assert_eq!(client.tls_parameters(), Some(parameters));
    // A second upgrade is refused; the stream stays usable.
    let again = client
        .connect(
            &connector,
            ServerName::try_from("localhost").unwrap(),
            LIMIT,
        )
        .await;
    assert!(again.is_err());
    assert!(client.is_tls());
}

#[tokio::test]
async fn verified_against_the_self_made_ca() {
    let made = SelfMade::generate("test CA", &["localhost", "127.0.0.1"]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in parse_certs(made.ca_pem.as_bytes(), "CA").unwrap() {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    upgrade_and_talk(Arc::new(config), &made).await;
}

#[tokio::test]
async fn dangerous_accepts_a_certificate_nobody_trusts() {
    let made = SelfMade::generate("nobody's CA", &["localhost"]).unwrap();
    let config = dangerous::client_config_accepting_any_certificate().unwrap();
    upgrade_and_talk(config, &made).await;
}

#[tokio::test]
async fn a_client_that_sends_nothing_times_out() {
    let made = SelfMade::generate("test CA", &["localhost"]).unwrap();
    let acceptor = TlsAcceptor::from(made.server_config().unwrap());
    let (_silent, b) = tokio::io::duplex(1024);
    let mut server = MaybeTls::plain(b);
    let error = server
        .accept(&acceptor, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    assert!(matches!(server, MaybeTls::Closed));
}
