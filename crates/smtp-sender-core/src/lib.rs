//! # smtp-sender-core: the Sender-SMTP protocol, sans-IO
//!
//! Read this crate to learn the client's side of SMTP. It has no sockets,
//! no clock, no async runtime: it depends on `smtp-wire` alone (and
//! `thiserror`, `memchr`), so the compiler keeps it that way. The async
//! driver in `smtp-sender` only moves bytes for it.
//!
//! | item | what it does | RFC |
//! |---|---|---|
//! | [`Handshake`] | implicit TLS, greeting, EHLO / HELO fallback, STARTTLS, AUTH | RFC 5321 §3.1–3.2, RFC 3207, RFC 4954, RFC 8314 |
//! | [`Transaction`] | MAIL, RCPT..., DATA or BDAT, per-recipient results | RFC 5321 §3.3, RFC 2920, RFC 3030 |
//! | [`UntilWritten`], [`Handover`] | the next transaction's commands right after a message's final dot, one round trip per message | RFC 2920 §3.1 |
//! | [`Quit`] | QUIT | RFC 5321 §4.1.1.10 |
//! | [`plan()`] | before anything is sent: SIZE, 8BITMIME, SMTPUTF8, PIPELINING, CHUNKING | RFC 1870, 6152, 6531, 2920, 3030 |
//! | [`Message`] | the content with CRLF line ends only, by construction | RFC 5321 §2.3.8 |
//! | [`Connection`] | bytes in, bytes out: reply matching, unsolicited replies, the STARTTLS injection check, the timeouts as deadlines, RSET and courtesy-QUIT decisions, the transcript | RFC 5321 §4.2, §4.5.3.2, RFC 2920 §3.1, RFC 3207 §4.2 |
//! | [`Envelope`], [`Report`], [`ProtocolError`], [`TransportError`], [`SendError`] | the typed vocabulary | |
//!
//! Each machine answers "what now?" with a [`Step`] (write these bytes,
//! read one reply, start TLS, done) and is told what happened
//! ([`Machine::on_reply`], [`Machine::on_tls_established`]). The
//! [`Connection`] runs a machine against the bytes the driver hands it:
//!
//! ```
//! use smtp_sender_core::{Machine, Quit, Step};
//! let mut quit = Quit::new();
//! assert!(matches!(quit.next_step(), Step::Send { ref bytes, .. } if bytes == b"QUIT\r\n"));
//! assert!(matches!(quit.next_step(), Step::ReadReply { .. }));
//! ```
//!
//! Every byte written or parsed goes through `smtp-wire`: commands are
//! serialized by [`smtp_wire::command::Command`], replies parsed by
//! [`smtp_wire::ReplyParser`], AUTH encoded by [`smtp_wire::sasl`], and the
//! conversation recorded in a [`smtp_wire::Transcript`] (with `AUTH`
//! secrets redacted).

mod connection;
mod envelope;
mod error;
mod handshake;
mod message;
mod plan;
mod quit;
mod report;
mod sampling;
mod settings;
mod step;
mod transaction;

pub use connection::{Action, Connection, Input};
pub use envelope::{
    Dsn, Envelope, RecipientDsn, parse_ehlo_name, parse_forward_path, parse_reverse_path,
    refuse_control_characters,
};
pub use error::{ProtocolError, SendError, TlsError, TransportError};
pub use handshake::{Handshake, HandshakeSettings, ServerInfo};
pub use message::{Message, canonical_message, headers_need_smtputf8};
pub use plan::{Plan, Preferences, plan};
pub use quit::Quit;
pub use report::{Outcome, RecipientReport, Report};
pub use settings::{SILENCE_LIMIT, Timeouts, TlsMode};
pub use step::{Machine, Step, Wait};
pub use transaction::{Handover, Transaction, UntilWritten};

pub use smtp_wire::sasl::{Credentials, Mechanism};
pub use smtp_wire::transcript::TranscriptLimits;
pub use smtp_wire::{
    Capabilities, Domain, ForwardPath, MailParams, Reply, ReplyError, ReversePath, Transcript,
};
