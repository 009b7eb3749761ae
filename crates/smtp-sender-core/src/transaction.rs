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

mod content;
mod handover;
mod outcome;

pub use handover::{Handover, UntilWritten};

use std::collections::VecDeque;

use smtp_wire::Reply;
use smtp_wire::command::Command;
use smtp_wire::param::RcptParams;
use smtp_wire::path::ForwardPath;

use crate::envelope::Envelope;
use crate::error::ProtocolError;
use crate::message::Message;
use crate::plan::Plan;
use crate::step::{Exchange, Machine, Step, Wait};
use content::{bdat_chunks, data_block};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Rset,
    Mail,
    Rcpt(usize),
    Data,
    DataEnd,
    /// LMTP (RFC 2033 §4.2): the reply after "." for the recipient at
    /// this index, one per accepted recipient, in RCPT order.
    LmtpDataEnd(usize),
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
///
/// It borrows the message (`'a`): DATA content is dot-stuffed from it one
/// block at a time, when the connection asks for the next step, so memory
/// holds one block, not a second copy of the message.
#[derive(Debug)]
pub struct Transaction<'a> {
    plan: Plan,
    exchange: Exchange<Expect>,
    recipients: Vec<ForwardPath>,
    message: Message<'a>,
    /// Once the 354 arrived: how much of the message is dot-stuffed and
    /// queued; `None` before, and once the final dot is queued.
    stuffing: Option<usize>,
    /// Without PIPELINING, the commands not yet written; each goes out only
    /// once the previous one is answered, and only if it still makes sense.
    unsent: VecDeque<(Command, Expect, Wait)>,
    /// Without PIPELINING, the BDAT chunks not yet written.
    unsent_chunks: VecDeque<Vec<u8>>,
    phase: Phase,
    mail_reply: Option<Reply>,
    rcpt_replies: Vec<Option<Reply>>,
    data_reply: Option<Reply>,
    /// LMTP: each accepted recipient's reply after the data.
    lmtp_replies: Vec<Option<Reply>>,
    content_failed: bool,
    reset_sent: bool,
    enhanced_status_codes: bool,
}

