//! Tests of the conformance suites themselves: every case and check is run
//! against a correct in-process peer (it must pass) and against a peer with
//! the fault it targets (it must fail or warn), so none passes vacuously.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod chunking_peers;
mod cli_targets;
mod client_checks;
mod common;
mod judge_cli;
mod lmtp_peers;
mod refclient;
mod refserver;
mod relay_peers;
mod replay_cli;
mod reports;
mod server_cases;
mod smuggling_notes;
