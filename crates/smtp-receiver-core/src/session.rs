//! The Receiver-SMTP session as a sans-IO state machine.
//!
//! No sockets, no clocks, no async: bytes and the time go in through
//! [`Session::poll`], replies come out of [`Session::take_output`],
//! whatever needs the application comes out as an [`Event`] that the
//! driver answers, and the one deadline that matters comes out of
//! [`Session::poll_timeout`]. Reading this file is reading RFC 5321 §4.1.4
//! and §3.3:
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

mod commands;
mod events;
mod input;
mod time;
mod transfer;

pub use events::{Abort, Event, Request};

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use smtp_wire::param::MailParams;
use smtp_wire::path::{Domain, ReversePath};
use smtp_wire::sasl::{Mechanism, ServerExchange};
use smtp_wire::{BdatReader, LineDecoder, Reply};

use crate::config::SessionConfig;
use crate::connection::{ConnectionInfo, ListenerKind};
use crate::envelope::Recipient;
use crate::message::Message;
use crate::replies;

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
    Auth(Mechanism, ServerExchange),
    /// A SASL response line for a mechanism the application added.
    AuthCustom(Mechanism, Box<dyn smtp_wire::sasl::MechanismExchange>),
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
    /// Waiting for the TLS handshake: on an implicit-TLS listener before
    /// anything else, or after the `220` to STARTTLS.
    AwaitTls { implicit: bool },
    /// The session is over.
    Closed,
}

/// One SMTP session, from greeting to close: the state machine described in
/// the [`session`](crate::session) module.
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    info: ConnectionInfo,
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
    /// The application's refusal of a bearer token, sent once the client
    /// has answered the error challenge (RFC 7628 §3.2.3).
    token_refusal: Option<Reply>,
    /// Junk commands since the session began or its last accepted message.
    junk: u32,
    /// The wall-clock time given with the current [`poll`](Self::poll):
    /// the date of a message that starts now.
    wall: SystemTime,
    timer: time::Timer,
}

impl Session {
    /// A new session for a connection. Its first event asks the
    /// application whether the client is welcome ([`Request::Connect`];
    /// on an implicit-TLS listener, after the handshake).
    pub fn new(config: Arc<SessionConfig>, info: ConnectionInfo) -> Session {
        let commands = LineDecoder::new(config.limits.command_line);
        let auth_lines = LineDecoder::new(config.limits.auth_line);
        let (phase, pending) = match info.listener {
            // RFC 8314 §3.3: TLS from the first byte.
            ListenerKind::ImplicitTls => (Phase::AwaitTls { implicit: true }, None),
            ListenerKind::Plain | ListenerKind::Lmtp => (Phase::Commands, Some(Request::Connect)),
        };
        Session {
            config,
            info,
            phase,
            tls: false,
            hello: None,
            authenticated: None,
            transaction: None,
            message: None,
            failed_bdat: None,
            pending,
            events: VecDeque::new(),
            out: Vec::with_capacity(512),
            commands,
            auth_lines,
            errors: 0,
            auth_failures: 0,
            token_refusal: None,
            junk: 0,
            wall: UNIX_EPOCH,
            timer: time::Timer::default(),
        }
    }

    /// Consumes input and says what to do next. Returns how many octets of
    /// `input` were used; the caller keeps the rest and passes it again
    /// (with more appended) next time. Message octets for the application
    /// are appended to `body` (with [`Event::Body`]).
    ///
    /// `now` is the monotonic time (deadlines start from it) and `wall` the
    /// wall-clock time (the date of a message that starts in this call).
    pub fn poll(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        now: Instant,
        wall: SystemTime,
    ) -> (usize, Event) {
        self.wall = wall;
        self.timer.start(now + self.config.timeouts.session);
        let mut used = 0;
        let event = loop {
            if let Some(event) = self.events.pop_front() {
                break event;
            }
            if let Some(request) = &self.pending {
                break Event::Ask(request.clone());
            }
            let rest = &input[used..];
            let (n, event) = match &self.phase {
                Phase::Closed => (0, Some(Event::Close)),
                // RFC 3207 §4.2: nothing sent before the handshake is read.
                Phase::AwaitTls { .. } => (
                    rest.len(),
                    Some(Event::StartTls {
                        discarded: rest.len(),
                    }),
                ),
                Phase::AwaitVerdict => (0, Some(Event::BodyEnd)),
                Phase::Commands | Phase::Auth(..) | Phase::AuthCustom(..) => self.read_line(rest),
                Phase::SkipChunk { .. } => self.skip_chunk(rest, body),
                Phase::Body => self.read_body(rest, body),
            };
            used += n;
            match event {
                Some(Event::NeedMore) if self.shutdown_due() => {
                    self.close_with(
                        replies::shutting_down(&self.config.hostname),
                        Abort::Shutdown,
                    );
                }
                Some(event) => break event,
                None => {}
            }
        };
        self.timer.input_used(used);
        self.arm_timer(&event, now);
        (used, event)
    }

