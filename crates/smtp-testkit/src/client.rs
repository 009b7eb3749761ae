//! A raw, scripted SMTP client for tests of a receiver: it writes exactly
//! the bytes a test gives and reads whole replies, so a test shows what
//! crosses the wire (pipelined groups, smuggling vectors, trickling, bytes
//! after STARTTLS) where a real client would hide it.
//!
//! Every wait is bounded by [`PATIENCE`]; a failure panics with what was
//! expected (this is test support).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use smtp_testkit::client::{Client, code};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (ours, mut theirs) = tokio::io::duplex(1024);
//! let server = tokio::spawn(async move {
//!     theirs.write_all(b"220 mx.test ready\r\n").await.unwrap();
//!     let mut line = [0u8; 6];
//!     theirs.read_exact(&mut line).await.unwrap(); // NOOP\r\n
//!     theirs.write_all(b"250-first\r\n250 2.0.0 OK\r\n").await.unwrap();
//! });
//! let mut client = Client::new(ours);
//! assert_eq!(code(&client.reply().await), 220);
//! assert_eq!(client.cmd("NOOP").await, "250-first\r\n250 2.0.0 OK\r\n");
//! server.await.unwrap();
//! # }
//! ```

use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How long any single wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A raw SMTP client: writes bytes, reads whole replies.
#[derive(Debug)]
pub struct Client<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client on a connected stream.
    pub fn new(stream: S) -> Client<S> {
        Client {
            io: BufReader::new(stream),
        }
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        if !self.try_send(bytes).await {
            panic!("cannot write to the server");
        }
    }

    /// Writes, reporting failure (the server may have closed) instead of panicking.
    pub async fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> bool {
        self.io.get_mut().write_all(bytes.as_ref()).await.is_ok()
            && self.io.get_mut().flush().await.is_ok()
    }

    /// One whole reply (all its lines), or "" at the end of the stream.
    pub async fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = match tokio::time::timeout(PATIENCE, self.io.read_line(&mut line)).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => panic!("reading a reply: {e}"),
                Err(_) => panic!("no reply within {PATIENCE:?} (so far: {reply:?})"),
            };
            if n == 0 {
                return reply;
            }
            reply.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return reply;
            }
        }
    }

    /// `n` whole replies.
    pub async fn replies(&mut self, n: usize) -> Vec<String> {
        let mut all = Vec::new();
        for _ in 0..n {
            all.push(self.reply().await);
        }
        all
    }

    /// Sends one command line (CRLF added) and returns its reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Everything until the server closes the connection (a reset counts
    /// as a close).
    pub async fn read_to_end(&mut self) -> String {
        let mut rest = Vec::new();
        if tokio::time::timeout(PATIENCE, self.io.read_to_end(&mut rest))
            .await
            .is_err()
        {
            panic!("the server did not close within {PATIENCE:?}");
        }
        String::from_utf8_lossy(&rest).into_owned()
    }

    /// Octets the server sent that are still buffered unread.
    pub fn buffered(&self) -> usize {
        self.io.buffer().len()
    }

    /// The stream, for a TLS handshake; panics if server octets are
    /// buffered unread (they would be lost).
    pub fn into_inner(self) -> S {
        assert_eq!(self.io.buffer().len(), 0, "unread server octets");
        self.io.into_inner()
    }

    /// The TLS handshake on this connection (after a `220` to STARTTLS),
    /// checking the certificate for `name`; the conversation goes on
    /// inside TLS.
    pub async fn upgrade(self, connector: &TlsConnector, name: &str) -> Client<TlsStream<S>> {
        let name = match ServerName::try_from(name.to_string()) {
            Ok(name) => name,
            Err(e) => panic!("{name:?} is not a server name: {e}"),
        };
        match connector.connect(name, self.into_inner()).await {
            Ok(tls) => Client::new(tls),
            Err(e) => panic!("TLS handshake failed: {e}"),
        }
    }

    /// EHLO, STARTTLS, handshake (RFC 3207): the session goes on inside TLS.
    pub async fn starttls(mut self, connector: &TlsConnector, name: &str) -> Client<TlsStream<S>> {
        let ehlo = self.cmd("EHLO client.example").await;
        assert_eq!(code(&ehlo), 250, "EHLO: {ehlo}");
        let ready = self.cmd("STARTTLS").await;
        assert_eq!(code(&ready), 220, "STARTTLS: {ready}");
        self.upgrade(connector, name).await
    }
}

/// The code of a reply (its first line's, which all lines share); 0 when
/// there is none.
pub fn code(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The codes of every complete reply in `text` (a multi-line reply once).
pub fn codes(text: &str) -> Vec<u16> {
    text.split("\r\n")
        .filter(|line| line.as_bytes().get(3) == Some(&b' '))
        .map(code)
        .collect()
}
