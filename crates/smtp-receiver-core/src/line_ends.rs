//! The liberal policy's line ends ([`ContentPolicy::Liberal`](crate::ContentPolicy::Liberal)):
//! a content line ended by a bare LF is taken as if it ended in CRLF, as
//! Postfix 3.9+ does with `smtpd_forbid_bare_newline = normalize`, so an
//! application always reads canonical CRLF text (RFC 5321 §2.3.8).
//!
//! This runs on what smtp-wire's `DataDecoder` (or `BdatReader`) produced:
//! the end of the data has already been decided on the raw octets, so no
//! LF made into a CRLF here can ever end a message (RFC 5321 §4.1.1.4).
//! For DATA, the line a bare LF starts is unstuffed as the decoder
//! unstuffs the lines a CRLF starts (RFC 5321 §4.5.2: a leading dot is
//! removed when other characters follow it); a line holding only a dot
//! is kept as such, since only `<CRLF>.<CRLF>` ends the data. BDAT text
//! is not dot-stuffed (RFC 3030 §2), so nothing is removed there. A bare
//! CR is left alone: the content check refuses it at every level.

use memchr::memchr;

use crate::content::Survey;

/// Turns bare LFs into CRLF in message text, piece after piece, in
/// constant memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct BareLfNormalizer {
    /// The last octet seen was a bare LF, written as CRLF: a DATA line starts.
    line_start: bool,
    /// That line's leading dot, not written yet: the next octet tells
    /// whether it is stuffing (removed) or a line of a dot alone (kept).
    held_dot: bool,
}

impl BareLfNormalizer {
    /// Makes every bare LF in the new text `out[start..]` a CRLF, given the
    /// text's [`Survey`] and `after_cr`, true when the text before it ended
    /// with a CR (whose LF may start this piece); `unstuff` for DATA text
    /// (see the module documentation). Returns true when the text was
    /// rewritten, so that its survey no longer holds.
    ///
    /// Text whose line ends are all CRLF, the common case, is left where it
    /// is: the survey's one pass was the only look at it.
    pub(crate) fn normalize(
        &mut self,
        out: &mut Vec<u8>,
        start: usize,
        survey: Survey,
        after_cr: bool,
        unstuff: bool,
    ) -> bool {
        // Nothing to rewrite unless a bare LF is in the text or a line
        // started by one earlier is still open.
        if survey.paired && !self.line_start && !self.held_dot {
            return false;
        }
        self.rewrite(out, start, after_cr, unstuff);
        true
    }

    /// [`normalize`](Self::normalize)'s work, octet by octet.
    fn rewrite(&mut self, out: &mut Vec<u8>, start: usize, after_cr: bool, unstuff: bool) {
        let piece = out.split_off(start);
        let mut at = 0;
        while at < piece.len() {
            if std::mem::take(&mut self.held_dot) {
                // RFC 5321 §4.5.2: "If the first character is a period and
                // there are other characters on the line, the first
                // character is deleted"; a dot alone stays a dot.
                if matches!(piece[at], b'\r' | b'\n') {
                    out.push(b'.');
                }
            } else if std::mem::take(&mut self.line_start) && piece[at] == b'.' {
                self.held_dot = true;
                at += 1;
                continue;
            }
            let Some(k) = memchr(b'\n', &piece[at..]) else {
                out.extend_from_slice(&piece[at..]);
                break;
            };
            let lf = at + k;
            out.extend_from_slice(&piece[at..lf]);
            let paired = match lf {
                0 => after_cr,
                _ => piece[lf - 1] == b'\r',
            };
            if paired {
                out.push(b'\n');
            } else {
                out.extend_from_slice(b"\r\n");
                self.line_start = unstuff;
            }
            at = lf + 1;
        }
    }

