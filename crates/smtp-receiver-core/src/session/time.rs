//! Time, as quinn-proto handles it: the session reads no clock. The time
//! comes in with every [`poll`](Session::poll), the next deadline goes out
//! through [`poll_timeout`](Session::poll_timeout), and the driver calls
//! [`handle_timeout`](Session::handle_timeout) when it has passed. So every
//! timeout below is tested with injected instants, without sleeping.
//!
//! RFC 5321 §4.5.3.2: deadlines are per unit of work, never per read. The
//! command deadline starts when the session waits for a command line and
//! is renewed only once a line is complete; inside a message each
//! [`DATA_BLOCK`] must arrive within the data-block deadline. So a client
//! that trickles one octet every few seconds is still cut off. The same
//! deadline bounds the writing of our replies (the driver writes them
//! while the session waits, and replies written before that, a flush or
//! the 354, start it afresh), so a client that never reads cannot hold a
//! session either.

use std::time::Instant;

use super::{Abort, Event, Phase, Session};
use crate::config::DATA_BLOCK;
use crate::replies;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// A command line (RFC 5321 §4.5.3.2.7).
    Command,
    /// A block of message data (RFC 5321 §4.5.3.2.5).
    Data,
    /// A TLS handshake (with the `220` to STARTTLS before it).
    Handshake,
    /// The last replies after the session closed.
    Closing,
}

/// The armed deadline and what renews it.
#[derive(Debug, Default)]
pub(super) struct Timer {
    armed: Option<(Wait, Instant)>,
    /// Complete units of input (lines, chunks, bodies) so far.
    units: u64,
    /// `units` when the command deadline was armed.
    units_at_arming: u64,
    /// Octets of input used so far.
    consumed: u64,
    /// `consumed` when the data-block deadline was armed.
    block_start: u64,
    /// The closing deadline has passed: no deadline is left.
    spent: bool,
    /// The end of the shutdown grace period, once a shutdown has begun.
    shutdown: Option<Instant>,
    /// When the armed deadline was armed: a change of stress moves the
    /// deadline relative to it.
    armed_since: Option<Instant>,
    /// The server is under stress: shorter command and data deadlines.
    stressed: bool,
    /// The end of the maximum session length, from the first poll.
    session_end: Option<Instant>,
}

impl Timer {
    /// A unit of input is complete: the next wait for a command gets a
    /// fresh deadline.
    pub(super) fn unit_done(&mut self) {
        self.units += 1;
    }

    /// `n` octets of input were used.
    pub(super) fn input_used(&mut self, n: usize) {
        self.consumed += n as u64;
    }

    /// The session's first poll: it may last until `end`.
    pub(super) fn start(&mut self, end: Instant) {
        self.session_end.get_or_insert(end);
    }

    /// True while the server is under stress.
    pub(super) fn stressed(&self) -> bool {
        self.stressed
    }
}

