//! The sender side of DATA: line-end normalisation and dot stuffing.

use memchr::memchr2;

/// Streaming dot-stuffing encoder: turns any bytes into a body that is safe
/// to send after `DATA` (RFC 5321 §4.5.2), or, with
/// [`crlf_only`](Self::crlf_only), into CRLF-normalised text for `BDAT`.
///
/// * Line ends are normalised (RFC 5321 §2.3.8: CR and LF only as CRLF):
///   CRLF stays, a bare CR and a bare LF each become CRLF. A CR at the end of
///   one `encode` call followed by an LF at the start of the next is one
///   CRLF.
/// * In DATA mode every line that starts with `.` gets a second dot
///   (RFC 5321 §4.5.2), so no input can put `<CRLF>.<CRLF>` on the wire
///   before [`finish`](Self::finish) writes the real one.
/// * [`finish`](Self::finish) adds the final CRLF when the content did not
///   end with one, then (DATA mode) the terminating `.<CRLF>`.
///
/// The output does not depend on how the input is split between calls. The
/// encoder keeps two flags of state; it does not wrap lines longer than
/// 1000 octets (RFC 5321 §4.5.3.1.6), which is the message composer's job.
///
/// ```
/// use smtp_wire::data::DotStuffer;
///
/// let mut wire = Vec::new();
/// let mut stuffer = DotStuffer::new();
/// stuffer.encode(b".hidden\n.\r", &mut wire);
/// stuffer.encode(b"\nlast", &mut wire);
/// stuffer.finish(&mut wire);
/// assert_eq!(wire, b"..hidden\r\n..\r\nlast\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotStuffer {
    /// DATA mode: double leading dots and write the `.` line in `finish`.
    dots: bool,
    /// The next byte begins a line (also true before any input).
    at_line_start: bool,
    /// The last input byte was a CR, already written as CRLF: an LF that
    /// comes next belongs to it and is skipped.
    skip_lf: bool,
}

impl Default for DotStuffer {
    /// The DATA-mode encoder, as [`DotStuffer::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// An encoder for `DATA` (RFC 5321 §4.5.2): normalises line ends to
    /// CRLF, doubles a leading `.`, and ends with `<CRLF>.<CRLF>`.
    ///
    /// ```
    /// use smtp_wire::data::DotStuffer;
    /// let mut wire = Vec::new();
    /// let mut stuffer = DotStuffer::new();
    /// stuffer.encode(b".", &mut wire);
    /// stuffer.finish(&mut wire);
    /// assert_eq!(wire, b"..\r\n.\r\n");
    /// ```
    pub fn new() -> Self {
        DotStuffer {
            dots: true,
            at_line_start: true,
            skip_lf: false,
        }
    }

    /// An encoder for `BDAT` text (RFC 3030 §2: a chunk is sent as is, with no
    /// dot-stuffing and no terminator): normalises line ends to CRLF only.
    ///
    /// ```
    /// use smtp_wire::data::DotStuffer;
    /// let mut chunk = Vec::new();
    /// let mut stuffer = DotStuffer::crlf_only();
    /// stuffer.encode(b".\nx", &mut chunk);
    /// stuffer.finish(&mut chunk);
    /// assert_eq!(chunk, b".\r\nx\r\n");
    /// ```
    pub fn crlf_only() -> Self {
        DotStuffer {
            dots: false,
            ..Self::new()
        }
    }

    /// Encodes `input`, appending the wire form to `out`.
    ///
    /// A CR at the very end of `input` is written as CRLF at once; an LF at
    /// the start of the next call is then taken as its partner.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let n = input.len();
        let mut i = 0;
        if self.skip_lf && n > 0 {
            self.skip_lf = false;
            if input[0] == b'\n' {
                // The LF of a CRLF split across calls: its CRLF is already written.
                i = 1;
            }
        }
        // input[run..i] is copied verbatim with one extend_from_slice; the
        // run is only cut where a byte must be added or replaced.
        let mut run = i;
        while i < n {
            if self.at_line_start {
                self.at_line_start = false;
                if self.dots && input[i] == b'.' {
                    // RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client
                    // checks the first character of the line. If it is a period, one
                    // additional period is inserted at the beginning of the line."
                    out.extend_from_slice(&input[run..i]);
                    out.push(b'.');
                    run = i;
                }
            }
            let Some(k) = memchr2(b'\r', b'\n', &input[i..]) else {
                i = n;
                break;
            };
            let at = i + k;
            self.at_line_start = true;
            if input[at] == b'\n' {
                // A bare LF (a CR's LF is consumed with it below): RFC 5321 §2.3.8
                // allows LF only as part of CRLF, so write CRLF.
                out.extend_from_slice(&input[run..at]);
                out.extend_from_slice(b"\r\n");
                i = at + 1;
                run = i;
            } else if let Some(&next) = input.get(at + 1) {
                if next == b'\n' {
                    // A proper CRLF: stays in the verbatim run.
                    i = at + 2;
                } else {
                    // A bare CR (RFC 5321 §2.3.8): write CRLF.
                    out.extend_from_slice(&input[run..=at]);
                    out.push(b'\n');
                    i = at + 1;
                    run = i;
                }
            } else {
                // A CR as the last byte: write CRLF now (a bare CR becomes CRLF too)
                // and swallow an LF that starts the next call.
                out.extend_from_slice(&input[run..=at]);
                out.push(b'\n');
                self.skip_lf = true;
                i = n;
                run = n;
            }
        }
        out.extend_from_slice(&input[run..i]);
    }

    /// Ends the body: writes CRLF if the content did not end with a line end
    /// (an empty body gets none), then, in DATA mode, the terminating `.<CRLF>`
    /// (RFC 5321 §4.1.1.4). The encoder is then ready for a new message.
    ///
    /// ```
    /// use smtp_wire::data::DotStuffer;
    /// let mut wire = Vec::new();
    /// DotStuffer::new().finish(&mut wire);
    /// assert_eq!(wire, b".\r\n"); // an empty message: DATA's own CRLF precedes the dot
    /// ```
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        if self.dots {
            out.extend_from_slice(b".\r\n");
        }
        *self = DotStuffer {
            dots: self.dots,
            ..Self::new()
        };
    }
}
