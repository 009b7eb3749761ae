//! What a transaction achieved: the per-recipient [`Report`], after a
//! complete run or after the session broke in the middle.

use smtp_wire::Reply;

use super::Transaction;
use crate::error::{ProtocolError, SendError, TransportError};
use crate::report::{Outcome, RecipientReport, Report};

impl Transaction<'_> {
    /// True when the session should be RSET before the next transaction: the
    /// transaction ran to its end without an RSET of our own.
    pub fn needs_reset_after(&self) -> bool {
        !self.reset_sent
    }

    /// The outcome, once [`Step::Done`](crate::Step::Done) was returned.
    pub fn into_report(self) -> Result<Report, SendError> {
        let Some(mail_reply) = self.mail_reply.clone() else {
            return Err(TransportError::Closed.into());
        };
        if !mail_reply.is_positive() {
            return Err(ProtocolError::SenderRefused(mail_reply).into());
        }
        let data_reply = self.data_reply.clone();
        // A missing RCPT reply cannot happen once Done; report it as
        // deferred rather than invent an answer.
        let missing = Reply::new(451, "no reply to RCPT");
        // LMTP replies after the data arrived: the message went through,
        // and each recipient has its own (RFC 2033 §4.2). Before that, a
        // refused DATA answers for everyone, as in SMTP.
        let per_recipient = self.plan.lmtp && self.lmtp_replies.iter().any(Option::is_some);
        Ok(self.report(mail_reply, missing, |rcpt_reply, lmtp_reply| {
            match (&data_reply, rcpt_reply.is_positive()) {
                (_, false) => rcpt_reply.clone(),
                // One that never came (the connection broke) is not a
                // delivery, so it is deferred (the §4.2 caveat: the
                // message may then arrive twice, never zero times).
                (Some(_), true) if per_recipient => lmtp_reply.cloned().unwrap_or_else(|| {
                    Reply::new(451, "connection lost before this recipient's LMTP reply")
                }),
                (Some(data), true) => data.clone(),
                (None, true) => Reply::new(451, "message content not sent"),
            }
        }))
    }

    /// The outcome when the session broke before the transaction ended
    /// (`error`, from the connection or the driver): what the replies
    /// already received said still holds.
    ///
    /// - A refused MAIL (RFC 5321 §3.3) refused the transaction:
    ///   [`ProtocolError::SenderRefused`], permanent for a 5yz.
    /// - A reply to the end of the data (or a refused DATA, or a BDAT
    ///   reply) decided the message (RFC 5321 §4.1.1.4, RFC 3030 §2): the
    ///   full report, whatever broke afterwards (e.g. during the RSET).
    /// - Recipients refused with 5yz stay refused; the others are deferred,
    ///   with a 451 that quotes `error` (RFC 5321 §4.2.1: nobody got the
    ///   message, trying later may work).
    /// - Otherwise, and after errors that put the replies themselves in
    ///   doubt (malformed, out of turn), `error` as it is.
    pub fn report_after_failure(self, error: SendError) -> Result<Report, SendError> {
        if !error.connection_lost() {
            return Err(error);
        }
        let Some(mail_reply) = self.mail_reply.clone() else {
            return Err(error);
        };
        if !mail_reply.is_positive() {
            return Err(ProtocolError::SenderRefused(mail_reply).into());
        }
        if self.data_reply.is_some() {
            return self.into_report();
        }
        let refused_for_good = self
            .rcpt_replies
            .iter()
            .any(|r| r.as_ref().is_some_and(Reply::is_permanent));
        if !refused_for_good {
            return Err(error);
        }
        let lost = Reply::new(451, &format!("message not sent: {error}"));
        Ok(self.report(mail_reply, lost.clone(), |rcpt_reply, _| {
            if rcpt_reply.is_permanent() {
                rcpt_reply.clone()
            } else {
                lost.clone()
            }
        }))
    }

    /// One line per recipient: its RCPT reply (`missing` when none came)
    /// and the reply `decide` makes of it and of its LMTP reply after the
    /// data, if any.
    fn report(
        self,
        mail_reply: Reply,
        missing: Reply,
        decide: impl Fn(&Reply, Option<&Reply>) -> Reply,
    ) -> Report {
        let recipients = self
            .recipients
            .into_iter()
            .zip(self.rcpt_replies)
            .zip(self.lmtp_replies)
            .map(|((recipient, rcpt_reply), lmtp_reply)| {
                let rcpt_reply = rcpt_reply.unwrap_or_else(|| missing.clone());
                let reply = decide(&rcpt_reply, lmtp_reply.as_ref());
                RecipientReport {
                    recipient,
                    outcome: Outcome::of(&reply),
                    reply,
                    rcpt_reply,
                }
            })
            .collect();
        Report {
            mail_reply,
            recipients,
            data_reply: self.data_reply,
            size: self.plan.size,
            enhanced_status_codes: self.enhanced_status_codes,
        }
    }
}
