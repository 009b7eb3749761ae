//! The end of a message (DATA or the last BDAT chunk): the checks of the
//! whole text, then the reply.

use smtp_wire::Reply;

use super::commands::code;
use super::{Judge, Phase, Txn};
use crate::client::body::BodyScanner;
use crate::client::checks::Check;
use crate::client::rules;
use crate::client::scenario::Scenario;

impl Judge {
    pub(super) fn end_of_chunk(&mut self) {
        self.phase = Phase::Command;
        let Some((_, last, refused)) = self.chunk.take() else {
            return;
        };
        if refused {
            return self.reply(Reply::enhanced(
                503,
                code(5, 5, 1),
                "need MAIL and an accepted RCPT",
            ));
        }
        if !last {
            return self.reply(Reply::enhanced(250, code(2, 0, 0), "chunk received"));
        }
        let scanner = self
            .txn
            .chunks
            .take()
            .unwrap_or_else(|| BodyScanner::new(false));
        let size = self.txn.chunk_bytes;
        self.message_done(scanner, size, false);
    }

    pub(super) fn end_of_data(&mut self) {
        self.phase = Phase::Command;
        let Some((decoder, scanner)) = self.data.take() else {
            return;
        };
        let size = decoder.stats().bytes;
        self.message_done(scanner, size, true);
    }

    /// Checks of a whole message, then the reply to its end.
    fn message_done(&mut self, s: BodyScanner, size: u64, dots: bool) {
        self.messages += 1;
        if let Some(ex) = &s.first_bare {
            self.violate(
                Check::Crlf,
                format!(
                    "{} bare LF and {} bare CR in the message text, first on line {}: {:?}",
                    s.bare_lf, s.bare_cr, ex.line, ex.head
                ),
            );
        }
        if let Some(ex) = &s.first_unstuffed {
            self.violate(
                Check::DotStuffing,
                format!(
                    "{} lines start with an undoubled dot, first line {}: {:?}",
                    s.unstuffed, ex.line, ex.head
                ),
            );
        } else if dots {
            self.findings
                .exercised(Check::DotStuffing, "no undoubled leading dot");
        }
        if let Some(ex) = &s.first_long {
            self.violate(
                Check::LineLength,
                format!(
                    "{} text lines over 1000 octets, first line {}",
                    s.long_lines, ex.line
                ),
            );
        } else {
            self.findings
                .exercised(Check::LineLength, "all lines within the limits");
        }
        self.findings.exercised(
            Check::EightBit,
            if s.eight_bit > 0 {
                "8-bit text declared with BODY=8BITMIME"
            } else {
                "7-bit text"
            },
        );
        self.fault(rules::eight_bit(
            s.eight_bit,
            self.txn.body_8bit,
            &self.caps,
        ));
        if self.has_cap("SIZE") {
            match rules::size_declared(self.txn.size, size) {
                Ok(passed) => self.findings.exercised(Check::SizeDeclared, &passed),
                Err(fault) => self.fault(Some(fault)),
            }
        }
        if self.txn.accepted > 0 && self.cfg.scenario == Scenario::RcptRefused {
            self.reaction.note = Some("went on with the accepted recipients".into());
        }
        self.txn = Txn::default();
        match self.size_limit() {
            Some(limit) if size > limit => {
                if self.cfg.scenario == Scenario::SizeTooSmall
                    && let Some(text) = rules::over_size_limit(size, limit)
                {
                    self.react_violation(text);
                }
                self.reply(Reply::enhanced(
                    552,
                    code(5, 3, 4),
                    "message size exceeds fixed maximum message size",
                ))
            }
            _ => self.reply(Reply::enhanced(
                250,
                code(2, 0, 0),
                "message accepted (judged, not delivered)",
            )),
        }
    }
}
