//! A message from DATA or its first BDAT chunk to its final reply: the
//! envelope and trace lines, the chunk boundaries, the application's
//! verdict, and abandoning it.

use smtp_wire::Reply;
use smtp_wire::path::ForwardPath;

use super::{Abort, Event, Phase, Session};
use crate::envelope::Envelope;
use crate::message::{Framing, Message};
use crate::replies;
use crate::trace::{self, QueueId, TraceInput};

impl Session {
    /// The application's `data` returned. The final reply is queued once
    /// the body has also been read to its end (the rest is discarded).
    ///
    /// RFC 5321 §6.1: the final 250 promises that the message is stored. An
    /// application that returns `Ok` before the body was read to its end
    /// (see [`message_fully_read`](Self::message_fully_read)) cannot have
    /// stored it: that `Ok` becomes `451 4.3.0`, so the client keeps the
    /// message and retries; a message is never acknowledged unread.
    pub fn finish_message(&mut self, verdict: Result<(), Reply>) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        message.handler_active = false;
        message.outcome = Some(match verdict {
            Ok(()) if !message.complete => Err(replies::local_error()),
            verdict => verdict,
        });
        if message.complete {
            self.finalize_message();
        }
    }

    pub(super) fn begin_message(&mut self, framing: Framing) {
        let (Some(hello), Some(transaction)) = (&self.hello, &self.transaction) else {
            return; // unreachable: callers checked both
        };
        let now = self.wall;
        let id = QueueId::generate(now, self.config.instance_id);
        let recipients: Vec<ForwardPath> = transaction
            .recipients
            .iter()
            .map(|r| r.to.clone())
            .collect();
        let utf8 = transaction.params.smtputf8;
        let mut protocol =
            trace::protocol_name(hello.extended, self.tls, self.authenticated.is_some(), utf8);
        if self.info.listener == crate::ListenerKind::Lmtp {
            protocol = trace::lmtp_name(protocol);
        }
        // Only the liberal policy lets such addresses through (see `mail`
        // and `rcpt`): recorded in the envelope and the Received: line.
        let undeclared_utf8 =
            !utf8 && (transaction.from.is_utf8() || recipients.iter().any(ForwardPath::is_utf8));
        let recipient_params: Vec<_> = transaction
            .recipients
            .iter()
            .map(|r| r.params.clone())
            .collect();
        let trace = trace::trace_headers(&TraceInput {
            helo: &hello.domain,
            peer: self.info.peer.ip(),
            hostname: &self.config.hostname,
            protocol,
            id: &id,
            from: &transaction.from,
            recipients: &recipients,
            record_recipients: self.config.record_recipients,
            dsn: trace::DsnRequests {
                mail: &transaction.params,
                recipients: &recipient_params,
            },
            undeclared_utf8,
            now,
        });
        let envelope = Envelope {
            id: id.to_string(),
            from: transaction.from.clone(),
            mail_params: transaction.params.clone(),
            recipients: transaction.recipients.clone(),
            helo: hello.domain.clone(),
            peer: self.info.peer,
            tls: self.tls,
            authenticated: self.authenticated.clone(),
            received_at: now,
            undeclared_utf8,
            trace: trace.clone(),
        };
        self.message = Some(Message::new(
            id.to_string(),
            trace,
            framing,
            self.config.content_policy,
        ));
        self.phase = Phase::Body;
        self.events.push_back(Event::Message(Box::new(envelope)));
    }

    pub(super) fn chunk_end(&mut self, size: u64) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        if message.failed() {
            // RFC 3030 §4: a 4xx/5xx reply to any chunk fails the whole
            // transaction, so a refusal is given at once. A success is only
            // ever given to the LAST chunk (RFC 3030 §2), once the
            // application has stored the whole message.
            return self.body_complete();
        }
        message.framing = Framing::BetweenChunks;
        self.phase = Phase::Commands;
        self.send(replies::chunk_ok(size));
    }

    pub(super) fn body_complete(&mut self) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        message.complete = true;
        if message.handler_active {
            self.phase = Phase::AwaitVerdict;
            self.events.push_back(Event::BodyEnd);
        } else {
            self.finalize_message();
        }
    }

    fn finalize_message(&mut self) {
        let Some(message) = self.message.take() else {
            return;
        };
        let reply = message.final_reply();
        if reply.is_positive() {
            // A session that delivers mail is not idling: the junk count
            // starts again.
            self.junk = 0;
        }
        if matches!(message.framing, Framing::Bdat { last: false, .. }) {
            // RFC 3030 §4: the transfer failed before its LAST chunk; the
            // receiver "MUST be prepared to accept and discard additional
            // BDAT chunks already in the pipeline after the failed BDAT".
            self.failed_bdat = Some(reply.clone());
        }
        // RFC 5321 §3.8: a 421 to the message closes the channel.
        let closing = reply.code == 421;
        // RFC 2033 §4.2: LMTP answers the end of the data once per accepted
        // recipient, in RCPT order (here all alike: the message is stored
        // once for all of them).
        let replies = match (&self.transaction, self.info.listener) {
            (Some(t), crate::ListenerKind::Lmtp) if !closing => t.recipients.len().max(1),
            _ => 1,
        };
        for _ in 1..replies {
            self.send(reply.clone());
        }
        self.send(reply);
        self.transaction = None;
        self.phase = if closing {
            Phase::Closed
        } else {
            Phase::Commands
        };
        self.events.push_back(Event::Reset);
    }

    /// Drops the message in flight; the application, if still reading it,
    /// is told why.
    pub(super) fn abort_message(&mut self, why: Abort) {
        if let Some(message) = self.message.take()
            && message.handler_active
        {
            self.events.push_back(Event::BodyAborted(why));
        }
    }

    /// Message octets that cannot be read to their end within reason (a
    /// BDAT chunk that cannot fit the size limit, a DATA message far past
    /// it): `552 5.3.4` (RFC 1870 §6.2), then, since the rest of the octets
    /// would be read as commands, `421` and close.
    pub(super) fn give_up_oversized(&mut self, what: &str) {
        self.abort_message(Abort::Closed);
        self.transaction = None;
        self.send(replies::too_big(self.config.limits.message_size));
        self.close_with(
            replies::cannot_resynchronize(&self.config.hostname, what),
            Abort::Closed,
        );
    }
}
