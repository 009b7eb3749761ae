//! What can go wrong while sending, and whether trying again later may help.
//!
//! Two families, one sum:
//!
//! - [`ProtocolError`]: the conversation itself. The server refused
//!   something, said something malformed or out of turn, or the message,
//!   an address or the configuration cannot be sent as it is (a *local
//!   refusal*: nothing was sent). The machines of this crate make these.
//! - [`TransportError`]: the link under the conversation. Connecting,
//!   reading, writing, TLS, a closed connection, a timeout. The driver makes
//!   most of them; the [`Connection`](crate::Connection) makes the timeouts
//!   (its deadlines) and "closed while waiting for ...".
//! - [`SendError`] is either, with the question every caller asks (and the
//!   `smtp-send` exit code): is the failure *temporary* (RFC 5321 §4.2.1: a
//!   4yz reply, a lost connection, a timeout: try again later) or
//!   *permanent* (a 5yz reply, or something about the message or the
//!   configuration that will not change by waiting)? See
//!   [`SendError::is_temporary`].
//!
//! ```
//! use smtp_sender_core::{ProtocolError, SendError, TransportError};
//! let refused: SendError = ProtocolError::NoRecipients.into();
//! assert!(refused.is_permanent());
//! let lost: SendError = TransportError::ConnectionClosed { during: "the greeting" }.into();
//! assert!(lost.is_temporary());
//! assert_eq!(lost.to_string(), "the server closed the connection while we waited for the greeting");
//! ```

mod transport;

pub use transport::{TlsError, TransportError};

use smtp_wire::{Reply, ReplyError};

