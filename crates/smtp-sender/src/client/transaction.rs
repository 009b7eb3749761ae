//! One mail transaction: MAIL, RCPT..., DATA (or BDAT), as a sans-IO machine.
//!
//! ```text
//! C: MAIL FROM:<alice@example.com> SIZE=1234    RFC 5321 §4.1.1.2
//! S: 250 2.1.0 OK
//! C: RCPT TO:<bob@example.org>                   §4.1.1.3, once per recipient
//! S: 250 2.1.5 OK
//! C: RCPT TO:<nobody@example.org>
//! S: 550 5.1.1 No such user                      refused: the others still get it
//! C: DATA                                        §4.1.1.4
//! S: 354 End data with <CR><LF>.<CR><LF>
//! C: ...message, dot-stuffed...
//! C: .
//! S: 250 2.0.0 Queued
//! ```
//! With PIPELINING (RFC 2920) MAIL, the RCPTs and DATA leave in one write and
//! the replies are matched to them in order: the reply-handling code is the
//! same either way, only the moment of writing changes.

use std::collections::VecDeque;

use smtp_wire::command::Command;
use smtp_wire::param::RcptParams;
use smtp_wire::path::ForwardPath;
use smtp_wire::{DotStuffer, Reply};

use super::plan::Plan;
use super::step::{Exchange, Machine, Step, Wait};
use crate::envelope::Envelope;
use crate::error::SendError;
use crate::report::{Outcome, RecipientReport, Report};

/// Message content is written in blocks of this size, each under the
/// RFC 5321 §4.5.3.2.5 data-block timeout.
const DATA_BLOCK: usize = 64 * 1024;
/// BDAT chunk size (RFC 3030 leaves it to the client).
const BDAT_CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Rset,
    Mail,
    Rcpt(usize),
    Data,
    DataEnd,
    /// The reply to a lone "." sent after a 354 nobody should receive.
    EmptyDataEnd,
    Bdat {
        last: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// MAIL and RCPT (and DATA's 354).
    Envelope,
    /// The content is on its way.
    Content,
    /// Something failed; RSET is on its way (RFC 5321 §4.1.1.5).
    Resetting,
    /// Finished; the report is ready.
    Done,
}

/// One message sent over an open session.
#[derive(Debug)]
pub struct Transaction {
    plan: Plan,
    exchange: Exchange<Expect>,
    recipients: Vec<ForwardPath>,
    content: Vec<u8>,
    /// Once the 354 arrived: the dot-stuffer and how much of `content` it
    /// has encoded. Blocks are encoded one at a time, when the driver asks
    /// for the next step, so memory holds one block, not a second copy of
    /// the message.
    stuffing: Option<(DotStuffer, usize)>,
    /// Without PIPELINING, the commands not yet written; each goes out only
    /// once the previous one is answered, and only if it still makes sense.
    unsent: VecDeque<(Command, Expect, Wait)>,
    /// Without PIPELINING, the BDAT chunks not yet written.
    unsent_chunks: VecDeque<Vec<u8>>,
    phase: Phase,
    mail_reply: Option<Reply>,
    rcpt_replies: Vec<Option<Reply>>,
    data_reply: Option<Reply>,
    content_failed: bool,
    reset_sent: bool,
    enhanced_status_codes: bool,
}