impl Session {
    /// The instant by which the driver must call
    /// [`handle_timeout`](Self::handle_timeout), whatever it is waiting for
    /// (a read, a write, a TLS handshake); `None` while nothing is timed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.timer.armed.map(|(_, at)| at);
        let grace = self.timer.shutdown.filter(|_| self.in_transfer());
        // Once closed, only the closing deadline bounds the last replies.
        let session_end = self.timer.session_end.filter(|_| !self.is_closed());
        deadline.into_iter().chain(grace).chain(session_end).min()
    }

    /// The server is (`true`) or is no longer under stress: most of its
    /// session slots are taken. Like Postfix under stress, the command and
    /// data-block deadlines drop to [`Timeouts::under_stress`], also the one
    /// running now (counted from when it was armed, so a session idle for
    /// longer than that is cut at once), and fewer junk commands are
    /// allowed ([`Limits::junk_commands_under_stress`]). The driver tells
    /// every session when the load crosses its thresholds.
    ///
    /// [`Timeouts::under_stress`]: crate::config::Timeouts::under_stress
    /// [`Limits::junk_commands_under_stress`]: crate::config::Limits::junk_commands_under_stress
    pub fn set_stress(&mut self, stressed: bool) {
        if self.timer.stressed == stressed {
            return;
        }
        self.timer.stressed = stressed;
        if let (Some((wait, _)), Some(since)) = (self.timer.armed, self.timer.armed_since) {
            self.timer.armed = Some((wait, since + self.wait_limit(wait)));
        }
    }

    /// The time allowed for `wait`, shortened under stress for a command
    /// or a data block.
    fn wait_limit(&self, wait: Wait) -> std::time::Duration {
        let timeouts = &self.config.timeouts;
        let normal = match wait {
            Wait::Command => timeouts.command,
            Wait::Data => timeouts.data_block,
            Wait::Handshake => return timeouts.tls_handshake,
            Wait::Closing => return timeouts.command,
        };
        if self.timer.stressed {
            normal.min(timeouts.under_stress)
        } else {
            normal
        }
    }

    /// Applies the deadline that has passed at `now`, if any: `421 4.4.2`
    /// and close for a client too slow with a command or a data block
    /// (RFC 5321 §4.5.3.2), `421 4.3.2` at the end of the shutdown grace,
    /// a silent close for a TLS handshake that did not complete.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self
            .timer
            .shutdown
            .is_some_and(|grace| now >= grace && self.in_transfer())
        {
            return self.close_with(
                replies::shutting_down(&self.config.hostname),
                Abort::Shutdown,
            );
        }
        if self.timer.session_end.is_some_and(|end| now >= end) && !self.is_closed() {
            // The maximum session length: whatever the session is doing.
            self.close_with(
                replies::session_too_long(&self.config.hostname),
                Abort::Timeout,
            );
            self.timer.armed = None;
            return;
        }
        let Some((wait, at)) = self.timer.armed else {
            return;
        };
        if now < at {
            return;
        }
        self.timer.armed = None;
        match wait {
            // `close_with` sends nothing while a handshake is awaited.
            Wait::Command | Wait::Data | Wait::Handshake => {
                self.close_with(replies::timeout(&self.config.hostname), Abort::Timeout)
            }
            // The driver gives up on a client that does not read its last replies.
            Wait::Closing => self.timer.spent = true,
        }
    }

    /// The server is shutting down (RFC 5321 §3.8). A session waiting for
    /// a command gets `421 4.3.2` at once; one with a message in flight
    /// (inside DATA, between BDAT chunks, with the application) may finish
    /// it until `grace_deadline`, then gets the 421.
    pub fn begin_shutdown(&mut self, grace_deadline: Instant) {
        self.timer.shutdown.get_or_insert(grace_deadline);
        if !self.in_transfer() && !matches!(self.phase, Phase::AwaitTls { .. }) {
            self.close_with(
                replies::shutting_down(&self.config.hostname),
                Abort::Shutdown,
            );
        }
    }

    /// True when a shutdown has begun and no message holds the session.
    pub(super) fn shutdown_due(&self) -> bool {
        self.timer.shutdown.is_some() && !self.in_transfer()
    }

    /// Arms the deadline `event` starts, if it starts one.
    pub(super) fn arm_timer(&mut self, event: &Event, now: Instant) {
        let wait = match event {
            Event::NeedMore if matches!(self.phase, Phase::Body | Phase::SkipChunk { .. }) => {
                Wait::Data
            }
            // Replies about to be written (a flush, the 354) get the
            // command deadline afresh once a line has completed.
            Event::NeedMore | Event::Flush | Event::Message(_) => Wait::Command,
            Event::StartTls { .. } => Wait::Handshake,
            Event::Close if !self.timer.spent => Wait::Closing,
            _ => return,
        };
        let limit = self.wait_limit(wait);
        let timer = &mut self.timer;
        let unit_done = match wait {
            Wait::Command => timer.units != timer.units_at_arming,
            Wait::Data => timer.consumed - timer.block_start >= DATA_BLOCK as u64,
            Wait::Handshake | Wait::Closing => false,
        };
        if matches!(timer.armed, Some((armed, _)) if armed == wait) && !unit_done {
            return;
        }
        timer.armed = Some((wait, now + limit));
        timer.armed_since = Some(now);
        timer.units_at_arming = timer.units;
        timer.block_start = timer.consumed;
    }
}
