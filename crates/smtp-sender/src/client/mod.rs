//! The Sender-SMTP protocol as sans-IO state machines: read this to learn
//! the exchange.
//!
//! No sockets, no clocks, no async. Each machine says what to do next
//! ([`Step`]: write bytes, read one reply, start TLS, done) and is told what
//! happened ([`Machine::on_reply`], [`Machine::on_tls_established`]). The
//! driver in [`crate::connection`] does the I/O; the tests drive the same
//! machines with scripted replies.
//!
//! | machine | what it does | RFC |
//! |---|---|---|
//! | [`Handshake`] | greeting, EHLO / HELO fallback, STARTTLS, AUTH | RFC 5321 §3.1–3.2, RFC 3207, RFC 4954 |
//! | [`Transaction`] | MAIL, RCPT..., DATA or BDAT, per-recipient results | RFC 5321 §3.3, RFC 2920, RFC 3030 |
//! | [`Quit`] | QUIT | RFC 5321 §4.1.1.10 |
//!
//! [`plan()`] decides, before anything is sent, which extensions a message
//! needs and whether the server offers them (SIZE, 8BITMIME, SMTPUTF8).
//!
//! ```
//! use smtp_sender::client::{Machine, Quit, Step};
//! let mut quit = Quit::new();
//! assert!(matches!(quit.next_step(), Step::Send { ref bytes, .. } if bytes == b"QUIT\r\n"));
//! assert!(matches!(quit.next_step(), Step::ReadReply { .. }));
//! ```

mod handshake;
mod plan;
mod quit;
mod step;
mod transaction;

pub(crate) use handshake::no_capabilities;
pub use handshake::{Handshake, HandshakeSettings, ServerInfo};
#[cfg(test)]
pub(crate) use plan::is_canonical;
pub use plan::{Plan, Preferences, canonical_message, headers_need_smtputf8, plan};
pub(crate) use plan::{plan_scanned, scan_content};
pub use quit::Quit;
pub use step::{Machine, Step, Wait};
pub use transaction::Transaction;