/// A failure of the conversation: refusals, malformed or out-of-turn
/// replies, and local refusals (nothing sent).
///
/// Errors about one recipient are *not* here: a refused recipient is a line
/// in the [`Report`](crate::Report), and delivery to the others goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Caller input that can never be sent: an address or EHLO name with a
    /// CR, LF or NUL in it, or one that is not valid RFC 5321 syntax.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What the value was meant to be ("recipient address", "EHLO name", ...).
        what: &'static str,
        /// The value as given (control characters shown escaped by `{:?}`).
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The configuration cannot work (e.g. AUTH requested in classic mode,
    /// a TLS configuration given together with options it overrides).
    #[error("configuration: {0}")]
    Config(String),
    /// The envelope has no recipient.
    #[error("no recipients: the envelope needs at least one RCPT TO address")]
    NoRecipients,
    /// The server's reply was not valid RFC 5321 §4.2 syntax, was too long,
    /// or had too many continuation lines.
    #[error("malformed reply from the server: {0}")]
    MalformedReply(#[from] ReplyError),
    /// The server sent more than a reply may hold (an endless line).
    #[error("the server sent {0} octets without completing a reply line")]
    ReplyTooLong(usize),
    /// TLS is required (`TlsMode::StartTls`) but the server does not offer
    /// STARTTLS (RFC 3207 §4). Nothing else was sent.
    #[error("the server does not offer STARTTLS and TLS is required; stopping before AUTH or MAIL")]
    StartTlsUnavailable,
    /// TLS is required and the server refused the STARTTLS command.
    #[error("the server refused STARTTLS and TLS is required: {0}")]
    StartTlsRefused(Reply),
    /// The server sent more bytes after its `220` reply to STARTTLS, before
    /// the handshake: they could be a response injection (CVE-2011-0411).
    #[error(
        "the server sent data after its reply to STARTTLS, before the TLS handshake \
         (possible response injection, CVE-2011-0411); aborting"
    )]
    ResponseInjection,
    /// RFC 5321 §3.8: a `421` reply: the server is closing the connection.
    #[error("the server is closing the connection: {0}")]
    ServiceClosing(Reply),
    /// The greeting was not `220` (RFC 5321 §3.1, e.g. `554 no service here`).
    #[error("the server refused the session: {0}")]
    GreetingRefused(Reply),
    /// A command the session cannot go on without (EHLO/HELO, RSET) was refused.
    #[error("{command} refused: {reply}")]
    Rejected {
        /// The command verb.
        command: &'static str,
        /// The server's reply.
        reply: Reply,
    },
    /// A reply that makes no sense for the command (e.g. `250` to DATA,
    /// where RFC 5321 §4.3.2 allows only 354 or an error).
    #[error("unexpected reply to {command}: {reply}")]
    UnexpectedReply {
        /// The command verb.
        command: &'static str,
        /// The server's reply.
        reply: Reply,
    },
    /// The server sent something no command asked for: when the client was
    /// about to write, every reply it expected had been read, yet more had
    /// arrived (an extra reply, or part of one). RFC 5321 §4.2 gives one
    /// reply per command and RFC 2920 §3.1 keeps them in command order, so
    /// from here on replies cannot be matched to commands; the session is
    /// closed (Postfix: "unexpected server reply").
    #[error("lost synchronisation with the server: unexpected reply before {before}: {received:?}")]
    UnexpectedServerReply {
        /// What the client was about to send (a command verb, or "message data").
        before: String,
        /// The start of what arrived out of turn.
        received: String,
    },
    /// RFC 4954 §6: the server did not accept the credentials.
    #[error("authentication failed: {0}")]
    AuthFailed(Reply),
    /// Credentials were given but the server offers no mechanism we speak.
    #[error(
        "the server offers no usable AUTH mechanism (offered: {offered}; supported: PLAIN, LOGIN for a password, OAUTHBEARER, XOAUTH2 for a token)"
    )]
    AuthUnavailable {
        /// The mechanisms the server listed, space-separated (may be empty).
        offered: String,
    },
    /// Credentials would cross an unencrypted connection and the
    /// configuration does not allow it (`allow_plaintext_auth`).
    #[error(
        "refusing to send credentials over an unencrypted connection \
         (use TLS, or allow plaintext AUTH explicitly)"
    )]
    AuthRequiresTls,
    /// RFC 1870 §6.1: the server's SIZE limit is smaller than the message;
    /// refused locally, before MAIL.
    #[error("the message is {size} octets but the server accepts at most {limit} (SIZE, RFC 1870)")]
    MessageTooLarge {
        /// The message size in octets, with CRLF line ends.
        size: u64,
        /// The limit the server announced.
        limit: u64,
    },
    /// The message or an address needs an extension the server does not
    /// offer; sending it anyway would corrupt it (RFC 6152 §3, RFC 6531 §3.4).
    #[error(
        "the message needs {extension} ({why}) but the server does not offer it; not sending it rather than corrupting it"
    )]
    ExtensionRequired {
        /// `8BITMIME` or `SMTPUTF8`.
        extension: &'static str,
        /// Which part of the message needs it.
        why: &'static str,
    },
    /// The server refused MAIL FROM (RFC 5321 §4.1.1.2); nobody got the message.
    #[error("the sender was refused: {0}")]
    SenderRefused(Reply),
}

impl ProtocolError {
    /// True when trying again later may succeed: replies decide by their
    /// class (RFC 5321 §4.2.1: 4yz temporary, 5yz permanent); broken or
    /// out-of-turn replies, a missing STARTTLS, an injection and a 421 are
    /// temporary, as mail transfer agents treat them (they queue and retry);
    /// problems with the message, the addresses or the configuration are
    /// permanent: sending the same thing again fails the same way.
    pub fn is_temporary(&self) -> bool {
        match self {
            ProtocolError::MalformedReply(_)
            | ProtocolError::ReplyTooLong(_)
            | ProtocolError::StartTlsUnavailable
            | ProtocolError::ResponseInjection
            | ProtocolError::UnexpectedReply { .. }
            | ProtocolError::UnexpectedServerReply { .. }
            | ProtocolError::ServiceClosing(_) => true,
            ProtocolError::StartTlsRefused(reply)
            | ProtocolError::GreetingRefused(reply)
            | ProtocolError::Rejected { reply, .. }
            | ProtocolError::AuthFailed(reply)
            | ProtocolError::SenderRefused(reply) => reply.is_transient(),
            ProtocolError::InvalidInput { .. }
            | ProtocolError::Config(_)
            | ProtocolError::NoRecipients
            | ProtocolError::AuthUnavailable { .. }
            | ProtocolError::AuthRequiresTls
            | ProtocolError::MessageTooLarge { .. }
            | ProtocolError::ExtensionRequired { .. } => false,
        }
    }

