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
pub use tls::TlsUpgrade;

/// `config` with its rustls configuration built once, so that many
/// connections share it (the queue runner's do), and so that a bad CA file
/// is reported before the first message rather than at each connection.
///
/// - [`TlsMode::Opportunistic`] (RFC 7435, the default between MTAs): any
///   certificate is accepted; encryption without authentication beats
///   plain text, and a failed check would only make it fall back to plain.
/// - `insecure_skip_verify`: any certificate, as asked.
/// - Otherwise verified, with the system's roots plus `ca_file`.
/// - [`TlsMode::None`], or a `tls_config` already given: as it is.
pub fn with_shared_tls(mut config: ClientConfig) -> Result<ClientConfig, SendError> {
    if config.tls == TlsMode::None || config.tls_config.is_some() {
        return Ok(config);
    }
    let tls = if config.tls == TlsMode::Opportunistic || config.insecure_skip_verify {
        smtp_io::tls::dangerous::client_config_accepting_any_certificate()
            .map_err(|e| ProtocolError::Config(format!("setting up TLS: {e}")))?
    } else {
        tls::client_config(&config)?
    };
    config.tls_config = Some(tls);
    config.ca_file = None;
    config.insecure_skip_verify = false;
    Ok(config)
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
