//! The connection-level machine: everything between the protocol machines
//! and the socket that is still protocol.
//!
//! The driver hands [`Connection`] raw bytes as they arrive and does what
//! [`Connection::poll`] says ([`Action`]): write these bytes, read, look
//! for bytes that already arrived, do the TLS handshake. The connection
//! owns, so that the driver does not have to:
//!
//! - the reply parser and its input buffer: replies are matched, in order,
//!   to the commands still owed one (RFC 5321 §4.2, RFC 2920 §3.1);
//! - the refusal of unsolicited replies: a machine asks for a write only
//!   once every reply it expects so far has been read, so bytes already
//!   received then answer no command (lost synchronisation);
//! - the STARTTLS injection check (RFC 3207 §4.2, CVE-2011-0411);
//! - the "last word" rule: after a failed write, a reply the server sent
//!   before closing is the news (RFC 5321 §3.8);
//! - the RFC 5321 §4.5.3.2 timeouts, as deadlines: time comes in as a
//!   value (`now`), the next deadline goes out through
//!   [`Connection::poll_timeout`], an expired one comes back through
//!   [`Connection::handle_timeout`] (the quinn-proto pattern);
//! - the wrong TLS mode told by the server's first word: silence where a
//!   plain-text greeting was due, or a plain-text reply where a TLS
//!   handshake was (RFC 8314);
//! - the session's memory: what the handshake learned, whether the next
//!   transaction needs an RSET first (RFC 5321 §4.1.1.5), whether an error
//!   still allows a courtesy QUIT;
//! - the transcript, with message content sampled so it stays small.
//!
//! ```
//! use std::time::Instant;
//! use smtp_sender_core::{Action, Connection, Input, Quit, SendError, Timeouts};
//!
//! /// QUIT, by hand: what a driver does in a loop.
//! fn quit(now: Instant) -> Result<(), SendError> {
//!     let mut conn = Connection::new(Timeouts::default(), Default::default());
//!     let mut machine = Quit::new();
//!     assert_eq!(conn.poll(&mut machine, now)?, Action::ReadReady); // anything there already?
//!     assert_eq!(conn.poll(&mut machine, now)?, Action::Write(b"QUIT\r\n".to_vec()));
//!     assert_eq!(conn.poll(&mut machine, now)?, Action::Read);
//!     assert!(conn.poll_timeout().is_some()); // RFC 5321 §4.5.3.2
//!     conn.handle(Input::Bytes(b"221 2.0.0 bye\r\n"));
//!     assert_eq!(conn.poll(&mut machine, now)?, Action::Done);
//!     Ok(())
//! }
//! ```

mod action;
mod deadline;
mod first_word;
mod session;

pub use action::{Action, Input};

use deadline::Deadline;

use std::time::{Duration, Instant};

use smtp_wire::transcript::TranscriptLimits;
use smtp_wire::{Reply, ReplyParser, Transcript};

use crate::error::{ProtocolError, SendError, TransportError};
use crate::handshake::ServerInfo;
use crate::sampling::ContentSampler;
use crate::settings::Timeouts;
use crate::step::{Machine, Step, Wait};

/// Bytes read but not yet forming a complete reply line beyond which the
/// server is cut off (the ReplyParser's own line limit normally fires first).
const MAX_UNPARSED: usize = 64 * 1024;
/// After a failed write: how long to wait for a reply the server may have
/// sent before it closed (RFC 5321 §3.8).
const LAST_WORD_GRACE: Duration = Duration::from_secs(2);
/// How much of an out-of-turn reply an error message quotes.
const QUOTE_LIMIT: usize = 200;

/// The Sender-SMTP's side of one connection, sans-IO: see the module.
#[derive(Debug)]
pub struct Connection {
    timeouts: Timeouts,
    /// A cap on every wait (a courtesy QUIT must not wait 5 minutes).
    grace: Option<Duration>,
    parser: ReplyParser,
    /// Bytes received and not yet consumed by the reply parser. After a reply
    /// is parsed, what remains belongs to the next reply (RFC 2920).
    inbox: Vec<u8>,
    eof: bool,
    transcript: Transcript,
    /// While DATA content is written: what the transcript gets of it.
    sampler: Option<ContentSampler>,
    /// A write the machine asked for, held until the input is checked.
    outgoing: Option<(Vec<u8>, Wait)>,
    probed: bool,
    /// The wait whose reply is being read (its deadline covers the whole reply).
    reading: Option<Wait>,
    deadline: Option<Deadline>,
    /// The handshake succeeded; the machine hears it at the next poll.
    tls_ready: bool,
    /// A write failed with this; listening for the server's last word.
    last_word: Option<SendError>,
    /// An error to return at the next poll.
    failure: Option<SendError>,
    server: ServerInfo,
    needs_reset: bool,
    /// How long a server that has said nothing may keep us waiting for the
    /// greeting ([`Connection::set_silence_limit`]).
    silence_limit: Option<Duration>,
    /// At least one byte came from the server.
    heard: bool,
    /// At least one complete reply came from the server.
    greeted: bool,
    /// A TLS handshake succeeded.
    encrypted: bool,
}

