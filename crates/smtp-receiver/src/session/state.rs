//! The Receiver-SMTP session as a sans-IO state machine.
//!
//! No sockets, no clocks of its own (except the wall clock for the
//! `Received:` date, which tests can replace), no async: bytes go in
//! through [`Session::poll`], replies come out of [`Session::take_output`],
//! and whatever needs the application comes out as an [`Event`] that the
//! driver answers. Reading this file is reading RFC 5321 §4.1.4 and §3.3:
//!
//! ```text
//!  connect ─220─▶ [fresh] ─EHLO/HELO─▶ [ready] ─MAIL─▶ [mail] ─RCPT─▶ [rcpt] ─DATA─354─▶ [body] ─<CRLF>.<CRLF>─▶ 250 ─▶ [ready]
//!                                        ▲                          │ ▲  │
//!                                        │                          └─┘  └─BDAT n─▶ [chunk] ─...─ BDAT n LAST ─▶ 250 ─▶ [ready]
//!                                        │                         RCPT
//!                                        └── RSET, EHLO/HELO: the transaction is cleared, from any state
//!  [ready] after EHLO ─STARTTLS─220─▶ TLS handshake ─▶ [fresh] (a new EHLO is required)
//!  anywhere: NOOP HELP VRFY EXPN RSET QUIT.   503 out of order · 500 unknown · 501 bad arguments · 502 SEND SOML SAML TURN
//! ```
//!
//! Replies are queued in order in one output buffer, so with PIPELINING
//! (RFC 2920) they can never be lost, duplicated or reordered; the driver
//! writes the buffer whenever the input is drained (RFC 2920 §3.1).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use smtp_wire::command::Command;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};
use smtp_wire::{BdatReader, LineDecoder, LineEvent, Reply};

use super::auth::{self, Credentials, Exchange};
use super::body::{Framing, Message, Reached};
use super::replies;
use super::trace::{self, QueueId, TraceInput};
use crate::config::SessionConfig;
use crate::handler::{ConnectionInfo, Envelope, Recipient};

mod commands;

use commands::{allowed_between_chunks, looks_like_bdat};

/// Above this many octets of queued replies the session asks the driver to
/// write them out before it reads more commands, so pipelined HELPs cannot
/// grow memory.
const OUTPUT_HIGH_WATER: usize = 16 * 1024;

/// A question for the application, answered with [`Session::answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// EHLO (`extended`) or HELO.
    Hello {
        /// The client's name.
        domain: Domain,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// AUTH completed a SASL exchange with these credentials.
    Auth(Credentials),
    /// MAIL FROM.
    Mail {
        /// The reverse-path.
        from: ReversePath,
        /// Its parameters.
        params: MailParams,
    },
    /// RCPT TO.
    Rcpt {
        /// The forward-path.
        to: ForwardPath,
        /// Its parameters.
        params: RcptParams,
    },
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// All input given was used: write the queued output, then read more.
    NeedMore,
    /// Much output is queued: write it, then poll again.
    Flush,
    /// Ask the application, then call [`Session::answer`].
    Ask(Request),
    /// A message starts (after `354`, or at the first BDAT chunk): call the
    /// application's `data`; its body arrives as [`Event::Body`] until
    /// [`Event::BodyEnd`]; then call [`Session::finish_message`].
    Message(Box<Envelope>),
    /// `body` holds message octets for the application.
    Body,
    /// The message body is complete.
    BodyEnd,
    /// The message was abandoned (RSET or QUIT between BDAT chunks, or the
    /// session is closing); the application must drop it.
    BodyAborted,
    /// The transaction was cleared: tell the application (`reset`).
    Reset,
    /// Write the queued output (the `220` to STARTTLS), discard any input
    /// already buffered (RFC 3207 §4.2, CVE-2011-0411), do the TLS handshake,
    /// then call [`Session::tls_established`].
    StartTls,
    /// Write the queued output and close the connection.
    Close,
}

