//! Support for the workspace's end-to-end tests and for `cargo xtask`.
//!
//! * [`certs`]: a throw-away PKI (a CA, a server certificate for `localhost`,
//!   `127.0.0.1` and `::1`, a client certificate) generated with rcgen, so
//!   every TLS test runs a real handshake against a real chain.
//!
//! Nothing generated here is ever committed: files go to a temporary folder
//! or to the ignored `.certs/` folder of the repository.

pub mod certs;