    /// The opposite of [`is_temporary`](Self::is_temporary).
    pub fn is_permanent(&self) -> bool {
        !self.is_temporary()
    }

    /// The server's reply behind this error, when there is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ProtocolError::StartTlsRefused(reply)
            | ProtocolError::ServiceClosing(reply)
            | ProtocolError::GreetingRefused(reply)
            | ProtocolError::Rejected { reply, .. }
            | ProtocolError::AuthFailed(reply)
            | ProtocolError::SenderRefused(reply) => Some(reply),
            _ => None,
        }
    }
}

/// Everything that can stop a message from being handed over: a
/// [`ProtocolError`] or a [`TransportError`]. Both display as they are, so
/// `SendError`'s messages are theirs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The conversation failed, or the message was refused locally.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The link failed: connect, I/O, TLS, timeout, closed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl From<ReplyError> for SendError {
    fn from(error: ReplyError) -> Self {
        SendError::Protocol(error.into())
    }
}

impl From<TlsError> for SendError {
    fn from(error: TlsError) -> Self {
        SendError::Transport(error.into())
    }
}

impl SendError {
    /// True when trying again later may succeed.
    ///
    /// - replies decide by their class (RFC 5321 §4.2.1: 4yz temporary, 5yz permanent);
    /// - network trouble, timeouts, broken replies and TLS failures are
    ///   temporary, as mail transfer agents treat them (they queue and retry;
    ///   a TLS failure is often fixed on the server's side);
    /// - problems with the message, the addresses or the configuration are
    ///   permanent: sending the same thing again fails the same way.
    ///
    /// ```
    /// use smtp_sender_core::{ProtocolError, SendError, TransportError};
    /// assert!(SendError::from(TransportError::ConnectionClosed { during: "the greeting" }).is_temporary());
    /// assert!(!SendError::from(ProtocolError::NoRecipients).is_temporary());
    /// ```
    pub fn is_temporary(&self) -> bool {
        match self {
            SendError::Protocol(error) => error.is_temporary(),
            SendError::Transport(error) => error.is_temporary(),
        }
    }

    /// The opposite of [`is_temporary`](Self::is_temporary).
    pub fn is_permanent(&self) -> bool {
        !self.is_temporary()
    }

    /// The server's reply behind this error, when there is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            SendError::Protocol(error) => error.reply(),
            SendError::Transport(_) => None,
        }
    }

    /// The protocol error, when this is one.
    pub fn as_protocol(&self) -> Option<&ProtocolError> {
        match self {
            SendError::Protocol(error) => Some(error),
            SendError::Transport(_) => None,
        }
    }

    /// The transport error, when this is one.
    pub fn as_transport(&self) -> Option<&TransportError> {
        match self {
            SendError::Transport(error) => Some(error),
            SendError::Protocol(_) => None,
        }
    }

    /// True when the connection was lost (closed, broken, silent, or closing
    /// with 421) while the replies received so far were still in step: what
    /// they said stays true (a 550 already received is still a refusal).
    pub fn connection_lost(&self) -> bool {
        matches!(
            self,
            SendError::Transport(
                TransportError::Io(_)
                    | TransportError::ConnectionClosed { .. }
                    | TransportError::Timeout { .. }
                    | TransportError::NoGreeting { .. }
                    | TransportError::SessionBroken
            ) | SendError::Protocol(ProtocolError::ServiceClosing(_))
        )
    }

    /// True when the conversation is still in step after this error, so a
    /// polite QUIT can be sent (a refusal, or a local refusal during the
    /// handshake); false when the connection is broken or must not be
    /// trusted (I/O, timeout, TLS, 421, malformed or out-of-turn replies,
    /// injection).
    pub fn conversation_intact(&self) -> bool {
        matches!(
            self,
            SendError::Protocol(
                ProtocolError::StartTlsUnavailable
                    | ProtocolError::StartTlsRefused(_)
                    | ProtocolError::GreetingRefused(_)
                    | ProtocolError::Rejected { .. }
                    | ProtocolError::AuthFailed(_)
                    | ProtocolError::AuthUnavailable { .. }
                    | ProtocolError::AuthRequiresTls
                    | ProtocolError::Config(_)
            )
        )
    }
}
