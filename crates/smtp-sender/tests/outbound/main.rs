//! The outbound engine against a real DNS server (dnsmasq) and real
//! receivers on loopback: this project's receiver in-process (one per
//! exchanger address, 127.0.0.2, 127.0.0.3 ...), and Postfix's smtpd;
//! as a library (`engine`) and as `smtp-send enqueue` / `queue` (`cli`).
//! The clock is injected: retries are reached by passing a later time to
//! `run_once`, never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod engine;
mod fixtures;
