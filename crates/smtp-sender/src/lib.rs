//! # smtp-sender: the Sender-SMTP
//!
//! The left-hand box of RFC 5321's picture: it takes a message, opens a
//! connection to a Receiver-SMTP (plain, STARTTLS or implicit TLS), holds the
//! conversation and reports, recipient by recipient, what the server said.
//! What `smtplib.SMTP` / `SMTP_SSL` + `login` + `sendmail` are to Python.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smtp_sender::SendError> {
//! use smtp_sender::{Client, ClientConfig, Credentials, Envelope};
//!
//! let mut config = ClientConfig::new("mail.example.com", 587); // STARTTLS, required
//! config.credentials = Some(Credentials::new("alice", "s3cret"));
//! let mut client = Client::connect(config).await?;
//!
//! let envelope = Envelope::new("alice@example.com", &["bob@example.org", "carol@example.net"])?;
//! let report = client.send(&envelope, b"Subject: hello\r\n\r\nHi!\r\n").await?;
//! for r in &report.recipients {
//!     println!("{} {}: {}", r.outcome, r.recipient, r.reply);
//! }
//! client.quit().await?;
//! # Ok(()) }
//! ```
//!
//! ## Layout
//! | module | role |
//! |---|---|
//! | [`client`] | the sans-IO protocol machines: handshake, transaction, quit |
//! | [`connection`] | the thin tokio driver: sockets, timeouts, TLS upgrade |
//! | [`tls`] | rustls configuration and certificate error reporting |
//! | [`auth`] | AUTH PLAIN / LOGIN |
//! | [`envelope`], [`report`], [`error`], [`config`] | the typed API |
//!
//! Every byte written or parsed goes through `smtp-wire`: commands are
//! serialized by [`smtp_wire::command::Command`], replies parsed by
//! [`smtp_wire::ReplyParser`], content dot-stuffed by
//! [`smtp_wire::DotStuffer`], and the conversation recorded in a
//! [`smtp_wire::Transcript`] (with `AUTH` secrets redacted).

pub mod auth;
pub mod client;
pub mod config;
pub mod connection;
pub mod envelope;
pub mod error;
pub mod report;
mod sampling;
mod stream;
pub mod tls;

pub use config::{ClientConfig, Credentials, Timeouts, TlsMode};
pub use connection::{Client, send_mail};
pub use envelope::Envelope;
pub use error::SendError;
pub use report::{Outcome, RecipientReport, Report};
pub use tls::TlsError;

pub use smtp_wire::{Reply, Transcript};
