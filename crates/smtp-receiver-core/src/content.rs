//! The content checks of a message being received, in constant memory
//! whatever its size.
//!
//! Receiver policy (decided for this project, documented in docs/receiver.md,
//! "Policy"): a message containing a bare CR, or under the strict policy a
//! bare LF, is read to its real end and refused with `550 5.6.11` (RFC 5321
//! §2.3.8: CR and LF must only occur together as CRLF), and never reaches
//! storage. (The liberal policy has made every bare LF a CRLF before these
//! checks see the text, `line_ends.rs`.) A NUL octet is refused at both
//! levels with `550 5.6.0`: RFC 5322 §3.5 text and RFC 2045 §2.7/§2.8
//! 7bit and 8bit data exclude it, and we offer no BINARYMIME (RFC 3030).

use memchr::memchr2_iter;
use smtp_wire::Reply;

use crate::replies;

/// Watches message content for bare CR, bare LF (RFC 5321 §2.3.8), NUL
/// (RFC 2045 §2.8) and text lines longer than the limit (RFC 5321
/// §4.5.3.1.6), across chunk boundaries, in constant memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContentCheck {
    /// The previous byte was a CR (its LF may be in the next chunk).
    prev_cr: bool,
    /// Octets in the current line so far, line ending excluded.
    line_len: usize,
    pub(crate) bare_cr: bool,
    pub(crate) bare_lf: bool,
    pub(crate) nul: bool,
    pub(crate) long_line: bool,
}

impl ContentCheck {
    /// True when the content so far ends with a CR whose LF has not come
    /// yet: what [`Survey::of`] is told about the octet before a piece.
    pub(crate) fn after_cr(&self) -> bool {
        self.prev_cr
    }

    /// Scans the next piece of content, given its [`Survey`] (taken with
    /// [`after_cr`](Self::after_cr) as it is now). `max_line` counts the
    /// CRLF.
    ///
    /// Nearly all mail is clean, so the common case is made fast: the
    /// survey's one vectorised pass, then a jump from LF to LF for the line
    /// lengths. Only a piece with a bare CR or LF in it takes the
    /// octet-by-octet path that tells which it is.
    pub(crate) fn scan(&mut self, bytes: &[u8], survey: Survey, max_line: Option<usize>) {
        debug_assert_eq!(
            survey,
            Survey::of(bytes, self.prev_cr),
            "a survey of other text"
        );
        let Some(&last) = bytes.last() else {
            return;
        };
        self.nul |= survey.nul;
        let max_content = max_line.map_or(usize::MAX, |m| m.saturating_sub(2));
        if self.bare_cr || self.bare_lf || !survey.paired {
            return self.scan_exact(bytes, max_content);
        }
        // Every CR is followed by LF here (a CR at the very end waits for
        // the next piece), so a line's length is the distance between its
        // LFs less the CR; CRs are not counted, as in `scan_exact`.
        self.prev_cr = last == b'\r';
        let Some(first_lf) = memchr::memchr(b'\n', bytes) else {
            // No line end: the current line only grows.
            self.line_len = self
                .line_len
                .saturating_add(bytes.len() - usize::from(self.prev_cr));
            self.long_line |= self.line_len > max_content;
            return;
        };
        let last_lf = memchr::memrchr(b'\n', bytes).unwrap_or(first_lf);
        // The line the previous piece left open ends at the first LF.
        if self.line_len.saturating_add(first_lf.saturating_sub(1)) > max_content {
            self.long_line = true;
        }
        // Whole lines in between: if every block of `(max + 3) / 2` octets
        // holds an LF, no two LFs are more than `max + 2` apart, so no line
        // is too long: one search per block instead of one per line. Only
        // when a block has none are the lines measured one by one.
        let whole = &bytes[first_lf + 1..=last_lf];
        let block = max_content.saturating_add(3) / 2;
        if !self.long_line
            && !whole
                .chunks(block.max(1))
                .all(|b| memchr::memchr(b'\n', b).is_some())
        {
            let mut line_start = 0;
            for lf in memchr::memchr_iter(b'\n', whole) {
                if (lf - line_start).saturating_sub(1) > max_content {
                    self.long_line = true;
                }
                line_start = lf + 1;
            }
        }
        // The line the next piece continues.
        let rest = bytes.len() - (last_lf + 1);
        self.line_len = rest - usize::from(self.prev_cr && rest > 0);
        self.long_line |= self.line_len > max_content;
    }

