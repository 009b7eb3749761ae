//! One client connection: the stream, a bounded input buffer and the
//! transcript. It does what the session's events say (write, read, TLS
//! handshake, close) and nothing else: every deadline comes from
//! [`Session::poll_timeout`], every protocol decision from the session.
//!
//! [`Connection::next`] is the one poll loop: the driver and the message
//! body stream both call it, and only see the events that need the
//! application.

use std::io;
use std::time::{Duration, SystemTime};

use smtp_io::MaybeTls;
use smtp_wire::Transcript;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::commit::SessionCommit;
use super::shutdown::{ShutdownState, draining};
use crate::session::{Event, Session};

/// Any byte stream a session can run over: TCP, a Unix socket, an
/// in-memory duplex, a PROXY-protocol wrapper...
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// A connection's transport, boxed so that [`Connection`] and
/// [`MessageBody`](super::MessageBody) need no type parameter.
pub(crate) type Io = Box<dyn Transport>;

/// The input buffer: commands are at most a few KiB, message octets are
/// streamed through it, so a session's memory does not depend on what the
/// client sends.
const INPUT_BUFFER: usize = 64 * 1024;
/// The input buffer of an idle session (nothing buffered, the last read
/// small): room for a pipelined group of commands (RFC 2920), a line of up
/// to 512 octets (RFC 5321 §4.5.3.1.4) and more. 10,000 idle sessions hold
/// 10 MiB of it, not 640 MiB; the buffer grows to [`INPUT_BUFFER`] as
/// soon as a read fills it.
const IDLE_BUFFER: usize = 1024;
/// A session that has had an [`INPUT_BUFFER`] gives it back when it waits
/// this long for input; one that keeps talking keeps it (no allocation
/// per transaction).
const GO_IDLE_AFTER: Duration = Duration::from_millis(100);
/// How long a TLS close_notify may take to leave (RFC 8446 §6.1).
const CLOSE_NOTIFY_WAIT: Duration = Duration::from_secs(5);

/// The connection cannot go on (the client left, a write failed or timed
/// out, a TLS handshake failed); the reason is already logged.
#[derive(Debug)]
pub(crate) struct Ended;

pub(crate) struct Connection {
    stream: MaybeTls<Io>,
    /// `buf[start..]` is the unconsumed input; reads go into the spare
    /// capacity (never beyond it), so the capacity bounds the memory.
    buf: Vec<u8>,
    start: usize,
    /// The last read filled the buffer: data is flowing, read big.
    flowing: bool,
    acceptor: Option<TlsAcceptor>,
    shutdown: watch::Receiver<ShutdownState>,
    /// The session has been told about the shutdown.
    shutdown_told: bool,
    /// The server's stress signal (most session slots taken), passed on
    /// to the session whenever it changes.
    stress: watch::Receiver<bool>,
    ended: bool,
    /// A message read to its end whose reply is not written yet.
    commit: SessionCommit,
    pub(crate) transcript: Option<Transcript>,
}

impl Connection {
    pub(crate) fn new(
        stream: Io,
        acceptor: Option<TlsAcceptor>,
        shutdown: watch::Receiver<ShutdownState>,
        stress: watch::Receiver<bool>,
        commit: SessionCommit,
        record: bool,
    ) -> Connection {
        Connection {
            stream: MaybeTls::plain(stream),
            buf: Vec::new(),
            start: 0,
            flowing: false,
            acceptor,
            shutdown,
            shutdown_told: false,
            stress,
            ended: false,
            commit,
            transcript: record.then(Transcript::new),
        }
    }

    /// Polls the session and does what it says, until an event for the
    /// application comes (returned) or the connection ends (`None`; from
    /// then on always `None`).
    pub(crate) async fn next(
        &mut self,
        session: &mut Session,
        body: &mut Vec<u8>,
    ) -> Option<Event> {
        while !self.ended {
            if self.stress.has_changed().unwrap_or(false) {
                session.set_stress(*self.stress.borrow_and_update());
            }
            let input = &self.buf[self.start..];
            let now = std::time::Instant::now();
            let (used, event) = session.poll(input, body, now, SystemTime::now());
            self.consume(used);
            let done = match event {
                Event::NeedMore => {
                    // RFC 2920 §3.1: all replies are sent once the input is drained.
                    match self.write(session).await {
                        Ok(()) => self.read(session).await,
                        Err(ended) => Err(ended),
                    }
                }
                Event::Flush => self.write(session).await,
                // Boxed: the handshake's state is the largest this future
                // holds, and it is needed once per session at most; every
                // idle session would otherwise keep room for it.
                Event::StartTls { discarded } => Box::pin(self.start_tls(session, discarded)).await,
                Event::Close => {
                    let _ = self.write(session).await;
                    self.close().await;
                    Err(Ended)
                }
                other => return Some(other),
            };
            if done.is_err() {
                self.ended = true;
            }
        }
        None
    }

