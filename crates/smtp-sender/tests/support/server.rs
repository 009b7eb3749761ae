//! A scripted SMTP server for tests (tokio + tokio-rustls) that says exactly
//! what each test tells it to, including things no good server says.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use smtp_wire::DataDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long the server waits for the client before giving up (tests must end).
const PATIENCE: Duration = Duration::from_secs(10);

/// The server's side of one connection.
pub struct Conn {
    plain: Option<TcpStream>,
    tls: Option<Box<TlsStream<TcpStream>>>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(tcp: TcpStream) -> Conn {
        Conn {
            plain: Some(tcp),
            tls: None,
            buf: Vec::new(),
        }
    }

    async fn read_more(&mut self) -> Option<usize> {
        let mut chunk = [0u8; 8192];
        let read = async {
            match (&mut self.tls, &mut self.plain) {
                (Some(tls), _) => tls.read(&mut chunk).await,
                (None, Some(tcp)) => tcp.read(&mut chunk).await,
                (None, None) => Ok(0),
            }
        };
        let n = tokio::time::timeout(PATIENCE, read).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Some(n)
    }

    /// Writes raw text (the test supplies CRLFs). Errors are ignored: the
    /// client may legitimately have hung up.
    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    /// Writes raw bytes; returns false when the client is gone.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        let result = match (&mut self.tls, &mut self.plain) {
            (Some(tls), _) => {
                async {
                    tls.write_all(bytes).await?;
                    tls.flush().await
                }
                .await
            }
            (None, Some(tcp)) => tcp.write_all(bytes).await,
            (None, None) => return false,
        };
        result.is_ok()
    }

    /// The next line without its CRLF; `None` when the client hung up.
    pub async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&line);
                return Some(text.trim_end_matches(['\r', '\n']).to_string());
            }
            self.read_more().await?;
        }
    }

    /// Reads a line and checks that it starts with `prefix` (case-insensitive).
    pub async fn expect(&mut self, prefix: &str) -> String {
        let line = self
            .line()
            .await
            .unwrap_or_else(|| panic!("client hung up; expected {prefix:?}"));
        assert!(
            line.to_ascii_uppercase()
                .starts_with(&prefix.to_ascii_uppercase()),
            "expected {prefix:?}, got {line:?}"
        );
        line
    }

    /// The message content after a 354, unstuffed, up to the final dot.
    pub async fn read_data(&mut self) -> Vec<u8> {
        let mut decoder = DataDecoder::new();
        let mut out = Vec::new();
        loop {
            let progress = decoder.decode(&self.buf, &mut out);
            self.buf.drain(..progress.consumed);
            if progress.done {
                return out;
            }
            if self.read_more().await.is_none() {
                panic!("client hung up in the middle of DATA");
            }
        }
    }

    /// Exactly `n` octets (BDAT content).
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            if self.read_more().await.is_none() {
                panic!("client hung up in the middle of BDAT");
            }
        }
        self.buf.drain(..n).collect()
    }

    /// The TLS handshake on this connection (implicit TLS or after STARTTLS).
    /// Returns false when the client gave up (e.g. it refused the certificate).
    pub async fn accept_tls(&mut self, config: Arc<ServerConfig>) -> bool {
        let Some(tcp) = self.plain.take() else {
            return false;
        };
        match tokio::time::timeout(PATIENCE, TlsAcceptor::from(config).accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.tls = Some(Box::new(tls));
                true
            }
            _ => false,
        }
    }

    /// Reads until the client hangs up; returns what it sent meanwhile.
    pub async fn drain(&mut self) -> String {
        while self.read_more().await.is_some() {}
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }
}

/// Listens on 127.0.0.1 (ephemeral port), accepts one connection and runs
/// `script` on it. Returns the address and the script's result.
pub async fn serve<T, F, Fut>(script: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        script(Conn::new(tcp)).await
    });
    (addr, handle)
}

/// Like [`serve`], with implicit TLS (RFC 8314): the handshake comes first.
/// The script gets `None` when the client refused the handshake.
pub async fn serve_tls<T, F, Fut>(
    config: Arc<ServerConfig>,
    script: F,
) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(Option<Conn>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    serve(move |mut conn| async move {
        let ok = conn.accept_tls(config).await;
        script(ok.then_some(conn)).await
    })
    .await
}
