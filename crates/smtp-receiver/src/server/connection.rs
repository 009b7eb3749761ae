//! One client connection: the socket, a bounded input buffer, the
//! deadlines, and the transcript. The protocol lives in the sans-IO
//! [`Session`]; this is only the plumbing around it.

use std::io;
use std::time::Duration;

use smtp_wire::Transcript;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;

use super::shutdown::ShutdownState;
use super::stream::Stream;
use crate::config::{DATA_BLOCK, Timeouts};
use crate::session::Session;

/// The input buffer: commands are at most a few KiB, message octets are
/// streamed through it, so a session's memory does not depend on what the
/// client sends.
const INPUT_BUFFER: usize = 64 * 1024;
/// The input buffer of an idle session (waiting for a command, nothing
/// buffered): room for a pipelined group of commands (RFC 2920), a line of
/// up to 512 octets (RFC 5321 §4.5.3.1.4) and more. 10,000 idle sessions
/// hold 10 MiB of it, not 640 MiB; the buffer grows to [`INPUT_BUFFER`]
/// as soon as a read fills it or a message starts.
const IDLE_BUFFER: usize = 1024;
/// A session that has had an [`INPUT_BUFFER`] gives it back when it waits
/// this long for its next command; one that keeps talking keeps it (no
/// allocation per transaction).
const GO_IDLE_AFTER: Duration = Duration::from_millis(100);

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client closed the connection.
    Closed,
    /// The deadline for this command or data block passed.
    Timeout,
    /// The server is shutting down (at once while waiting for a command,
    /// after the grace period while a message is in flight).
    Shutdown,
    /// The socket failed.
    Io(io::Error),
}

/// What went wrong while the application was reading a message body, for
/// the driver to act on once the application returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Timeout,
    Shutdown,
    Lost,
}

impl From<&ReadError> for Failure {
    fn from(error: &ReadError) -> Failure {
        match error {
            ReadError::Timeout => Failure::Timeout,
            ReadError::Shutdown => Failure::Shutdown,
            ReadError::Closed | ReadError::Io(_) => Failure::Lost,
        }
    }
}

/// The waiting the client is subject to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// For a command line: RFC 5321 §4.5.3.2.7.
    Command,
    /// For message octets: RFC 5321 §4.5.3.2.5, per data block.
    Data,
}

/// Deadlines per unit of work, never per read (RFC 5321 §4.5.3.2): a
/// deadline is set when the session starts waiting for a command line or a
/// data block and is only renewed when that unit is complete.
#[derive(Debug)]
struct Deadline {
    at: Option<(Instant, Wait)>,
    progress: u64,
    block_start: u64,
}

pub(crate) struct Connection {
    stream: Stream,
    /// `buf[start..]` is the unconsumed input; reads go into the spare
    /// capacity (never beyond it), so the capacity bounds the memory.
    buf: Vec<u8>,
    start: usize,
    /// Octets of input consumed since the connection started.
    consumed: u64,
    timeouts: Timeouts,
    deadline: Deadline,
    shutdown: watch::Receiver<ShutdownState>,
    pub(crate) transcript: Option<Transcript>,
    /// Set by the message body stream when reading failed under the application.
    pub(crate) failure: Option<Failure>,
}

impl Connection {
    pub(crate) fn new(
        stream: Stream,
        timeouts: Timeouts,
        shutdown: watch::Receiver<ShutdownState>,
        record: bool,
    ) -> Connection {
        Connection {
            stream,
            buf: Vec::new(),
            start: 0,
            consumed: 0,
            timeouts,
            deadline: Deadline {
                at: None,
                progress: 0,
                block_start: 0,
            },
            shutdown,
            transcript: record.then(Transcript::new),
            failure: None,
        }
    }

