//! # smtp-conformance: conformance suites for other people's SMTP peers
//!
//! Two suites and a judge of recordings, usable from the `smtp-conform`
//! binary or embedded in another test harness:
//!
//! * [`server`]: point it at a server (`HOST:PORT`); about a hundred cases,
//!   each with a stable id, the RFC section, a requirement level
//!   ([`model::Level`]) and an outcome ([`model::Outcome`]). Failures come
//!   with the transcript lines that show them.
//! * [`client`]: a judging Receiver-SMTP; point a client at it, and every
//!   session is checked (CRLF, command order, pipelining, dot-stuffing, line
//!   lengths, 8-bit data, SIZE, TLS and AUTH order, QUIT). Scenarios make it
//!   misbehave on purpose to see how the client reacts.
//! * [`observe`]: the same client rules applied after the fact to a
//!   recorded session ([`smtp_wire::Transcript`], or its rendering read back
//!   from text), each finding on the transcript line it concerns, and a
//!   badge per session (`smtp-conform judge FILE`).
//!
//! A [`Report`] is written by [`output`] as text, JSON, JUnit XML, or one
//! self-contained HTML page with every case's annotated transcript.
//!
//! Every exchange is built and read with `smtp-wire`; raw bytes are used
//! only where a case must be malformed on purpose (smuggling, bare LF,
//! over-long lines).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use smtp_conformance::server::{ServerOptions, run};
//! let report = run(&ServerOptions::new("127.0.0.1:2525", "inbox@example.test")).await?;
//! println!("{}", smtp_conformance::output::text(&report, false));
//! std::process::exit(if report.conforms() { 0 } else { 1 });
//! # }
//! ```

pub mod client;
pub mod model;
pub mod observe;
pub mod output;
pub mod server;
pub mod tls;

pub use model::{CaseInfo, CaseResult, Level, Outcome, Report, Summary, Verdict};
