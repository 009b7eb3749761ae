//! Shared helpers for the integration tests: the test PKI from
//! smtp-testkit (its files in a temporary folder, for the binary and for
//! Python), a server on 127.0.0.1 port 0, and the raw client of
//! `smtp_testkit::client`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_receiver::config::{ListenerKind, RecipientPolicy, ServerConfig};
use smtp_receiver::{Backend, Server, ServerError, ShutdownHandle};
use smtp_testkit::certs::{PkiFiles, TestPki};
#[allow(unused_imports)]
pub use smtp_testkit::client::{Client, PATIENCE, code, codes};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A CA and a server leaf for localhost / 127.0.0.1 / ::1, also as PEM
/// files in a temporary folder.
pub struct TestCerts {
    pub pki: TestPki,
    pub files: PkiFiles,
    _dir: TempDir,
}

impl TestCerts {
    pub fn generate() -> TestCerts {
        let pki = TestPki::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = pki.write(dir.path()).unwrap();
        TestCerts {
            pki,
            files,
            _dir: dir,
        }
    }

    /// A client configuration trusting only the test CA.
    pub fn connector(&self) -> TlsConnector {
        self.pki.connector()
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
        config.tls = Some(certs.pki.server_config());
        config.session.auth.enabled = true;
    }
    config.session.recipients = RecipientPolicy::domains(["example.org"]);
    config.session.timeouts.command = Duration::from_secs(10);
    config.session.timeouts.data_block = Duration::from_secs(10);
    config.session.timeouts.tls_handshake = Duration::from_secs(10);
    config.shutdown_grace = Duration::from_secs(5);
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

pub async fn start<B: Backend>(mut config: ServerConfig, backend: B) -> TestServer {
    let transcripts = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&transcripts);
    config.on_transcript(move |_, transcript| sink.lock().unwrap().push(transcript.render()));
    let server = Server::bind(config, backend).await.unwrap();
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
        Client::new(tcp)
            .upgrade(&certs.connector(), "localhost")
            .await
    }
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

/// The message after the trace header lines the receiver prepends (a
/// Maildir file: LF line ends).
pub fn strip_trace(stored: &[u8]) -> &[u8] {
    let mut at = 0;
    loop {
        let rest = &stored[at..];
        let is_trace = [
            &b"Return-Path:"[..],
            b"X-Original-To:",
            b"X-Envelope-DSN:",
            b"Received:",
            b"\t",
        ]
        .iter()
        .any(|p| rest.starts_with(p));
        if !is_trace {
            return rest;
        }
        at += rest.iter().position(|&b| b == b'\n').unwrap() + 1;
    }
}

/// `text` as a Maildir file stores it: every CRLF made LF.
pub fn lf(text: impl AsRef<[u8]>) -> Vec<u8> {
    let text = text.as_ref();
    let mut out = Vec::with_capacity(text.len());
    for (i, &b) in text.iter().enumerate() {
        if !(b == b'\r' && text.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

/// Runs `python3 -c SCRIPT ARGS...` off the runtime's threads and returns
/// its stdout; panics with both outputs when it fails.
pub async fn python(script: &str, args: &[String]) -> String {
    let mut command = std::process::Command::new("python3");
    command.arg("-c").arg(script).args(args);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
