//! The driver: moves bytes between the stream and the sans-IO
//! [`Connection`](smtp_sender_core::Connection), and nothing else.
//!
//! It asks the connection what to do ([`Action`]), does it within the
//! connection's deadline ([`Connection::poll_timeout`]), and tells it what
//! happened ([`Input`], or [`Connection::handle_timeout`]). Every protocol
//! decision (which reply answers which command, whether bytes are
//! unsolicited or injected, which timeout applies, what a failed write
//! means) is the connection's.
//!
//! [`Connection::poll_timeout`]: smtp_sender_core::Connection::poll_timeout
//! [`Connection::handle_timeout`]: smtp_sender_core::Connection::handle_timeout

use std::future::Future;
use std::time::{Duration, Instant};

use smtp_io::MaybeTls;
use smtp_sender_core::{Action, Input, Machine, SendError, TlsError, TransportError};
use smtp_wire::{Direction, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Client;
use crate::tls::{explain_handshake_error, server_name};

/// How long closing the stream may take (a TLS close_notify included).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// `io`, unless `deadline` passes first (`None` then).
async fn before<T>(deadline: Option<Instant>, io: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at.into(), io).await.ok(),
        None => Some(io.await),
    }
}

/// Writes up to this size are held until the connection asks for something
/// other than a write, so that consecutive ones leave in one system call
/// (and one read on the server's side). A message's content comes in blocks
/// of 64 KiB: a block is held at most until the next one arrives, never
/// gathered into a larger buffer.
const HOLD_LIMIT: usize = 64 * 1024;

impl Client {
    /// Runs a machine to completion; everything it wrote has left when this
    /// returns.
    pub(super) async fn run(&mut self, machine: &mut impl Machine) -> Result<(), SendError> {
        self.drive(machine, false).await
    }

    /// Like [`Client::run`], but the writes still held when the machine is
    /// done stay held, to leave with the next machine's first write: a
    /// message's final dot with the next message's commands, one system
    /// call per message instead of two (docs/benchmarks.md, item 15 of
    /// "What each optimisation bought"). The caller must run another
    /// machine on this client next: its first read or its end writes them.
    pub(super) async fn run_holding_last_write(
        &mut self,
        machine: &mut impl Machine,
    ) -> Result<(), SendError> {
        self.drive(machine, true).await
    }

