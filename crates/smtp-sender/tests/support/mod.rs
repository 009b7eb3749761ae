//! Shared test helpers: a scripted-reply runner for the sans-IO machines,
//! certificates generated at test time, a misbehaving TLS test server,
//! Python's smtpd as an independent peer, and a fast pipelining sink.
#![allow(dead_code)]

pub mod certs;
pub mod python;
pub mod script;
pub mod server;
pub mod sink;
