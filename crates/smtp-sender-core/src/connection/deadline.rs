//! The RFC 5321 §4.5.3.2 waits as deadlines (the quinn-proto pattern):
//! each wait arms one, [`Connection::poll_timeout`] says when it expires,
//! [`Connection::handle_timeout`] turns an expired one into the error the
//! next poll returns. While the server has said nothing at all, the
//! greeting's deadline may come earlier (the silence limit, `first_word.rs`).

use std::time::{Duration, Instant};

use super::Connection;
use crate::error::TransportError;
use crate::step::Wait;

/// A deadline and what its expiry means.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline {
    pub(super) at: Instant,
    pub(super) stage: &'static str,
    pub(super) after: Duration,
    /// Set when this deadline waits for the plain-text greeting and nothing
    /// was heard yet: when the wait began (see `first_word.rs`).
    pub(super) silent_since: Option<Instant>,
}

impl Connection {
    /// When the current wait expires, if one is running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline.map(|deadline| self.expiry(&deadline))
    }

    /// Applies an expired deadline (`now` at or after
    /// [`Connection::poll_timeout`]): the next poll reports the timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        let expiry = self.expiry(&deadline);
        if now < expiry {
            return;
        }
        self.deadline = None;
        let error = match self.silent_since(&deadline) {
            Some(since) => TransportError::NoGreeting {
                waited: expiry.saturating_duration_since(since),
                closed: false,
            },
            None => TransportError::Timeout {
                stage: deadline.stage,
                after: deadline.after,
            },
        };
        self.fail(error.into());
    }

    /// The timeout of `wait`, capped while a courtesy QUIT runs.
    pub(super) fn limit(&self, wait: Wait) -> Duration {
        let limit = wait.timeout(&self.timeouts);
        self.grace.map_or(limit, |grace| limit.min(grace))
    }

    /// A new deadline `after` from `now`, for the wait named `stage`.
    pub(super) fn arm(&mut self, now: Instant, stage: &'static str, after: Duration) {
        self.deadline = Some(Deadline {
            at: now + after,
            stage,
            after,
            silent_since: None,
        });
    }
}