impl Transaction {
    /// Prepares every command and checks it before anything is sent.
    ///
    /// `content` must be [`canonical_message`](super::canonical_message) of
    /// the message; `reset_first` puts an RSET in front (RFC 5321 §4.1.1.5:
    /// a clean slate before a further transaction on the same session).
    pub fn new(
        envelope: &Envelope,
        content: Vec<u8>,
        plan: Plan,
        reset_first: bool,
        enhanced_status_codes: bool,
    ) -> Result<Transaction, SendError> {
        if envelope.to.is_empty() {
            return Err(SendError::NoRecipients);
        }
        let mut commands = VecDeque::new();
        if reset_first {
            commands.push_back((Command::Rset, Expect::Rset, Wait::Command));
        }
        let mail = Command::Mail {
            from: envelope.from.clone(),
            params: plan.mail_params.clone(),
        };
        commands.push_back((mail, Expect::Mail, Wait::Mail));
        for (i, to) in envelope.to.iter().enumerate() {
            let rcpt = Command::Rcpt {
                to: to.clone(),
                params: RcptParams::default(),
            };
            commands.push_back((rcpt, Expect::Rcpt(i), Wait::Rcpt));
        }
        if !plan.chunking {
            // RFC 2920 §3.1: DATA may end a pipelined group.
            commands.push_back((Command::Data, Expect::Data, Wait::DataInit));
        }
        for (command, _, _) in &commands {
            refuse_broken_line(command)?;
        }

        let mut tx = Transaction {
            exchange: Exchange::new(),
            recipients: envelope.to.clone(),
            rcpt_replies: vec![None; envelope.to.len()],
            content,
            stuffing: None,
            unsent: VecDeque::new(),
            unsent_chunks: VecDeque::new(),
            phase: Phase::Envelope,
            mail_reply: None,
            data_reply: None,
            content_failed: false,
            reset_sent: false,
            enhanced_status_codes,
            plan,
        };
        if tx.plan.pipelining {
            tx.exchange.flight(commands);
        } else {
            tx.unsent = commands;
            tx.advance();
        }
        Ok(tx)
    }

    /// True when the session should be RSET before the next transaction: the
    /// transaction ran to its end without an RSET of our own.
    pub fn needs_reset_after(&self) -> bool {
        !self.reset_sent
    }

    /// The outcome, once [`Step::Done`] was returned.
    pub fn into_report(self) -> Result<Report, SendError> {
        let Some(mail_reply) = self.mail_reply else {
            return Err(SendError::Closed);
        };
        if !mail_reply.is_positive() {
            return Err(SendError::SenderRefused(mail_reply));
        }
        let data_reply = self.data_reply;
        let recipients = self
            .recipients
            .into_iter()
            .zip(self.rcpt_replies)
            .map(|(recipient, rcpt_reply)| {
                // A missing RCPT reply cannot happen once Done; report it as
                // deferred rather than invent an answer.
                let rcpt_reply = rcpt_reply.unwrap_or_else(|| Reply::new(451, "no reply to RCPT"));
                let reply = match (&data_reply, rcpt_reply.is_positive()) {
                    (Some(data), true) => data.clone(),
                    (None, true) => Reply::new(451, "message content not sent"),
                    (_, false) => rcpt_reply.clone(),
                };
                RecipientReport {
                    recipient,
                    outcome: Outcome::of(&reply),
                    reply,
                    rcpt_reply,
                }
            })
            .collect();
        Ok(Report {
            mail_reply,
            recipients,
            data_reply,
            size: self.plan.size,
            enhanced_status_codes: self.enhanced_status_codes,
        })
    }

    /// The outcome when the session broke before the transaction ended
    /// (`error`, from the driver): what the replies already received said
    /// still holds.
    ///
    /// - A refused MAIL (RFC 5321 §3.3) refused the transaction:
    ///   [`SendError::SenderRefused`], permanent for a 5yz.
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
        let Some(mail_reply) = &self.mail_reply else {
            return Err(error);
        };
        if !mail_reply.is_positive() {
            return Err(SendError::SenderRefused(mail_reply.clone()));
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
        let recipients = self
            .recipients
            .into_iter()
            .zip(self.rcpt_replies)
            .map(|(recipient, rcpt_reply)| {
                let rcpt_reply = rcpt_reply.unwrap_or_else(|| lost.clone());
                let reply = if rcpt_reply.is_permanent() {
                    rcpt_reply.clone()
                } else {
                    lost.clone()
                };
                RecipientReport {
                    recipient,
                    outcome: Outcome::of(&reply),
                    reply,
                    rcpt_reply,
                }
            })
            .collect();
        Ok(Report {
            mail_reply: mail_reply.clone(),
            recipients,
            data_reply: None,
            size: self.plan.size,
            enhanced_status_codes: self.enhanced_status_codes,
        })
    }