impl Connection {
    /// A connection not yet opened: run a [`Handshake`](crate::Handshake)
    /// on it first.
    pub fn new(timeouts: Timeouts, limits: TranscriptLimits) -> Connection {
        Connection {
            timeouts,
            grace: None,
            parser: ReplyParser::new(),
            inbox: Vec::new(),
            eof: false,
            transcript: Transcript::with_limits(limits),
            sampler: None,
            outgoing: None,
            probed: false,
            reading: None,
            deadline: None,
            tls_ready: false,
            last_word: None,
            failure: None,
            server: ServerInfo::default(),
            needs_reset: false,
            silence_limit: None,
            heard: false,
            greeted: false,
            encrypted: false,
        }
    }

    /// While the server has sent nothing at all, waits at most `limit` for
    /// its plain-text greeting, then fails with
    /// [`TransportError::NoGreeting`] (a hint at implicit TLS) instead of
    /// waiting the full greeting timeout. `None` (the default) waits the
    /// full timeout; a silent server still gets `NoGreeting` then. For a
    /// TLS mode chosen from the port: [`TlsMode::default_silence_limit`](crate::TlsMode::default_silence_limit).
    pub fn set_silence_limit(&mut self, limit: Option<Duration>) {
        self.silence_limit = limit;
    }

    /// What to do next for `machine`. `Err` ends the run: the conversation
    /// failed (see [`Connection::courtesy_quit`] for what may follow).
    pub fn poll<M: Machine>(&mut self, machine: &mut M, now: Instant) -> Result<Action, SendError> {
        if let Some(error) = self.failure.take() {
            self.deadline = None;
            return Err(error);
        }
        if std::mem::take(&mut self.tls_ready) {
            machine.on_tls_established();
        }
        if self.last_word.is_some() {
            return self.poll_last_word(machine, now);
        }
        loop {
            if let Some((bytes, wait)) = self.outgoing.take() {
                // Not before message data: that would cost a system call per
                // block; a reply sent in the middle of the data is read after
                // the final dot (or after a failed write: the last word).
                // While a reply is owed (a handover), what arrived may be
                // that reply: neither looked for nor refused.
                let owed = machine.owes_reply();
                if wait != Wait::DataBlock && self.inbox.is_empty() && !self.probed && !owed {
                    self.probed = true;
                    self.outgoing = Some((bytes, wait));
                    self.deadline = None;
                    return Ok(Action::ReadReady);
                }
                if !owed {
                    self.refuse_unsolicited(&bytes, wait)?;
                }
                match (&mut self.sampler, wait) {
                    (Some(sampler), Wait::DataBlock) => {
                        sampler.record(&mut self.transcript, &bytes)
                    }
                    _ => self.transcript.client(&bytes),
                }
                self.arm(now, wait.describe(), self.limit(wait));
                return Ok(Action::Write(bytes));
            }
            match machine.next_step() {
                Step::Send { bytes, wait } => {
                    self.outgoing = Some((bytes, wait));
                    self.probed = false;
                }
                Step::ReadReply { wait } => match self.parse_reply()? {
                    Some(reply) => {
                        self.reading = None;
                        machine.on_reply(reply)?;
                    }
                    None if self.eof => return Err(self.closed_while_waiting(wait, now).into()),
                    None => {
                        // RFC 5321 §4.5.3.2: the timeout covers the whole
                        // reply, so a server dripping continuation lines
                        // cannot keep us forever.
                        if self.reading != Some(wait) {
                            self.reading = Some(wait);
                            self.arm(now, wait.describe(), self.limit(wait));
                            if self.awaits_first_word(wait)
                                && let Some(deadline) = &mut self.deadline
                            {
                                deadline.silent_since = Some(now);
                            }
                        }
                        return Ok(Action::Read);
                    }
                },
                Step::StartTls => {
                    // RFC 3207 §4.2 / CVE-2011-0411: whatever arrived after
                    // the 220 was sent in the clear and must not be read as
                    // if it came under TLS.
                    if !self.inbox.is_empty() {
                        return Err(ProtocolError::ResponseInjection.into());
                    }
                    self.arm(now, "the TLS handshake", self.limit(Wait::Command));
                    return Ok(Action::StartTls);
                }
                Step::Done => {
                    self.deadline = None;
                    return Ok(Action::Done);
                }
            }
        }
    }

