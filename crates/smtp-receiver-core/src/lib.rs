//! # smtp-receiver-core: the Receiver-SMTP, sans IO
//!
//! The protocol of the receiving side (RFC 5321 with PIPELINING, SIZE,
//! 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING, STARTTLS and AUTH) as
//! a state machine that never touches a socket, a clock, a file or a
//! thread: bytes and the time go in, replies, events and deadlines come
//! out. It depends on `smtp-wire` and `memchr` only, so the compiler
//! guarantees it: there is no async runtime here to call. The
//! `smtp-receiver` crate drives it; anything else can (a test, a fuzzer,
//! another runtime).
//!
//! | module | what |
//! |---|---|
//! | [`session`] | the [`Session`]: command order, replies, AUTH, DATA/BDAT, timeouts, shutdown |
//! | [`config`] | [`SessionConfig`]: limits, timeouts, recipients, content and AUTH policy |
//! | [`replies`] | every reply the session sends, with its RFC |
//! | [`trace`] | `Return-Path:` / `Received:` lines, queue ids, RFC 5322 dates |
//!
//! Driving it is a loop: give it the bytes read so far and the time,
//! write what it queues, answer its questions (`tests/by_hand.rs` is this
//! loop, with assertions):
//!
//! ```text
//! poll(input, body, now, wall) ─▶ Ask(Hello { c.example })   ─▶ answer(Ok(()))
//!                              ─▶ NeedMore                   ─▶ write take_output(): "220 ...", "250-..."
//!                                                               read more, but not past poll_timeout()
//!                              ─▶ Message(envelope), Body, BodyEnd ─▶ finish_message(Ok(()))
//! deadline passed              ─▶ handle_timeout(now)        ─▶ "421 4.4.2 ..." and Close
//! ```
//!
//! ## Invariants
//!
//! * No IO and no clock: no networking, files, processes, threads or
//!   environment, and no reading of either clock outside tests; addresses
//!   are `core::net` values (a workspace test checks the sources).
//! * Replies leave in the order of the commands, exactly one per command
//!   (RFC 2920), from one output queue.
//! * A `250` to a message is given only once the application accepted it
//!   after reading all of it (RFC 5321 §6.1).
//! * Memory is bounded whatever the client sends: lines, queued replies
//!   and message pieces all have limits.

mod auth;
pub mod config;
mod connection;
mod content;
mod envelope;
mod line_ends;
mod message;
pub mod replies;
pub mod session;
pub mod trace;

pub use config::{
    AuthPolicy, ContentPolicy, DATA_BLOCK, Limits, RecipientPolicy, SessionConfig, Timeouts,
};
pub use connection::{ConnectionInfo, ListenerKind};
pub use envelope::{Envelope, Recipient};
pub use session::{Abort, Event, Request, Session};
pub use smtp_wire::Reply;
pub use smtp_wire::param::{MailParams, RcptParams};
pub use smtp_wire::path::{Domain, ForwardPath, ReversePath};
pub use smtp_wire::sasl::{Credentials, Mechanism};
pub use trace::{DsnRequests, QueueId, TraceInput};

#[cfg(test)]
mod tests;
