//! Unit tests of the sans-IO session: no sockets, bytes in, bytes out.

mod content_policy;
mod harness;
mod matrix;
mod messages;
mod policy;
mod stateful;
mod time;
mod tls_auth;
