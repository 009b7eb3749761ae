//! `Client::from_stream` over an in-memory `tokio::io::duplex` pipe, against
//! the scripted server: a whole session without a socket, STARTTLS with a
//! real TLS handshake over the pipe (the caller's own rustls
//! configuration), and the configuration checks that come before any byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use smtp_sender::{
    Client, ClientConfig, Credentials, Envelope, Outcome, ProtocolError, SendError, Timeouts,
    TlsError, TlsMode, TransportError,
};
use smtp_testkit::certs::TestPki;
use smtp_testkit::server::serve_stream;

const MESSAGE: &[u8] = b"Subject: in memory\r\n\r\nNo socket was harmed.\r\n.leading dot\r\n";

fn config(tls: TlsMode) -> smtp_sender::ClientConfigBuilder {
    ClientConfig::builder("localhost", 25)
        .tls(tls)
        .ehlo_name("client.example")
        .timeouts(Timeouts::all(Duration::from_secs(5)))
}

fn envelope() -> Envelope {
    Envelope::new(
        "alice@example.com",
        &["bob@example.org", "nobody@example.org"],
    )
    .unwrap()
}

#[tokio::test]
async fn a_whole_session_over_a_duplex_pipe() {
    let (pipe, server) = serve_stream(|mut c| async move {
        c.send("220 mx.example.org ESMTP\r\n").await;
        c.expect("EHLO client.example").await;
        c.send("250-mx.example.org\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
            .await;
        c.expect("MAIL FROM:<alice@example.com>").await;
        c.expect("RCPT TO:<bob@example.org>").await;
        c.expect("RCPT TO:<nobody@example.org>").await;
        c.expect("DATA").await;
        c.send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go\r\n")
            .await;
        let content = c.read_data().await;
        c.send("250 2.0.0 queued\r\n").await;
        c.expect("QUIT").await;
        c.send("221 2.0.0 bye\r\n").await;
        content
    });
    let mut client = Client::from_stream(pipe, config(TlsMode::None).build())
        .await
        .unwrap();
    assert!(client.server_info().offers("PIPELINING"));
    let report = client.send(&envelope(), MESSAGE).await.unwrap();
    let outcomes: Vec<_> = report.recipients.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Accepted, Outcome::Refused]);
    client.quit().await.unwrap();
    assert!(client.is_closed());
    assert_eq!(
        server.await.unwrap(),
        MESSAGE,
        "byte-identical after unstuffing"
    );
    let transcript = client.transcript().render();
    assert!(
        transcript.starts_with("-- stream to localhost:25 (TLS: none) --\nS: 220"),
        "{transcript}"
    );
}

#[tokio::test]
async fn starttls_and_auth_over_a_pipe_with_the_callers_rustls_config() {
    let pki = TestPki::named("Pipe CA").unwrap();
    let leaf = pki.server_config();
    let (pipe, server) = serve_stream(move |mut c| async move {
        c.send("220 mx.example.org ESMTP\r\n").await;
        c.expect("EHLO").await;
        c.send("250-mx.example.org\r\n250 STARTTLS\r\n").await;
        c.expect("STARTTLS").await;
        c.send("220 2.0.0 go ahead\r\n").await;
        assert!(c.accept_tls(leaf).await, "the handshake over the pipe");
        c.expect("EHLO").await;
        c.send("250-mx.example.org\r\n250 AUTH PLAIN\r\n").await;
        let auth = c.expect("AUTH PLAIN ").await;
        c.send("235 2.7.0 ok\r\n").await;
        c.expect("QUIT").await;
        c.send("221 bye\r\n").await;
        auth
    });
    // Trust comes from the caller's configuration, which knows only the test CA.
    let config = config(TlsMode::StartTls)
        .tls_config(pki.client_config())
        .credentials(Credentials::new("alice", "s3cret"))
        .build();
    let mut client = Client::from_stream(pipe, config).await.unwrap();
    assert!(client.is_tls());
    assert!(client.server_info().authenticated);
    client.quit().await.unwrap();
    assert_eq!(server.await.unwrap(), "AUTH PLAIN AGFsaWNlAHMzY3JldA==");
}

#[tokio::test]
async fn the_callers_rustls_config_is_used_as_it_is() {
    // A configuration that trusts another CA: the server's certificate fails.
    let trusted = TestPki::named("Trusted CA").unwrap();
    let stranger = TestPki::named("Stranger CA").unwrap();
    let leaf = stranger.server_config();
    let (pipe, server) = serve_stream(move |c| async move {
        let mut c = c;
        c.accept_tls(leaf).await
    });
    let config = config(TlsMode::Implicit)
        .tls_config(trusted.client_config())
        .build();
    let error = Client::from_stream(pipe, config).await.unwrap_err();
    assert!(
        matches!(
            error,
            SendError::Transport(TransportError::Tls(TlsError::UnknownIssuer { .. }))
        ),
        "{error:?}"
    );
    assert!(error.is_temporary());
    assert!(
        !server.await.unwrap(),
        "no session under a refused certificate"
    );
}

#[tokio::test]
async fn conflicting_tls_settings_are_refused_before_any_byte() {
    let pki = TestPki::named("Conflict CA").unwrap();
    let (pipe, server) = serve_stream(|mut c| async move { c.drain().await });
    let config = config(TlsMode::StartTls)
        .tls_config(pki.client_config())
        .insecure_skip_verify(true)
        .build();
    let error = Client::from_stream(pipe, config).await.unwrap_err();
    assert!(
        matches!(error, SendError::Protocol(ProtocolError::Config(_))),
        "{error:?}"
    );
    assert!(error.is_permanent());
    assert_eq!(server.await.unwrap(), "", "nothing was sent");
}

#[tokio::test]
async fn without_an_ehlo_name_a_stream_offers_an_fqdn_or_the_loopback_literal() {
    let (pipe, server) = serve_stream(|mut c| async move {
        c.send("220 mx\r\n").await;
        let ehlo = c.expect("EHLO ").await;
        c.send("250 mx\r\n").await;
        ehlo
    });
    let config = ClientConfig::builder("localhost", 25)
        .tls(TlsMode::None)
        .build();
    let client = Client::from_stream(pipe, config).await.unwrap();
    drop(client);
    let ehlo = server.await.unwrap();
    let name = ehlo.trim_start_matches("EHLO ");
    assert!(name == "[127.0.0.1]" || name.contains('.'), "{ehlo}");
}
