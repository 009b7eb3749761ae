//! # smtp-testkit: what the workspace's tests share
//!
//! Not published; a dev-dependency of every crate with socket tests, and a
//! dependency of `xtask`.
//!
//! | module | what |
//! |---|---|
//! | [`certs`] | a throw-away PKI made with rcgen: a CA, server and client leaves, and the bad certificates (expired, wrong name, self-signed, unknown CA) |
//! | [`browser`] | headless Chromium through node and playwright-core, found or said missing |
//! | [`bins`] | this workspace's binaries built once (debug for tests, release for the bench) and found; `smtp-receive` started and its listeners read |
//! | [`client`] | a raw, scripted SMTP client for tests of a receiver: exact bytes out, whole replies in |
//! | [`server`] | a scripted SMTP server (TCP, implicit TLS, or an in-memory pipe) that says what each test tells it to, and a fast sink that accepts everything |
//!
//! The SMTP smuggling vectors are not here but in
//! [`smtp_wire::data::smuggling`]: the conformance suite uses them at run
//! time, not only in tests.
//!
//! Nothing generated here is ever committed: files go to a temporary
//! folder or to a git-ignored folder of the repository.

pub mod bins;
pub mod browser;
pub mod certs;
pub mod client;
pub mod server;
