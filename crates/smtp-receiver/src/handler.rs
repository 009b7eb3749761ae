//! The embedding API: what the application decides, in the spirit of
//! go-smtp's `Backend`/`Session` and aiosmtpd's handlers.
//!
//! The library holds the RFC 5321 conversation and enforces its rules
//! (command order, limits, relay policy, TLS before AUTH); the
//! application answers the questions that are its business: is this
//! client welcome ([`Backend::connect`]), are these credentials right,
//! this sender, this recipient, and what to do with the message
//! ([`Handler`]). Each answer is a `Result`: `Err(reply)` refuses with
//! exactly the code and text the application chooses.
//!
//! A [`Backend`] makes one [`Handler`] per connection, so per-session
//! state (who authenticated, how many messages) lives in plain fields, and
//! shared state goes behind an `Arc` in the backend. A handler that is
//! `Clone` is its own backend: it is cloned for each connection.

use std::future::Future;

use smtp_wire::Reply;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};
use smtp_wire::sasl::{Credentials, Mechanism};

use crate::server::MessageBody;
use crate::session::replies;
use crate::{ConnectionInfo, Envelope};

/// Makes the [`Handler`] of each connection (go-smtp's `Backend`).
///
/// Methods are declared as `fn ... -> impl Future + Send`; implement them
/// with `async fn`.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use smtp_receiver::{Backend, ConnectionInfo, Envelope, Handler, MessageBody, Reply};
///
/// /// Numbers the connections; refuses one network.
/// struct Numbered { next: AtomicU64 }
///
/// struct Numbered1 { number: u64 }
///
/// impl Backend for Numbered {
///     type Handler = Numbered1;
///     async fn connect(&self, info: &ConnectionInfo) -> Result<Numbered1, Reply> {
///         if info.peer.ip().to_string().starts_with("198.51.100.") {
///             return Err(Reply::new(554, "not from there"));
///         }
///         Ok(Numbered1 { number: self.next.fetch_add(1, Ordering::Relaxed) })
///     }
/// }
///
/// impl Handler for Numbered1 {
///     async fn data(&mut self, _: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
///         while body.chunk().await.map_err(|e| e.reply())?.is_some() {}
///         Ok(())
///     }
///
///     async fn disconnect(&mut self) {
///         println!("connection {} ended", self.number);
///     }
/// }
/// ```
pub trait Backend: Send + Sync + 'static {
    /// The per-connection session.
    type Handler: Handler;

    /// A client connected (on an implicit-TLS listener, after the
    /// handshake). `Err` sends that reply instead of the greeting and
    /// closes (RFC 5321 §3.1: a 554 greeting).
    fn connect(
        &self,
        info: &ConnectionInfo,
    ) -> impl Future<Output = Result<Self::Handler, Reply>> + Send;
}

/// A handler that can be cloned is its own backend: each connection gets
/// a clone (so `Server::bind(config, MaildirHandler::open(..)?)` works).
impl<H: Handler + Clone + Sync> Backend for H {
    type Handler = H;

    fn connect(&self, _: &ConnectionInfo) -> impl Future<Output = Result<H, Reply>> + Send {
        let handler = self.clone();
        async move { Ok(handler) }
    }
}

