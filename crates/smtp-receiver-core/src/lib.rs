//! # smtp-receiver-core: the Receiver-SMTP, sans IO
//!
//! The protocol of the receiving side (RFC 5321 with PIPELINING, SIZE,
//! 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, CHUNKING, STARTTLS and AUTH) as
//! a state machine that never touches a socket, a clock, a file or a
//! thread: bytes and the time go in, replies, events and deadlines come
//! out. It depends on `smtp-wire` and `memchr` only, so the compiler
//! guarantees it: there is no tokio here to call. The `smtp-receiver` crate
//! drives it over tokio; anything else can (a test, a fuzzer, another
//! runtime).
//!
//! | module | what |
//! |---|---|
//! | [`session`] | the [`Session`]: command order, replies, AUTH, DATA/BDAT, timeouts, shutdown |
//! | [`config`] | [`SessionConfig`]: limits, timeouts, recipients, AUTH policy |
//! | [`replies`] | every reply the session sends, with its RFC |
//! | [`trace`] | `Return-Path:` / `Received:` lines, queue ids, RFC 5322 dates |
//!
//! Drive it by hand to see the exchange (this is what the tokio driver
//! does, with sockets around it):
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Instant, SystemTime};
//! use smtp_receiver_core::config::{RecipientPolicy, SessionConfig};
//! use smtp_receiver_core::{ConnectionInfo, Event, ListenerKind, Session};
//!
//! let mut config = SessionConfig::new("mx.example.org");
//! config.recipients = RecipientPolicy::domains(["example.org"]);
//! let info = ConnectionInfo::new(
//!     "192.0.2.1:40000".parse().unwrap(),
//!     "192.0.2.2:25".parse().unwrap(),
//!     ListenerKind::Plain,
//! );
//! let mut session = Session::new(Arc::new(config), info);
//! let (now, wall) = (Instant::now(), SystemTime::now()); // the driver reads the clocks
//! let input = b"EHLO client.example\r\nNOOP\r\n";
//! let mut body = Vec::new();
//! let mut used = 0;
//! loop {
//!     let (n, event) = session.poll(&input[used..], &mut body, now, wall);
//!     used += n;
//!     match event {
//!         Event::Ask(_) => session.answer(Ok(())), // the application says yes
//!         Event::NeedMore => break,
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! let output = String::from_utf8(session.take_output()).unwrap();
//! assert!(output.starts_with("220 mx.example.org"));
//! assert!(output.contains("250-PIPELINING\r\n"));
//! assert!(output.ends_with("250 2.0.0 OK\r\n"));
//! // Waiting for the next command: five minutes (RFC 5321 §4.5.3.2.7).
//! assert_eq!(session.poll_timeout(), Some(now + std::time::Duration::from_secs(300)));
//! ```
//!
//! ## Invariants
//!
//! * No IO and no clock: no `tokio`, `std::net` sockets, `std::fs`,
//!   `std::process`, `std::thread`, `std::env`, `Instant::now` or
//!   `SystemTime::now` outside tests (a workspace test checks it).
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
mod message;
pub mod replies;
pub mod session;
pub mod trace;

pub use config::{AuthPolicy, DATA_BLOCK, Limits, RecipientPolicy, SessionConfig, Timeouts};
pub use connection::{ConnectionInfo, ListenerKind};
pub use envelope::{Envelope, Recipient};
pub use session::{Abort, Event, Request, Session};
pub use smtp_wire::Reply;
pub use smtp_wire::param::{MailParams, RcptParams};
pub use smtp_wire::path::{Domain, ForwardPath, ReversePath};
pub use smtp_wire::sasl::{Credentials, Mechanism};

#[cfg(test)]
mod tests;
