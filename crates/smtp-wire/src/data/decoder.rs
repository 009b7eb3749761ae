//! The receiver side of DATA: end-of-data detection and dot unstuffing.

use memchr::memchr2;

use super::MAX_TEXT_LINE;

/// What a [`DataDecoder`] has seen so far; the receiver's policy reads it.
///
/// RFC 5321 §2.3.8 says CR and LF must only occur together as CRLF in the
/// body, and §4.5.3.1.6 limits text lines to [`MAX_TEXT_LINE`] octets. The
/// decoder itself never refuses anything: it keeps such bytes as data and
/// counts them here, so the receiver can decide (refuse with `550 5.6.x`,
/// accept and log, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataStats {
    /// Unstuffed body bytes appended to the output so far.
    pub bytes: u64,
    /// CR octets not immediately followed by LF ("bare CR").
    pub bare_cr: u64,
    /// LF octets not immediately preceded by CR ("bare LF").
    pub bare_lf: u64,
    /// Lines longer than [`MAX_TEXT_LINE`] octets including their line end
    /// and not counting a stuffed dot (RFC 5321 §4.5.3.1.6). Any LF, bare or
    /// not, ends a line for this count.
    pub long_lines: u64,
}

/// The result of one [`DataDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataProgress {
    /// How many input bytes were consumed. The caller drops exactly these;
    /// once `done`, the bytes after `consumed` are the next commands.
    pub consumed: usize,
    /// True once the terminating `.<CRLF>` has been consumed.
    pub done: bool,
}

/// Where the decoder stands between two bytes. The held-back bytes of the
/// states `Dot`, `DotCr` and `Cr` are implied by the state itself, so the
/// decoder needs no buffer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Right after a real CRLF, including the CRLF that ended the `DATA`
    /// command line (RFC 5321 §4.1.1.4: so `.<CRLF>` at once is an empty
    /// message).
    #[default]
    LineStart,
    /// The line began with `.` (not yet written): a stuffed dot or the start
    /// of the terminator.
    Dot,
    /// The line began with `.<CR>` (neither written yet).
    DotCr,
    /// Inside a line.
    InLine,
    /// Inside a line, the previous input ended with a CR (not yet written):
    /// the next byte tells whether it is a CRLF or a bare CR.
    Cr,
    /// The terminator has been consumed; nothing more is taken.
    Done,
}

/// Streaming DATA decoder: finds the end of the data, removes the stuffed
/// dots and counts suspicious bytes (RFC 5321 §4.5.2).
///
/// Feed it whatever the socket delivered; it appends the unstuffed body to
/// `out` and says how much it consumed. The data ends **only** at
/// `<CRLF>.<CRLF>` where both line ends are real CR LF pairs (RFC 5321
/// §4.1.1.4); `<LF>.<LF>`, `<CR>.<CR>`, `<CRLF>.<LF>` and the like are body
/// bytes, which is what defeats SMTP smuggling. The output is the same for
/// any split of the input into chunks, and the bytes after the terminator
/// are left unconsumed for the command reader (pipelining, RFC 2920).
///
/// The output holds the body with its final CRLF (the one before the dot)
/// and without the terminating `.<CRLF>`. Bare CR and bare LF stay in the
/// output as data and are counted in [`DataStats`].
///
/// ```
/// use smtp_wire::data::DataDecoder;
///
/// let mut decoder = DataDecoder::new();
/// let mut body = Vec::new();
/// let input = b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n";
/// let progress = decoder.decode(input, &mut body);
/// assert!(progress.done);
/// assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
/// assert_eq!(&input[progress.consumed..], b"QUIT\r\n");
/// ```
#[derive(Debug, Clone, Default)]
pub struct DataDecoder {
    state: State,
    /// Output bytes of the current line so far (saturating).
    line_len: usize,
    stats: DataStats,
}

