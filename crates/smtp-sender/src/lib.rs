//! # smtp-sender: the Sender-SMTP
//!
//! The left-hand box of RFC 5321's picture: it takes a message, opens a
//! connection to a Receiver-SMTP (plain, STARTTLS or implicit TLS), holds the
//! conversation and reports, recipient by recipient, what the server said.
//! What `smtplib.SMTP` / `SMTP_SSL` + `login` + `sendmail` are to Python,
//! and what lettre's `AsyncSmtpTransport` is to Rust (see `docs/sender.md`
//! for the two side by side).
//!
//! ```no_run
//! # async fn demo() -> Result<(), smtp_sender::SendError> {
//! use smtp_sender::{Client, ClientConfig, Credentials, Envelope};
//!
//! let config = ClientConfig::builder("mail.example.com", 587) // STARTTLS, required
//!     .credentials(Credentials::new("alice", "s3cret"))
//!     .build();
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
//! | where | role |
//! |---|---|
//! | `smtp-sender-core` | the protocol, sans-IO: the machines (handshake, transaction, QUIT), the plan, the connection-level machine (reply matching, deadlines, injection and unsolicited-reply checks, transcript), the envelope, the report, the errors |
//! | [`Client`] (`src/client.rs`, `src/client/drive.rs`) | the tokio driver: opens TCP or takes a stream, writes what the core says, reads into it, does the TLS handshake when told, sleeps until its deadline |
//! | `src/tls.rs` | rustls: the caller's configuration, or the system's roots plus a CA file, or the dangerous accept-any one; certificate errors in words |
//! | [`ClientConfig`] | where to connect and how (builder: [`ClientConfig::builder`]) |
//! | `src/main.rs`, `src/cli/` | the `smtp-send` binary (feature `cli`, on by default) |
//!
//! Every byte written or parsed goes through `smtp-wire`: commands are
//! serialized by [`smtp_wire::command::Command`], replies parsed by
//! [`smtp_wire::ReplyParser`], content dot-stuffed as RFC 5321 §4.5.2 says,
//! and the conversation recorded in a [`Transcript`] (with `AUTH` secrets
//! redacted).

mod client;
mod config;
mod envelope;
pub mod outbound;
mod tls;

pub use client::{Client, Transport, send_mail};
pub use config::{ClientConfig, ClientConfigBuilder};
pub use envelope::EnvelopeFromHeaders;

/// The rustls configuration [`Client`] would build for `config` (system
/// roots plus `ca_file`, certificate errors in words), built once so that
/// many connections can share it through [`ClientConfig::tls_config`], as
/// the queue runner's do.
pub fn outbound_tls_config(
    config: &ClientConfig,
) -> Result<std::sync::Arc<rustls::ClientConfig>, SendError> {
    tls::client_config(config)
}

/// The rustls this crate speaks ([`ClientConfig::tls_config`] takes its
/// `ClientConfig`).
pub use rustls;
pub use smtp_sender_core::{
    Capabilities, Credentials, Dsn, Envelope, ForwardPath, Mechanism, Outcome, ProtocolError,
    RecipientDsn, RecipientReport, Reply, ReplyError, Report, ReversePath, SILENCE_LIMIT,
    SendError, ServerInfo, Timeouts, TlsError, TlsMode, Transcript, TranscriptLimits,
    TransportError,
};
