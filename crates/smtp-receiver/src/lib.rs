//! # smtp-receiver: an embeddable Receiver-SMTP
//!
//! The right-hand box of the RFC 5321 diagram: it accepts connections,
//! holds the conversation, accepts or refuses each step, and puts accepted
//! mail into the file system (a Maildir) without ever losing a message it
//! said 250 to. A library first (like go-smtp's server or aiosmtpd), the
//! `smtp-receive` binary second (feature `cli`, on by default; without it
//! the library pulls in no command-line crates).
//!
//! | module | what |
//! |---|---|
//! | [`session`] | the sans-IO state machine, from `smtp-receiver-core`: command order, replies, AUTH, DATA/BDAT, timeouts, trace headers |
//! | [`handler`] | the [`Backend`] and [`Handler`] traits the application implements |
//! | [`server`] | the tokio driver: listeners, TLS (STARTTLS and implicit), limits, shutdown |
//! | [`maildir`] | Maildir delivery, the default handler |
//! | [`sink`] | a handler that stores nothing (benchmarks) |
//! | [`users`] | a user/password table for AUTH |
//! | [`rules`] | reply rules: fault injection per stage and address |
//! | [`config`] | configuration with safe defaults, and its builder |
//!
//! ## Embedding
//!
//! ```
//! use smtp_receiver::config::{RecipientPolicy, ServerConfig};
//! use smtp_receiver::{Envelope, Handler, MessageBody, Reply, Server};
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! /// Keeps the subject line of every message.
//! #[derive(Clone, Default)]
//! struct Subjects(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
//!
//! impl Handler for Subjects {
//!     async fn data(&mut self, _: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
//!         let mut message = Vec::new();
//!         while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
//!             message.extend_from_slice(chunk);
//!         }
//!         let text = String::from_utf8_lossy(&message);
//!         if let Some(line) = text.lines().find(|l| l.starts_with("Subject:")) {
//!             self.0.lock().unwrap().push(line.to_string());
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::builder("mx.example.org")
//!     .listen_plain("127.0.0.1:0".parse()?)                     // port 0: any free port
//!     .recipients(RecipientPolicy::domains(["example.org"]))
//!     .on_transcript(|_info, transcript| eprint!("{}", transcript.render()))
//!     .build();
//!
//! let handler = Subjects::default();
//! let server = Server::bind(config, handler.clone()).await?;   // cloned per connection
//! let addr = server.local_addrs()[0].addr;
//! let shutdown = server.shutdown_handle();
//! let running = tokio::spawn(server.run());
//!
//! // A client, by hand (smtp-sender does this properly).
//! let mut client = BufReader::new(tokio::net::TcpStream::connect(addr).await?);
//! client.write_all(b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n\
//!     RCPT TO:<b@example.org>\r\nDATA\r\n").await?;
//! let mut line = String::new();
//! while !line.starts_with("354") {
//!     line.clear();
//!     client.read_line(&mut line).await?;
//! }
//! client.write_all(b"Subject: hello\r\n\r\nHi!\r\n.\r\nQUIT\r\n").await?;
//! let mut rest = String::new();
//! while client.read_line(&mut rest).await? > 0 {}
//! assert!(rest.contains("250 2.0.0 Ok: queued as"));
//!
//! shutdown.shutdown();
//! running.await??;
//! assert_eq!(*handler.0.lock().unwrap(), ["Subject: hello"]);
//! # Ok(()) }
//! ```
//!
//! `examples/print.rs` and `examples/sqlite.rs` are complete receivers to
//! copy; docs/receiver.md compares this API with go-smtp's.

pub mod config;
#[cfg(feature = "forward")]
pub mod forward;
pub mod handler;
#[cfg(feature = "inbox")]
pub mod inbox;
pub mod maildir;
pub mod network;
pub mod rules;
pub mod server;
pub mod sink;
pub mod users;

/// The sans-IO session, re-exported from `smtp-receiver-core`.
pub use smtp_receiver_core as session;

pub use config::{
    AuthPolicy, AuthThrottle, ContentPolicy, Limits, Listen, RecipientPolicy, ServerConfig,
    ServerConfigBuilder, SessionConfig, SessionHook, Timeouts, TranscriptHook,
};
pub use handler::{Backend, Handler};
pub use maildir::{Delivery, Maildir, MaildirError, MaildirHandler};
/// The TLS library of [`ServerConfig::tls`], re-exported so that its types
/// match the ones this crate was built with.
pub use rustls;
pub use server::{
    Accepted, BodyError, BoundListener, Listener, MessageBody, NO_ADDRESS, Outcome, Server,
    ServerError, SessionRecord, ShutdownHandle,
};
pub use sink::SinkHandler;
pub use smtp_io::TlsError;
pub use smtp_receiver_core::{
    ConnectionInfo, Credentials, Domain, Envelope, ForwardPath, ListenerKind, MailParams,
    Mechanism, RcptParams, Recipient, Reply, ReversePath,
};
pub use smtp_wire::Transcript;
pub use users::{Users, UsersError, WithUsers};