    /// The text has ended: a dot still held is written (a DATA message
    /// always ends with the CRLF before its terminator, so this is only a
    /// safeguard).
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.held_dot) {
            out.push(b'.');
        }
        self.line_start = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::every_string;

    /// The pieces normalised one after the other (DATA when `unstuff`).
    fn normalized(pieces: &[&[u8]], unstuff: bool) -> Vec<u8> {
        let mut n = BareLfNormalizer::default();
        let mut out = b"prefix".to_vec();
        for piece in pieces {
            let (start, after_cr) = (out.len(), out.last() == Some(&b'\r'));
            out.extend_from_slice(piece);
            let survey = Survey::of(&out[start..], after_cr);
            n.normalize(&mut out, start, survey, after_cr, unstuff);
        }
        n.finish(&mut out);
        out.split_off(6)
    }

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(
            normalized(&[b"Subject: x\n\nhi\n\r\n"], true),
            b"Subject: x\r\n\r\nhi\r\n\r\n"
        );
        assert_eq!(normalized(&[b"a\r\nb\r\n"], true), b"a\r\nb\r\n");
        assert_eq!(normalized(&[b"\n"], false), b"\r\n");
    }

    #[test]
    fn a_crlf_split_between_pieces_is_not_bare() {
        assert_eq!(normalized(&[b"a\r", b"\nb\n"], true), b"a\r\nb\r\n");
        assert_eq!(normalized(&[b"a", b"\n", b"b"], true), b"a\r\nb");
    }

    #[test]
    fn bare_cr_is_left_for_the_content_check() {
        assert_eq!(normalized(&[b"a\rb\n"], true), b"a\rb\r\n");
    }

    /// smtplib stuffs the dots of lines it ends with LF; curl does not.
    /// As Postfix: the line after a bare LF is a line, so it is unstuffed.
    #[test]
    fn data_lines_after_a_bare_lf_are_unstuffed() {
        assert_eq!(normalized(&[b"a\n..x\n"], true), b"a\r\n.x\r\n");
        assert_eq!(normalized(&[b"a\n.x\n"], true), b"a\r\nx\r\n");
        // A dot alone is kept: it did not end the data, and it is no stuffing.
        assert_eq!(normalized(&[b"a\n.\nb\n"], true), b"a\r\n.\r\nb\r\n");
        assert_eq!(normalized(&[b"a\n.\r\nb\r\n"], true), b"a\r\n.\r\nb\r\n");
        // Split anywhere, the same.
        assert_eq!(normalized(&[b"a\n", b".", b".x\n"], true), b"a\r\n.x\r\n");
        assert_eq!(normalized(&[b"a\n.", b"\n"], true), b"a\r\n.\r\n");
        // BDAT text has no stuffing.
        assert_eq!(normalized(&[b"a\n..x\n"], false), b"a\r\n..x\r\n");
    }

    /// Every string of up to 7 octets over {x, ., CR, LF}: no bare LF is
    /// left, only CRs are added (one before each bare LF) and dots removed,
    /// and every split in two gives the same output as the whole.
    #[test]
    fn no_bare_lf_survives_and_splits_do_not_matter() {
        const ALPHABET: [u8; 4] = [b'x', b'.', b'\r', b'\n'];
        for input in every_string(&ALPHABET, 7) {
            for unstuff in [false, true] {
                let whole = normalized(&[&input], unstuff);
                for (i, &b) in whole.iter().enumerate() {
                    assert!(
                        b != b'\n' || (i > 0 && whole[i - 1] == b'\r'),
                        "{input:?} -> {whole:?}"
                    );
                }
                let count = |v: &[u8], c: u8| v.iter().filter(|&&b| b == c).count();
                assert_eq!(count(&whole, b'\n'), count(&input, b'\n'));
                assert_eq!(count(&whole, b'x'), count(&input, b'x'));
                if !unstuff {
                    assert_eq!(count(&whole, b'.'), count(&input, b'.'));
                }
                for split in 0..=input.len() {
                    let (a, b) = input.split_at(split);
                    assert_eq!(normalized(&[a, b], unstuff), whole, "{input:?} at {split}");
                }
            }
        }
    }
}
