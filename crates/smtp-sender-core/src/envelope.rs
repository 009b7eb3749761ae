//! The envelope: who the message is from and whom it goes to (RFC 5321 §2.3.1).
//!
//! The envelope is what MAIL FROM and RCPT TO carry; it is separate from the
//! `From:`/`To:` headers inside the message (`smtp-sender` can derive it from
//! those headers, the way Python's `smtplib.send_message` does).

use smtp_wire::param::{Notify, Orcpt, Ret};
use smtp_wire::path::{Domain, ForwardPath, Mailbox, ReversePath};

use crate::error::ProtocolError;

/// MAIL FROM and RCPT TO for one message.
///
/// ```
/// use smtp_sender_core::Envelope;
/// let env = Envelope::new("alice@example.com", &["bob@example.org", "<carol@example.net>"]).unwrap();
/// assert_eq!(env.to.len(), 2);
/// assert!(Envelope::new("alice@example.com", &["bob@example.org\r\nRSET"]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path (`<>` for bounces, RFC 5321 §4.5.5).
    pub from: ReversePath,
    /// The forward-paths, one RCPT TO each, in order.
    pub to: Vec<ForwardPath>,
    /// Delivery status notification requests (RFC 3461), passed on only
    /// to a server that offers DSN; `None`: none were made.
    pub dsn: Option<Dsn>,
}

/// What the originator asked to be told about a message (RFC 3461 §4):
/// the MAIL parameters `RET` and `ENVID`, and `NOTIFY` and `ORCPT` for
/// each recipient.
///
/// ```
/// use smtp_sender_core::{Dsn, Envelope};
/// use smtp_wire::param::{Notify, Ret};
/// let mut envelope = Envelope::new("alice@example.com", &["bob@example.org"])?;
/// let mut dsn = Dsn { ret: Some(Ret::Hdrs), envid: Some("QQ314159".into()), ..Dsn::default() };
/// dsn.recipient_mut(0).notify = Some(Notify { failure: true, ..Notify::default() });
/// envelope.dsn = Some(dsn);
/// # Ok::<(), smtp_sender_core::ProtocolError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dsn {
    /// `RET=`: the whole message or its headers in a failure report (§4.3).
    pub ret: Option<Ret>,
    /// `ENVID=`: the originator's identifier, returned in every report (§4.4).
    pub envid: Option<String>,
    /// Per recipient, in the order of [`Envelope::to`]; missing entries
    /// mean no request.
    pub recipients: Vec<RecipientDsn>,
}

/// The RCPT parameters of RFC 3461 for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecipientDsn {
    /// `NOTIFY=`: when to report (§4.1); `None` leaves it to the MTA
    /// (failures, and delays at its discretion).
    pub notify: Option<Notify>,
    /// `ORCPT=`: the address the originator gave (§4.2).
    pub orcpt: Option<Orcpt>,
}

impl Dsn {
    /// The requests for recipient `index` (none when not given).
    pub fn recipient(&self, index: usize) -> RecipientDsn {
        self.recipients.get(index).cloned().unwrap_or_default()
    }

    /// The requests for recipient `index`, to fill in.
    pub fn recipient_mut(&mut self, index: usize) -> &mut RecipientDsn {
        if self.recipients.len() <= index {
            self.recipients.resize(index + 1, RecipientDsn::default());
        }
        &mut self.recipients[index]
    }
}

impl Envelope {
    /// Parses the sender (`a@b`, `<a@b>`, or `""`/`<>` for the null
    /// reverse-path) and the recipients (`a@b`, `<a@b>` or `<Postmaster>`).
    ///
    /// CR, LF and NUL are refused first, with an error that says so: they are
    /// how a command would be smuggled into the conversation.
    pub fn new<S: AsRef<str>>(from: &str, to: &[S]) -> Result<Envelope, ProtocolError> {
        let from = parse_reverse_path(from)?;
        let to = to
            .iter()
            .map(|r| parse_forward_path(r.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            from,
            to,
            dsn: None,
        })
    }

    /// RFC 6531 §3.4: true when an address needs SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        self.from.is_utf8() || self.to.iter().any(|r| r.is_utf8())
    }
}

/// Parses a sender address; `""` and `"<>"` give the null reverse-path.
pub fn parse_reverse_path(s: &str) -> Result<ReversePath, ProtocolError> {
    let what = "sender address";
    refuse_control_characters(what, s)?;
    let s = s.trim();
    let parsed = if s.is_empty() {
        Ok(ReversePath::Null)
    } else if s.starts_with('<') {
        ReversePath::parse(s)
    } else {
        Mailbox::parse(s).map(ReversePath::Mailbox)
    };
    parsed.map_err(|e| invalid(what, s, e))
}

/// Parses a recipient address: `a@b`, `<a@b>` or `<Postmaster>`.
pub fn parse_forward_path(s: &str) -> Result<ForwardPath, ProtocolError> {
    let what = "recipient address";
    refuse_control_characters(what, s)?;
    let s = s.trim();
    let parsed = if s.starts_with('<') {
        ForwardPath::parse(s)
    } else if s.eq_ignore_ascii_case("postmaster") {
        Ok(ForwardPath::Postmaster)
    } else {
        Mailbox::parse(s).map(ForwardPath::Mailbox)
    };
    parsed.map_err(|e| invalid(what, s, e))
}

/// Parses the name to give in EHLO/HELO. RFC 5321 §4.1.1.1: a domain or an
/// address literal; CR, LF and NUL are refused outright (they would end the
/// command line).
///
/// ```
/// use smtp_sender_core::parse_ehlo_name;
/// assert_eq!(parse_ehlo_name("client.example").unwrap().to_string(), "client.example");
/// assert!(parse_ehlo_name("[192.0.2.1]").is_ok());
/// assert!(parse_ehlo_name("client.example\r\nMAIL FROM:<x@y>").is_err());
/// ```
pub fn parse_ehlo_name(name: &str) -> Result<Domain, ProtocolError> {
    let what = "EHLO name";
    refuse_control_characters(what, name)?;
    Domain::parse(name).map_err(|e| invalid(what, name, e))
}

/// RFC 5321 §2.3.8 / §4.1.1: a command line ends at CRLF, so a CR or LF inside
/// an argument would end it early and start a second, attacker-chosen
/// command; NUL is never valid in SMTP text. Refused before anything is sent.
pub fn refuse_control_characters(what: &'static str, value: &str) -> Result<(), ProtocolError> {
    let bad = value.bytes().find(|b| matches!(b, b'\r' | b'\n' | b'\0'));
    match bad {
        None => Ok(()),
        Some(b) => Err(ProtocolError::InvalidInput {
            what,
            value: value.to_string(),
            reason: format!(
                "contains {} (a command could be smuggled)",
                match b {
                    b'\r' => "a CR",
                    b'\n' => "an LF",
                    _ => "a NUL",
                }
            ),
        }),
    }
}

fn invalid(what: &'static str, value: &str, err: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::InvalidInput {
        what,
        value: value.to_string(),
        reason: err.to_string(),
    }
}