    /// [`scan`](Self::scan), one line end at a time: finds which kind of
    /// bare line end a piece holds.
    fn scan_exact(&mut self, bytes: &[u8], max_content: usize) {
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
    pub(crate) fn refusal(&self, max_line: Option<usize>) -> Option<Reply> {
        if self.bare_cr || self.bare_lf {
            Some(replies::bare_line_ending())
        } else if self.nul {
            Some(replies::nul_octet())
        } else if self.long_line {
            Some(replies::line_too_long(max_line.unwrap_or(0)))
        } else {
            None
        }
    }
}

/// What one pass over a piece of content finds; the line-end normaliser
/// and the content check both decide from it, so the text is read once in
/// the common case instead of once for each question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Survey {
    /// Every LF follows a CR and every CR (but a last one) precedes an LF:
    /// RFC 5321 §2.3.8's only line end.
    pub(crate) paired: bool,
    /// A NUL octet is in the piece (RFC 2045 §2.8).
    pub(crate) nul: bool,
}

impl Survey {
    /// Surveys `bytes`, preceded by a CR when `after_cr`.
    ///
    /// Independent comparisons OR-ed per block, which the compiler
    /// vectorises (about 20 GB/s here, ten times the per-line search): one
    /// bit for a line end out of its pair, one for a NUL. After the first
    /// block out of pair, the rest is only searched for a NUL.
    pub(crate) fn of(bytes: &[u8], after_cr: bool) -> Survey {
        /// Checked between early exits.
        const BLOCK: usize = 4096;
        const UNPAIRED: u8 = 1;
        const NUL: u8 = 2;
        let Some(&first) = bytes.first() else {
            return Survey {
                paired: true,
                nul: false,
            };
        };
        let mut found = u8::from((first == b'\n') != after_cr) | (u8::from(first == 0) << 1);
        let mut start = 1;
        while start < bytes.len() && found & UNPAIRED == 0 {
            let end = (start + BLOCK).min(bytes.len());
            found |= bytes[start..end]
                .iter()
                .zip(&bytes[start - 1..end - 1])
                .fold(0u8, |acc, (&byte, &before)| {
                    acc | u8::from((byte == b'\n') != (before == b'\r'))
                        | (u8::from(byte == 0) << 1)
                });
            start = end;
        }
        if found & NUL == 0 && start < bytes.len() {
            found |= u8::from(memchr::memchr(0, &bytes[start..]).is_some()) << 1;
        }
        Survey {
            paired: found & UNPAIRED == 0,
            nul: found & NUL != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::every_string;

    /// Scans `piece` as `Message` does: surveyed, then checked.
    fn scan(c: &mut ContentCheck, piece: &[u8], max_line: Option<usize>) {
        let survey = Survey::of(piece, c.after_cr());
        c.scan(piece, survey, max_line);
    }

    fn check(pieces: &[&[u8]]) -> ContentCheck {
        let mut c = ContentCheck::default();
        for piece in pieces {
            scan(&mut c, piece, Some(1000));
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

    /// The fast path and the octet-by-octet one agree on every string of
    /// up to 8 octets over {x, CR, LF}, whole or split in two anywhere, and
    /// (up to 5 octets) after 4.7 KiB of clean lines, past the 4096-octet
    /// block of `Survey::of`.
    #[test]
    fn fast_and_exact_scans_agree() {
        const ALPHABET: [u8; 3] = [b'x', b'\r', b'\n'];
        let state = |c: &ContentCheck| (c.prev_cr, c.line_len, c.bare_cr, c.bare_lf, c.long_line);
        let prefix = b"0123456789\r\n".repeat(400);
        for tail in every_string(&ALPHABET, 8) {
            // After the prefix only the short tails (debug builds are slow).
            let with_prefix = (tail.len() <= 5).then(|| [prefix.as_slice(), &tail].concat());
            for input in std::iter::once(tail.clone()).chain(with_prefix) {
                // Splits around the tail (and at 0): where the cases are.
                let near_tail = input.len() - tail.len();
                let splits = (0..=input.len()).filter(|&i| i == 0 || i + 2 >= near_tail);
                for split in splits {
                    let (a, b) = input.split_at(split);
                    let (mut fast, mut exact) = (ContentCheck::default(), ContentCheck::default());
                    for piece in [a, b] {
                        scan(&mut fast, piece, Some(6));
                        exact.scan_exact(piece, 4);
                    }
                    fast.finish();
                    exact.finish();
                    assert_eq!(state(&fast), state(&exact), "{input:?} split at {split}");
                }
            }
        }
    }

    /// Realistic pieces: clean lines of 0 to 1100 octets (pseudo-random,
    /// reproducible), cut into pieces of 1 to 9000 octets; the fast path
    /// and the exact one agree at the 1000-octet limit.
    #[test]
    fn fast_and_exact_scans_agree_on_long_texts() {
        let mut seed = 0x2545_f491_u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for _ in 0..200 {
            let mut text = Vec::new();
            let lines = 1 + next(40);
            let long_ok = next(2) == 0; // half the texts stay within the limit
            for _ in 0..lines {
                let len = if long_ok { next(999) } else { next(1101) };
                text.extend((0..len).map(|i| b'a' + (i % 26) as u8));
                text.extend_from_slice(b"\r\n");
            }
            let (mut fast, mut exact) = (ContentCheck::default(), ContentCheck::default());
            let mut rest = text.as_slice();
            while !rest.is_empty() {
                let (piece, tail) = rest.split_at((1 + next(9000) as usize).min(rest.len()));
                scan(&mut fast, piece, Some(1000));
                exact.scan_exact(piece, 998);
                rest = tail;
            }
            let state =
                |c: &ContentCheck| (c.prev_cr, c.line_len, c.bare_cr, c.bare_lf, c.long_line);
            assert_eq!(state(&fast), state(&exact));
        }
    }

    /// `Survey::of` against its definition, octet by octet: every string of
    /// up to 6 octets over {x, CR, LF, NUL}, alone and after 4.7 KiB of
    /// clean lines (past the 4096-octet block), with a CR before or not;
    /// and a NUL blocks after the first line end out of its pair.
    #[test]
    fn the_survey_matches_its_definition() {
        fn reference(bytes: &[u8], after_cr: bool) -> Survey {
            let mut prev_cr = after_cr;
            let mut paired = true;
            for &b in bytes {
                paired &= (b == b'\n') == prev_cr;
                prev_cr = b == b'\r';
            }
            Survey {
                paired,
                nul: bytes.contains(&0),
            }
        }
        const ALPHABET: [u8; 4] = [b'x', b'\r', b'\n', 0];
        let prefix = b"0123456789\r\n".repeat(400);
        for tail in every_string(&ALPHABET, 6) {
            for input in [tail.clone(), [prefix.as_slice(), &tail].concat()] {
                for after_cr in [false, true] {
                    assert_eq!(
                        Survey::of(&input, after_cr),
                        reference(&input, after_cr),
                        "{tail:?} after {} octets, after_cr {after_cr}",
                        input.len() - tail.len()
                    );
                }
            }
        }
        let late_nul = [b"a\n".as_slice(), &[b'x'; 9000], b"\0"].concat();
        assert_eq!(
            Survey::of(&late_nul, false),
            Survey {
                paired: false,
                nul: true
            }
        );
    }

    #[test]
    fn nul_is_found_anywhere() {
        assert!(check(&[b"a\r\n", b"b\0c\r\n"]).nul);
        assert!(!check(&[b"a\r\n"]).nul);
        let c = check(&[b"\0"]);
        assert_eq!(c.refusal(None), Some(replies::nul_octet()));
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
