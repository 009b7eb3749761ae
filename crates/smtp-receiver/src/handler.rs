//! The embedding API: what the application decides, in the spirit of
//! go-smtp's `Backend`/`Session` and aiosmtpd's handlers.
//!
//! The library holds the RFC 5321 conversation and enforces its rules
//! (command order, limits, relay policy, TLS before AUTH); the
//! application implements [`Handler`] and answers the questions that are
//! its business: is this client welcome, are these credentials right,
//! this sender, this recipient, and what to do with the message. Each
//! method returns `Result<(), Reply>`: `Err(reply)` refuses with exactly
//! the code and text the application chooses.
//!
//! One clone of the handler serves one connection, so per-session state
//! (who authenticated, how many messages) can live in plain fields, and
//! shared state goes behind an `Arc`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::SystemTime;

use smtp_wire::Reply;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};

use crate::config::ListenerKind;
use crate::server::MessageBody;
use crate::session::{Credentials, replies};

/// The network side of a session, as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address (the listener's).
    pub local: SocketAddr,
    /// Which kind of listener accepted the connection.
    pub listener: ListenerKind,
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward-path from RCPT TO.
    pub to: ForwardPath,
    /// Its parameters.
    pub params: RcptParams,
}

/// Everything known about a message when its body starts to arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The queue id: in the `Received:` line and in the final
    /// `250 2.0.0 Ok: queued as <id>`. Unique on this host, letters and digits.
    pub id: String,
    /// MAIL FROM.
    pub from: ReversePath,
    /// MAIL FROM's parameters (SIZE, BODY, SMTPUTF8, ...).
    pub mail_params: MailParams,
    /// The accepted recipients, in order (at least one).
    pub recipients: Vec<Recipient>,
    /// The client's EHLO/HELO name.
    pub helo: Domain,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the session is inside TLS.
    pub tls: bool,
    /// The user name the client authenticated as, if it did.
    pub authenticated: Option<String>,
    /// When the message started to arrive.
    pub received_at: SystemTime,
    /// The trace header lines (`Return-Path:`, `X-Original-To:`,
    /// `Received:`) that the body stream yields before the message itself
    /// (RFC 5321 §4.4), kept here for reference.
    pub trace: Vec<u8>,
}

/// The application's side of a session. Every method but [`data`](Handler::data)
/// has a default that accepts (and [`auth`](Handler::auth), which refuses).
///
/// Methods are declared as `fn ... -> impl Future + Send`; implement them
/// with `async fn`.
///
/// ```
/// use smtp_receiver::{Envelope, Handler, MessageBody};
/// use smtp_wire::Reply;
/// use smtp_wire::param::RcptParams;
/// use smtp_wire::path::ForwardPath;
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
pub trait Handler: Clone + Send + 'static {
    /// A client connected. `Err` sends that reply instead of the greeting
    /// and closes (RFC 5321 §3.1: a 554 greeting).
    fn connect(&mut self, info: &ConnectionInfo) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = info;
        async { Ok(()) }
    }

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

    /// AUTH PLAIN or LOGIN (RFC 4954) with decoded credentials. Only called
    /// where the library allows AUTH (inside TLS, or on loopback when
    /// configured). The default refuses with `535 5.7.8`. The library counts
    /// failures and closes the session after too many.
    fn auth(
        &mut self,
        credentials: &Credentials,
    ) -> impl Future<Output = Result<(), Reply>> + Send {
        let _ = credentials;
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
    /// The first chunks are the trace header lines ([`Envelope::trace`]).
    /// When `body.chunk()` fails, the message must be dropped: the library
    /// refuses it (bare CR/LF, size, lost connection...) whatever this
    /// returns.
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
}