    async fn drive(
        &mut self,
        machine: &mut impl Machine,
        hold_at_done: bool,
    ) -> Result<(), SendError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let action = self.connection.poll(machine, Instant::now());
            self.log_transcript();
            match action {
                Ok(Action::Write(_)) => {}
                Ok(Action::Done) if hold_at_done => return Ok(()),
                // Whatever comes next (a read, the TLS handshake, the end)
                // must find the held writes on the wire. If they fail, the
                // connection decides again, knowing it.
                Ok(_) => {
                    if !self.write_held().await {
                        continue;
                    }
                }
                // The connection counts them as written (its transcript
                // has them): they go before whatever follows the error (a
                // courtesy QUIT), and the error is this run's result.
                Err(_) => {
                    self.write_held().await;
                }
            }
            match action? {
                Action::Write(bytes) => self.hold(bytes).await,
                Action::ReadReady => {
                    if let Some(n) = self.read_ready(&mut buf).await {
                        self.connection.handle(Input::Bytes(&buf[..n]));
                    }
                }
                Action::Read => self.read(&mut buf).await,
                Action::StartTls => self.start_tls().await,
                Action::Done => return Ok(()),
            }
        }
    }

    /// Adds `bytes` to the held writes; writes the held ones first when
    /// both together would pass [`HOLD_LIMIT`], and `bytes` too when they
    /// alone do.
    async fn hold(&mut self, bytes: Vec<u8>) {
        if self.held.len() + bytes.len() > HOLD_LIMIT {
            if !self.write_held().await {
                return;
            }
            if bytes.len() > HOLD_LIMIT {
                self.write(&bytes).await;
                return;
            }
        }
        if self.held.is_empty() {
            self.held = bytes;
        } else {
            self.held.extend_from_slice(&bytes);
        }
    }

    /// Writes the held bytes; false when the write failed (the connection
    /// has been told).
    async fn write_held(&mut self) -> bool {
        if self.held.is_empty() {
            return true;
        }
        let held = std::mem::take(&mut self.held);
        self.write(&held).await
    }

    /// The bytes already waiting, without waiting for more. The read is
    /// polled once: `biased` tries it first, and the ready branch wins when
    /// nothing is waiting (the read is cancel-safe: nothing was read then).
    /// Nothing waiting, an EOF or an error are left for the write or the
    /// next read to report. (Not `timeout(Duration::ZERO, ..)`: its timer
    /// fires only at the next millisecond tick, so every command waited
    /// 1 ms; 1 KiB messages over one session went from 7,800 to 840 per
    /// second.)
    async fn read_ready(&mut self, buf: &mut [u8]) -> Option<usize> {
        let probe = tokio::select! {
            biased;
            read = self.stream.read(buf) => Some(read),
            () = std::future::ready(()) => None,
        };
        match probe {
            Some(Ok(n)) if n > 0 => Some(n),
            _ => None,
        }
    }

    /// Writes `bytes`; false when the write failed or timed out (the
    /// connection has been told).
    async fn write(&mut self, bytes: &[u8]) -> bool {
        let deadline = self.connection.poll_timeout();
        let stream = &mut self.stream;
        let io = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match before(deadline, io).await {
            Some(Ok(())) => true,
            Some(Err(error)) => {
                self.connection.handle(Input::WriteFailed(error));
                false
            }
            None => {
                self.expired(deadline);
                false
            }
        }
    }

    async fn read(&mut self, buf: &mut [u8]) {
        let deadline = self.connection.poll_timeout();
        match before(deadline, self.stream.read(buf)).await {
            Some(Ok(0)) => self.connection.handle(Input::Eof),
            Some(Ok(n)) => self.connection.handle(Input::Bytes(&buf[..n])),
            Some(Err(error)) => self.connection.handle(Input::ReadFailed(error)),
            None => self.expired(deadline),
        }
    }

    /// The TLS handshake: implicit TLS at connect, or after `220` to STARTTLS.
    async fn start_tls(&mut self) {
        let deadline = self.connection.poll_timeout();
        let name = self.config.tls_name();
        let setup = match (&self.tls, server_name(&self.config)) {
            (Some(connector), Ok(server)) => Ok((connector.clone(), server)),
            (None, _) => Err(TlsError::Handshake {
                name: name.into(),
                detail: "TLS was asked for but the TLS mode is none".into(),
            }),
            (_, Err(error)) => Err(error),
        };
        let (connector, server) = match setup {
            Ok(setup) => setup,
            Err(error) => return self.connection.handle(Input::TlsFailed(error.into())),
        };
        let limit = deadline.map_or(self.config.timeouts.command, |at| {
            at.saturating_duration_since(Instant::now())
        });
        let result = self.stream.connect(&connector, server, limit).await;
        let clear_text = self.tap.take().map(|tap| tap.take()).unwrap_or_default();
        match result {
            Ok(()) => self.connection.handle(Input::TlsEstablished),
            Err(_) if deadline.is_some_and(|at| Instant::now() >= at) => self.expired(deadline),
            Err(error) => {
                // What the server sent instead of its part of the handshake:
                // the core recognises a plain-SMTP greeting in it.
                self.connection.handle(Input::Bytes(&clear_text));
                let explained = explain_handshake_error(error, self.config.tls_name());
                self.connection
                    .handle(Input::TlsFailed(TransportError::Tls(explained)));
            }
        }
    }

    /// The deadline the connection gave has passed.
    fn expired(&mut self, deadline: Option<Instant>) {
        if let Some(at) = deadline {
            self.connection.handle_timeout(at);
        }
    }

    pub(super) async fn close(&mut self) {
        // Every run writes what it held before it returns, except
        // `run_holding_last_write`, which its caller follows with another
        // run: nothing is held here unless that run failed first, and then
        // the session is over anyway.
        self.held.clear();
        let mut stream = std::mem::replace(&mut self.stream, MaybeTls::Closed);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, stream.shutdown()).await;
    }

    /// Sends what was added to the transcript to the log (target
    /// `smtp_sender::transcript`, level DEBUG): `smtp-send -v` shows it as
    /// it happens. Only the last event can still grow (the transcript merges
    /// consecutive lines of one direction), so `logged` remembers how many
    /// of its lines were already shown.
    fn log_transcript(&mut self) {
        if !tracing::enabled!(target: "smtp_sender::transcript", tracing::Level::DEBUG) {
            return;
        }
        let events = self.connection.transcript().events();
        let (mut index, mut skip) = self.logged;
        while let Some(event) = events.get(index) {
            let lines: Vec<String> = match event {
                Event::Bytes { dir, bytes } => {
                    let prefix = match dir {
                        Direction::Client => "C: ",
                        Direction::Server => "S: ",
                    };
                    String::from_utf8_lossy(bytes)
                        .lines()
                        .map(|line| format!("{prefix}{line}"))
                        .collect()
                }
                Event::TlsStarted => vec!["-- TLS started --".to_string()],
                Event::Note(text) => vec![format!("-- {text} --")],
            };
            for line in lines.iter().skip(skip) {
                tracing::debug!(target: "smtp_sender::transcript", "{line}");
            }
            self.logged = (index, lines.len());
            index += 1;
            skip = 0;
        }
    }
}
