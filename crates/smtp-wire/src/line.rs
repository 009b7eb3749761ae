//! Command-line framing (RFC 5321 §2.3.8, §4.5.3.1.4): turn a byte stream
//! into complete command lines, incrementally and with a length limit.
//!
//! Policy, in one place:
//! - a line ends at LF. `CRLF` is the proper end (RFC 5321 §2.3.8); an LF not
//!   preceded by CR also ends the line but is flagged `bare_lf: true`, so the
//!   caller decides (the receiver refuses it with `500 5.5.2` by default);
//! - a bare CR (not followed by LF) is an ordinary byte inside the line; the
//!   command parser will reject it where the grammar does not allow it;
//! - a line longer than the limit (512 octets including CRLF by default,
//!   RFC 5321 §4.5.3.1.4) is reported exactly once as [`LineEvent::TooLong`]
//!   and then skipped up to and including its real LF, so its tail can never
//!   be taken for a second command (the Exim CVE-2020-28026 class of bug);
//! - "need more bytes" is [`LineEvent::NeedMore`], a status, not an error.
//!
//! ```
//! use smtp_wire::line::{LineDecoder, LineEvent, MAX_COMMAND_LINE};
//! let mut decoder = LineDecoder::new(MAX_COMMAND_LINE);
//! let mut buf = b"NOOP\r\nQU".to_vec();
//! let (used, event) = decoder.decode(&buf);
//! assert_eq!(event, LineEvent::Line { line: b"NOOP", bare_lf: false });
//! buf.drain(..used);
//! let (used, event) = decoder.decode(&buf);
//! assert_eq!((used, event), (0, LineEvent::NeedMore));
//! buf.extend_from_slice(b"IT\n");
//! let (_, event) = decoder.decode(&buf);
//! assert_eq!(event, LineEvent::Line { line: b"QUIT", bare_lf: true });
//! ```

use memchr::memchr;

/// RFC 5321 §4.5.3.1.4: the maximum total length of a command line including
/// the command word and the `<CRLF>` is 512 octets.
pub const MAX_COMMAND_LINE: usize = 512;

/// What [`LineDecoder::decode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEvent<'a> {
    /// A complete line, without its line end.
    Line {
        /// The line's bytes, without CRLF (or the bare LF). May contain bare CRs.
        line: &'a [u8],
        /// The line ended with an LF not preceded by CR (not RFC 5321 §2.3.8 conformant).
        bare_lf: bool,
    },
    /// A line exceeded the limit. Reported once per line; the rest of it is
    /// skipped up to and including its LF.
    TooLong,
    /// No complete line yet: read more bytes and call again.
    NeedMore,
}

/// An incremental line decoder; the caller owns the buffer.
///
/// Call [`LineDecoder::decode`] with everything received and not yet
/// consumed, then drop the returned number of bytes from the front of the
/// buffer, whatever the event. The decoder remembers how far it already
/// looked for an LF, so a client that trickles one byte at a time costs
/// linear, not quadratic, time.
///
/// Consumption rules: `Line` consumes the line and its line end; `TooLong`
/// consumes what has been seen of the line; `NeedMore` consumes nothing,
/// except while the rest of an over-long line is being skipped, where it
/// consumes (discards) those bytes so memory stays bounded.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    max_len: usize,
    /// Bytes at the start of the unconsumed input already known to hold no LF.
    scanned: usize,
    /// Inside an over-long line already reported: discard up to its LF.
    skipping: bool,
}

impl Default for LineDecoder {
    /// A decoder with the RFC 5321 limit, [`MAX_COMMAND_LINE`].
    fn default() -> Self {
        Self::new(MAX_COMMAND_LINE)
    }
}

impl LineDecoder {
    /// A decoder for lines of at most `max_len` octets including the line end
    /// (at least 2, room for CRLF).
    pub fn new(max_len: usize) -> Self {
        LineDecoder {
            max_len: max_len.max(2),
            scanned: 0,
            skipping: false,
        }
    }

    /// The line limit in octets, including the line end.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Look at `input` (the unconsumed bytes) and return how many bytes were
    /// consumed and what was found. Never panics.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> (usize, LineEvent<'a>) {
        let mut skipped = 0;
        if self.skipping {
            match memchr(b'\n', input) {
                Some(lf) => {
                    // The over-long line ends here; resume normal framing after it.
                    self.skipping = false;
                    self.scanned = 0;
                    skipped = lf + 1;
                }
                None => return (input.len(), LineEvent::NeedMore),
            }
        }
        let (used, event) = self.decode_line(&input[skipped..]);
        (skipped + used, event)
    }

    fn decode_line<'a>(&mut self, input: &'a [u8]) -> (usize, LineEvent<'a>) {
        let from = self.scanned.min(input.len());
        match memchr(b'\n', &input[from..]).map(|i| from + i) {
            Some(lf) => {
                self.scanned = 0;
                // RFC 5321 §4.5.3.1.4: the limit counts the line end too.
                if lf + 1 > self.max_len {
                    return (lf + 1, LineEvent::TooLong);
                }
                let (line, bare_lf) = match input[..lf].strip_suffix(b"\r") {
                    Some(line) => (line, false),
                    None => (&input[..lf], true),
                };
                (lf + 1, LineEvent::Line { line, bare_lf })
            }
            // Even if the very next byte were the LF, the line would exceed
            // the limit: report it now and discard it, so a peer cannot make
            // us buffer an endless line.
            None if input.len() >= self.max_len => {
                self.scanned = 0;
                self.skipping = true;
                (input.len(), LineEvent::TooLong)
            }
            None => {
                self.scanned = input.len();
                (0, LineEvent::NeedMore)
            }
        }
    }
}
