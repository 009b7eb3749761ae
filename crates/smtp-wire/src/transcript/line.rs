//! Lines assembled from chunks, with two views of the same bytes: the start
//! of the line, which decides what the line *is* (command, reply code, end of
//! data), and the part to show, cut at the display limit.
//!
//! A note or the TLS marker can show a line before it ends; the line still
//! ends where the peer ends it, so the start is kept for the classification
//! and only the part not shown yet is shown when the line completes.

use crate::line::MAX_COMMAND_LINE;

use super::render::Ending;

/// Bytes of a line kept for its classification: one more than the longest
/// command line (RFC 5321 §4.5.3.1.4: 512 octets with the CRLF), so that a
/// line too long to be a command is known to be one.
pub(super) const CLASS_BYTES: usize = MAX_COMMAND_LINE + 1;

/// A line being assembled.
#[derive(Debug, Clone, Default)]
pub(super) struct LineAsm {
    /// The first `max(display limit, CLASS_BYTES)` bytes of the line.
    kept: Vec<u8>,
    /// Bytes pushed so far (kept or not).
    len: u64,
    /// Bytes before this offset were already shown (or counted as cut).
    shown_to: u64,
    /// Some byte of the line must never be shown (sent as an AUTH secret).
    tainted: bool,
    /// The last byte pushed (to see a CR that fell beyond the kept part).
    last: Option<u8>,
}

/// A complete (or abandoned) line, without its line end.
#[derive(Debug, Clone)]
pub(super) struct Line {
    /// The kept start of the line.
    kept: Vec<u8>,
    /// The length of the whole line.
    len: u64,
    /// Bytes before this offset were already shown.
    shown_to: u64,
    /// How it ended.
    pub(super) ending: Ending,
    /// Some byte of it must never be shown.
    pub(super) tainted: bool,
}

impl LineAsm {
    /// Add bytes (no LF among them); `taint` marks them secret.
    pub(super) fn push(&mut self, bytes: &[u8], display_cap: usize, taint: bool) {
        let cap = display_cap.max(CLASS_BYTES);
        let room = cap.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.len += bytes.len() as u64;
        self.tainted |= taint && !bytes.is_empty();
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
    }

    /// Some byte of the line was pushed and not shown yet.
    pub(super) fn has_unshown(&self) -> bool {
        self.len > self.shown_to
    }

    /// Some byte of the current line was pushed (shown or not).
    pub(super) fn in_line(&self) -> bool {
        self.len > 0
    }

    /// The line so far (it has not ended).
    pub(super) fn peek(&self) -> Line {
        Line {
            kept: self.kept.clone(),
            len: self.len,
            shown_to: self.shown_to,
            ending: Ending::None,
            tainted: self.tainted,
        }
    }

    /// What was pushed so far has been shown; the line goes on.
    pub(super) fn mark_shown(&mut self) {
        self.shown_to = self.len;
    }

    /// The line ended with an LF (not pushed).
    pub(super) fn take_terminated(&mut self) -> Line {
        let mut line = self.take(Ending::BareLf);
        if self.last.take() == Some(b'\r') {
            // The CR belongs to the line end: remove it from wherever it is.
            if line.kept.len() as u64 == line.len {
                line.kept.pop();
            }
            line.len -= 1;
            line.ending = Ending::Crlf;
        }
        line
    }

    /// The line stops here without a line end (a BDAT chunk ended).
    pub(super) fn take_unterminated(&mut self) -> Line {
        self.last = None;
        self.take(Ending::None)
    }

    /// Takes back the buffer of a line this assembler made, once the line
    /// is recorded: the next line is assembled in it without allocating.
    pub(super) fn recycle(&mut self, line: Line) {
        if self.kept.capacity() == 0 {
            let mut kept = line.kept;
            kept.clear();
            self.kept = kept;
        }
    }

    fn take(&mut self, ending: Ending) -> Line {
        let line = Line {
            kept: std::mem::take(&mut self.kept),
            len: self.len,
            shown_to: self.shown_to,
            ending,
            tainted: self.tainted,
        };
        self.len = 0;
        self.shown_to = 0;
        self.tainted = false;
        line
    }
}

impl Line {
    /// The start of the line that decides what it is (at most
    /// [`CLASS_BYTES`] bytes).
    pub(super) fn class(&self) -> &[u8] {
        &self.kept[..self.kept.len().min(CLASS_BYTES)]
    }

    /// The whole line is in [`Line::class`].
    pub(super) fn is_whole(&self) -> bool {
        self.len == self.class().len() as u64
    }

    /// The length of the whole line.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Part of the line was shown before it ended.
    pub(super) fn partly_shown(&self) -> bool {
        self.shown_to > 0
    }

    /// The part not shown yet, cut at `display_cap`, and how many of its
    /// bytes were cut.
    pub(super) fn unshown(&self, display_cap: usize) -> (&[u8], u64) {
        let start = self.shown_to.min(self.len);
        let rest = self.len - start;
        let from = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(self.kept.len());
        let to = self.kept.len().min(from.saturating_add(display_cap));
        let shown = &self.kept[from..to];
        (shown, rest - shown.len() as u64)
    }
}
