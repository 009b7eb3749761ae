//! Looks at the raw message text a client sends (before unstuffing): line
//! ends, line lengths, dot-stuffing, 8-bit octets. Streaming, bounded memory.
//! Both judges use it: the active one on the octets it reads, the passive
//! one ([`crate::observe`]) line by line on a recorded transcript.

use smtp_wire::MAX_TEXT_LINE;

/// How many octets of an offending line are kept for the report.
const HEAD: usize = 60;

/// The first problem of a kind: line number and the start of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Example {
    pub(crate) line: u64,
    pub(crate) head: String,
}

/// The counters of a [`BodyScanner`] at one point: comparing two says what
/// the text in between had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) bare_lf: u64,
    pub(crate) bare_cr: u64,
    pub(crate) long_lines: u64,
    pub(crate) unstuffed: u64,
    pub(crate) eight_bit: u64,
}

/// Counts of problems in the text seen so far.
#[derive(Debug, Default)]
pub(crate) struct BodyScanner {
    /// DATA (dot-stuffing applies) rather than BDAT.
    dots: bool,
    line_no: u64,
    /// Octets of the current line, line end excluded.
    len: usize,
    head: Vec<u8>,
    prev_cr: bool,
    /// The previous line ended with CRLF (the DATA line did).
    last_crlf: bool,
    pub(crate) bytes: u64,
    pub(crate) bare_lf: u64,
    pub(crate) bare_cr: u64,
    pub(crate) long_lines: u64,
    pub(crate) unstuffed: u64,
    pub(crate) eight_bit: u64,
    pub(crate) first_bare: Option<Example>,
    pub(crate) first_long: Option<Example>,
    pub(crate) first_unstuffed: Option<Example>,
}

impl BodyScanner {
    /// A scanner for DATA text (`dots`) or BDAT chunks.
    pub(crate) fn new(dots: bool) -> Self {
        BodyScanner {
            dots,
            line_no: 1,
            last_crlf: true,
            ..Default::default()
        }
    }

    /// The counters now.
    pub(crate) fn tally(&self) -> Tally {
        Tally {
            bare_lf: self.bare_lf,
            bare_cr: self.bare_cr,
            long_lines: self.long_lines,
            unstuffed: self.unstuffed,
            eight_bit: self.eight_bit,
        }
    }

    /// `n` octets of the current line that were not recorded (a transcript
    /// cuts long lines): they count for its length; nothing else is known
    /// of them, so nothing else is said.
    pub(crate) fn skip(&mut self, n: u64) {
        self.bytes += n;
        self.len = self
            .len
            .saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
        self.prev_cr = false;
    }

    fn example(&self) -> Example {
        Example {
            line: self.line_no,
            head: String::from_utf8_lossy(&self.head).into_owned(),
        }
    }

    /// Scans the next raw octets.
    pub(crate) fn scan(&mut self, input: &[u8]) {
        for &b in input {
            self.bytes += 1;
            if b >= 0x80 {
                self.eight_bit += 1;
            }
            if self.prev_cr && b != b'\n' {
                // RFC 5321 §2.3.8: CR only as part of CRLF.
                self.bare_cr += 1;
                if self.first_bare.is_none() {
                    self.first_bare = Some(self.example());
                }
                self.push(b'\r');
            }
            match b {
                b'\r' => self.prev_cr = true,
                b'\n' => {
                    let crlf = self.prev_cr;
                    self.prev_cr = false;
                    if !crlf {
                        self.bare_lf += 1;
                        if self.first_bare.is_none() {
                            self.first_bare = Some(self.example());
                        }
                    }
                    self.end_line(if crlf { 2 } else { 1 });
                }
                _ => {
                    self.prev_cr = false;
                    self.push(b);
                }
            }
        }
    }

    fn push(&mut self, b: u8) {
        self.len += 1;
        if self.head.len() < HEAD {
            self.head.push(b);
        }
    }

    fn end_line(&mut self, ending: usize) {
        let stuffed = self.dots && self.head.starts_with(b"..");
        // RFC 5321 §4.5.3.1.6: 1000 octets with the CRLF, not counting the
        // dot doubled for transparency.
        if self.len.saturating_add(ending) - usize::from(stuffed) > MAX_TEXT_LINE {
            self.long_lines += 1;
            if self.first_long.is_none() {
                self.first_long = Some(self.example());
            }
        }
        // RFC 5321 §4.5.2: a line starting with "." must have it doubled,
        // unless it is the lone "." that ends the data: between two CRLFs
        // (§4.1.1.4). A lone "." anywhere else is text that was not stuffed.
        let crlf = ending == 2;
        let is_end = self.len == 1 && crlf && self.last_crlf;
        self.last_crlf = crlf;
        if self.dots && self.head.first() == Some(&b'.') && !is_end && !stuffed {
            self.unstuffed += 1;
            if self.first_unstuffed.is_none() {
                self.first_unstuffed = Some(self.example());
            }
        }
        self.line_no += 1;
        self.len = 0;
        self.head.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::BodyScanner;

    fn scan(dots: bool, parts: &[&[u8]]) -> BodyScanner {
        let mut s = BodyScanner::new(dots);
        for p in parts {
            s.scan(p);
        }
        s
    }

    #[test]
    fn clean_text_has_no_findings() {
        let s = scan(true, &[b"a\r\n..b\r\n", b"..\r", b"\n.\r\n"]);
        assert_eq!(
            (s.bare_lf, s.bare_cr, s.unstuffed, s.long_lines),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn finds_bare_line_ends_across_chunks() {
        let s = scan(true, &[b"a\r", b"b\nc\r\n"]);
        assert_eq!((s.bare_cr, s.bare_lf), (1, 1));
        assert_eq!(s.first_bare.map(|e| e.line), Some(1));
    }

    #[test]
    fn finds_unstuffed_dots_only_in_data() {
        assert_eq!(scan(true, &[b"x\r\n.hidden\r\n.\r\n"]).unstuffed, 1);
        assert_eq!(scan(false, &[b"x\r\n.hidden\r\n"]).unstuffed, 0);
    }

    #[test]
    fn a_lone_dot_that_does_not_end_the_data_was_not_stuffed() {
        assert_eq!(scan(true, &[b"x\n.\n.\r\n"]).unstuffed, 2);
        assert_eq!(scan(true, &[b"x\r\n.\r\n"]).unstuffed, 0);
    }

    #[test]
    fn skipped_octets_count_for_the_length_only() {
        let mut s = BodyScanner::new(true);
        s.scan(b"abc");
        s.skip(997);
        s.scan(b"\r\n");
        assert_eq!(s.tally().long_lines, 1);
        assert_eq!(s.tally().eight_bit, 0);
    }

    #[test]
    fn long_lines_ignore_the_stuffed_dot() {
        // ".xxx" of 998 octets, stuffed to "..xxx": 1001 octets on the wire.
        let mut ok = vec![b'x'; 997];
        ok.extend_from_slice(b"\r\n");
        assert_eq!(scan(true, &[b"..", &ok]).long_lines, 0);
        let mut long = vec![b'x'; 999];
        long.extend_from_slice(b"\r\n");
        assert_eq!(scan(true, &[&long]).long_lines, 1);
    }

    #[test]
    fn counts_eight_bit_octets() {
        assert_eq!(scan(true, &["Grüße\r\n".as_bytes()]).eight_bit, 4);
    }
}
