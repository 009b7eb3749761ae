//! What the Receiver-SMTP said, recipient by recipient.

use std::fmt;

use smtp_wire::Reply;
use smtp_wire::path::ForwardPath;

/// The fate of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// RCPT TO and the message content were both accepted (2yz): the server
    /// has taken responsibility for delivery (RFC 5321 §6.1).
    Accepted,
    /// Refused for good (5yz, RFC 5321 §4.2.1): do not retry as is.
    Refused,
    /// Refused for now (4yz): try again later.
    Deferred,
}

impl Outcome {
    /// The outcome a reply stands for (RFC 5321 §4.2.1): 2yz accepted,
    /// 4yz deferred, anything else refused (a 3yz where a 2yz belongs is
    /// not an acceptance).
    pub fn of(reply: &Reply) -> Outcome {
        if reply.is_positive() {
            Outcome::Accepted
        } else if reply.is_transient() {
            Outcome::Deferred
        } else {
            Outcome::Refused
        }
    }

    /// `accepted`, `refused` or `deferred`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
            Outcome::Deferred => "deferred",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment: `{:<8}` lines up the report.
        f.pad(self.as_str())
    }
}

/// One recipient's line in the [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// The forward-path as sent in RCPT TO.
    pub recipient: ForwardPath,
    /// Accepted, refused or deferred.
    pub outcome: Outcome,
    /// The reply that decided the outcome: the RCPT reply when RCPT was
    /// refused, otherwise the reply to the message content.
    pub reply: Reply,
    /// The reply to this recipient's RCPT TO.
    pub rcpt_reply: Reply,
}

/// What happened to one message: the server's word for every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The reply to MAIL FROM (always positive in a report: a refused sender
    /// is [`ProtocolError::SenderRefused`](crate::ProtocolError::SenderRefused)).
    pub mail_reply: Reply,
    /// One entry per recipient, in envelope order.
    pub recipients: Vec<RecipientReport>,
    /// The reply to the message content (after `.` or the last BDAT), or to
    /// DATA when DATA itself was refused; `None` when no content was sent
    /// because no recipient was accepted. On LMTP (RFC 2033 §4.2) the
    /// first recipient's reply after the data: each recipient's own is its
    /// [`RecipientReport::reply`].
    pub data_reply: Option<Reply>,
    /// The size declared and sent, in octets, with CRLF line ends.
    pub size: u64,
    /// True when the server announced ENHANCEDSTATUSCODES (RFC 2034): the
    /// replies then carry `x.y.z` codes ([`Reply::enhanced`]).
    pub enhanced_status_codes: bool,
}

impl Report {
    /// True when every recipient accepted the message.
    pub fn all_accepted(&self) -> bool {
        self.recipients
            .iter()
            .all(|r| r.outcome == Outcome::Accepted)
    }

    /// The recipients with a given outcome.
    pub fn with_outcome(&self, outcome: Outcome) -> impl Iterator<Item = &RecipientReport> {
        self.recipients.iter().filter(move |r| r.outcome == outcome)
    }

    /// The recipients that accepted the message.
    pub fn accepted(&self) -> impl Iterator<Item = &RecipientReport> {
        self.with_outcome(Outcome::Accepted)
    }

    /// The recipients that refused it for good (5yz).
    pub fn refused(&self) -> impl Iterator<Item = &RecipientReport> {
        self.with_outcome(Outcome::Refused)
    }

    /// The recipients that refused it for now (4yz).
    pub fn deferred(&self) -> impl Iterator<Item = &RecipientReport> {
        self.with_outcome(Outcome::Deferred)
    }
}

impl fmt::Display for Report {
    /// One line per recipient: `accepted <bob@example.org>: 250 2.0.0 OK`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.recipients {
            writeln!(f, "{} {}: {}", r.outcome, r.recipient, r.reply)?;
        }
        Ok(())
    }
}
