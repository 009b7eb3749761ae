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
use std::io;
use std::time::{Duration, Instant};

use smtp_io::MaybeTls;
use smtp_sender_core::{
    Action, Input, Machine, SendError, TlsError, Transaction, TransportError, UntilWritten,
};
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

impl Client {
    /// Runs a machine to completion; everything it wrote has left when this
    /// returns.
    pub(super) async fn run(&mut self, machine: &mut impl Machine) -> Result<(), SendError> {
        self.drive(machine, None).await
    }

    /// Runs `transaction` until everything is written and only its final
    /// reply is owed ([`UntilWritten`]), except that its last write, the
    /// final block of content with its dot, is held: it leaves with the
    /// next machine's first write (the next message's group, `Handover`),
    /// or before its first read. One system call instead of two per message
    /// (docs/benchmarks.md, item 15 of "What each optimisation bought"). The
    /// caller runs another machine on this client next.
    pub(super) async fn run_until_written(
        &mut self,
        transaction: &mut Transaction<'_>,
    ) -> Result<(), SendError> {
        let mut machine = UntilWritten(transaction);
        // Right after the connection takes the last block, the transaction
        // awaits only its final reply: that write is the last.
        self.drive(&mut machine, Some(|m| m.0.awaits_only_final_reply()))
            .await
    }

    /// The driver loop. With `hold_last`, a write after which it says the
    /// machine is done is held instead of written, and stays held when the
    /// machine is done.
    async fn drive<M: Machine>(
        &mut self,
        machine: &mut M,
        hold_last: Option<fn(&M) -> bool>,
    ) -> Result<(), SendError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let action = self.connection.poll(machine, Instant::now());
            self.log_transcript();
            let action = match action {
                Ok(Action::Write(bytes)) => {
                    let deadline = self.connection.poll_timeout();
                    if hold_last.is_some_and(|last| last(machine)) {
                        self.write_held().await;
                        self.held = Some((bytes, deadline));
                    } else {
                        self.write_with_held(bytes, deadline).await;
                    }
                    continue;
                }
                Ok(Action::Done) if hold_last.is_some() => return Ok(()),
                action => action,
            };
            // Nothing is read, and nothing ends, before a held write left;
            // if it failed, the connection decides again, knowing it.
            let written = self.write_held().await;
            let action = action?;
            if !written {
                continue;
            }
            match action {
                Action::ReadReady => {
                    if let Some(n) = self.read_ready(&mut buf).await {
                        self.connection.handle(Input::Bytes(&buf[..n]));
                    }
                }
                // Written above, before the held write was looked at.
                Action::Write(_) => {}
                Action::Read => self.read(&mut buf).await,
                Action::StartTls => self.start_tls().await,
                Action::Done => return Ok(()),
            }
        }
    }

    /// Writes `bytes` within `deadline`, after the held write if there is
    /// one: in the same call, within the earlier of the two deadlines.
    async fn write_with_held(&mut self, bytes: Vec<u8>, deadline: Option<Instant>) {
        match self.held.take() {
            None => {
                self.write(&bytes, deadline).await;
            }
            Some((mut held, held_deadline)) => {
                held.extend_from_slice(&bytes);
                let deadline = match (held_deadline, deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                self.write(&held, deadline).await;
            }
        }
    }

    /// Writes the held write, if there is one, within its own deadline;
    /// false when that failed.
    async fn write_held(&mut self) -> bool {
        match self.held.take() {
            Some((held, deadline)) => self.write(&held, deadline).await,
            None => true,
        }
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

    /// Writes `bytes` within `deadline`, the one the connection gave them;
    /// false when the write failed or timed out (the connection is told).
    async fn write(&mut self, bytes: &[u8], deadline: Option<Instant>) -> bool {
        let stream = &mut self.stream;
        let io = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match before(deadline, io).await {
            Some(Ok(())) => return true,
            Some(Err(error)) => self.connection.handle(Input::WriteFailed(error)),
            // The connection's own deadline: its timeout error names the wait.
            None if deadline == self.connection.poll_timeout() => self.expired(deadline),
            // A held write's deadline, which the connection no longer keeps
            // (it has gone on to the next machine): a write that did not
            // finish.
            None => self.connection.handle(Input::WriteFailed(io::Error::new(
                io::ErrorKind::TimedOut,
                "the write did not finish before its deadline (RFC 5321 §4.5.3.2.5)",
            ))),
        }
        false
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
        // A held write is followed by another run, which writes it first;
        // one still here is for a session that is over.
        self.held = None;
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
