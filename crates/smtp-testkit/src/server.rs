//! A scripted SMTP server for tests: it says exactly what each test tells
//! it to, including what no good server says (replies out of turn, bytes
//! injected after `220` to STARTTLS, a hang-up in the middle of the data),
//! over TCP, implicit TLS or an in-memory pipe. And [`Sink`], a fast server
//! that accepts everything, for throughput.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use smtp_testkit::server::serve_stream;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (mut client, server) = serve_stream(|mut c| async move {
//!     c.send("220 mx.example ESMTP\r\n").await;
//!     c.expect("QUIT").await;
//!     c.send("221 bye\r\n").await;
//! });
//! let mut greeting = [0u8; 22];
//! client.read_exact(&mut greeting).await.unwrap();
//! client.write_all(b"QUIT\r\n").await.unwrap();
//! server.await.unwrap();
//! # }
//! ```
//!
//! A script that finds the client saying something else panics: the test
//! fails with the line it got. Every wait is bounded ([`PATIENCE`]), so a
//! test never hangs.

mod sink;

pub use sink::Sink;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use smtp_io::MaybeTls;
use smtp_wire::DataDecoder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How long the server waits for the client before giving up (tests must end).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The size of the in-memory pipe of [`serve_stream`].
const PIPE: usize = 64 * 1024;

/// Any byte stream the server can talk over.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// The server's side of one connection.
pub struct Conn {
    stream: MaybeTls<Box<dyn Transport>>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("tls", &self.stream.is_tls())
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl Conn {
    /// The server's side of `stream` (plain until [`Conn::accept_tls`]).
    pub fn new(stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) -> Conn {
        Conn {
            stream: MaybeTls::plain(Box::new(stream)),
            buf: Vec::new(),
        }
    }

    async fn read_more(&mut self) -> Option<usize> {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Some(n)
    }

    /// The server's side of the opening: the greeting `220 mx`, the
    /// client's EHLO read, and `ehlo_reply` (CRLFs included) sent back.
    pub async fn greet(&mut self, ehlo_reply: &str) {
        self.send("220 mx\r\n").await;
        self.expect("EHLO").await;
        self.send(ehlo_reply).await;
    }

    /// Writes raw text (the test supplies CRLFs). Errors are ignored: the
    /// client may legitimately have hung up.
    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    /// Writes raw bytes; returns false when the client is gone.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        let stream = &mut self.stream;
        let written = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        written.await.is_ok()
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
        let acceptor = TlsAcceptor::from(config);
        self.stream.accept(&acceptor, PATIENCE).await.is_ok()
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
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener
            .accept()
            .await
            .unwrap_or_else(|e| panic!("accept failed: {e}"));
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

/// Like [`serve`], over an in-memory pipe instead of a socket: returns the
/// client's end of the pipe and the script's task.
pub fn serve_stream<T, F, Fut>(script: F) -> (DuplexStream, JoinHandle<T>)
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let (client, server) = tokio::io::duplex(PIPE);
    let handle = tokio::spawn(async move { script(Conn::new(server)).await });
    (client, handle)
}
