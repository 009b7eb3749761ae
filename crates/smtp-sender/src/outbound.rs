//! # Outbound delivery: the file system feeds the Sender-SMTP
//!
//! A spool directory that people and programs write into, and a queue
//! runner that delivers it: each recipient domain's mail exchangers found
//! in the DNS (RFC 5321 §5.1) or one relay, deferred recipients retried
//! on an exponential schedule, and delivery status notifications
//! (RFC 3464) sent back to the sender for failures, and on request
//! (RFC 3461) for delays and relays. `docs/outbound.md` is the guide.
//!
//! | module | what | IO |
//! |---|---|---|
//! | [`entry`](QueuedMessage) | the envelope record, recipient states, the retry schedule | none: time is a value |
//! | [`report`](Reporter) | the RFC 3464 report | none |
//! | [`route`](Router) | MX, implicit MX, null MX, relay | DNS (hickory-resolver) |
//! | [`next_hop`](NextHop) | `smtp:`, `lmtp:` and `lmtp:unix:` destinations | none |
//! | [`spool`](Spool) | crash-safe files, locks | files |
//! | [`runner`](QueueRunner) | passes, sessions, retries | network (via [`Client`](crate::Client)) |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::SystemTime;
//! use smtp_sender::outbound::{QueueRunner, Reporter, RetryPolicy, Router, RunnerConfig, Spool};
//! use smtp_sender::{ClientConfig, Envelope, TlsMode};
//!
//! let spool = Spool::open("/var/spool/smtp-send")?;
//! let envelope = Envelope::new("alice@example.com", &["bob@example.org"])?;
//! spool.enqueue(&envelope, b"Subject: hi\r\n\r\nHello\r\n", SystemTime::now())?;
//!
//! let config = RunnerConfig {
//!     router: Router::mx(None, 25)?,
//!     client: ClientConfig::builder("unused", 25).tls(TlsMode::Opportunistic).build(),
//!     retry: RetryPolicy::default(),
//!     per_destination: 20,
//!     max_connections: 100,
//!     reporter: Reporter { host: "mail.example.com".into() },
//! };
//! let summary = QueueRunner::new(spool, config).run_once(SystemTime::now(), false).await?;
//! println!("{summary}");
//! # Ok(()) }
//! ```

mod entry;
mod next_hop;
mod report;
mod route;
mod runner;
mod spool;

pub use entry::{
    Attempt, FORMAT, HISTORY, Malformed, QueuedMessage, QueuedRecipient, RecipientState,
    RetryPolicy, Verdict, parse_envid, parse_notify, parse_ret, time_of, unix,
};
pub use next_hop::{NextHop, NextHopError, host_and_port};
pub use report::{Action, Reporter, reports_due};
pub use route::{Exchanger, RouteError, Router, order_by_preference};
pub use runner::{PassSummary, QueueRunner, RunnerConfig};
pub use spool::{Locked, ORPHAN_AGE, Spool, SpoolError, SpoolWriter};
