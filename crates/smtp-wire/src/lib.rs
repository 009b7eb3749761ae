//! # smtp-wire: the SMTP wire codec, sans-IO
//!
//! Everything that turns SMTP bytes into values and back, with no sockets, no
//! async runtime, no TLS and no clock. Both halves of the workspace
//! (`smtp-sender` and `smtp-receiver`) use it for every byte they write or
//! parse, so a rule lives here once.
//!
//! | module | what it does | RFC |
//! |---|---|---|
//! | [`command`] | parse and serialize every command | RFC 821 §4.1, RFC 5321 §4.1 |
//! | [`path`] | mailboxes, domains, address literals, reverse- and forward-paths | RFC 5321 §4.1.2 |
//! | [`param`] | typed MAIL/RCPT parameters, xtext | RFC 1870, 6152, 3030, 6531, 4954, 3461 |
//! | [`capability`] | typed EHLO keywords, both directions | RFC 5321 §4.1.1.1 |
//! | [`reply`] | replies, enhanced status codes, explanations | RFC 5321 §4.2, RFC 3463, RFC 2034 |
//! | [`line`] | incremental command-line framing with limits | RFC 5321 §2.3.8, §4.5.3.1 |
//! | [`data`] | DATA dot-stuffing encoder / decoder, BDAT chunks | RFC 5321 §4.5.2, RFC 3030 |
//! | [`sasl`] | AUTH PLAIN, LOGIN, OAUTHBEARER and XOAUTH2, client and server, one `Credentials`, the `ServerMechanism` trait | RFC 4954, RFC 4616, RFC 7628 |
//! | [`date`] | RFC 5322 and RFC 3339 dates from a given time | RFC 5322 §3.3, RFC 3339 |
//! | [`transcript`] | what crossed the wire, as `C:` / `S:` lines | — |
//! | [`annotate`] | a note per transcript line: the step and its RFC section | all of the above |
//!
//! The decoders follow one pattern: the caller owns the input buffer, a
//! decoder looks at `&[u8]` and says how many bytes it consumed; "need more
//! bytes" is a status, never an error.
//!
//! ```
//! use smtp_wire::command::Command;
//! let cmd = Command::parse(b"rcpt to:<user@example.com>").unwrap();
//! assert_eq!(cmd.to_string(), "RCPT TO:<user@example.com>");
//! ```

pub mod annotate;
pub mod capability;
pub mod command;
pub mod data;
pub mod date;
pub mod line;
pub mod param;
pub mod path;
pub mod reply;
pub mod sasl;
pub mod transcript;

pub use capability::{Capabilities, Capability};
pub use command::{Command, CommandError};
pub use data::{BdatReader, DataDecoder, DataProgress, DataStats, DotStuffer, MAX_TEXT_LINE};
pub use line::{LineDecoder, LineEvent, MAX_COMMAND_LINE};
pub use param::{
    Body, MailParams, Notify, Orcpt, Param, ParamError, RcptParams, Ret, xtext_decode, xtext_encode,
};
pub use path::{
    AddressLiteral, Domain, ForwardPath, MAX_DOMAIN, MAX_LOCAL_PART, MAX_PATH, Mailbox, PathError,
    ReversePath,
};
pub use reply::{EnhancedCode, Reply, ReplyError, ReplyParser, explain_code};
pub use transcript::TranscriptLimits;
pub use transcript::{Direction, Event, Transcript, TranscriptLine};
