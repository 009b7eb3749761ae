//! The vocabulary shared by the machines and the [`Connection`](crate::Connection).
//!
//! A machine never touches a socket. It answers one question, "what now?",
//! with a [`Step`]: write these bytes, read one reply, upgrade to TLS, or
//! done. The connection does it (through the driver) and hands back what
//! happened (a [`Reply`], or "TLS is up"). Because SMTP replies always come back in the order the
//! commands were sent (RFC 5321 §4.2, RFC 2920 §3.1), one queue of
//! "replies still owed" is enough to match each reply to its command, with
//! or without pipelining.

use std::collections::VecDeque;
use std::time::Duration;

use smtp_wire::Reply;
use smtp_wire::command::Command;

use crate::error::ProtocolError;
use crate::settings::Timeouts;

/// What the machine wants done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes (one command, a pipelined group of commands, or a
    /// block of message content), within the timeout for `wait`.
    Send {
        /// The bytes, CRLF line ends included.
        bytes: Vec<u8>,
        /// Which timeout applies to the write.
        wait: Wait,
    },
    /// Read one complete reply (all its continuation lines) within the
    /// timeout for `wait`, then pass it to [`Machine::on_reply`].
    ReadReply {
        /// Which timeout applies.
        wait: Wait,
    },
    /// Do the TLS handshake now, then call [`Machine::on_tls_established`].
    /// RFC 3207 §4.2 / CVE-2011-0411: the [`Connection`](crate::Connection)
    /// first checks that no byte is left over after the `220` reply to
    /// STARTTLS, and aborts if one is: the server (or an attacker) sent it
    /// in the clear.
    StartTls,
    /// This machine has finished; collect its result.
    Done,
}

/// The waits of RFC 5321 §4.5.3.2, each with its own timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wait {
    /// §4.5.3.2.1: the 220 greeting.
    Greeting,
    /// Any other command (EHLO, HELO, STARTTLS, AUTH, RSET, QUIT).
    Command,
    /// §4.5.3.2.2: the reply to MAIL.
    Mail,
    /// §4.5.3.2.3: the reply to RCPT.
    Rcpt,
    /// §4.5.3.2.4: the 354 after DATA.
    DataInit,
    /// §4.5.3.2.5: writing one block of content (and a non-final BDAT reply).
    DataBlock,
    /// §4.5.3.2.6: the reply after the final `.` (or the last BDAT chunk).
    DataTermination,
}

impl Wait {
    /// The configured duration for this wait.
    pub fn timeout(self, t: &Timeouts) -> Duration {
        match self {
            Wait::Greeting => t.greeting,
            Wait::Command => t.command,
            Wait::Mail => t.mail,
            Wait::Rcpt => t.rcpt,
            Wait::DataInit => t.data_init,
            Wait::DataBlock => t.data_block,
            Wait::DataTermination => t.data_termination,
        }
    }

    /// Words for error messages: "timed out waiting for {describe}".
    pub fn describe(self) -> &'static str {
        match self {
            Wait::Greeting => "the greeting",
            Wait::Command => "the reply to a command",
            Wait::Mail => "the reply to MAIL",
            Wait::Rcpt => "the reply to RCPT",
            Wait::DataInit => "the reply to DATA",
            Wait::DataBlock => "a block of message data",
            Wait::DataTermination => "the reply to the end of the message data",
        }
    }
}

/// A sans-IO protocol machine: the handshake, one mail transaction, or QUIT.
pub trait Machine {
    /// What to do next. Call again after acting on it.
    fn next_step(&mut self) -> Step;
    /// A complete reply arrived, for the oldest command still unanswered.
    /// An `Err` ends the conversation: the driver closes the connection.
    fn on_reply(&mut self, reply: Reply) -> Result<(), ProtocolError>;
    /// The TLS handshake asked for by [`Step::StartTls`] succeeded.
    fn on_tls_established(&mut self) {}
    /// True when the machine asks for a write while a reply to bytes it
    /// already wrote is still owed: the next transaction's commands, written
    /// right after a message's final dot (RFC 2920 §3.1, see
    /// [`Handover`](crate::Handover)). Bytes received by then may be that
    /// reply, so the connection does not take them for unsolicited ones.
    /// The other machines keep the default: they write a command only once
    /// every reply they asked for is in (message content and pipelined
    /// BDAT chunks, written while replies are owed, are not checked
    /// anyway).
    fn owes_reply(&self) -> bool {
        false
    }
}