impl DataDecoder {
    /// A decoder positioned right after the `DATA` command line, with the
    /// RFC 5321 §4.5.3.1.6 text line limit of [`MAX_TEXT_LINE`] octets.
    ///
    /// ```
    /// use smtp_wire::data::DataDecoder;
    /// let mut body = Vec::new();
    /// // The CRLF of "DATA\r\n" counts as the first CRLF: an empty message.
    /// assert!(DataDecoder::new().decode(b".\r\n", &mut body).done);
    /// assert!(body.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes as much of `input` as possible, appending the unstuffed body
    /// to `out`.
    ///
    /// Everything before the terminator is consumed, even a trailing `<CR>`,
    /// `.` or `.<CR>` whose meaning depends on the next byte: the decoder
    /// remembers it (in its state, not a buffer) and writes it, or not, once
    /// that byte arrives. After `done`, further calls consume nothing.
    ///
    /// ```
    /// use smtp_wire::data::DataDecoder;
    /// let mut decoder = DataDecoder::new();
    /// let mut body = Vec::new();
    /// // "\n.\n" is not an end of data (RFC 5321 §4.1.1.4), only CRLF.CRLF is.
    /// let p = decoder.decode(b"a\n.\nMAIL FROM:<x@y>\r\n", &mut body);
    /// assert_eq!((p.consumed, p.done), (21, false));
    /// let p = decoder.decode(b".\r\n", &mut body);
    /// assert!(p.done);
    /// assert_eq!(body, b"a\n.\nMAIL FROM:<x@y>\r\n");
    /// assert_eq!(decoder.stats().bare_lf, 2);
    /// ```
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataProgress {
        let start_len = out.len();
        let n = input.len();
        // input[run..i] is body to be copied verbatim; it is flushed with one
        // extend_from_slice only when a byte must be dropped or held back.
        let mut run = 0;
        let mut i = 0;
        loop {
            match self.state {
                State::Done => break,
                _ if i >= n => break,
                State::LineStart => {
                    if input[i] == b'.' {
                        out.extend_from_slice(&input[run..i]);
                        i += 1;
                        run = i;
                        self.state = State::Dot;
                    } else {
                        self.state = State::InLine;
                    }
                }
                State::Dot => {
                    if input[i] == b'\r' {
                        i += 1;
                        run = i;
                        self.state = State::DotCr;
                    } else {
                        // RFC 5321 §4.5.2: "If the first character is a period and there are
                        // other characters on the line, the first character is deleted."
                        // It does not count toward the line length (§4.5.3.1.6).
                        self.state = State::InLine;
                    }
                }
                State::DotCr => {
                    if input[i] == b'\n' {
                        // RFC 5321 §4.1.1.4: <CRLF>.<CRLF> ends the mail data.
                        i += 1;
                        run = i;
                        self.state = State::Done;
                    } else {
                        // ".<CR>" then something else: the dot was stuffing (deleted, as
                        // above) and the CR is a bare CR, kept as data. run == i here.
                        out.push(b'\r');
                        self.stats.bare_cr += 1;
                        self.grow(1);
                        self.state = State::InLine;
                    }
                }
                State::Cr => {
                    // Only entered at the end of a call, so here i == run == 0.
                    out.push(b'\r');
                    self.grow(1);
                    if input[i] == b'\n' {
                        i += 1;
                        self.end_line(1);
                        self.state = State::LineStart;
                    } else {
                        self.stats.bare_cr += 1;
                        self.state = State::InLine;
                    }
                }
                State::InLine => {
                    let rest = &input[i..];
                    let Some(k) = memchr2(b'\r', b'\n', rest) else {
                        self.grow(rest.len());
                        i = n;
                        continue;
                    };
                    self.grow(k);
                    let at = i + k;
                    if input[at] == b'\n' {
                        // Every CR is handled below together with its LF, so this LF has
                        // no CR before it: a bare LF (RFC 5321 §2.3.8). It is data, and a
                        // dot after it is not at a line start, so the state stays InLine.
                        self.stats.bare_lf += 1;
                        self.end_line(1);
                        i = at + 1;
                    } else if let Some(&next) = input.get(at + 1) {
                        if next == b'\n' {
                            self.end_line(2);
                            i = at + 2;
                            self.state = State::LineStart;
                        } else {
                            self.stats.bare_cr += 1;
                            self.grow(1);
                            i = at + 1;
                        }
                    } else {
                        // A CR as the last input byte: hold it back until the next call.
                        out.extend_from_slice(&input[run..at]);
                        i = n;
                        run = n;
                        self.state = State::Cr;
                    }
                }
            }
        }
        out.extend_from_slice(&input[run..i]);
        let produced = (out.len() - start_len) as u64;
        self.stats.bytes = self.stats.bytes.saturating_add(produced);
        DataProgress {
            consumed: i,
            done: self.state == State::Done,
        }
    }

    /// What the decoder has counted so far (bytes, bare CR, bare LF, long
    /// lines).
    ///
    /// ```
    /// use smtp_wire::data::{DataDecoder, MAX_TEXT_LINE};
    /// let mut decoder = DataDecoder::new();
    /// let mut wire = vec![b'x'; MAX_TEXT_LINE - 1]; // 999 octets + CRLF = 1001
    /// wire.extend_from_slice(b"\r\nbare\rcr\r\n.\r\n");
    /// let mut body = Vec::new();
    /// assert!(decoder.decode(&wire, &mut body).done);
    /// let stats = decoder.stats();
    /// assert_eq!((stats.long_lines, stats.bare_cr, stats.bare_lf), (1, 1, 0));
    /// assert_eq!(stats.bytes, body.len() as u64);
    /// ```
    pub fn stats(&self) -> &DataStats {
        &self.stats
    }

    /// Adds `k` output bytes to the current line.
    #[inline]
    fn grow(&mut self, k: usize) {
        self.line_len = self.line_len.saturating_add(k);
    }

    /// Ends the current line with a line end of `eol` octets and checks the
    /// RFC 5321 §4.5.3.1.6 limit (1000 octets including the CRLF).
    #[inline]
    fn end_line(&mut self, eol: usize) {
        if self.line_len.saturating_add(eol) > MAX_TEXT_LINE {
            self.stats.long_lines += 1;
        }
        self.line_len = 0;
    }
}