    /// Tells the connection what happened. Errors come back from the next
    /// [`Connection::poll`].
    pub fn handle(&mut self, input: Input<'_>) {
        match input {
            Input::Bytes(bytes) => {
                self.heard |= !bytes.is_empty();
                self.inbox.extend_from_slice(bytes);
            }
            Input::Eof => self.eof = true,
            Input::ReadFailed(error) => self.fail(TransportError::Io(error).into()),
            Input::WriteFailed(error) => {
                self.deadline = None;
                self.last_word = Some(TransportError::Io(error).into());
            }
            Input::TlsEstablished => {
                self.deadline = None;
                // Nothing from before the handshake carries over (RFC 3207 §4.2).
                self.parser = ReplyParser::new();
                self.transcript.tls_started();
                self.tls_ready = true;
                self.encrypted = true;
            }
            Input::TlsFailed(error) => {
                let error = self.plain_smtp_instead_of_tls().unwrap_or(error);
                self.fail(error.into());
            }
        }
    }

    /// Everything that crossed the wire so far (AUTH secrets redacted, the
    /// TLS switch marked, the middle of large messages counted, not kept).
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Adds a note to the transcript (`-- text --`).
    pub fn note(&mut self, text: &str) {
        self.transcript.note(text);
    }

    /// What the handshake learned (nothing before it).
    pub fn server_info(&self) -> &ServerInfo {
        &self.server
    }

    /// Records `error` for the next poll; after a failed write, the write's
    /// error wins (nothing better came).
    fn fail(&mut self, error: SendError) {
        let error = self.last_word.take().unwrap_or(error);
        self.failure.get_or_insert(error);
    }

    /// One complete reply from the input, if there is one; bytes after it
    /// stay for the next.
    fn parse_reply(&mut self) -> Result<Option<Reply>, ProtocolError> {
        loop {
            let (used, reply) = self.parser.decode(&self.inbox)?;
            if used > 0 {
                self.transcript.server(&self.inbox[..used]);
                self.inbox.drain(..used);
            }
            if reply.is_some() {
                self.greeted = true;
                return Ok(reply);
            }
            if used == 0 {
                break;
            }
        }
        if self.inbox.len() > MAX_UNPARSED {
            return Err(ProtocolError::ReplyTooLong(self.inbox.len()));
        }
        Ok(None)
    }

    /// A write is due and every reply asked for has been read, so anything
    /// received now answers no command: RFC 5321 §4.2 gives one reply per
    /// command and RFC 2920 §3.1 keeps a flight's replies in order. Taking
    /// it for the next command's reply would pair every later reply with
    /// the wrong command (a refused RCPT reported as accepted), so the
    /// session ends here, as Postfix does ("unexpected server reply").
    fn refuse_unsolicited(&mut self, bytes: &[u8], wait: Wait) -> Result<(), ProtocolError> {
        if self.inbox.is_empty() {
            return Ok(());
        }
        self.transcript.server(&self.inbox);
        let mut received = String::from_utf8_lossy(&self.inbox).into_owned();
        if let Some((cut, _)) = received.char_indices().nth(QUOTE_LIMIT) {
            received.truncate(cut);
        }
        let before = if wait == Wait::DataBlock {
            "message data".to_string()
        } else {
            let line = bytes.split(|&b| b == b' ' || b == b'\r').next();
            String::from_utf8_lossy(line.unwrap_or_default()).into_owned()
        };
        Err(ProtocolError::UnexpectedServerReply {
            before,
            received: received.trim_end().to_string(),
        })
    }

    /// After a failed write: the server may have answered and closed first
    /// (RFC 5321 §3.8 and §4.1.1.4: a 552 in the middle of the data, a 554
    /// before closing). That reply, not "broken pipe", is the news, so it is
    /// read for a short while and handed to the machine as the answer to
    /// the oldest command still owed one; the machine keeps it (e.g. as the
    /// reply to the end of data) for `Transaction::report_after_failure`.
    fn poll_last_word<M: Machine>(
        &mut self,
        machine: &mut M,
        now: Instant,
    ) -> Result<Action, SendError> {
        let reply = match self.parse_reply() {
            Ok(Some(reply)) => Some(reply),
            Ok(None) if !self.eof => {
                if self.deadline.is_none() {
                    self.arm(now, "the reply to a command", LAST_WORD_GRACE);
                }
                return Ok(Action::Read);
            }
            Ok(None) | Err(_) => None,
        };
        self.deadline = None;
        let Some(write_error) = self.last_word.take() else {
            return Err(TransportError::Closed.into());
        };
        // A reply that ends the session by itself (e.g. a 421) is the error.
        match reply.map(|reply| machine.on_reply(reply)) {
            Some(Err(from_reply)) => Err(from_reply.into()),
            _ => Err(write_error),
        }
    }
}