    /// The buffered, not yet consumed input.
    pub(crate) fn input(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Marks `n` octets of [`input`](Self::input) as used.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len() - self.start);
        self.start += n;
        self.consumed += n as u64;
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
        }
    }

    /// Drops all buffered input; returns how much there was.
    pub(crate) fn discard_input(&mut self) -> usize {
        let n = self.buf.len() - self.start;
        self.start = 0;
        self.buf.clear();
        n
    }

    /// Writes the session's queued replies (deadline: the command timeout,
    /// so a client that never reads cannot hold us forever).
    pub(crate) async fn write_output(&mut self, session: &mut Session) -> io::Result<()> {
        let out = session.take_output();
        if out.is_empty() {
            return Ok(());
        }
        if let Some(transcript) = self.transcript.as_mut() {
            transcript.server(&out);
        }
        let write = async {
            self.stream.write_all(&out).await?;
            self.stream.flush().await
        };
        match timeout(self.timeouts.command, write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client does not read replies",
            )),
        }
    }

    /// Reads more input, within the deadline of what the session waits for.
    pub(crate) async fn read_more(&mut self, session: &Session) -> Result<(), ReadError> {
        let deadline = self.current_deadline(session);
        // A message in flight (inside DATA, or between two BDAT chunks, RFC
        // 3030 §2) may finish within the grace period; otherwise a shutdown
        // interrupts the wait at once.
        let grace = session.in_transfer();
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.size_buffer(grace);
        if self.buf.len() == self.buf.capacity() {
            // Cannot happen: the session always consumes a full buffer.
            return Err(ReadError::Io(io::Error::other("input buffer full")));
        }
        let before = self.buf.len();
        let may_shrink = self.buf.is_empty() && !grace && self.buf.capacity() > IDLE_BUFFER;
        let Connection {
            stream,
            buf,
            shutdown,
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
        let read = timeout_at(deadline, read);
        let outcome = tokio::select! {
            result = read => result,
            () = shutdown_reached(shutdown, grace) => return Err(ReadError::Shutdown),
        };
        match outcome {
            Err(_) => Err(ReadError::Timeout),
            Ok(Ok(0)) => Err(ReadError::Closed),
            Ok(Ok(_)) => {
                self.read_ready_records().await;
                if let Some(transcript) = self.transcript.as_mut() {
                    transcript.client(&self.buf[before..]);
                }
                Ok(())
            }
            Ok(Err(error)) => Err(ReadError::Io(error)),
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
        while matches!(self.stream, Stream::Tls(_))
            && self.buf.capacity() - self.buf.len() >= RECORD
        {
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

    /// Before a read: at least [`IDLE_BUFFER`] when nothing is buffered
    /// and no message is in flight (the session waits for a command; a
    /// bigger buffer is kept until the session goes quiet, see
    /// `read_more`), else [`INPUT_BUFFER`]. Only the spare capacity is read
    /// into, so this is also the most one read can bring.
    fn size_buffer(&mut self, in_transfer: bool) {
        if self.buf.is_empty() && !in_transfer {
            if self.buf.capacity() < IDLE_BUFFER {
                self.buf = Vec::with_capacity(IDLE_BUFFER);
            }
        } else if self.buf.capacity() < INPUT_BUFFER {
            self.buf.reserve_exact(INPUT_BUFFER - self.buf.len());
        }
    }

    fn current_deadline(&mut self, session: &Session) -> Instant {
        let wait = if session.in_message() {
            Wait::Data
        } else {
            Wait::Command
        };
        let d = &mut self.deadline;
        let unit_done = match wait {
            Wait::Command => session.progress() != d.progress,
            Wait::Data => self.consumed - d.block_start >= DATA_BLOCK as u64,
        };
        match d.at {
            Some((at, w)) if w == wait && !unit_done => at,
            _ => {
                let limit = match wait {
                    Wait::Command => self.timeouts.command,
                    Wait::Data => self.timeouts.data_block,
                };
                let at = Instant::now() + limit;
                *d = Deadline {
                    at: Some((at, wait)),
                    progress: session.progress(),
                    block_start: self.consumed,
                };
                at
            }
        }
    }

    /// Runs the TLS handshake on the TCP stream (STARTTLS or implicit TLS).
    /// A client that sends garbage or nothing fails here, within the
    /// deadline; there is no way back to plaintext.
    pub(crate) async fn start_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        limit: Duration,
    ) -> io::Result<()> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(io::Error::other("TLS already active"));
        };
        let tls = match timeout(limit, acceptor.accept(tcp)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
            }
        };
        self.stream = Stream::Tls(Box::new(tls));
        if let Some(transcript) = self.transcript.as_mut() {
            transcript.tls_started();
        }
        Ok(())
    }

    /// Closes the write side (TLS close_notify, then FIN), briefly. Plain
    /// TCP needs nothing here: dropping the socket sends the FIN after the
    /// last reply (close(2)), so an explicit shutdown(2) would only cost a
    /// system call per connection.
    pub(crate) async fn close(&mut self) {
        if matches!(self.stream, Stream::Tls(_)) {
            // RFC 8446 §6.1: close_notify before the connection ends.
            let _ = timeout(Duration::from_secs(5), self.stream.shutdown()).await;
        }
    }
}

/// Resolves when the session must give up because of a shutdown: at once,
/// or with `grace` (a message in flight) at the end of the grace period.
/// Never resolves while the server runs.
async fn shutdown_reached(shutdown: &mut watch::Receiver<ShutdownState>, grace: bool) {
    let draining = shutdown
        .wait_for(ShutdownState::is_draining)
        .await
        .map(|state| state.grace_deadline());
    let Ok(deadline) = draining else {
        return std::future::pending().await; // server gone: nobody will ask
    };
    if grace && let Some(deadline) = deadline {
        sleep_until(deadline).await;
    }
}
