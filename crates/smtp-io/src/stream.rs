//! [`MaybeTls`]: one connection's bytes, plain or under TLS, over any
//! transport (TCP, a Unix socket, an in-memory duplex, a PROXY-wrapped
//! stream): everything that is `AsyncRead + AsyncWrite + Unpin`.
//!
//! STARTTLS (RFC 3207) upgrades a connection in place; implicit TLS
//! (RFC 8314 §3.3) upgrades it before the first SMTP byte. Either way the
//! driver keeps one value and calls [`MaybeTls::accept`] or
//! [`MaybeTls::connect`]; a failed handshake leaves the stream closed,
//! never back in plain text.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use smtp_io::MaybeTls;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let (client, server) = tokio::io::duplex(64);
//! let (mut client, mut server) = (MaybeTls::plain(client), MaybeTls::plain(server));
//! client.write_all(b"EHLO a.example\r\n").await?;
//! let mut line = [0u8; 16];
//! server.read_exact(&mut line).await?;
//! assert_eq!(&line, b"EHLO a.example\r\n");
//! assert!(!server.is_tls());
//! # Ok(()) }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

/// A byte stream that is plain or TLS.
#[derive(Debug)]
pub enum MaybeTls<S> {
    /// Plain text (before STARTTLS, or with TLS off).
    Plain(S),
    /// TLS over the transport (implicit TLS, or after STARTTLS).
    Tls(Box<TlsStream<S>>),
    /// Only while the transport is inside a handshake, or after one failed:
    /// reads and writes fail.
    Closed,
}

/// What a TLS session agreed on, for transcripts and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsParameters {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    /// The cipher suite, as IANA names it (`TLS13_AES_128_GCM_SHA256`).
    pub cipher: String,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "stream closed")
}

fn handshake_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// A plain stream.
    pub fn plain(transport: S) -> Self {
        MaybeTls::Plain(transport)
    }

    /// True under TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }

    /// The version and cipher suite, under TLS.
    pub fn tls_parameters(&self) -> Option<TlsParameters> {
        let MaybeTls::Tls(tls) = self else {
            return None;
        };
        let (_, connection) = tls.get_ref();
        let version = connection.protocol_version()?;
        let suite = connection.negotiated_cipher_suite()?;
        let version = match version {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        };
        Some(TlsParameters {
            version,
            cipher: suite
                .suite()
                .as_str()
                .map_or_else(|| format!("{:?}", suite.suite()), str::to_string),
        })
    }

    /// The server's side of a handshake, within `limit`. A client that
    /// sends garbage or nothing fails here, within the limit.
    pub async fn accept(&mut self, acceptor: &TlsAcceptor, limit: Duration) -> io::Result<()> {
        let transport = self.take_plain()?;
        let tls = timeout(limit, acceptor.accept(transport))
            .await
            .map_err(|_| handshake_timed_out())??;
        *self = MaybeTls::Tls(Box::new(TlsStream::Server(tls)));
        Ok(())
    }

    /// The client's side of a handshake with `name` (SNI and the name the
    /// certificate is checked against), within `limit`.
    pub async fn connect(
        &mut self,
        connector: &TlsConnector,
        name: ServerName<'static>,
        limit: Duration,
    ) -> io::Result<()> {
        let transport = self.take_plain()?;
        let tls = timeout(limit, connector.connect(name, transport))
            .await
            .map_err(|_| handshake_timed_out())??;
        *self = MaybeTls::Tls(Box::new(TlsStream::Client(tls)));
        Ok(())
    }

    fn take_plain(&mut self) -> io::Result<S> {
        match std::mem::replace(self, MaybeTls::Closed) {
            MaybeTls::Plain(transport) => Ok(transport),
            other => {
                let already = other.is_tls();
                *self = other;
                Err(io::Error::other(if already {
                    "TLS is already active"
                } else {
                    "stream closed"
                }))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            MaybeTls::Closed => Poll::Ready(Err(closed())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            MaybeTls::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            MaybeTls::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
            MaybeTls::Closed => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            MaybeTls::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            MaybeTls::Closed => Poll::Ready(Ok(())),
        }
    }
}