impl<'a> Transaction<'a> {
    /// Prepares every command and checks it before anything is sent.
    ///
    /// `plan` comes from [`plan()`](crate::plan()) for this envelope and
    /// message; `reset_first` puts an RSET in front (RFC 5321 §4.1.1.5: a
    /// clean slate before a further transaction on the same session).
    pub fn new(
        envelope: &Envelope,
        message: Message<'a>,
        plan: Plan,
        reset_first: bool,
        enhanced_status_codes: bool,
    ) -> Result<Transaction<'a>, ProtocolError> {
        if envelope.to.is_empty() {
            return Err(ProtocolError::NoRecipients);
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
            let mut params = RcptParams::default();
            if let (true, Some(dsn)) = (plan.dsn, &envelope.dsn) {
                let request = dsn.recipient(i);
                params.notify = request.notify;
                params.orcpt = request.orcpt;
            }
            let rcpt = Command::Rcpt {
                to: to.clone(),
                params,
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
            lmtp_replies: vec![None; envelope.to.len()],
            message,
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

    /// Everything is written and only the reply to the end of the data is
    /// owed (RFC 5321 §4.1.1.4): whatever it says, this transaction writes
    /// nothing more, so the next one may start now ([`Handover`]). Not
    /// after BDAT (a refused last chunk is followed by RSET), nor when a
    /// lone dot is followed by RSET (RFC 2920 §3.1, a 354 nobody should
    /// receive), nor in LMTP with several accepted recipients (RFC 2033
    /// §4.2: one reply each; a server that sent one too few would have the
    /// next group's first reply taken for a recipient's).
    pub fn awaits_only_final_reply(&self) -> bool {
        self.stuffing.is_none()
            && self.unsent.is_empty()
            && self.unsent_chunks.is_empty()
            && self
                .exchange
                .owes_only_one(|expect| matches!(expect, Expect::DataEnd | Expect::LmtpDataEnd(_)))
    }

    /// Its commands go out in groups (RFC 2920: the server offers
    /// PIPELINING and the preferences allow it).
    pub fn is_pipelined(&self) -> bool {
        self.plan.pipelining
    }

    /// Every reply it asked for is in: nothing more to write or read.
    fn is_done(&self) -> bool {
        self.phase == Phase::Done
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

    fn on_data_reply(&mut self, reply: Reply) -> Result<(), ProtocolError> {
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
            return Err(ProtocolError::UnexpectedReply {
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

    /// RFC 5321 §4.5.2: the content, dot-stuffed, then `<CRLF>.<CRLF>`. A
    /// [`Message`] has CRLF line ends only (bare CR and LF were repaired
    /// when it was made), so with every leading dot doubled no byte
    /// sequence in it can end the data early or smuggle a command after it.
    fn send_content(&mut self) {
        self.phase = Phase::Content;
        self.stuffing = Some(0);
        // The blocks are queued by `next_block`, each before any reply is
        // read (Exchange::next_step: writes first), so this reply is read
        // only after the final dot has been written.
        if !self.plan.lmtp {
            return self.exchange.expect(Expect::DataEnd, Wait::DataTermination);
        }
        // RFC 2033 §4.2: one reply per recipient that RCPT accepted, in
        // the order of the RCPT commands.
        let accepted: Vec<usize> = (0..self.rcpt_replies.len())
            .filter(|&i| {
                self.rcpt_replies[i]
                    .as_ref()
                    .is_some_and(Reply::is_positive)
            })
            .collect();
        for i in accepted {
            self.exchange
                .expect(Expect::LmtpDataEnd(i), Wait::DataTermination);
        }
    }

    /// The next block of dot-stuffed content, the last one followed by
    /// `<CRLF>.<CRLF>` (RFC 5321 §4.1.1.4); `None` once everything is queued.
    fn next_block(&mut self) -> Option<Vec<u8>> {
        let from = self.stuffing?;
        let content = self.message.as_bytes();
        let (block, to) = data_block(content, from);
        self.stuffing = (to < content.len()).then_some(to);
        Some(block)
    }

    /// RFC 3030 §2: `BDAT <size> [LAST]` followed by exactly `size` octets,
    /// no dot-stuffing. With PIPELINING all chunks go at once (§4.2),
    /// otherwise one per reply.
    fn send_chunks(&mut self) {
        self.phase = Phase::Content;
        self.unsent_chunks = bdat_chunks(self.message.as_bytes());
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

/// Defence in depth: whatever the path types allowed, a command line must
/// hold no CR, LF or NUL before its final CRLF (RFC 5321 §2.3.8), or it
/// would carry a second command.
fn refuse_broken_line(command: &Command) -> Result<(), ProtocolError> {
    let mut line = Vec::new();
    command.write_to(&mut line);
    let body = line.strip_suffix(b"\r\n").unwrap_or(&line);
    if body.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(ProtocolError::InvalidInput {
            what: "command",
            value: String::from_utf8_lossy(body).into_owned(),
            reason: "contains a CR, LF or NUL (a command could be smuggled)".into(),
        });
    }
    Ok(())
}

impl Machine for Transaction<'_> {
    fn next_step(&mut self) -> Step {
        // Content blocks are queued one at a time, only when nothing else
        // is waiting to be written.
        if self.exchange.has_no_writes()
            && let Some(block) = self.next_block()
        {
            return Step::Send {
                bytes: block,
                wait: Wait::DataBlock,
            };
        }
        self.exchange.next_step().unwrap_or(Step::Done)
    }

    fn on_reply(&mut self, reply: Reply) -> Result<(), ProtocolError> {
        // RFC 5321 §3.8: 421 at any point: the server is going away.
        if reply.code == 421 {
            return Err(ProtocolError::ServiceClosing(reply));
        }
        let Some(expect) = self.exchange.reply_arrived() else {
            return Err(ProtocolError::UnexpectedReply {
                command: "(none)",
                reply,
            });
        };
        match expect {
            Expect::Rset => {
                if !reply.is_positive() {
                    return Err(ProtocolError::Rejected {
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
                // content is still being written (the connection reads it after
                // a failed write): no more blocks then.
                self.data_reply = Some(reply);
                self.stuffing = None;
                self.phase = Phase::Done;
            }
            Expect::LmtpDataEnd(i) => {
                self.stuffing = None;
                if self.data_reply.is_none() {
                    self.data_reply = Some(reply.clone());
                }
                if let Some(slot) = self.lmtp_replies.get_mut(i) {
                    *slot = Some(reply);
                }
                if self.exchange.is_idle() {
                    self.phase = Phase::Done;
                }
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