    fn accepted_count(&self) -> usize {
        self.rcpt_replies
            .iter()
            .filter(|r| r.as_ref().is_some_and(Reply::is_positive))
            .count()
    }

    fn mail_refused(&self) -> bool {
        self.mail_reply.as_ref().is_some_and(|r| !r.is_positive())
    }

    /// Without PIPELINING: every written command is answered; decide what to
    /// write next. (With PIPELINING everything was written at once, and this
    /// only starts BDAT once the envelope replies are in.)
    fn advance(&mut self) {
        // RFC 5321 §3.3: a refused MAIL ends the transaction.
        if self.mail_refused() {
            return self.abort();
        }
        if let Some((command, expect, wait)) = self.unsent.pop_front() {
            // RFC 5321 §3.3: no DATA when no recipient was accepted.
            if expect == Expect::Data && self.accepted_count() == 0 {
                return self.abort();
            }
            return self.exchange.command(&command, expect, wait);
        }
        if self.plan.chunking {
            if self.accepted_count() == 0 {
                return self.abort();
            }
            self.send_chunks();
        }
    }

    /// RFC 5321 §4.1.1.5: RSET abandons the transaction, whatever state it is in.
    fn abort(&mut self) {
        self.phase = Phase::Resetting;
        self.reset_sent = true;
        self.unsent.clear();
        self.unsent_chunks.clear();
        self.stuffing = None;
        self.exchange
            .command(&Command::Rset, Expect::Rset, Wait::Command);
    }

    fn on_data_reply(&mut self, reply: Reply) -> Result<(), SendError> {
        if reply.code == 354 {
            if self.accepted_count() > 0 && !self.mail_refused() {
                self.send_content();
            } else {
                // RFC 2920 §3.1: DATA was pipelined, nobody was accepted and
                // the server still said 354: "the client SMTP should send a
                // single dot", then reset.
                self.phase = Phase::Content;
                self.exchange.write(b".\r\n".to_vec(), Wait::DataBlock);
                self.exchange
                    .expect(Expect::EmptyDataEnd, Wait::DataTermination);
            }
            return Ok(());
        }
        if reply.is_positive() || reply.is_intermediate() {
            // RFC 5321 §4.3.2: DATA earns 354 or an error, nothing else.
            return Err(SendError::UnexpectedReply {
                command: "DATA",
                reply,
            });
        }
        // Refused (RFC 2920 §3.1: 503/554 when no recipient was accepted).
        if self.accepted_count() > 0 && !self.mail_refused() {
            self.data_reply = Some(reply);
        }
        self.abort();
        Ok(())
    }

    /// RFC 5321 §4.5.2: the content, dot-stuffed, then `<CRLF>.<CRLF>`. The
    /// smtp-wire DotStuffer also turns any bare CR or LF into CRLF, so no
    /// byte sequence in the message can end the data early or smuggle a
    /// command after it.
    fn send_content(&mut self) {
        self.phase = Phase::Content;
        self.stuffing = Some((DotStuffer::new(), 0));
        // The blocks are queued by `next_block`, each before any reply is
        // read (Exchange::next_step: writes first), so this reply is read
        // only after the final dot has been written.
        self.exchange.expect(Expect::DataEnd, Wait::DataTermination);
    }

    /// The next block of dot-stuffed content, the last one followed by
    /// `<CRLF>.<CRLF>` (RFC 5321 §4.1.1.4); `None` once everything is queued.
    ///
    /// `verified`: the caller has checked that `content` is canonical (CRLF
    /// line ends only, ending with CRLF); then the dots are doubled by
    /// [`stuff_canonical`], else by the smtp-wire DotStuffer, which also
    /// repairs bare CR and LF (defence in depth for [`Transaction::new`]
    /// callers that did not use `canonical_message`).
    fn next_block(&mut self, content: &[u8], verified: bool) -> Option<Vec<u8>> {
        let (stuffer, done) = self.stuffing.as_mut()?;
        let block = content.get(*done..).unwrap_or_default();
        let block = &block[..block.len().min(DATA_BLOCK)];
        let mut out = Vec::with_capacity(block.len() + block.len() / 64 + 8);
        if verified {
            let at_line_start = *done == 0 || content.get(*done - 1) == Some(&b'\n');
            stuff_canonical(block, at_line_start, &mut out);
        } else {
            stuffer.encode(block, &mut out);
        }
        *done += block.len();
        if *done >= content.len() {
            if verified {
                // Canonical content ends at a line start: only the dot line.
                out.extend_from_slice(b".\r\n");
            } else {
                stuffer.finish(&mut out);
            }
            self.stuffing = None;
        }
        Some(out)
    }

