//! Reading the client's bytes: lines by the tracker's mode, BDAT chunks by
//! count, and what each line shows (redacted, cut, or kept for a body's
//! head and tail).

use std::collections::VecDeque;

use memchr::memchr;

use super::line::Line;
use super::render::Ending;
use super::tracker::{ClientMode, REDACTED, redact_auth, redact_auth_anywhere};
use super::{BodyKeep, Direction, Transcript};

impl Transcript {
    /// Read client bytes until they must be held; returns how many were read.
    /// `secret`: the bytes were sent during an AUTH exchange.
    pub(super) fn feed_client(&mut self, bytes: &[u8], secret: bool) -> usize {
        let cap = self.limits.max_line_bytes;
        let mut rest = bytes;
        while !rest.is_empty() {
            let mode = self.tracker.mode();
            match mode {
                ClientMode::Hold => break,
                ClientMode::Chunk => {
                    let remaining = self.tracker.chunk_remaining();
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    let (chunk, tail) = rest.split_at(n);
                    self.chunk_bytes(chunk, secret);
                    rest = tail;
                }
                ClientMode::Command | ClientMode::Secret | ClientMode::Body => {
                    // A response line is secret even if a reply ends the
                    // exchange before the line does.
                    let taint = secret || mode == ClientMode::Secret;
                    match memchr(b'\n', rest) {
                        Some(lf) => {
                            self.client_line.push(&rest[..lf], cap, taint);
                            let line = self.client_line.take_terminated();
                            self.client_line_done(line, mode);
                            rest = &rest[lf + 1..];
                        }
                        None => {
                            self.client_line.push(rest, cap, taint);
                            rest = &[];
                        }
                    }
                }
            }
        }
        bytes.len() - rest.len()
    }

    /// A complete client line, read in `mode`.
    fn client_line_done(&mut self, line: Line, mode: ClientMode) {
        match mode {
            ClientMode::Body => {
                if self.tracker.body_line(&line) {
                    // The end-of-data line: show the kept tail first.
                    self.finish_body();
                    self.store_client_line(&line, Shown::AsSent);
                } else {
                    self.body_line(line);
                }
            }
            ClientMode::Secret => {
                self.tracker.response_line();
                self.store_client_line(&line, Shown::Redacted);
            }
            ClientMode::Command | ClientMode::Chunk | ClientMode::Hold => {
                let shown = command_shown(&line, self.tracker.is_preview());
                self.tracker.command_line(&line);
                self.store_client_line(&line, shown);
            }
        }
        self.sync_body();
    }

    /// Octets of a BDAT chunk: lines of body content, not commands.
    fn chunk_bytes(&mut self, chunk: &[u8], secret: bool) {
        let cap = self.limits.max_line_bytes;
        let mut rest = chunk;
        while let Some(lf) = memchr(b'\n', rest) {
            self.client_line.push(&rest[..lf], cap, secret);
            let line = self.client_line.take_terminated();
            self.body_line(line);
            rest = &rest[lf + 1..];
        }
        self.client_line.push(rest, cap, secret);
        self.tracker.chunk_consumed(chunk.len() as u64);
        if self.tracker.chunk_remaining() == 0 {
            // RFC 3030 §2: a chunk need not end at a line end; the next
            // octet starts a command line.
            if self.client_line.in_line() {
                let line = self.client_line.take_unterminated();
                self.body_line(line);
            }
            self.finish_body();
        }
    }

    /// Start or finish the kept body to follow the tracker's state.
    pub(super) fn sync_body(&mut self) {
        let in_body = matches!(self.tracker.mode(), ClientMode::Body | ClientMode::Chunk);
        if in_body && self.body.is_none() {
            self.body = Some(BodyKeep {
                head_left: self.limits.body_head_lines,
                tail: VecDeque::new(),
                elided_lines: 0,
                elided_bytes: 0,
            });
        } else if !in_body && self.body.is_some() {
            self.finish_body();
        }
    }

