//! Support for the workspace's end-to-end tests and for `cargo xtask`.
//!
//! * [`harness`]: the receiver running in process on loopback ports, with a
//!   Maildir, and sender configurations that trust the test CA.
//! * [`demo`]: the demo's conversations; `cargo xtask demo` prints them and
//!   the tests assert on them, so the two never drift apart.
//! * [`interop`]: the records the interop tests (`tests/tests/interop/`)
//!   write and `cargo xtask interop` turns into its table.
//!
//! Nothing generated here is ever committed: files go to a temporary folder
//! or to an ignored folder of the repository.

pub mod demo;
pub mod harness;
pub mod interop;
pub mod walkthrough;