    /// [`Machine::next_step`] for a transaction whose content stays with
    /// the caller: `content` must be the canonical message (what `new` was
    /// given a copy of, if it was given one), the same at every call.
    /// `Client::send` uses it to send the caller's message without copying
    /// it; only DATA needs it (BDAT chunks are built from the owned copy).
    /// `Client::send` has checked that `content` is canonical.
    pub(crate) fn next_step_with(&mut self, content: &[u8]) -> Step {
        self.next_step_from(content, true)
    }

    fn next_step_from(&mut self, content: &[u8], verified: bool) -> Step {
        if self.exchange.has_no_writes()
            && let Some(block) = self.next_block(content, verified)
        {
            return Step::Send {
                bytes: block,
                wait: Wait::DataBlock,
            };
        }
        self.exchange.next_step().unwrap_or(Step::Done)
    }

    /// RFC 3030 §2: `BDAT <size> [LAST]` followed by exactly `size` octets,
    /// no dot-stuffing. With PIPELINING all chunks go at once (§4.2),
    /// otherwise one per reply.
    fn send_chunks(&mut self) {
        self.phase = Phase::Content;
        let content = std::mem::take(&mut self.content);
        let pieces: Vec<&[u8]> = if content.is_empty() {
            vec![&[]]
        } else {
            content.chunks(BDAT_CHUNK).collect()
        };
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let last = i + 1 == count;
            let mut bytes = Vec::with_capacity(piece.len() + 24);
            Command::Bdat {
                size: piece.len() as u64,
                last,
            }
            .write_to(&mut bytes);
            bytes.extend_from_slice(piece);
            self.unsent_chunks.push_back(bytes);
        }
        if self.plan.pipelining {
            while let Some(chunk) = self.unsent_chunks.pop_front() {
                let last = self.unsent_chunks.is_empty();
                self.write_chunk(chunk, last);
            }
        } else if let Some(chunk) = self.unsent_chunks.pop_front() {
            let last = self.unsent_chunks.is_empty();
            self.write_chunk(chunk, last);
        }
    }

    fn write_chunk(&mut self, chunk: Vec<u8>, last: bool) {
        self.exchange.write(chunk, Wait::DataBlock);
        let wait = if last {
            Wait::DataTermination
        } else {
            Wait::DataBlock
        };
        self.exchange.expect(Expect::Bdat { last }, wait);
    }

    fn on_bdat_reply(&mut self, reply: Reply, last: bool) {
        if !reply.is_positive() {
            // RFC 3030 §4.2: a failed chunk fails the transaction; send no
            // more chunks. Keep the first failure: later ones only echo it.
            if !self.content_failed {
                self.content_failed = true;
                self.data_reply = Some(reply);
            }
        } else if last && !self.content_failed {
            self.data_reply = Some(reply);
        }
        if !self.exchange.is_idle() {
            return;
        }
        if self.content_failed {
            return self.abort();
        }
        match self.unsent_chunks.pop_front() {
            Some(chunk) => {
                let last = self.unsent_chunks.is_empty();
                self.write_chunk(chunk, last);
            }
            None => self.phase = Phase::Done,
        }
    }
}