/// The bookkeeping every machine needs: bytes still to write and the
/// replies still owed, in order, each tagged with what the machine expects.
#[derive(Debug)]
pub(crate) struct Exchange<E> {
    writes: VecDeque<(Vec<u8>, Wait)>,
    awaiting: VecDeque<(E, Wait)>,
    start_tls: bool,
}

impl<E> Exchange<E> {
    pub(crate) fn new() -> Self {
        Exchange {
            writes: VecDeque::new(),
            awaiting: VecDeque::new(),
            start_tls: false,
        }
    }

    /// Owe ourselves a reply that no command of ours asked for (the greeting),
    /// or one that follows bytes already queued with [`Exchange::write`].
    pub(crate) fn expect(&mut self, expect: E, wait: Wait) {
        self.awaiting.push_back((expect, wait));
    }

    /// Queue raw bytes that have no reply of their own (message content,
    /// an AUTH response line).
    pub(crate) fn write(&mut self, bytes: Vec<u8>, wait: Wait) {
        self.writes.push_back((bytes, wait));
    }

    /// One command, one reply.
    pub(crate) fn command(&mut self, command: &Command, expect: E, wait: Wait) {
        let mut bytes = Vec::new();
        command.write_to(&mut bytes);
        self.write(bytes, wait);
        self.expect(expect, wait);
    }

    /// RFC 2920 §3.1: a group of commands written at once; their replies come
    /// back in the same order and are matched one by one.
    pub(crate) fn flight(&mut self, commands: impl IntoIterator<Item = (Command, E, Wait)>) {
        let mut bytes = Vec::new();
        let mut first_wait = None;
        for (command, expect, wait) in commands {
            command.write_to(&mut bytes);
            first_wait.get_or_insert(wait);
            self.expect(expect, wait);
        }
        if let Some(wait) = first_wait {
            self.write(bytes, wait);
        }
    }

    /// Ask the driver for the TLS handshake once every queued write is done.
    pub(crate) fn start_tls(&mut self) {
        self.start_tls = true;
    }

    /// The next thing to do: writes first, then the TLS upgrade, then replies.
    pub(crate) fn next_step(&mut self) -> Option<Step> {
        if let Some((bytes, wait)) = self.writes.pop_front() {
            return Some(Step::Send { bytes, wait });
        }
        if std::mem::take(&mut self.start_tls) {
            return Some(Step::StartTls);
        }
        self.awaiting
            .front()
            .map(|&(_, wait)| Step::ReadReply { wait })
    }

    /// A reply arrived: which one it answers (the oldest still owed).
    pub(crate) fn reply_arrived(&mut self) -> Option<E> {
        self.awaiting.pop_front().map(|(expect, _)| expect)
    }

    /// No bytes are waiting to be written.
    pub(crate) fn has_no_writes(&self) -> bool {
        self.writes.is_empty()
    }

    /// Nothing left to write and exactly one reply owed, one that `last`
    /// accepts.
    pub(crate) fn owes_only_one(&self, last: impl Fn(&E) -> bool) -> bool {
        self.writes.is_empty()
            && !self.start_tls
            && self.awaiting.len() == 1
            && self
                .awaiting
                .front()
                .is_some_and(|(expect, _)| last(expect))
    }

    /// Nothing left to write and no reply owed.
    pub(crate) fn is_idle(&self) -> bool {
        self.writes.is_empty() && self.awaiting.is_empty() && !self.start_tls
    }
}