/// The greeting the client gave.
#[derive(Debug, Clone)]
struct Hello {
    domain: Domain,
    extended: bool,
}

/// A mail transaction in progress (RFC 5321 §3.3).
#[derive(Debug, Clone)]
struct Transaction {
    from: ReversePath,
    params: MailParams,
    recipients: Vec<Recipient>,
}

/// What kind of input the session expects.
#[derive(Debug)]
enum Phase {
    /// Command lines.
    Commands,
    /// A SASL response line (RFC 4954 §4).
    Auth(Exchange),
    /// Message octets: a DATA body or a BDAT chunk.
    Body,
    /// The octets of a refused BDAT chunk, read and discarded before the
    /// reply (RFC 3030 §2: they must never be taken for commands).
    /// `counted`: the reply counts as a protocol error (it does not for the
    /// chunks of an already failed transfer, RFC 3030 §4).
    SkipChunk {
        reader: BdatReader,
        reply: Reply,
        counted: bool,
    },
    /// The body is complete; waiting for the application's verdict.
    AwaitVerdict,
    /// `220` to STARTTLS queued; waiting for the handshake.
    AwaitTls,
    /// The session is over.
    Closed,
}

/// One SMTP session, from greeting to close: the state machine described in
/// the [`session`](crate::session) module.
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    info: ConnectionInfo,
    clock: fn() -> SystemTime,
    phase: Phase,
    tls: bool,
    hello: Option<Hello>,
    authenticated: Option<String>,
    transaction: Option<Transaction>,
    message: Option<Message>,
    /// The reply that failed a BDAT transfer before its LAST chunk. RFC 3030
    /// §4: chunks the client had already pipelined are read, dropped and
    /// answered with the same reply, until BDAT ... LAST or another command.
    failed_bdat: Option<Reply>,
    pending: Option<Request>,
    events: VecDeque<Event>,
    out: Vec<u8>,
    commands: LineDecoder,
    auth_lines: LineDecoder,
    errors: u32,
    auth_failures: u32,
    progress: u64,
}

impl Session {
    /// A new session; the `220` greeting is already queued. `tls` is true
    /// for implicit-TLS connections (RFC 8314).
    pub fn new(config: Arc<SessionConfig>, info: ConnectionInfo, tls: bool) -> Session {
        let commands = LineDecoder::new(config.limits.command_line);
        let auth_lines = LineDecoder::new(config.limits.auth_line);
        let mut session = Session {
            config,
            info,
            clock: SystemTime::now,
            phase: Phase::Commands,
            tls,
            hello: None,
            authenticated: None,
            transaction: None,
            message: None,
            failed_bdat: None,
            pending: None,
            events: VecDeque::new(),
            out: Vec::with_capacity(512),
            commands,
            auth_lines,
            errors: 0,
            auth_failures: 0,
            progress: 0,
        };
        session.send(replies::greeting(&session.config.hostname));
        session
    }