/// RFC 5321 §4.5.2 for content already canonical (every line end a CRLF):
/// a line that starts with "." gets a second one, so no line of the
/// message can be the end-of-data line `.`. One SIMD search for "\n."
/// and bulk copies: a third of the DotStuffer's time, which looks at every
/// line end because it also repairs bare CR and LF.
fn stuff_canonical(block: &[u8], at_line_start: bool, out: &mut Vec<u8>) {
    if at_line_start && block.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut from = 0;
    for lf in memchr::memmem::find_iter(block, b"\n.") {
        out.extend_from_slice(&block[from..=lf]);
        out.push(b'.');
        from = lf + 1;
    }
    out.extend_from_slice(&block[from..]);
}

/// Defence in depth: whatever the path types allowed, a command line must
/// hold no CR, LF or NUL before its final CRLF (RFC 5321 §2.3.8), or it
/// would carry a second command.
fn refuse_broken_line(command: &Command) -> Result<(), SendError> {
    let mut line = Vec::new();
    command.write_to(&mut line);
    let body = line.strip_suffix(b"\r\n").unwrap_or(&line);
    if body.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(SendError::InvalidInput {
            what: "command",
            value: String::from_utf8_lossy(body).into_owned(),
            reason: "contains a CR, LF or NUL (a command could be smuggled)".into(),
        });
    }
    Ok(())
}

impl Machine for Transaction {
    fn next_step(&mut self) -> Step {
        let content = std::mem::take(&mut self.content);
        let step = self.next_step_from(&content, false);
        self.content = content;
        step
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), SendError> {
        // RFC 5321 §3.8: 421 at any point: the server is going away.
        if reply.code == 421 {
            return Err(SendError::ServiceClosing(reply));
        }
        let Some(expect) = self.exchange.reply_arrived() else {
            return Err(SendError::UnexpectedReply {
                command: "(none)",
                reply,
            });
        };
        match expect {
            Expect::Rset => {
                if !reply.is_positive() {
                    return Err(SendError::Rejected {
                        command: "RSET",
                        reply,
                    });
                }
                if self.phase == Phase::Resetting {
                    self.phase = Phase::Done;
                }
            }
            Expect::Mail => self.mail_reply = Some(reply),
            Expect::Rcpt(i) => {
                if let Some(slot) = self.rcpt_replies.get_mut(i) {
                    *slot = Some(reply);
                }
            }
            Expect::Data => self.on_data_reply(reply)?,
            Expect::DataEnd => {
                // RFC 5321 §4.1.1.4: the reply after "." ends the
                // transaction, whatever it says. It may come early, while
                // content is still being written (the driver reads it after
                // a failed write): no more blocks then.
                self.data_reply = Some(reply);
                self.stuffing = None;
                self.phase = Phase::Done;
            }
            Expect::EmptyDataEnd => self.abort(),
            Expect::Bdat { last } => self.on_bdat_reply(reply, last),
        }
        if self.phase == Phase::Envelope && self.exchange.is_idle() {
            self.advance();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::stuff_canonical;
    use crate::client::{canonical_message, is_canonical};
    use smtp_wire::DotStuffer;

    /// For every canonical string built from up to 6 pieces of
    /// {"a", ".", "..", CRLF}, cut in two anywhere, the fast stuffing
    /// gives what the DotStuffer gives.
    #[test]
    fn canonical_stuffing_matches_the_dot_stuffer() {
        const PIECES: [&[u8]; 4] = [b"a", b".", b"..", b"\r\n"];
        for len in 0..=6u32 {
            for mut n in 0..4usize.pow(len) {
                let mut m = Vec::new();
                for _ in 0..len {
                    m.extend_from_slice(PIECES[n % 4]);
                    n /= 4;
                }
                let m = canonical_message(&m);
                assert!(is_canonical(&m));
                let mut expected = Vec::new();
                let mut stuffer = DotStuffer::new();
                stuffer.encode(&m, &mut expected);
                stuffer.finish(&mut expected);
                for cut in 0..=m.len() {
                    let (a, b) = m.split_at(cut);
                    let mut out = Vec::new();
                    stuff_canonical(a, true, &mut out);
                    stuff_canonical(b, a.is_empty() || a.ends_with(b"\n"), &mut out);
                    out.extend_from_slice(b".\r\n");
                    assert_eq!(out, expected, "{m:?} cut at {cut}");
                }
            }
        }
    }
}
