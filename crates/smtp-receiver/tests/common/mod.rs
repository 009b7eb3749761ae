//! Shared helpers for the integration tests: certificates made at test time
//! (a CA and a leaf it signs), a server on 127.0.0.1 port 0, and a small
//! raw SMTP client that shows exactly what crosses the wire.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, ServerName};
use smtp_receiver::config::{ListenerKind, RecipientPolicy, ServerConfig};
use smtp_receiver::server::tls::load_tls_config;
use smtp_receiver::{Handler, Server, ServerError, ShutdownHandle};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A CA, a leaf certificate for localhost / 127.0.0.1 / ::1 signed by it,
/// and the leaf's key, as PEM files in a temporary directory.
pub struct TestCerts {
    pub dir: TempDir,
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    pub ca_der: CertificateDer<'static>,
}

impl TestCerts {
    pub fn generate() -> TestCerts {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "smtp-receiver test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let mut leaf_params = CertificateParams::new(names).unwrap();
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let ca_pem = dir.path().join("ca.pem");
        let cert_pem = dir.path().join("cert.pem");
        let key_pem = dir.path().join("key.pem");
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        std::fs::write(&cert_pem, leaf.pem()).unwrap();
        std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();
        TestCerts {
            ca_der: ca.der().clone(),
            dir,
            ca_pem,
            cert_pem,
            key_pem,
        }
    }

    /// A client configuration trusting only the test CA.
    pub fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

/// A configuration for tests: host `mx.test`, a plain listener (plus an
/// implicit-TLS one and STARTTLS when `certs` is given), domain
/// example.org, short deadlines, transcripts kept.
pub fn test_config(certs: Option<&TestCerts>) -> ServerConfig {
    let mut config = ServerConfig::new("mx.test");
    config.listen_plain("127.0.0.1:0".parse().unwrap());
    if let Some(certs) = certs {
        config.listen_tls("127.0.0.1:0".parse().unwrap());
        config.tls = Some(load_tls_config(&certs.cert_pem, &certs.key_pem).unwrap());
        config.session.auth.enabled = true;
    }
    config.session.recipients = RecipientPolicy::domains(["example.org"]);
    config.timeouts.command = Duration::from_secs(10);
    config.timeouts.data_block = Duration::from_secs(10);
    config.timeouts.tls_handshake = Duration::from_secs(10);
    config.timeouts.shutdown_grace = Duration::from_secs(5);
    config
}

/// A running server.
pub struct TestServer {
    pub plain: SocketAddr,
    pub tls: Option<SocketAddr>,
    pub shutdown: ShutdownHandle,
    pub task: JoinHandle<Result<(), ServerError>>,
    pub transcripts: Arc<Mutex<Vec<String>>>,
}

pub async fn start<H: Handler>(mut config: ServerConfig, handler: H) -> TestServer {
    let transcripts = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&transcripts);
    config.on_transcript(move |_, transcript| sink.lock().unwrap().push(transcript.render()));
    let server = Server::bind(config, handler).await.unwrap();
    let plain = server.local_addr(ListenerKind::Plain).unwrap();
    let tls = server.local_addr(ListenerKind::ImplicitTls);
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(server.run());
    TestServer {
        plain,
        tls,
        shutdown,
        task,
        transcripts,
    }
}

impl TestServer {
    /// Shuts down and waits for `run` to return.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }

    /// Waits until `n` sessions have ended and returns their transcripts.
    pub async fn transcripts(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let got = self.transcripts.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} transcripts",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn connect(&self) -> Client<TcpStream> {
        Client::new(TcpStream::connect(self.plain).await.unwrap())
    }

    /// Connects to the implicit-TLS listener.
    pub async fn connect_tls(&self, certs: &TestCerts) -> Client<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.tls.unwrap()).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        Client::new(certs.connector().connect(name, tcp).await.unwrap())
    }
}

/// A raw SMTP client: writes bytes, reads whole replies.
pub struct Client<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(stream: S) -> Client<S> {
        Client {
            io: BufReader::new(stream),
        }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.io.get_mut().write_all(bytes.as_ref()).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// Sends, reporting failure (the server may have closed) instead of panicking.
    pub async fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> bool {
        self.io.get_mut().write_all(bytes.as_ref()).await.is_ok()
            && self.io.get_mut().flush().await.is_ok()
    }

    /// One whole reply (all its lines), or "" at end of stream.
    pub async fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(PATIENCE, self.io.read_line(&mut line))
                .await
                .expect("a reply in time")
                .unwrap();
            if n == 0 {
                return reply;
            }
            reply.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return reply;
            }
        }
    }

    pub async fn replies(&mut self, n: usize) -> Vec<String> {
        let mut all = Vec::new();
        for _ in 0..n {
            all.push(self.reply().await);
        }
        all
    }

    /// Sends one command line and returns its reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Everything until the server closes the connection.
    pub async fn read_to_end(&mut self) -> String {
        let mut rest = Vec::new();
        tokio::time::timeout(PATIENCE, self.io.read_to_end(&mut rest))
            .await
            .expect("the server closes")
            .unwrap_or(0);
        String::from_utf8_lossy(&rest).into_owned()
    }

    /// Octets the server sent that are still buffered unread.
    pub fn buffered(&self) -> usize {
        self.io.buffer().len()
    }

    pub fn into_inner(self) -> S {
        assert_eq!(self.io.buffer().len(), 0, "unread server octets");
        self.io.into_inner()
    }
}

impl Client<TcpStream> {
    /// EHLO, STARTTLS, handshake: the session continues inside TLS.
    pub async fn starttls(mut self, certs: &TestCerts) -> Client<TlsStream<TcpStream>> {
        assert_eq!(code(&self.cmd("EHLO client.example").await), 250);
        assert_eq!(code(&self.cmd("STARTTLS").await), 220);
        let name = ServerName::try_from("localhost").unwrap();
        let tls = certs
            .connector()
            .connect(name, self.into_inner())
            .await
            .unwrap();
        Client::new(tls)
    }
}

/// The code of a reply (its last line's, which is the same for all lines).
pub fn code(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Runs the common envelope and expects 250 to each.
pub async fn envelope<S: AsyncRead + AsyncWrite + Unpin>(client: &mut Client<S>) {
    for line in [
        "EHLO client.example",
        "MAIL FROM:<alice@client.example>",
        "RCPT TO:<bob@example.org>",
    ] {
        let reply = client.cmd(line).await;
        assert_eq!(code(&reply), 250, "{line}: {reply}");
    }
}

/// Files in a directory.
pub fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// The message after the trace header lines the receiver prepends.
pub fn strip_trace(stored: &[u8]) -> &[u8] {
    let mut at = 0;
    loop {
        let rest = &stored[at..];
        let is_trace = [&b"Return-Path:"[..], b"X-Original-To:", b"Received:", b"\t"]
            .iter()
            .any(|p| rest.starts_with(p));
        if !is_trace {
            return rest;
        }
        at += rest.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    }
}
