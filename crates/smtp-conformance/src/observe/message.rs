//! Message text (DATA after its 354, BDAT chunks), line by line, with the
//! same scan as the active judge ([`BodyScanner`]), then the rules on the
//! whole message (8-bit text, SIZE).

use smtp_wire::MAX_TEXT_LINE;

use super::session::{Mode, Walk};
use super::steps::{Ending, Step, Wire};
use crate::client::Check;
use crate::client::Scenario;
use crate::client::body::BodyScanner;
use crate::client::rules::{self, Fault};

/// One message being read.
#[derive(Debug)]
pub(super) struct Message {
    scan: BodyScanner,
    /// DATA (dot-stuffed) rather than BDAT.
    dots: bool,
    /// The previous line ended with CRLF (the DATA line did).
    prev_crlf: bool,
    /// Its size as RFC 1870 §3 counts it (CRLFs in, stuffing dots and the
    /// end line out); where lines were left out, the least it can be.
    size: u64,
    /// The first line with an octet over 127.
    first_8bit: Option<usize>,
}

impl Message {
    /// A message sent with DATA (`dots`) or BDAT.
    pub(super) fn new(dots: bool) -> Message {
        Message {
            scan: BodyScanner::new(dots),
            dots,
            prev_crlf: true,
            size: 0,
            first_8bit: None,
        }
    }

    /// RFC 5321 §4.1.1.4: `<CRLF>.<CRLF>` ends DATA text, with real CRLFs
    /// on both sides (as the transcript decides it).
    fn is_end(&self, line: &Wire) -> bool {
        self.dots
            && self.prev_crlf
            && line.bytes == b"."
            && line.ending == Ending::Crlf
            && line.cut == 0
    }

    /// One line of text: what is wrong with it.
    fn line(&mut self, line: &Wire) -> Vec<Fault> {
        let before = self.scan.tally();
        self.scan.scan(&line.bytes);
        self.scan.skip(line.cut);
        self.scan.scan(line.ending.bytes());
        let after = self.scan.tally();
        let stuffed = self.dots && line.bytes.starts_with(b"..");
        self.size += line.len() - u64::from(stuffed);
        self.prev_crlf = line.ending == Ending::Crlf;
        if after.eight_bit > before.eight_bit && self.first_8bit.is_none() {
            self.first_8bit = Some(line.index);
        }
        let mut faults = Vec::new();
        // RFC 5321 §2.3.8: CR and LF only together.
        let bare = match (
            after.bare_cr > before.bare_cr,
            after.bare_lf > before.bare_lf,
        ) {
            (true, true) => Some("bare CR and bare LF in data"),
            (true, false) => Some("bare CR in data"),
            (false, true) => Some("bare LF in data"),
            (false, false) => None,
        };
        faults.extend(bare.map(|text| (Check::Crlf, text.to_string())));
        if after.long_lines > before.long_lines {
            let text = format!(
                "a text line of {} octets (more than {MAX_TEXT_LINE} with CRLF)",
                line.len()
            );
            faults.push((Check::LineLength, text));
        }
        if after.unstuffed > before.unstuffed {
            let text = if line.bytes == b"." {
                "a lone '.' that does not end the data (not between two CRLFs): not dot-stuffed"
            } else {
                "a line starting with '.' whose dot was not doubled (dot-stuffing)"
            };
            faults.push((Check::DotStuffing, text.to_string()));
        }
        faults
    }

    /// Lines the recording left out: only their octets are known.
    fn left_out(&mut self, lines: u64, bytes: u64) {
        // Any of them may have had a stuffing dot.
        let stuffing = if self.dots { lines } else { 0 };
        self.size += bytes.saturating_sub(stuffing);
        self.prev_crlf = true;
    }
}

impl Walk {
    /// A line (or left-out lines) of message text.
    pub(super) fn text(&mut self, step: &Step) {
        let faults = match (&mut self.mode, step) {
            (Mode::Body(message), Step::Client(line)) if message.is_end(line) => {
                return self.data_end(line.index);
            }
            (Mode::Body(message), Step::Client(line)) => message.line(line),
            (Mode::Body(message), Step::Elided { lines, bytes }) => {
                message.left_out(*lines, *bytes);
                Vec::new()
            }
            (Mode::Chunk { left, .. }, _) => {
                let message = self.txn.chunks.get_or_insert_with(|| Message::new(false));
                let (faults, used) = match step {
                    Step::Client(line) => (message.line(line), line.len()),
                    Step::Elided { lines, bytes } => {
                        message.left_out(*lines, *bytes);
                        (Vec::new(), *bytes)
                    }
                    _ => (Vec::new(), 0),
                };
                *left = left.saturating_sub(used);
                if *left == 0 {
                    self.chunk_done();
                }
                faults
            }
            _ => Vec::new(),
        };
        if let Step::Client(line) = step {
            for fault in faults {
                self.fault(line.index, Some(fault));
            }
        }
    }

    /// The end of DATA text: its reply is awaited.
    fn data_end(&mut self, at: usize) {
        if let Mode::Body(message) = std::mem::replace(&mut self.mode, Mode::Command) {
            self.message_done(&message, at);
        }
        self.pending.push_back("the message");
    }

    /// A BDAT chunk was read whole (RFC 3030 §2); after the LAST one, the
    /// message is.
    pub(super) fn chunk_done(&mut self) {
        let last = matches!(self.mode, Mode::Chunk { last: true, .. });
        self.mode = Mode::Command;
        if last && let Some(message) = self.txn.chunks.take() {
            let at = self.last_client.unwrap_or_default();
            self.message_done(&message, at);
        }
    }

    /// The rules on a whole message, ended on line `at`.
    fn message_done(&mut self, message: &Message, at: usize) {
        if let Some(first) = message.first_8bit {
            let octets = message.scan.tally().eight_bit;
            let fault = rules::eight_bit(octets, self.txn.body_8bit, &self.caps);
            self.fault(first, fault);
        }
        if self.caps.has("SIZE")
            && let Err(fault) = rules::size_declared(self.txn.size, message.size)
        {
            self.fault(self.txn.line, Some(fault));
        }
        if let Some(limit) = self.caps.size_limit()
            && let Some(text) = rules::over_size_limit(message.size, limit)
        {
            self.reaction(at, Scenario::SizeTooSmall, text);
        }
    }
}
