//! The message being received: its framing (DATA or BDAT chunks), the
//! trace prefix, the content policy, the size limit and the verdicts, with
//! bounded memory.

use smtp_wire::{BdatReader, DataDecoder, Reply};

use crate::config::{ContentPolicy, Limits};
use crate::content::{ContentCheck, Survey};
use crate::line_ends::BareLfNormalizer;
use crate::replies;

/// How the message octets are framed on the wire.
#[derive(Debug)]
pub(crate) enum Framing {
    /// DATA: dot-stuffed text ending at `<CRLF>.<CRLF>` (RFC 5321 §4.5.2).
    Data(DataDecoder),
    /// The current BDAT chunk (RFC 3030 §2).
    Bdat {
        reader: BdatReader,
        size: u64,
        last: bool,
    },
    /// Between BDAT chunks: the next command must be BDAT (or RSET/QUIT/NOOP...).
    BetweenChunks,
}

/// What one read of message octets reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reached {
    /// More octets are needed.
    More,
    /// The end of a BDAT chunk that is not the LAST one.
    ChunkEnd { size: u64 },
    /// The end of the message.
    End,
}

/// A message from DATA / the first BDAT until its final reply.
#[derive(Debug)]
pub(crate) struct Message {
    /// The queue id (also in the trace header and the final 250).
    pub(crate) id: String,
    /// Trace header lines not yet handed to the application.
    prefix: Vec<u8>,
    /// Message octets received so far (RFC 1870 §3: after un-stuffing, trace
    /// excluded; with the liberal policy, after bare LFs became CRLF).
    pub(crate) size: u64,
    policy: ContentPolicy,
    normalizer: BareLfNormalizer,
    check: ContentCheck,
    /// Why the message will be refused, once known; from then on the rest
    /// is read and thrown away.
    pub(crate) refusal: Option<Reply>,
    /// The application has been told about the refusal.
    refusal_announced: bool,
    /// The application's verdict once its `data` returned.
    pub(crate) outcome: Option<Result<(), Reply>>,
    /// The application is still reading the body.
    pub(crate) handler_active: bool,
    /// The body has been read to its end.
    pub(crate) complete: bool,
    pub(crate) framing: Framing,
}

impl Message {
    pub(crate) fn new(
        id: String,
        prefix: Vec<u8>,
        framing: Framing,
        policy: ContentPolicy,
    ) -> Message {
        Message {
            id,
            prefix,
            size: 0,
            policy,
            normalizer: BareLfNormalizer::default(),
            check: ContentCheck::default(),
            refusal: None,
            refusal_announced: false,
            outcome: None,
            handler_active: true,
            complete: false,
            framing,
        }
    }

    /// Reads message octets from `input`, appending what the application
    /// should see to `out` (nothing once the message is refused or the
    /// application has stopped reading). Returns the octets consumed.
    pub(crate) fn read(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limits: &Limits,
    ) -> (usize, Reached) {
        if !self.prefix.is_empty() && self.handler_active {
            out.append(&mut self.prefix);
        }
        let start = out.len();
        let (consumed, reached) = match &mut self.framing {
            Framing::Data(decoder) => {
                let progress = decoder.decode(input, out);
                (
                    progress.consumed,
                    if progress.done {
                        Reached::End
                    } else {
                        Reached::More
                    },
                )
            }
            Framing::Bdat { reader, size, last } => {
                let consumed = reader.read(input, out);
                let reached = match (reader.is_done(), *last) {
                    (false, _) => Reached::More,
                    (true, true) => Reached::End,
                    (true, false) => Reached::ChunkEnd { size: *size },
                };
                (consumed, reached)
            }
            Framing::BetweenChunks => (0, Reached::More),
        };
        self.absorb(out, start, limits, reached == Reached::End);
        if reached == Reached::End {
            self.check.finish();
            self.note_refusal(limits);
        }
        (consumed, reached)
    }

    /// Accounts for the new content `out[start..]` (the last of the
    /// message when `end`); drops it from `out` when the application is
    /// not to see it.
    fn absorb(&mut self, out: &mut Vec<u8>, start: usize, limits: &Limits, end: bool) {
        // Once the message is refused, the text is neither normalised nor
        // checked.
        let survey = self
            .refusal
            .is_none()
            .then(|| self.normalized_survey(out, start, end));
        let fresh = &out[start..];
        self.size = self.size.saturating_add(fresh.len() as u64);
        if let Some(survey) = survey {
            if self.size > limits.message_size {
                // RFC 1870 §6.2: a message that turns out larger than the
                // limit is refused with 552 once it has been read.
                self.refusal = Some(replies::too_big(limits.message_size));
            } else {
                self.check
                    .scan(fresh, survey, self.policy.text_line_limit(limits));
                self.note_refusal(limits);
            }
        }
        if self.refusal.is_some() || !self.handler_active {
            out.truncate(start);
        }
    }

    /// The [`Survey`] of the new text `out[start..]` after the liberal
    /// policy made its bare LFs CRLF: one pass answers both the
    /// normaliser and the content check, and a second one is needed only
    /// when the normaliser rewrote the text.
    fn normalized_survey(&mut self, out: &mut Vec<u8>, start: usize, end: bool) -> Survey {
        let after_cr = self.check.after_cr();
        let survey = Survey::of(&out[start..], after_cr);
        if !self.policy.normalizes_bare_lf() {
            return survey;
        }
        // After the framing decided where the data ends, never before
        // (RFC 5321 §4.1.1.4): see line_ends.rs.
        let unstuff = matches!(self.framing, Framing::Data(_));
        if !self
            .normalizer
            .normalize(out, start, survey, after_cr, unstuff)
        {
            return survey;
        }
        if end {
            self.normalizer.finish(out);
        }
        Survey::of(&out[start..], after_cr)
    }

    fn note_refusal(&mut self, limits: &Limits) {
        if self.refusal.is_none() {
            self.refusal = self.check.refusal(self.policy.text_line_limit(limits));
        }
    }

    /// The refusal, the first time it is asked for while the application
    /// is still reading: it should stop (and drop what it has).
    pub(crate) fn refusal_to_announce(&mut self) -> Option<Reply> {
        if self.refusal_announced || !self.handler_active {
            return None;
        }
        let refusal = self.refusal.clone()?;
        self.refusal_announced = true;
        Some(refusal)
    }

    /// True once the message cannot end in a 250: the library refuses it,
    /// or the application returned an error (or returned before reading it
    /// all, see `Session::finish_message`).
    pub(crate) fn failed(&self) -> bool {
        self.refusal.is_some() || matches!(self.outcome, Some(Err(_)))
    }

    /// The reply that ends this message: a refusal of the library first,
    /// then the application's verdict. A 250 is only ever given when the
    /// application returned `Ok` after the whole message was read (RFC 5321
    /// §6.1), and nothing can replace such a verdict afterwards: by then the
    /// content checks have seen every octet.
    pub(crate) fn final_reply(&self) -> Reply {
        if let Some(refusal) = &self.refusal {
            return refusal.clone();
        }
        match &self.outcome {
            Some(Ok(())) => replies::queued(&self.id),
            Some(Err(reply)) => reply.clone(),
            // Cannot happen: finalised only after the application answered.
            None => replies::local_error(),
        }
    }
}
