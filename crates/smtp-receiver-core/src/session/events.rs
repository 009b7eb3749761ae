//! What the session tells its driver: the [`Event`]s, the questions for
//! the application ([`Request`]) and why a message was abandoned
//! ([`Abort`]).

use smtp_wire::Reply;
use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{Domain, ForwardPath, ReversePath};
use smtp_wire::sasl::{Credentials, Mechanism};

use crate::envelope::Envelope;
#[cfg(doc)]
use crate::session::Session;

/// A question for the application, answered with [`Session::answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A client connected (after the handshake, on an implicit-TLS
    /// listener). `Err` sends that reply instead of the greeting and closes
    /// (RFC 5321 §3.1: a 554 greeting).
    Connect,
    /// EHLO (`extended`) or HELO.
    Hello {
        /// The client's name.
        domain: Domain,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// AUTH completed a SASL exchange with these credentials.
    Auth {
        /// The mechanism the client used.
        mechanism: Mechanism,
        /// What it presented.
        credentials: Credentials,
    },
    /// MAIL FROM.
    Mail {
        /// The reverse-path.
        from: ReversePath,
        /// Its parameters.
        params: MailParams,
    },
    /// RCPT TO.
    Rcpt {
        /// The forward-path.
        to: ForwardPath,
        /// Its parameters.
        params: RcptParams,
    },
}

/// Why a message was abandoned before its end ([`Event::BodyAborted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    /// The client said RSET or QUIT between BDAT chunks.
    Client,
    /// The client was too slow (RFC 5321 §4.5.3.2).
    Timeout,
    /// The server is shutting down and the grace period is over.
    Shutdown,
    /// The session is closing for a protocol reason (too many errors,
    /// octets it can no longer tell apart from commands).
    Closed,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// All input given was used: write the queued output, then read more,
    /// but not past [`Session::poll_timeout`].
    NeedMore,
    /// Much output is queued: write it, then poll again.
    Flush,
    /// Ask the application, then call [`Session::answer`].
    Ask(Request),
    /// A message starts (after `354`, or at the first BDAT chunk): write
    /// the queued output (the `354` must not wait for the application,
    /// RFC 5321 §4.5.3.2.2), call the application; its body arrives as
    /// [`Event::Body`] until [`Event::BodyEnd`]; then call
    /// [`Session::finish_message`].
    Message(Box<Envelope>),
    /// `body` holds message octets for the application.
    Body,
    /// The message will be refused with this reply whatever the
    /// application says (bare CR/LF, too big, a line too long): the
    /// application should stop reading and drop it. The rest is read and
    /// discarded by the session.
    BodyRefused(Reply),
    /// The message body is complete.
    BodyEnd,
    /// The message was abandoned; the application must drop it.
    BodyAborted(Abort),
    /// The transaction was cleared: tell the application (`reset`).
    Reset,
    /// Write the queued output (the `220` to STARTTLS, or nothing on an
    /// implicit-TLS listener), do the TLS handshake, then call
    /// [`Session::tls_established`]. The session has consumed and dropped
    /// the `discarded` octets the client sent before the handshake: they
    /// may have been injected by a man in the middle (RFC 3207 §4.2,
    /// CVE-2011-0411).
    StartTls {
        /// Octets dropped unread.
        discarded: usize,
    },
    /// Write the queued output and close the connection.
    Close,
}
