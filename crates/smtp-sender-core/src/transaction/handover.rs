//! One transaction after another on a session with PIPELINING: the next
//! transaction's commands are written right after the previous message's
//! final dot, before its reply is read.
//!
//! ```text
//! C: ...message 1, dot-stuffed...
//! C: .                                   end of message 1
//! C: RSET                                \
//! C: MAIL FROM:<alice@example.com>        | message 2's group
//! C: RCPT TO:<bob@example.org>            |
//! C: DATA                                /
//! S: 250 2.0.0 Queued                    message 1 decided
//! S: 250 2.0.0 OK                        RSET
//! S: 250 2.1.0 OK                        MAIL
//! S: 250 2.1.5 OK                        RCPT
//! S: 354 End data with <CR><LF>.<CR><LF>
//! C: ...message 2...
//! ```
//!
//! RFC 2920 §3.1: "The actual transfer of message content is explicitly
//! allowed to be the first 'command' in a group." The final dot ends the
//! transaction whatever its reply says (RFC 5321 §4.1.1.4), so the next
//! group is valid after a refusal too. That makes one round trip per
//! message instead of two. The replies still come back in order, so the
//! previous transaction takes the first one, the next the rest.
//!
//! A driver runs [`UntilWritten`] on a transaction; once
//! [`Transaction::awaits_only_final_reply`] holds, it prepares the next
//! transaction and runs [`Handover`] on the two; when that is done, it
//! collects the first and goes on with the second.

use smtp_wire::Reply;

use super::Transaction;
use crate::error::ProtocolError;
use crate::step::{Machine, Step};

/// Runs a transaction until it has written everything and only its final
/// reply is owed ([`Transaction::awaits_only_final_reply`]), or until
/// it is done (a refused MAIL, no recipient accepted, BDAT).
#[derive(Debug)]
pub struct UntilWritten<'t, 'a>(pub &'t mut Transaction<'a>);

impl Machine for UntilWritten<'_, '_> {
    fn next_step(&mut self) -> Step {
        if self.0.awaits_only_final_reply() {
            return Step::Done;
        }
        self.0.next_step()
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        self.0.on_reply(reply)
    }
}

/// Writes the first group of `starting` while `ending` awaits only its
/// final reply, then reads it; done once `ending` is. Run `starting`
/// on from there: its own replies follow.
#[derive(Debug)]
pub struct Handover<'t, 'a> {
    ending: &'t mut Transaction<'a>,
    starting: &'t mut Transaction<'a>,
}

impl<'t, 'a> Handover<'t, 'a> {
    /// `ending` must await only its final reply
    /// ([`Transaction::awaits_only_final_reply`]) and `starting` must be
    /// pipelined ([`Transaction::is_pipelined`]) and not run yet; otherwise
    /// nothing is handed over: `ending` is run to its end alone.
    pub fn new(ending: &'t mut Transaction<'a>, starting: &'t mut Transaction<'a>) -> Self {
        Handover { ending, starting }
    }

    fn overlaps(&self) -> bool {
        self.ending.awaits_only_final_reply() && self.starting.is_pipelined()
    }
}

impl Machine for Handover<'_, '_> {
    fn next_step(&mut self) -> Step {
        if self.ending.is_done() {
            return Step::Done;
        }
        // The next group first: before any reply of `ending` is read.
        if self.overlaps()
            && let step @ Step::Send { .. } = self.starting.next_step()
        {
            return step;
        }
        self.ending.next_step()
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        // RFC 2920 §3.1: replies come in the order of the commands, and
        // `ending`'s were written first.
        if self.ending.is_done() {
            self.starting.on_reply(reply)
        } else {
            self.ending.on_reply(reply)
        }
    }

    fn owes_reply(&self) -> bool {
        !self.ending.is_done()
    }
}
