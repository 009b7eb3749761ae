//! What the session knows about a message when its body starts to arrive:
//! the envelope (RFC 5321 §2.3.1) and the trace lines it prepends.

use core::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use smtp_wire::param::{MailParams, RcptParams};
use smtp_wire::path::{AddressLiteral, Domain, ForwardPath, ReversePath};

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward-path from RCPT TO.
    pub to: ForwardPath,
    /// Its parameters.
    pub params: RcptParams,
}

/// Everything known about a message when its body starts to arrive.
///
/// The session makes one per message. An application can make its own with
/// [`Envelope::new`] to unit-test its message handling:
///
/// ```
/// use smtp_receiver_core::Envelope;
/// use smtp_wire::path::{ForwardPath, ReversePath};
///
/// let envelope = Envelope::new(
///     ReversePath::parse("<alice@example.com>").unwrap(),
///     [ForwardPath::parse("<bob@example.org>").unwrap()],
/// );
/// assert_eq!(envelope.recipients[0].to.to_string(), "<bob@example.org>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// A UTF-8 address (MAIL FROM or an accepted RCPT TO) came without the
    /// `SMTPUTF8` parameter on MAIL: RFC 6531 §3.4 asks for `553 5.6.7`,
    /// which the strict policy gives; the liberal default accepts it, as
    /// Postfix does, and records it here and as a comment after the
    /// protocol in the `Received:` line (`with ESMTP (UTF-8 address
    /// without SMTPUTF8) id ...`).
    pub undeclared_utf8: bool,
    /// The trace header lines (`Return-Path:`, `X-Original-To:`,
    /// `Received:`) that the body stream yields before the message itself
    /// (RFC 5321 §4.4), kept here for reference.
    pub trace: Vec<u8>,
}

impl Envelope {
    /// An envelope for a message from `from` to `recipients`, as a test or
    /// a tool needs one: id `test`, no parameters, HELO `[127.0.0.1]` from
    /// `127.0.0.1:0`, no TLS, no AUTH, received at the Unix epoch (the
    /// session reads no clock), no trace lines. Change the public fields
    /// for anything else.
    pub fn new(from: ReversePath, recipients: impl IntoIterator<Item = ForwardPath>) -> Envelope {
        Envelope {
            id: "test".to_string(),
            from,
            mail_params: MailParams::default(),
            recipients: recipients
                .into_iter()
                .map(|to| Recipient {
                    to,
                    params: RcptParams::default(),
                })
                .collect(),
            helo: Domain::Literal(AddressLiteral::V4(Ipv4Addr::LOCALHOST)),
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: false,
            authenticated: None,
            received_at: UNIX_EPOCH,
            undeclared_utf8: false,
            trace: Vec::new(),
        }
    }
}
