//! The sans-IO Receiver-SMTP session: command order, replies, AUTH,
//! message framing and trace headers, with no sockets and no async.
//!
//! Drive it by hand to see the exchange (this is what the server's
//! connection driver does, with sockets around it):
//!
//! ```
//! use std::sync::Arc;
//! use smtp_receiver::config::{SessionConfig, RecipientPolicy, ListenerKind};
//! use smtp_receiver::session::{Event, Session};
//! use smtp_receiver::ConnectionInfo;
//!
//! let mut config = SessionConfig::new("mx.example.org");
//! config.recipients = RecipientPolicy::domains(["example.org"]);
//! let info = ConnectionInfo {
//!     peer: "192.0.2.1:40000".parse().unwrap(),
//!     local: "192.0.2.2:25".parse().unwrap(),
//!     listener: ListenerKind::Plain,
//! };
//! let mut session = Session::new(Arc::new(config), info, false);
//! let input = b"EHLO client.example\r\nNOOP\r\n";
//! let mut body = Vec::new();
//! let mut used = 0;
//! loop {
//!     let (n, event) = session.poll(&input[used..], &mut body);
//!     used += n;
//!     match event {
//!         Event::Ask(_) => session.answer(Ok(())), // the application says yes
//!         Event::NeedMore => break,
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! let output = String::from_utf8(session.take_output()).unwrap();
//! assert!(output.starts_with("220 mx.example.org"));
//! assert!(output.contains("250-PIPELINING\r\n"));
//! assert!(output.ends_with("250 2.0.0 OK\r\n"));
//! ```

mod auth;
mod body;
pub mod replies;
mod state;
pub mod trace;

pub use auth::{Credentials, Mechanism};
pub use state::{Event, Request, Session};

#[cfg(test)]
mod tests;
