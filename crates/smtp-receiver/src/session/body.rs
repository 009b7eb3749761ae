//! The message being received: framing (DATA or BDAT chunks), the trace
//! prefix, the size limit and the content checks, with bounded memory.
//!
//! Receiver policy (decided for this project, documented in docs/receiver.md):
//! a message containing a bare CR or a bare LF is read to its real end and
//! refused with `550 5.6.11` (RFC 5321 §2.3.8: CR and LF must only occur
//! together as CRLF; this closes every SMTP-smuggling variant), and never
//! reaches storage.

use memchr::memchr2_iter;
use smtp_wire::{BdatReader, DataDecoder, Reply};

use super::replies;
use crate::config::Limits;

/// Watches message content for bare CR, bare LF (RFC 5321 §2.3.8) and text
/// lines longer than the limit (RFC 5321 §4.5.3.1.6), across chunk
/// boundaries, in constant memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContentCheck {
    /// The previous byte was a CR (its LF may be in the next chunk).
    prev_cr: bool,
    /// Octets in the current line so far, line ending excluded.
    line_len: usize,
    pub(crate) bare_cr: bool,
    pub(crate) bare_lf: bool,
    pub(crate) long_line: bool,
}

impl ContentCheck {
    /// Scans the next piece of content. `max_line` counts the CRLF.
    pub(crate) fn scan(&mut self, bytes: &[u8], max_line: Option<usize>) {
        let max_content = max_line.map_or(usize::MAX, |m| m.saturating_sub(2));
        let mut plain_from = 0;
        for at in memchr2_iter(b'\r', b'\n', bytes) {
            self.plain(at - plain_from);
            if bytes[at] == b'\r' {
                if self.prev_cr {
                    self.bare_cr = true; // CR CR: the first one is bare
                }
                self.prev_cr = true;
            } else {
                if !self.prev_cr {
                    self.bare_lf = true;
                }
                self.prev_cr = false;
                if self.line_len > max_content {
                    self.long_line = true;
                }
                self.line_len = 0;
            }
            plain_from = at + 1;
        }
        self.plain(bytes.len() - plain_from);
        if self.line_len > max_content {
            self.long_line = true;
        }
    }

    /// `n` octets other than CR and LF.
    fn plain(&mut self, n: usize) {
        if n > 0 {
            if self.prev_cr {
                self.bare_cr = true; // CR followed by something other than LF
                self.prev_cr = false;
            }
            self.line_len = self.line_len.saturating_add(n);
        }
    }

    /// The content has ended: a CR as its very last octet is bare too.
    pub(crate) fn finish(&mut self) {
        if self.prev_cr {
            self.bare_cr = true;
            self.prev_cr = false;
        }
    }

    /// The refusal these findings call for, if any.
    fn refusal(&self, max_line: Option<usize>) -> Option<Reply> {
        if self.bare_cr || self.bare_lf {
            Some(replies::bare_line_ending())
        } else if self.long_line {
            Some(replies::line_too_long(max_line.unwrap_or(0)))
        } else {
            None
        }
    }
}

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
    /// Message octets received so far (RFC 1870 §3: after un-stuffing, trace excluded).
    pub(crate) size: u64,
    check: ContentCheck,
    /// Why the message will be refused, once known; from then on the rest
    /// is read and thrown away.
    pub(crate) refusal: Option<Reply>,
    /// The application's verdict once its `data` returned.
    pub(crate) outcome: Option<Result<(), Reply>>,
    /// The application is still reading the body.
    pub(crate) handler_active: bool,
    /// The body has been read to its end.
    pub(crate) complete: bool,
    pub(crate) framing: Framing,
}

impl Message {
    pub(crate) fn new(id: String, prefix: Vec<u8>, framing: Framing) -> Message {
        Message {
            id,
            prefix,
            size: 0,
            check: ContentCheck::default(),
            refusal: None,
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
        self.absorb(out, start, limits);
        if reached == Reached::End {
            self.check.finish();
            self.note_refusal(limits);
        }
        (consumed, reached)
    }

    /// Accounts for the new content `out[start..]`; drops it from `out`
    /// when the application is not to see it.
    fn absorb(&mut self, out: &mut Vec<u8>, start: usize, limits: &Limits) {
        let fresh = &out[start..];
        self.size = self.size.saturating_add(fresh.len() as u64);
        if self.refusal.is_none() {
            if self.size > limits.message_size {
                // RFC 1870 §6.2: a message that turns out larger than the
                // limit is refused with 552 once it has been read.
                self.refusal = Some(replies::too_big(limits.message_size));
            } else {
                self.check.scan(fresh, limits.text_line);
                self.note_refusal(limits);
            }
        }
        if self.refusal.is_some() || !self.handler_active {
            out.truncate(start);
        }
    }

    fn note_refusal(&mut self, limits: &Limits) {
        if self.refusal.is_none() {
            self.refusal = self.check.refusal(limits.text_line);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pieces: &[&[u8]]) -> ContentCheck {
        let mut c = ContentCheck::default();
        for piece in pieces {
            c.scan(piece, Some(1000));
        }
        c.finish();
        c
    }

    #[test]
    fn clean_text_passes() {
        let c = check(&[b"Subject: hi\r\n\r\nbody\r\n"]);
        assert!(!c.bare_cr && !c.bare_lf && !c.long_line);
    }

    #[test]
    fn crlf_split_across_chunks_is_not_bare() {
        let c = check(&[b"line one\r", b"\nline two\r\n"]);
        assert!(!c.bare_cr && !c.bare_lf);
    }

    #[test]
    fn bare_endings_are_found() {
        assert!(check(&[b"a\nb\r\n"]).bare_lf);
        assert!(check(&[b"\n"]).bare_lf);
        assert!(check(&[b"a\rb\r\n"]).bare_cr);
        assert!(check(&[b"a\r\r\n"]).bare_cr);
        assert!(check(&[b"a\r"]).bare_cr);
        assert!(check(&[b"a\r", b"b"]).bare_cr);
    }

    #[test]
    fn long_lines_are_found_at_the_limit() {
        let ok = [vec![b'x'; 998], b"\r\n".to_vec()].concat();
        assert!(!check(&[&ok]).long_line);
        let long = [vec![b'x'; 999], b"\r\n".to_vec()].concat();
        assert!(check(&[&long]).long_line);
        let split = vec![b'x'; 500];
        assert!(check(&[&split, &split]).long_line);
    }
}
