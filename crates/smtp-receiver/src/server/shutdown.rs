//! Graceful shutdown: stop accepting, let messages in flight finish within
//! a grace period, answer everyone else `421 4.3.2` (RFC 5321 §3.8).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Where the server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShutdownState {
    Running,
    Draining { grace_deadline: Instant },
}

impl ShutdownState {
    pub(crate) fn is_draining(&self) -> bool {
        matches!(self, ShutdownState::Draining { .. })
    }

    pub(crate) fn grace_deadline(&self) -> Option<Instant> {
        match self {
            ShutdownState::Running => None,
            ShutdownState::Draining { grace_deadline } => Some(*grace_deadline),
        }
    }
}

/// Waits until the server begins to shut down, and gives the end of the
/// grace period. Never resolves while the server runs (nor once it is
/// gone: then nobody will ask).
pub(crate) async fn draining(shutdown: &mut watch::Receiver<ShutdownState>) -> Instant {
    let grace_deadline = shutdown
        .wait_for(ShutdownState::is_draining)
        .await
        .ok()
        .and_then(|state| state.grace_deadline());
    match grace_deadline {
        Some(deadline) => deadline,
        None => std::future::pending().await,
    }
}

/// Asks a running [`Server`](crate::Server) to shut down. Cheap to clone;
/// get one with [`Server::shutdown_handle`](crate::Server::shutdown_handle).
///
/// After [`shutdown`](Self::shutdown): listeners stop accepting, sessions
/// waiting for a command get `421 4.3.2` at once, sessions in the middle of
/// a message (inside DATA, between BDAT chunks) may finish it within the
/// grace period
/// ([`ServerConfig::shutdown_grace`](crate::config::ServerConfig::shutdown_grace))
/// and then get `421 4.3.2`; [`Server::run`](crate::Server::run) returns
/// when the last session has ended, at the latest
/// [`ServerConfig::shutdown_abort`](crate::config::ServerConfig::shutdown_abort)
/// after the grace period, when the sessions left are dropped. A session
/// whose message has been read to its end is never dropped before the
/// application has stored it and the reply is written (for at most 10
/// minutes more): a message gets its 250 or is not stored, never stored
/// without the 250.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    tx: Arc<watch::Sender<ShutdownState>>,
    grace: Duration,
}

impl ShutdownHandle {
    pub(crate) fn new(tx: Arc<watch::Sender<ShutdownState>>, grace: Duration) -> ShutdownHandle {
        ShutdownHandle { tx, grace }
    }

    /// Starts the shutdown (idempotent).
    pub fn shutdown(&self) {
        let grace_deadline = Instant::now() + self.grace;
        self.tx.send_if_modified(|state| match state {
            ShutdownState::Running => {
                *state = ShutdownState::Draining { grace_deadline };
                true
            }
            ShutdownState::Draining { .. } => false,
        });
    }

    /// True once [`shutdown`](Self::shutdown) has been called.
    pub fn is_shutting_down(&self) -> bool {
        self.tx.borrow().is_draining()
    }
}