    /// Replaces the wall clock used for the `Received:` date (tests).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Session {
        self.clock = clock;
        self
    }

    /// The application refused the connection: `reply` replaces the
    /// greeting and the session closes.
    pub fn refuse(&mut self, reply: Reply) {
        self.out.clear();
        self.send(reply);
        self.phase = Phase::Closed;
    }

    /// Consumes input and says what to do next. Returns how many octets of
    /// `input` were used; the caller keeps the rest and passes it again
    /// (with more appended) next time. Message octets for the application
    /// are appended to `body` (with [`Event::Body`]).
    pub fn poll(&mut self, input: &[u8], body: &mut Vec<u8>) -> (usize, Event) {
        let mut used = 0;
        loop {
            if let Some(event) = self.events.pop_front() {
                return (used, event);
            }
            if let Some(request) = &self.pending {
                return (used, Event::Ask(request.clone()));
            }
            let rest = &input[used..];
            let (n, event) = match &self.phase {
                Phase::Closed => (0, Some(Event::Close)),
                Phase::AwaitTls => (0, Some(Event::StartTls)),
                Phase::AwaitVerdict => (0, Some(Event::BodyEnd)),
                Phase::Commands | Phase::Auth(_) => self.read_line(rest),
                Phase::SkipChunk { .. } => self.skip_chunk(rest, body),
                Phase::Body => self.read_body(rest, body),
            };
            used += n;
            if let Some(event) = event {
                return (used, event);
            }
        }
    }

    /// The application's answer to the last [`Event::Ask`].
    pub fn answer(&mut self, verdict: Result<(), Reply>) {
        let Some(request) = self.pending.take() else {
            return;
        };
        match (request, verdict) {
            (Request::Hello { domain, extended }, Ok(())) => {
                let reply = if extended {
                    self.ehlo_reply(&domain)
                } else {
                    replies::helo(&self.config.hostname, &self.client_name(&domain))
                };
                self.hello = Some(Hello { domain, extended });
                self.send(reply);
            }
            (Request::Auth(credentials), Ok(())) => {
                self.authenticated = Some(credentials.username);
                self.send(replies::auth_ok());
            }
            (Request::Auth(_), Err(reply)) => {
                self.send(reply);
                self.auth_failures += 1;
                if self.auth_failures >= self.config.limits.auth_failures {
                    self.close_with(replies::too_many_auth_failures(&self.config.hostname));
                }
            }
            (Request::Mail { from, params }, Ok(())) => {
                self.transaction = Some(Transaction {
                    from,
                    params,
                    recipients: Vec::new(),
                });
                self.send(replies::mail_ok());
            }
            (Request::Rcpt { to, params }, Ok(())) => {
                if let Some(transaction) = self.transaction.as_mut() {
                    transaction.recipients.push(Recipient { to, params });
                }
                self.send(replies::rcpt_ok());
            }
            (_, Err(reply)) => self.send(reply),
        }
    }

    /// The application's `data` returned. The final reply is queued once
    /// the body has also been read to its end (the rest is discarded).
    ///
    /// RFC 5321 §6.1: the final 250 promises that the message is stored. An
    /// application that returns `Ok` before the body was read to its end
    /// (see [`message_fully_read`](Self::message_fully_read)) cannot have
    /// stored it: that `Ok` becomes `451 4.3.0`, so the client keeps the
    /// message and retries; a message is never acknowledged unread.
    pub fn finish_message(&mut self, verdict: Result<(), Reply>) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        message.handler_active = false;
        message.outcome = Some(match verdict {
            Ok(()) if !message.complete => Err(replies::local_error()),
            verdict => verdict,
        });
        if message.complete {
            self.finalize_message();
        }
    }

    /// The TLS handshake after STARTTLS succeeded. RFC 3207 §4.2: forget
    /// everything learnt from the client; it must send EHLO again.
    pub fn tls_established(&mut self) {
        self.tls = true;
        self.hello = None;
        self.authenticated = None;
        self.transaction = None;
        self.commands = LineDecoder::new(self.config.limits.command_line);
        self.phase = Phase::Commands;
        self.events.push_back(Event::Reset);
    }

    /// The client was too slow (RFC 5321 §4.5.3.2): 421 and close.
    pub fn timed_out(&mut self) {
        self.close_with(replies::timeout(&self.config.hostname));
    }

    /// The server is shutting down: 421 4.3.2 and close.
    pub fn shut_down(&mut self) {
        self.close_with(replies::shutting_down(&self.config.hostname));
    }

    /// Takes the queued reply octets, to be written to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Queued reply octets not yet taken.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Why the current message will be refused, once known. A driver
    /// streaming the body stops handing it to the application then.
    pub fn body_refusal(&self) -> Option<&Reply> {
        self.message.as_ref().and_then(|m| m.refusal.as_ref())
    }

    /// True while message octets are being read (DATA body or BDAT chunk).
    pub fn in_message(&self) -> bool {
        matches!(self.phase, Phase::Body | Phase::SkipChunk { .. })
    }

    /// True while a message is in flight: its octets are being read, the
    /// client is between two BDAT chunks (RFC 3030 §2), or the application
    /// has not given its verdict yet. A shutdown lets such a session use
    /// the grace period.
    pub fn in_transfer(&self) -> bool {
        self.message.is_some() || self.in_message()
    }

    /// True once the current message has been read to its end (or to the
    /// BDAT chunk at which it failed); false while more octets are to come.
    pub fn message_fully_read(&self) -> bool {
        self.message.as_ref().is_some_and(|m| m.complete)
    }

    /// True while a SASL exchange waits for the client's response line.
    pub fn in_auth(&self) -> bool {
        matches!(self.phase, Phase::Auth(_))
    }

    /// True once the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True inside TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Counts complete units of input (command lines, chunks, bodies): the
    /// driver restarts its per-command deadline whenever this changes.
    pub fn progress(&self) -> u64 {
        self.progress
    }

    // ----- input dispatch -------------------------------------------------

    /// [`Phase::Commands`] and [`Phase::Auth`]: the next command or SASL line.
    fn read_line(&mut self, input: &[u8]) -> (usize, Option<Event>) {
        if self.out.len() >= OUTPUT_HIGH_WATER {
            return (0, Some(Event::Flush));
        }
        let decoder = match self.phase {
            Phase::Auth(_) => &mut self.auth_lines,
            _ => &mut self.commands,
        };
        let (n, line) = decoder.decode(input);
        match line {
            LineEvent::NeedMore => return (n, Some(Event::NeedMore)),
            LineEvent::TooLong => {
                self.progress += 1;
                self.line_too_long();
            }
            LineEvent::Line { line, bare_lf } => {
                self.progress += 1;
                self.on_line(line, bare_lf);
            }
        }
        (n, None)
    }

    /// [`Phase::SkipChunk`]: reads and drops a refused chunk, then replies.
    fn skip_chunk(&mut self, input: &[u8], scratch: &mut Vec<u8>) -> (usize, Option<Event>) {
        let Phase::SkipChunk { reader, .. } = &mut self.phase else {
            return (0, None);
        };
        let before = scratch.len();
        let n = reader.read(input, scratch);
        scratch.truncate(before);
        if !reader.is_done() {
            return (n, (n == 0).then_some(Event::NeedMore));
        }
        self.progress += 1;
        if let Phase::SkipChunk { reply, counted, .. } =
            std::mem::replace(&mut self.phase, Phase::Commands)
        {
            if counted {
                self.error(reply);
            } else {
                self.send(reply);
            }
        }
        (n, None)
    }

    /// [`Phase::Body`]: message octets, for the application in `body`.
    fn read_body(&mut self, input: &[u8], body: &mut Vec<u8>) -> (usize, Option<Event>) {
        let Some(message) = self.message.as_mut() else {
            self.phase = Phase::Commands; // unreachable: Body always has a message
            return (0, None);
        };
        let limits = &self.config.limits;
        let before = body.len();
        let (n, reached) = message.read(input, body, limits);
        // RFC 1870 §6.2 asks to read an oversized message to its end before
        // the 552, but a client that goes on sending would hold the session
        // for ever: past twice the limit the session gives up. (BDAT never
        // gets here: a chunk that cannot fit is refused unread, see `bdat`.)
        if reached == Reached::More && message.size > limits.message_size.saturating_mul(2) {
            self.give_up_oversized("a message far beyond the size limit");
            return (n, None);
        }
        match reached {
            Reached::More => {}
            Reached::ChunkEnd { size } => {
                self.progress += 1;
                self.chunk_end(size);
            }
            Reached::End => {
                self.progress += 1;
                self.body_complete();
            }
        }
        if body.len() > before {
            return (n, Some(Event::Body));
        }
        if n == 0 && reached == Reached::More {
            return (n, Some(Event::NeedMore));
        }
        (n, None)
    }

    fn on_line(&mut self, line: &[u8], bare_lf: bool) {
        if let Phase::Auth(_) = self.phase {
            let Phase::Auth(exchange) = std::mem::replace(&mut self.phase, Phase::Commands) else {
                return;
            };
            if bare_lf {
                self.error(replies::bad_line(
                    "Bare LF not allowed (RFC 5321 section 2.3.8)",
                ));
            } else {
                self.auth_step(auth::respond(exchange, line));
            }
            return;
        }
        if bare_lf {
            // RFC 5321 §2.3.8: lines end with CRLF; a bare LF is refused,
            // never executed (receiver policy, docs/receiver.md).
            self.error(replies::bad_line(
                "Bare LF not allowed at the end of a command line (RFC 5321 section 2.3.8)",
            ));
            return;
        }
        match Command::parse(line) {
            Ok(command) => self.on_command(command),
            Err(error) => {
                self.error(error.reply());
                if looks_like_bdat(line) {
                    // RFC 3030 gives no way to find the end of a chunk whose
                    // size we could not read; its octets would be taken for
                    // commands, so the session cannot go on.
                    self.close_with(replies::cannot_resynchronize(
                        &self.config.hostname,
                        "an invalid BDAT command",
                    ));
                }
            }
        }
    }

    fn line_too_long(&mut self) {
        if let Phase::Auth(_) = self.phase {
            self.phase = Phase::Commands;
            // RFC 4954 §6: 500 5.5.6 Authentication Exchange line is too long.
            self.error(Reply::enhanced(
                500,
                smtp_wire::EnhancedCode::new(5, 5, 6),
                "Authentication exchange line is too long",
            ));
        } else {
            // RFC 5321 §4.5.3.1.4 and §4.2.2 (500 "command line too long").
            self.error(replies::bad_line("Line too long"));
        }
    }

    fn on_command(&mut self, command: Command) {
        if !matches!(command, Command::Bdat { .. }) {
            // RFC 3030 §4: only chunks already in the pipeline belong to a
            // failed transfer; any other command starts afresh.
            self.failed_bdat = None;
        }
        if self.message.is_some() && !allowed_between_chunks(&command) {
            // RFC 3030 §3: a BDAT transfer is ended by BDAT ... LAST or RSET.
            let reply = if command == Command::Data {
                replies::bad_sequence("DATA cannot be mixed with BDAT (RFC 3030 section 3)")
            } else {
                replies::bad_sequence("BDAT transfer in progress: send BDAT ... LAST or RSET")
            };
            self.error(reply);
            return;
        }
        match command {
            Command::Ehlo(domain) => self.hello(domain, true),
            Command::Helo(domain) => self.hello(domain, false),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => self.rset(),
            Command::Quit => {
                self.abort_message();
                self.send(replies::closing(&self.config.hostname));
                self.phase = Phase::Closed;
            }
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                self.auth(&mechanism, initial_response.as_deref());
            }
            Command::Noop(_) => self.send(replies::noop()),
            Command::Help(_) => self.send(replies::help()),
            Command::Vrfy(_) => self.send(replies::vrfy()),
            Command::Expn(_) => self.send(replies::expn()),
            // RFC 5321 §4.5.1 / Appendix F: obsolete RFC 821 commands.
            Command::Turn | Command::Send(_) | Command::Soml(_) | Command::Saml(_) => {
                self.error(replies::not_implemented(command.verb()));
            }
        }
    }

    // ----- messages -------------------------------------------------------

    fn begin_message(&mut self, framing: Framing) {
        let (Some(hello), Some(transaction)) = (&self.hello, &self.transaction) else {
            return; // unreachable: callers checked both
        };
        let now = (self.clock)();
        let id = QueueId::generate(now);
        let recipients: Vec<ForwardPath> = transaction
            .recipients
            .iter()
            .map(|r| r.to.clone())
            .collect();
        let utf8 = transaction.params.smtputf8;
        let protocol =
            trace::protocol_name(hello.extended, self.tls, self.authenticated.is_some(), utf8);
        let trace = trace::trace_headers(&TraceInput {
            helo: &hello.domain,
            peer: self.info.peer.ip(),
            hostname: &self.config.hostname,
            protocol,
            id: &id,
            from: &transaction.from,
            recipients: &recipients,
            record_recipients: self.config.record_recipients,
            now,
        });
        let envelope = Envelope {
            id: id.to_string(),
            from: transaction.from.clone(),
            mail_params: transaction.params.clone(),
            recipients: transaction.recipients.clone(),
            helo: hello.domain.clone(),
            peer: self.info.peer,
            tls: self.tls,
            authenticated: self.authenticated.clone(),
            received_at: now,
            trace: trace.clone(),
        };
        self.message = Some(Message::new(id.to_string(), trace, framing));
        self.phase = Phase::Body;
        self.events.push_back(Event::Message(Box::new(envelope)));
    }

    fn chunk_end(&mut self, size: u64) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        if message.failed() {
            // RFC 3030 §4: a 4xx/5xx reply to any chunk fails the whole
            // transaction, so a refusal is given at once. A success is only
            // ever given to the LAST chunk (RFC 3030 §2), once the
            // application has stored the whole message.
            return self.body_complete();
        }
        message.framing = Framing::BetweenChunks;
        self.phase = Phase::Commands;
        self.send(replies::chunk_ok(size));
    }

    fn body_complete(&mut self) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        message.complete = true;
        if message.handler_active {
            self.phase = Phase::AwaitVerdict;
            self.events.push_back(Event::BodyEnd);
        } else {
            self.finalize_message();
        }
    }

    fn finalize_message(&mut self) {
        let Some(message) = self.message.take() else {
            return;
        };
        let reply = message.final_reply();
        if matches!(message.framing, Framing::Bdat { last: false, .. }) {
            // RFC 3030 §4: the transfer failed before its LAST chunk; the
            // receiver "MUST be prepared to accept and discard additional
            // BDAT chunks already in the pipeline after the failed BDAT".
            self.failed_bdat = Some(reply.clone());
        }
        self.send(reply);
        self.transaction = None;
        self.phase = Phase::Commands;
        self.events.push_back(Event::Reset);
    }

    fn abort_message(&mut self) {
        if let Some(message) = self.message.take()
            && message.handler_active
        {
            self.events.push_back(Event::BodyAborted);
        }
    }

    /// Message octets that cannot be read to their end within reason (a
    /// BDAT chunk that cannot fit the size limit, a DATA message far past
    /// it): `552 5.3.4` (RFC 1870 §6.2), then, since the rest of the octets
    /// would be read as commands, `421` and close.
    pub(super) fn give_up_oversized(&mut self, what: &str) {
        self.abort_message();
        self.transaction = None;
        self.send(replies::too_big(self.config.limits.message_size));
        self.close_with(replies::cannot_resynchronize(&self.config.hostname, what));
    }

    // ----- output ---------------------------------------------------------

    fn send(&mut self, reply: Reply) {
        // RFC 4954 §4: an empty challenge is `334 ` (with the space), which
        // Reply::write_to writes for any reply with no text.
        reply.write_to(&mut self.out);
    }

    /// A client error: reply, count it, and close after too many.
    fn error(&mut self, reply: Reply) {
        self.send(reply);
        self.errors += 1;
        if self.errors >= self.config.limits.errors && !self.is_closed() {
            self.close_with(replies::too_many_errors(&self.config.hostname));
        }
    }

    fn close_with(&mut self, reply: Reply) {
        if self.is_closed() {
            return;
        }
        self.abort_message();
        self.pending = None;
        self.send(reply);
        self.phase = Phase::Closed;
    }
}
