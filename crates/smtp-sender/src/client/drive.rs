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

impl Client {
    /// Runs a machine to completion.
    pub(super) async fn run(&mut self, machine: &mut impl Machine) -> Result<(), SendError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let action = self.connection.poll(machine, Instant::now());
            self.log_transcript();
            match action? {
                Action::ReadReady => {
                    if let Some(n) = self.read_ready(&mut buf).await {
                        self.connection.handle(Input::Bytes(&buf[..n]));
                    }
                }
                Action::Write(bytes) => self.write(&bytes).await,
                Action::Read => self.read(&mut buf).await,
                Action::StartTls => self.start_tls().await,
                Action::Done => return Ok(()),
            }
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

    async fn write(&mut self, bytes: &[u8]) {
        let deadline = self.connection.poll_timeout();
        let stream = &mut self.stream;
        let io = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match before(deadline, io).await {
            Some(Ok(())) => {}
            Some(Err(error)) => self.connection.handle(Input::WriteFailed(error)),
            None => self.expired(deadline),
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
