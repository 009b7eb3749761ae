//! One client connection to the server under test: raw bytes out, replies
//! in (parsed strictly by smtp-wire's `ReplyParser`), every byte recorded in
//! the case's transcript, a deadline on every read.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use smtp_io::MaybeTls;
use smtp_wire::{Reply, ReplyError, ReplyParser, Transcript};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

/// Where the server under test listens: a TCP address, or a Unix socket
/// (LMTP servers such as Dovecot's usually listen on one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// The path of a Unix stream socket.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The byte stream under the (optional) TLS layer: TCP or a Unix socket.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// The transcript shared by all connections of one case.
pub(crate) type Log = Arc<Mutex<Transcript>>;

/// Runs `f` on the shared transcript (a poisoned lock still holds a usable
/// transcript: recording never panics halfway through a mutation we rely on).
pub(crate) fn with_log(log: &Log, f: impl FnOnce(&mut Transcript)) {
    let mut guard = match log.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(&mut guard);
}

/// Why a read or write did not give what was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    /// Nothing (complete) arrived before the deadline.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The bytes are not a valid reply (RFC 5321 §4.2).
    #[error("malformed reply: {0}")]
    Malformed(#[from] ReplyError),
    /// A socket error (reset, ...).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(io::Error),
}

/// A connection to the server under test.
pub(crate) struct Conn {
    stream: MaybeTls<Box<dyn Transport>>,
    /// Received and not yet consumed by the reply parser.
    buf: Vec<u8>,
    parser: ReplyParser,
    log: Log,
    timeout: Duration,
    eof: bool,
    /// When the last read returned bytes (arrival time of what is in `buf`).
    last_read: Instant,
}