    /// The TLS version and cipher, once in TLS.
    pub(crate) fn tls_parameters(&self) -> Option<smtp_io::TlsParameters> {
        self.stream.tls_parameters()
    }

    /// Marks `n` octets of input as used.
    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
        }
    }

    /// The application has read a message to its end and is storing it
    /// (see [`commit`](super::commit)): until its reply is written, the
    /// shutdown's hard deadline leaves this session alone.
    pub(crate) fn begin_commit(&self) {
        self.commit.begin();
    }

    /// Writes the session's queued replies, within the session's deadline
    /// (a client that never reads cannot hold us for ever).
    ///
    /// The first write after a message was read to its end carries the
    /// reply to it (the application writes nothing, and the session
    /// queues that reply when it gives its verdict): once that write is
    /// done, or the connection is gone, the commit has ended. The session
    /// is polled before every write, so its deadlines are the current ones.
    pub(crate) async fn write(&mut self, session: &mut Session) -> Result<(), Ended> {
        let out = session.take_output();
        if self.ended {
            self.commit.end();
            return Ok(());
        }
        if out.is_empty() {
            return Ok(());
        }
        let written = self.write_out(session, out).await;
        self.commit.end();
        written
    }

    async fn write_out(&mut self, session: &mut Session, out: Vec<u8>) -> Result<(), Ended> {
        if let Some(transcript) = self.transcript.as_mut() {
            transcript.server(&out);
        }
        let stream = &mut self.stream;
        let write = async {
            stream.write_all(&out).await?;
            stream.flush().await
        };
        match until(session.poll_timeout(), write).await {
            Some(Ok(())) => Ok(()),
            Some(Err(error)) => {
                tracing::debug!(%error, "write failed");
                Err(Ended)
            }
            None => {
                tracing::debug!("the client does not read our replies");
                session.handle_timeout(std::time::Instant::now());
                Err(Ended)
            }
        }
    }

    /// Reads more input, until the session's deadline. A deadline that
    /// passes and a shutdown that begins are handed to the session, which
    /// decides what they mean.
    async fn read(&mut self, session: &mut Session) -> Result<(), Ended> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.size_buffer();
        if self.buf.len() == self.buf.capacity() {
            // Cannot happen: the session always consumes a full buffer.
            tracing::warn!("input buffer full");
            return Err(Ended);
        }
        let before = self.buf.len();
        let may_shrink = self.buf.is_empty() && self.buf.capacity() > IDLE_BUFFER;
        let watch_shutdown = !self.shutdown_told;
        let Connection {
            stream,
            buf,
            shutdown,
            stress,
            ..
        } = self;
        // `read_buf` fills the spare capacity only (no zeroing, no growth).
        let read = async {
            if may_shrink {
                // `read_buf` is cancel-safe: when the time is up nothing has
                // been read, and the big buffer can go.
                if let Ok(result) = timeout(GO_IDLE_AFTER, stream.read_buf(buf)).await {
                    return result;
                }
                *buf = Vec::with_capacity(IDLE_BUFFER);
            }
            stream.read_buf(buf).await
        };
        let outcome = tokio::select! {
            outcome = until(session.poll_timeout(), read) => outcome,
            grace = draining(shutdown), if watch_shutdown => {
                self.shutdown_told = true;
                session.begin_shutdown(grace.into_std());
                return Ok(());
            }
            Ok(()) = stress.changed() => {
                session.set_stress(*stress.borrow_and_update());
                return Ok(());
            }
        };
        match outcome {
            None => {
                session.handle_timeout(std::time::Instant::now());
                Ok(())
            }
            Some(Ok(0)) => Err(Ended), // the client closed the connection
            Some(Ok(n)) => {
                self.flowing = before + n == self.buf.capacity();
                self.read_ready_records().await;
                if let Some(transcript) = self.transcript.as_mut() {
                    transcript.client(&self.buf[before..]);
                }
                Ok(())
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "read failed");
                Err(Ended)
            }
        }
    }

    /// After a read from a TLS stream: the records already received, while
    /// the buffer has room for another. tokio-rustls hands out one record
    /// (at most 16 KiB, RFC 8446 §5.1) per read, and every read costs a
    /// round through the session and the handler; a 100 MiB message took
    /// 6,400 of them. Never waits: a read that is not ready at once (or an
    /// EOF or error, which the next read reports) ends the loop.
    async fn read_ready_records(&mut self) {
        /// The largest TLS plaintext record (RFC 8446 §5.1).
        const RECORD: usize = 16 * 1024;
        while self.stream.is_tls() && self.buf.capacity() - self.buf.len() >= RECORD {
            // `biased`: the read is polled first, once; the ready branch
            // wins when nothing is waiting (the read is cancel-safe).
            let more = tokio::select! {
                biased;
                read = self.stream.read_buf(&mut self.buf) => read,
                () = std::future::ready(()) => return,
            };
            if !matches!(more, Ok(n) if n > 0) {
                return;
            }
        }
    }

    /// Before a read: [`IDLE_BUFFER`] when nothing is buffered and input
    /// trickles (a bigger buffer is kept until the session goes quiet, see
    /// `read`), else [`INPUT_BUFFER`]. Only the spare capacity is read
    /// into, so this is also the most one read can bring.
    fn size_buffer(&mut self) {
        if self.buf.is_empty() && !self.flowing {
            if self.buf.capacity() < IDLE_BUFFER {
                self.buf = Vec::with_capacity(IDLE_BUFFER);
            }
        } else if self.buf.capacity() < INPUT_BUFFER {
            self.buf.reserve_exact(INPUT_BUFFER - self.buf.len());
        }
    }

    /// [`Event::StartTls`]: the `220` (after STARTTLS), then the handshake,
    /// within the session's deadline. A client that sends garbage or
    /// nothing fails here; there is no way back to plaintext.
    async fn start_tls(&mut self, session: &mut Session, discarded: usize) -> Result<(), Ended> {
        if discarded > 0 {
            tracing::warn!(
                octets = discarded,
                "discarded plaintext sent after STARTTLS"
            );
            if let Some(transcript) = self.transcript.as_mut() {
                transcript.note(&format!("discarded {discarded} octets sent after STARTTLS"));
            }
        }
        self.write(session).await?;
        let Some(acceptor) = self.acceptor.clone() else {
            tracing::warn!("a TLS handshake without a TLS configuration");
            return Err(Ended);
        };
        let now = std::time::Instant::now();
        let limit = session.poll_timeout().map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(now)
        });
        if let Err(error) = self.stream.accept(&acceptor, limit).await {
            tracing::debug!(%error, "TLS handshake failed");
            if error.kind() == io::ErrorKind::TimedOut {
                session.handle_timeout(std::time::Instant::now());
            }
            return Err(Ended);
        }
        if let Some(transcript) = self.transcript.as_mut() {
            transcript.tls_started();
        }
        session.tls_established();
        Ok(())
    }

    /// Closes the write side (TLS close_notify, then FIN), briefly. Plain
    /// TCP needs nothing here: dropping the socket sends the FIN after the
    /// last reply (close(2)), so an explicit shutdown(2) would only cost a
    /// system call per connection.
    async fn close(&mut self) {
        if self.stream.is_tls() {
            // RFC 8446 §6.1: close_notify before the connection ends.
            let _ = timeout(CLOSE_NOTIFY_WAIT, self.stream.shutdown()).await;
        }
    }
}

/// Runs `future` until `deadline` (the session's clock is `std`'s;
/// tokio's timer takes it as is). `None` when the deadline came first.
async fn until<F: Future>(deadline: Option<std::time::Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => {
            let deadline = tokio::time::Instant::from_std(deadline);
            tokio::time::timeout_at(deadline, future).await.ok()
        }
        None => Some(future.await),
    }
}