/// The application's side of one connection (go-smtp's `Session`). Every
/// method but [`data`](Handler::data) has a default that accepts (and
/// [`auth`](Handler::auth), which refuses).
///
/// Methods are declared as `fn ... -> impl Future + Send`; implement them
/// with `async fn`. [`MessageBody::from_bytes`] makes a body for unit tests
/// of `data`.
///
/// ```
/// use smtp_receiver::{Envelope, ForwardPath, Handler, MessageBody, RcptParams, Reply};
///
/// /// Counts the octets of every message sent to one mailbox; refuses the rest.
/// #[derive(Clone, Default)]
/// struct Counter { octets: u64 }
///
/// impl Handler for Counter {
///     async fn rcpt(&mut self, to: &ForwardPath, _: &RcptParams) -> Result<(), Reply> {
///         match to.to_string().as_str() {
///             "<inbox@example.org>" => Ok(()),
///             _ => Err(Reply::new(550, "no such user")),
///         }
///     }
///
///     async fn data(&mut self, _: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
///         while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
///             self.octets += chunk.len() as u64;
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Handler: Send + 'static {
    /// EHLO (`extended`) or HELO with the client's name. Called again after
    /// STARTTLS, when the client must greet anew (RFC 3207 §4.2).
    fn ehlo(
        &mut self,
        domain: &Domain,
        extended: bool,
    ) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = (domain, extended);
        async { Ok(()) }
    }

    /// AUTH (RFC 4954) with decoded credentials: a password for PLAIN and
    /// LOGIN, a bearer token ([`Credentials::token`]) for OAUTHBEARER and
    /// XOAUTH2 (offered with `SessionConfig::auth.tokens`) and for the
    /// application's own mechanisms (`SessionConfig::extra_mechanisms`). Only called
    /// where the library allows AUTH (inside TLS, or on loopback when
    /// configured). The default refuses with `535 5.7.8`. The library counts
    /// failures and closes the session after too many.
    fn auth(
        &mut self,
        mechanism: Mechanism,
        credentials: &Credentials,
    ) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = (mechanism, credentials);
        async { Err(replies::auth_failed()) }
    }

    /// MAIL FROM, after the library checked the order, SIZE and SMTPUTF8.
    fn mail(
        &mut self,
        from: &ReversePath,
        params: &MailParams,
    ) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = (from, params);
        async { Ok(()) }
    }

    /// RCPT TO, after the library checked the order, the recipient limit
    /// and the relay policy ([`RecipientPolicy`](crate::config::RecipientPolicy)).
    fn rcpt(
        &mut self,
        to: &ForwardPath,
        params: &RcptParams,
    ) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = (to, params);
        async { Ok(()) }
    }

    /// The message: read `body` chunk by chunk until `Ok(None)`, store it,
    /// and return `Ok(())` only once it is safe (RFC 5321 §6.1: a 250 is a
    /// promise). The library then replies `250 2.0.0 Ok: queued as <id>`.
    ///
    /// The first chunks are the trace header lines ([`Envelope::trace`]),
    /// and the text always has CRLF line ends: lines a client ended with a
    /// bare LF arrive normalised under the liberal content policy (the
    /// default), and are refused under the strict one. A UTF-8 address
    /// accepted without SMTPUTF8 (liberal policy) is flagged in
    /// [`Envelope::undeclared_utf8`].
    /// When `body.chunk()` fails, the message must be dropped: the library
    /// refuses it (a bare CR, a NUL, size, lost connection...) whatever
    /// this returns.
    ///
    /// Returning `Err` early is allowed: the library reads and discards the
    /// rest, then sends that reply (with BDAT, at the end of the current
    /// chunk, RFC 3030 §4). Returning `Ok` before `chunk()` gave `Ok(None)`
    /// (or the last piece) is an application error: the message cannot
    /// have been stored whole, so the library answers `451 4.3.0` instead of
    /// 250 and logs a warning. The reply says 250 only for a message the
    /// application accepted after reading all of it.
    fn data(
        &mut self,
        envelope: &Envelope,
        body: &mut MessageBody<'_>,
    ) -> impl Future<Output = Result<(), Reply>> + Send;

    /// The transaction ended: after each message, RSET, a new EHLO/HELO,
    /// or STARTTLS. Forget per-transaction state here.
    fn reset(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The connection ended, however it ended (QUIT, a timeout, the client
    /// gone, a shutdown). Not called for a task dropped at the shutdown's
    /// hard deadline ([`ServerConfig::shutdown_abort`](crate::config::ServerConfig::shutdown_abort)).
    fn disconnect(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