    /// One body line: stored while within the head, then kept in the tail ring.
    fn body_line(&mut self, line: Line) {
        let shown = if line.tainted {
            Shown::Redacted
        } else {
            Shown::AsSent
        };
        let Some(body) = &mut self.body else {
            self.store_client_line(&line, shown);
            self.client_line.recycle(line);
            return;
        };
        if body.head_left > 0 {
            body.head_left -= 1;
            self.store_client_line(&line, shown);
            self.client_line.recycle(line);
            return;
        }
        let (shown_bytes, cut) = shown.bytes(&line, self.limits.max_line_bytes);
        body.keep_in_tail(
            self.limits.body_tail_lines,
            [shown_bytes, line.ending.bytes()],
            cut,
        );
        // The line's own buffer goes back to the assembler.
        self.client_line.recycle(line);
    }

    /// End of a body or chunk: note the elided lines, then store the tail.
    pub(super) fn finish_body(&mut self) {
        let Some(body) = self.body.take() else {
            return;
        };
        if let Some(note) = body.note()
            && self.fits(note.len())
        {
            self.events.push(super::Event::Note(note));
        }
        for kept in body.tail {
            self.store_raw(Direction::Client, &kept.bytes, kept.cut);
        }
    }

    /// What to show for the client's unfinished line (redacted as it would be).
    pub(super) fn shown_partial_client(&self) -> (Vec<u8>, u64) {
        let line = self.client_line.peek();
        let shown = match self.tracker.mode() {
            _ if line.tainted => Shown::Redacted,
            ClientMode::Command => command_shown(&line, self.tracker.is_preview()),
            ClientMode::Body | ClientMode::Chunk => Shown::AsSent,
            // Nothing is assembled while held; hide it if it ever is.
            ClientMode::Secret | ClientMode::Hold => Shown::Redacted,
        };
        let (bytes, cut) = shown.bytes(&line, self.limits.max_line_bytes);
        (bytes.to_vec(), cut)
    }

    /// Record unfinished lines without a line end (before TLS or a note).
    /// The lines go on: what follows is shown when they end.
    pub(super) fn flush_partial(&mut self) {
        if self.client_line.has_unshown() {
            let (shown, cut) = self.shown_partial_client();
            self.client_line.mark_shown();
            self.store_line(Direction::Client, &shown, Ending::None, cut);
        }
        if self.server_line.has_unshown() {
            let line = self.server_line.peek();
            let (shown, cut) = line.unshown(self.limits.max_line_bytes);
            let shown = shown.to_vec();
            self.server_line.mark_shown();
            self.store_line(Direction::Server, &shown, Ending::None, cut);
        }
    }

    fn store_client_line(&mut self, line: &Line, shown: Shown) {
        let (bytes, cut) = shown.bytes(line, self.limits.max_line_bytes);
        self.store_line(Direction::Client, bytes, line.ending, cut);
    }
}

/// How a client line is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    /// As sent (cut at the display limit).
    AsSent,
    /// `<redacted>`.
    Redacted,
    /// `AUTH <mechanism> <redacted>`.
    Auth(Vec<u8>),
}

impl Shown {
    /// The bytes to show for `line` (the part not shown yet) and how many
    /// were cut. A redacted line says nothing about the secret, not even its
    /// length.
    fn bytes<'a>(&'a self, line: &'a Line, display_cap: usize) -> (&'a [u8], u64) {
        match self {
            Shown::AsSent => line.unshown(display_cap),
            // The start of the line was shown (it said nothing secret yet):
            // the rest is the secret.
            Shown::Auth(_) if line.partly_shown() => (REDACTED, 0),
            Shown::Auth(redacted) => (redacted, 0),
            Shown::Redacted => (REDACTED, 0),
        }
    }
}

/// A command line: AUTH initial responses are redacted (RFC 4954 §4), and
/// anything sent during an AUTH exchange is. In `preview` (held bytes not
/// known yet) an AUTH command may start anywhere in the line.
fn command_shown(line: &Line, preview: bool) -> Shown {
    // A held line longer than its classified start could hide an AUTH
    // command after a chunk end beyond it.
    if line.tainted || (preview && !line.is_whole()) {
        return Shown::Redacted;
    }
    let redacted = if preview {
        redact_auth_anywhere(line.class(), line.is_whole())
    } else {
        redact_auth(line.class(), line.is_whole())
    };
    match redacted {
        Some(redacted) => Shown::Auth(redacted),
        None => Shown::AsSent,
    }
}