    /// The application's answer to the last [`Event::Ask`].
    pub fn answer(&mut self, verdict: Result<(), Reply>) {
        let Some(request) = self.pending.take() else {
            return;
        };
        // RFC 5321 §3.8, §4.2.2: 421 is "closing transmission channel":
        // an application that answers it ends the session (a fault
        // injected by a test inbox, a server going away).
        if let Err(reply) = &verdict
            && reply.code == 421
            && request != Request::Connect
        {
            self.close_with(reply.clone(), Abort::Closed);
            return;
        }
        match (request, verdict) {
            (Request::Connect, Ok(())) => self.send(replies::greeting(&self.config.hostname)),
            (Request::Connect, Err(reply)) => {
                self.send(reply);
                self.phase = Phase::Closed;
            }
            (Request::Hello { domain, extended }, Ok(())) => {
                let reply = if extended {
                    self.ehlo_reply(&domain)
                } else {
                    replies::helo(&self.config.hostname, &self.client_name(&domain))
                };
                self.hello = Some(Hello { domain, extended });
                self.send(reply);
            }
            (Request::Auth { credentials, .. }, Ok(())) => {
                self.authenticated = Some(credentials.username);
                self.send(replies::auth_ok());
            }
            // RFC 7628 §3.2.2: a refused token is answered with an error
            // challenge first; the refusal follows the client's answer.
            (Request::Auth { mechanism, .. }, Err(reply))
                if mechanism.takes_token() && reply.is_permanent() =>
            {
                self.send(replies::auth_challenge(
                    &smtp_wire::sasl::oauth_error_challenge(),
                ));
                self.token_refusal = Some(reply);
                self.phase = Phase::Auth(mechanism, ServerExchange::TokenRefused);
            }
            (Request::Auth { .. }, Err(reply)) => self.auth_refused(reply),
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

    /// Sends the application's refusal of credentials, and closes after
    /// too many (RFC 4954 §4 leaves the limit to the server).
    fn auth_refused(&mut self, reply: Reply) {
        self.send(reply);
        self.auth_failures += 1;
        if self.auth_failures >= self.config.limits.auth_failures {
            self.close_with(
                replies::too_many_auth_failures(&self.config.hostname),
                Abort::Closed,
            );
        }
    }

    /// The TLS handshake succeeded. After STARTTLS, RFC 3207 §4.2: forget
    /// everything learnt from the client; it must send EHLO again. On an
    /// implicit-TLS listener the session now starts.
    pub fn tls_established(&mut self) {
        let Phase::AwaitTls { implicit } = self.phase else {
            return;
        };
        self.tls = true;
        self.phase = Phase::Commands;
        if implicit {
            self.pending = Some(Request::Connect);
            return;
        }
        self.hello = None;
        self.authenticated = None;
        self.transaction = None;
        self.commands = LineDecoder::new(self.config.limits.command_line);
        self.events.push_back(Event::Reset);
    }

    /// Takes the queued reply octets, to be written to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Queued reply octets not yet taken.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// True once the current message has been read to its end (or to the
    /// BDAT chunk at which it failed); false while more octets are to come.
    pub fn message_fully_read(&self) -> bool {
        self.message.as_ref().is_some_and(|m| m.complete)
    }

    /// True while a SASL exchange waits for the client's response line.
    pub fn in_auth(&self) -> bool {
        matches!(self.phase, Phase::Auth(..) | Phase::AuthCustom(..))
    }

    /// True once the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True inside TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// True while a message is in flight: its octets are being read, the
    /// client is between two BDAT chunks (RFC 3030 §2), or the application
    /// has not given its verdict yet. A shutdown lets such a session use
    /// the grace period.
    fn in_transfer(&self) -> bool {
        self.message.is_some() || matches!(self.phase, Phase::Body | Phase::SkipChunk { .. })
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
            self.close_with(
                replies::too_many_errors(&self.config.hostname),
                Abort::Closed,
            );
        }
    }

    /// Ends the session with `reply` (a message in flight is abandoned for
    /// reason `why`). While a TLS handshake is awaited nothing is sent: a
    /// plaintext reply would mean nothing to a client inside its handshake.
    fn close_with(&mut self, reply: Reply, why: Abort) {
        if self.is_closed() {
            return;
        }
        self.abort_message(why);
        self.pending = None;
        if !matches!(self.phase, Phase::AwaitTls { .. }) {
            self.send(reply);
        }
        self.phase = Phase::Closed;
    }
}
