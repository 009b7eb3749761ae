//! End-of-data readers: smtp-wire's correct `DataDecoder`, and the naive
//! ones real servers have shipped.

use smtp_wire::DataDecoder;

use super::Naive;

enum Reader {
    Proper(DataDecoder),
    Naive {
        mode: Naive,
        line: Vec<u8>,
        prev_cr: bool,
        tail: Vec<u8>,
    },
}

/// One message's text being read.
pub struct DataState {
    reader: Reader,
    /// The message as read: unstuffed by the proper reader, as it came
    /// (up to where it decided the end) by a naive one.
    pub content: Vec<u8>,
    pub size: u64,
    pub bare: bool,
    pub long_lines: bool,
    pub longest: usize,
    current: usize,
}

impl DataState {
    pub fn new(naive: Option<Naive>) -> DataState {
        let reader = match naive {
            None => Reader::Proper(DataDecoder::new()),
            Some(mode) => Reader::Naive {
                mode,
                line: Vec::new(),
                prev_cr: false,
                tail: Vec::new(),
            },
        };
        DataState {
            reader,
            content: Vec::new(),
            size: 0,
            bare: false,
            long_lines: false,
            longest: 0,
            current: 0,
        }
    }

    /// Consumes message text from `input`; returns (consumed, done).
    pub fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let (used, done) = match &mut self.reader {
            Reader::Proper(decoder) => {
                let p = decoder.decode(input, &mut self.content);
                let s = decoder.stats();
                self.size = s.bytes;
                self.bare = s.bare_cr + s.bare_lf > 0;
                self.long_lines = s.long_lines > 0;
                (p.consumed, p.done)
            }
            Reader::Naive {
                mode,
                line,
                prev_cr,
                tail,
            } => {
                let mut done = false;
                let mut used = 0;
                for &b in input {
                    used += 1;
                    if naive_byte(*mode, b, line, prev_cr, tail) {
                        done = true;
                        break;
                    }
                }
                self.size += used as u64;
                self.content.extend_from_slice(&input[..used]);
                (used, done)
            }
        };
        for &b in &input[..used] {
            if b == b'\n' {
                self.current = 0;
            } else {
                self.current += 1;
                self.longest = self.longest.max(self.current);
            }
        }
        (used, done)
    }
}

/// Feeds one byte to a naive reader; true when it decides the data ended.
fn naive_byte(
    mode: Naive,
    b: u8,
    line: &mut Vec<u8>,
    prev_cr: &mut bool,
    tail: &mut Vec<u8>,
) -> bool {
    tail.push(b);
    if tail.len() > 5 {
        tail.remove(0);
    }
    match mode {
        Naive::SuffixDotCrlf => return tail.ends_with(b".\r\n"),
        Naive::NeedsCrlfDotCrlf => return tail.ends_with(b"\r\n.\r\n"),
        Naive::LfStripCr => {
            if b == b'\n' {
                while line.last() == Some(&b'\r') {
                    line.pop();
                }
                let end = line.as_slice() == b".";
                line.clear();
                return end;
            }
            line.push(b);
        }
        Naive::AnyNewline => {
            let was_cr = std::mem::replace(prev_cr, b == b'\r');
            if b == b'\n' && was_cr {
                return false;
            }
            if b == b'\r' || b == b'\n' {
                let end = line.as_slice() == b".";
                line.clear();
                return end;
            }
            line.push(b);
        }
        Naive::UnstuffFirst | Naive::LeadingDot | Naive::SplitAt1000 => {
            let was_cr = std::mem::replace(prev_cr, b == b'\r');
            if b == b'\n' && was_cr {
                line.pop(); // the CR
                let content: &[u8] = if mode == Naive::UnstuffFirst && line.starts_with(b"..") {
                    &line[1..]
                } else {
                    line
                };
                let end = match mode {
                    Naive::LeadingDot => content.first() == Some(&b'.'),
                    _ => content == b".",
                };
                line.clear();
                return end;
            }
            line.push(b);
            if mode == Naive::SplitAt1000 && line.len() >= 1000 {
                line.clear();
            }
        }
    }
    false
}