impl Conn {
    /// Opens a connection (and the TLS handshake for implicit TLS).
    pub(crate) async fn open(
        endpoint: &Endpoint,
        implicit_tls: Option<(&Arc<ClientConfig>, &ServerName<'static>)>,
        timeout: Duration,
        log: Log,
    ) -> Result<Conn, ConnError> {
        let stream: Box<dyn Transport> = match endpoint {
            Endpoint::Tcp(addr) => {
                let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
                    .await
                    .map_err(|_| ConnError::Timeout(timeout))??;
                // Small writes must leave at once: several cases measure timing.
                tcp.set_nodelay(true)?;
                Box::new(tcp)
            }
            Endpoint::Unix(path) => Box::new(
                tokio::time::timeout(timeout, UnixStream::connect(path))
                    .await
                    .map_err(|_| ConnError::Timeout(timeout))??,
            ),
        };
        with_log(&log, |t| t.note(&format!("connected to {endpoint}")));
        let mut conn = Conn {
            stream: MaybeTls::plain(stream),
            buf: Vec::new(),
            parser: ReplyParser::new(),
            log,
            timeout,
            eof: false,
            last_read: Instant::now(),
        };
        if let Some((config, name)) = implicit_tls {
            conn.handshake(config, name).await?;
        }
        Ok(conn)
    }

    /// The reply timeout of this connection.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends bytes as they are.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        with_log(&self.log, |t| t.client(bytes));
        let result = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        result.await.map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => ConnError::Closed,
            _ => ConnError::Io(e),
        })
    }

    /// Sends a command line, adding the CRLF.
    pub(crate) async fn send_line(&mut self, line: &str) -> Result<(), ConnError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes).await
    }

    /// Reads one complete reply, waiting at most the connection's timeout.
    pub(crate) async fn reply(&mut self) -> Result<Reply, ConnError> {
        let timeout = self.timeout;
        match self.reply_within(timeout).await? {
            Some(reply) => Ok(reply),
            None => Err(ConnError::Timeout(timeout)),
        }
    }

    /// Sends a command line and reads its reply.
    pub(crate) async fn command(&mut self, line: &str) -> Result<Reply, ConnError> {
        self.send_line(line).await?;
        self.reply().await
    }

    /// Reads one reply if one completes within `wait`; `None` otherwise.
    pub(crate) async fn reply_within(
        &mut self,
        wait: Duration,
    ) -> Result<Option<Reply>, ConnError> {
        Ok(self.reply_timed(wait).await?.map(|(reply, _)| reply))
    }

    /// Like [`Conn::reply_within`], with the time the reply's last bytes arrived.
    pub(crate) async fn reply_timed(
        &mut self,
        wait: Duration,
    ) -> Result<Option<(Reply, Instant)>, ConnError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (used, reply) = self.parser.decode(&self.buf)?;
            self.buf.drain(..used);
            if let Some(reply) = reply {
                return Ok(Some((reply, self.last_read)));
            }
            if self.eof {
                return Err(ConnError::Closed);
            }
            if !self.fill(deadline).await? {
                return Ok(None);
            }
        }
    }

    /// Collects replies until none arrives for `quiet` (or the server
    /// closes). Returns them and whether the connection was closed.
    pub(crate) async fn replies_until_quiet(
        &mut self,
        quiet: Duration,
    ) -> Result<(Vec<Reply>, bool), ConnError> {
        let mut replies = Vec::new();
        loop {
            match self.reply_within(quiet).await {
                Ok(Some(reply)) => replies.push(reply),
                Ok(None) => return Ok((replies, false)),
                Err(ConnError::Closed) => return Ok((replies, true)),
                Err(ConnError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Ok((replies, true));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits up to `wait` for the server to close the connection, collecting
    /// any replies on the way. Returns the replies and whether it closed.
    pub(crate) async fn wait_close(
        &mut self,
        wait: Duration,
    ) -> Result<(Vec<Reply>, bool), ConnError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut replies = Vec::new();
        loop {
            let (used, reply) = self.parser.decode(&self.buf)?;
            self.buf.drain(..used);
            if let Some(reply) = reply {
                replies.push(reply);
                continue;
            }
            if self.eof {
                return Ok((replies, true));
            }
            match self.fill(deadline).await {
                Ok(true) => {}
                Ok(false) => return Ok((replies, false)),
                Err(ConnError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Ok((replies, true));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// True when bytes of an unfinished reply are waiting.
    pub(crate) fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads more bytes into `buf`. `Ok(false)` when the deadline passed.
    async fn fill(&mut self, deadline: tokio::time::Instant) -> Result<bool, ConnError> {
        let mut chunk = [0u8; 16 * 1024];
        if matches!(self.stream, MaybeTls::Closed) {
            return Err(ConnError::Closed);
        }
        let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await;
        match read {
            Err(_) => Ok(false),
            // Many servers close without a TLS close_notify: that is an
            // end of stream too, not an error.
            Ok(Ok(0)) => self.mark_eof(),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => self.mark_eof(),
            Ok(Ok(n)) => {
                self.last_read = Instant::now();
                let bytes = &chunk[..n];
                with_log(&self.log, |t| t.server(bytes));
                self.buf.extend_from_slice(bytes);
                Ok(true)
            }
            Ok(Err(e)) => Err(e.into()),
        }
    }

    fn mark_eof(&mut self) -> Result<bool, ConnError> {
        self.eof = true;
        with_log(&self.log, |t| t.note("the server closed the connection"));
        Ok(true)
    }

    /// Switches to TLS (after a 220 reply to STARTTLS). Bytes the server
    /// sent after that reply and before the handshake are dropped (and noted).
    pub(crate) async fn handshake(
        &mut self,
        config: &Arc<ClientConfig>,
        name: &ServerName<'static>,
    ) -> Result<(), ConnError> {
        if !self.buf.is_empty() {
            let n = self.buf.len();
            with_log(&self.log, |t| {
                t.note(&format!(
                    "{n} plaintext bytes after the STARTTLS reply dropped"
                ))
            });
            self.buf.clear();
        }
        self.parser = ReplyParser::new();
        let connector = TlsConnector::from(config.clone());
        match self
            .stream
            .connect(&connector, name.clone(), self.timeout)
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(ConnError::Timeout(self.timeout));
            }
            Err(e) => return Err(ConnError::Tls(e)),
        }
        with_log(&self.log, |t| t.tls_started());
        Ok(())
    }
}
