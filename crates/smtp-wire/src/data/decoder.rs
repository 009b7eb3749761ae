//! The receiver side of DATA: end-of-data detection and dot unstuffing.

use memchr::{memchr2, memrchr};

use super::MAX_TEXT_LINE;

/// Octets [`DataDecoder::skim`] checks per step (plus one octet of look-ahead).
/// Large enough for the per-block bookkeeping to be small beside the vector
/// check (128 measured a little faster than 64 on the data bench), small
/// enough that a line near the 1,000-octet limit still fits the bound in
/// `skim` with a few blocks to spare.
const BLOCK: usize = 128;

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
    /// The instructions `skim` runs with, detected when the decoder is made.
    vector: Vector,
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
        // extend_from_slice when a byte must be dropped or held back, and
        // before each skim (which copies what it passes over itself).
        let mut run = 0;
        let mut i = 0;
        // Where the next skim may start: after a skim stops, the exact path
        // takes at least the next BLOCK octets, which the skim may already
        // have looked at; so no octet is looked at by more than two skims
        // (linear time whatever the input).
        let mut skim_from = 0;
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
                    if i >= skim_from {
                        // The common case, canonical text, in bulk (see `skim`), which
                        // copies what it passes over itself: the run so far goes first.
                        out.extend_from_slice(&input[run..i]);
                        i = self.skim(input, i, out);
                        run = i;
                        skim_from = i + BLOCK;
                    }
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

    /// Passes over the plain text from `input[from..]`, appending it to
    /// `out` unstuffed, and returns where it ends: the position the exact,
    /// line-by-line path takes over from (`from` itself when there is no
    /// plain text there). The state stays `InLine`.
    ///
    /// Plain text holds nothing the exact path would act on: every CR is
    /// followed by LF and every LF follows a CR (no bare CR or bare LF to
    /// count, RFC 5321 §2.3.8), no LF is followed by a dot (no stuffed dot to
    /// remove and no terminator, §4.5.2, §4.1.1.4), and no line exceeds
    /// [`MAX_TEXT_LINE`] (§4.5.3.1.6). The exact path would copy such text as
    /// it is and count nothing, so the skim only has to keep `line_len`
    /// right.
    ///
    /// It checks [`BLOCK`] octets at a time, each with the octet that follows
    /// it, so it stops at least one octet before the input ends. In a block
    /// that is not plain it stops at the first octet that is not: usually
    /// the CRLF before a stuffed dot. A stuffed dot in an ordinary line is
    /// removed here, without stopping (see the loop), once the skim has gone
    /// at least a block since it started or since the last such dot; only
    /// the rest (a dot before CR or LF, bare line ends, the terminator, the
    /// end of the input) goes to the exact path.
    ///
    /// Each plain block is copied as soon as it is checked, while it is
    /// still in the nearest cache: one pass over the input instead of a
    /// check and then a copy of the whole run (about a fifth faster on the
    /// data bench).
    ///
    /// With AVX2 (see [`Vector`]) the whole skim is compiled for it: the
    /// check takes 32 octets per vector operation instead of 16, and the copy
    /// moves 32 at a time. On the data bench's 10 MiB: 1.2 ms before these
    /// three changes, 0.85 ms with SSE2 and 0.52 ms with AVX2 after them.
    #[inline(never)]
    fn skim(&mut self, input: &[u8], from: usize, out: &mut Vec<u8>) -> usize {
        match self.vector {
            Vector::Baseline => self.skim_with(input, from, out, plain_block_baseline),
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Vector::Avx2(avx2) => {
                use fearless_simd::Simd;
                avx2.vectorize(
                    #[inline(always)]
                    || self.skim_with(input, from, out, plain_block),
                )
            }
        }
    }

    /// [`DataDecoder::skim`] with the given block check; inlined into each
    /// caller so that it is compiled for that caller's instructions.
    #[inline(always)]
    fn skim_with(
        &mut self,
        input: &[u8],
        from: usize,
        out: &mut Vec<u8>,
        plain_block: impl Fn(&[u8; BLOCK], &[u8; BLOCK]) -> (bool, bool),
    ) -> usize {
        // In `InLine` an LF at `from` does not belong to a CRLF (the CR would
        // have been read with it), so it is bare: the exact path counts it.
        if input.get(from) == Some(&b'\n') {
            return from;
        }
        // An upper bound of the current line's octets before the block being
        // checked: a line ending in that block is at most this plus BLOCK
        // octets long, CRLF included.
        let mut line = self.line_len;
        let mut end = from;
        // Where the current line's `self.line_len` octets were counted up
        // to: `from`, or the octet after the last stuffed dot removed here.
        let mut line_from = from;
        // The start of the last plain block that held an LF.
        let mut last_lf_block = None;
        // (Written so that a saturated `line_len` cannot overflow.)
        while line <= MAX_TEXT_LINE - BLOCK {
            let (Some(this), Some(next)) = (
                input.get(end..end + BLOCK),
                input.get(end + 1..end + BLOCK + 1),
            ) else {
                break;
            };
            let (Ok(this), Ok(next)) = (
                <&[u8; BLOCK]>::try_from(this),
                <&[u8; BLOCK]>::try_from(next),
            ) else {
                break;
            };
            let (plain, has_lf) = plain_block(this, next);
            if !plain {
                let k = first_unplain(this, next);
                out.extend_from_slice(&this[..k]);
                end += k;
                if stuffed_dot_at(input, end) && end - line_from >= BLOCK {
                    // RFC 5321 §4.5.2: the line's first character is a period
                    // and other characters follow it: the period is deleted,
                    // and does not count toward the line's length
                    // (§4.5.3.1.6). That line ended in this block, so it is
                    // not too long (the loop's condition), and a new one
                    // starts after the period. Only after at least a block's
                    // progress, so that no octet is checked more than twice
                    // whatever the input.
                    out.push(b'\n');
                    end += 2;
                    line_from = end;
                    self.line_len = 0;
                    line = 0;
                    last_lf_block = None;
                    continue;
                }
                break;
            }
            out.extend_from_slice(this);
            if has_lf {
                // At most BLOCK - 1 octets follow the block's last LF.
                last_lf_block = Some(end);
                line = BLOCK;
            } else {
                line += BLOCK;
            }
            end += BLOCK;
        }
        // Never end between the CR and the LF of a CRLF: the exact path reads
        // them together, so the CR just copied is taken back. (Up to `end`, a
        // CR is followed by LF.)
        if end > from && input[end - 1] == b'\r' {
            end -= 1;
            out.pop();
        }
        if end == from {
            return from;
        }
        // The last LF before `end` after `line_from` is in the last plain
        // block that had one, or in the part of a block before its first
        // octet that is not plain.
        let search = last_lf_block.unwrap_or(line_from);
        self.line_len = match memrchr(b'\n', &input[search..end]) {
            Some(at) => end - (search + at) - 1,
            None => self.line_len.saturating_add(end - line_from),
        };
        end
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

/// Whether the octet `this`, followed by `next`, is one the exact path has
/// to act on: a CR not followed by LF, an octet other than CR before an LF
/// (the LF is bare), or an LF before a dot (a stuffed dot or the
/// terminator).
#[inline(always)]
fn unplain(this: u8, next: u8) -> bool {
    ((this == b'\r') != (next == b'\n')) | ((this == b'\n') & (next == b'.'))
}

/// The vector instructions the decoder's skim runs with: AVX2 where the
/// CPU has it (detected at run time by `fearless_simd`, once per process),
/// otherwise the target's baseline (SSE2 on x86-64). The workspace forbids
/// `unsafe`, and calling code compiled for AVX2 from code that is not needs
/// it: `fearless_simd`'s token is the safe proof that the CPU has the
/// instructions.
#[derive(Debug, Clone, Copy)]
enum Vector {
    Baseline,
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    Avx2(fearless_simd::Avx2),
}

impl Default for Vector {
    fn default() -> Self {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if let Some(avx2) = fearless_simd::Level::new().as_avx2() {
            return Self::Avx2(avx2);
        }
        Self::Baseline
    }
}

/// [`plain_block`] for the target's baseline instructions.
///
/// Not inlined on purpose: given the two arrays as separate arguments, the
/// compiler loads each with plain vector loads; inlined, it sees that they
/// overlap and rebuilds one from the other with byte shifts, which makes the
/// loop about a third slower. (With AVX2 the inlined form is the faster one,
/// so the AVX2 skim inlines [`plain_block`].)
#[inline(never)]
fn plain_block_baseline(this: &[u8; BLOCK], next: &[u8; BLOCK]) -> (bool, bool) {
    plain_block(this, next)
}

/// Looks at one block (or, for [`first_unplain`], a slice of one): `this`
/// is the block, `next` the same octets shifted by one (`next[j]` follows
/// `this[j]`). Returns whether the block is plain (see
/// [`DataDecoder::skim`]) and whether it holds an LF.
#[inline(always)]
fn plain_block<const N: usize>(this: &[u8; N], next: &[u8; N]) -> (bool, bool) {
    // u8 rather than bool accumulators and no early exit: the form the
    // compiler vectorises.
    let mut odd = 0u8;
    let mut lf = 0u8;
    for j in 0..N {
        odd |= u8::from(unplain(this[j], next[j]));
        lf |= u8::from(this[j] == b'\n');
    }
    (odd == 0, lf != 0)
}

/// Whether the octet at `at`, the first that is not plain after some plain
/// text, is the LF of a CRLF followed by a stuffed dot: `.` and then an
/// octet other than CR or LF (a dot before CR may be the end of the data, a
/// dot before LF is left to the exact path too). The CR before it is known
/// when `at` is past the skim's start and past the octet after the last dot
/// removed (where `input[at]` cannot be an LF: the skim starts only on an
/// octet other than LF, and a removed dot is followed by one): the octet
/// before `at` is then plain, and a plain octet before an LF is a CR.
#[inline(always)]
fn stuffed_dot_at(input: &[u8], at: usize) -> bool {
    matches!(
        input.get(at..at + 3),
        Some(&[b'\n', b'.', after]) if after != b'\r' && after != b'\n'
    )
}

/// The index of the first octet of a block that is not plain (BLOCK if
/// there is none); only called once [`plain_block`] said there is one.
///
/// Every skim but the last of a read ends here, usually half-way through a
/// block, so it is not left to an octet-by-octet loop: slices of 16 octets
/// are checked whole (one vector operation each, as in `plain_block`) and
/// only the slice that holds the octet is searched.
#[inline(always)]
fn first_unplain(this: &[u8; BLOCK], next: &[u8; BLOCK]) -> usize {
    const SLICE: usize = 16;
    let (these, nexts) = (this.as_chunks::<SLICE>().0, next.as_chunks::<SLICE>().0);
    for (k, (this, next)) in these.iter().zip(nexts).enumerate() {
        if !plain_block(this, next).0 {
            let at = this.iter().zip(next).position(|(&t, &n)| unplain(t, n));
            return k * SLICE + at.unwrap_or(SLICE);
        }
    }
    BLOCK
}

#[cfg(test)]
mod tests {
    //! The two skims (the baseline's, and AVX2's where the CPU has it)
    //! against the octet-by-octet rule and against each other. The decoder's
    //! own tests (`tests/data_decoder.rs`, the proptests, the fuzz target)
    //! run whichever one this machine picks; these make sure the other one is
    //! right too.
    use super::*;

    /// What the block check must answer, one octet at a time.
    fn oracle(this: &[u8; BLOCK], next: &[u8; BLOCK]) -> (bool, bool) {
        let plain = (0..BLOCK).all(|j| !unplain(this[j], next[j]));
        (plain, this.contains(&b'\n'))
    }

    /// Every skim this machine can run: the baseline's, and AVX2's if the
    /// CPU has it.
    fn vectors() -> Vec<Vector> {
        let mut all = vec![Vector::Baseline];
        let detected = Vector::default();
        if !matches!(detected, Vector::Baseline) {
            all.push(detected);
        }
        all
    }

    /// Canonical text of `len` octets: 20-octet lines ending in CRLF.
    fn canonical(len: usize) -> Vec<u8> {
        (0..len)
            .map(|j| match j % 20 {
                18 => b'\r',
                19 => b'\n',
                k => b'a' + k as u8,
            })
            .collect()
    }

    /// `text` with `flaw` written over it at `at` (cut at the end).
    fn with_flaw(text: &[u8], flaw: &[u8], at: usize) -> Vec<u8> {
        let mut wire = text.to_vec();
        for (k, &octet) in flaw.iter().enumerate() {
            if let Some(slot) = wire.get_mut(at + k) {
                *slot = octet;
            }
        }
        wire
    }

    /// The flaws the exact path acts on: bare CR, bare LF, a stuffed dot, the
    /// terminator, a CR before a letter.
    const FLAWS: [&[u8]; 6] = [b"\r", b"\n", b"\r\n.", b"\n.", b"\r\n.\r\n", b"x\r"];

    #[test]
    fn the_baseline_block_check_follows_the_rule_on_every_flaw_at_every_offset() {
        let check = |wire: &[u8]| {
            let mut this = [0u8; BLOCK];
            let mut next = [0u8; BLOCK];
            this.copy_from_slice(&wire[..BLOCK]);
            next.copy_from_slice(&wire[1..=BLOCK]);
            assert_eq!(
                plain_block_baseline(&this, &next),
                oracle(&this, &next),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        };
        let plain = canonical(BLOCK + 1);
        check(&plain);
        for flaw in FLAWS {
            for at in 0..=BLOCK {
                check(&with_flaw(&plain, flaw, at));
            }
        }
        let mut no_lf = vec![b'x'; BLOCK + 1];
        check(&no_lf);
        no_lf[BLOCK] = b'\n';
        check(&no_lf);
    }

    /// Everything one decoding run gives, fed `read` octets at a time.
    fn decode_with(vector: Vector, wire: &[u8], read: usize) -> (Vec<u8>, usize, bool, DataStats) {
        let mut decoder = DataDecoder {
            vector,
            ..DataDecoder::new()
        };
        let mut out = Vec::new();
        let mut consumed = 0;
        for piece in wire.chunks(read) {
            let progress = decoder.decode(piece, &mut out);
            consumed += progress.consumed;
            if progress.done {
                break;
            }
        }
        (out, consumed, decoder.state == State::Done, decoder.stats)
    }

    #[test]
    fn every_skim_decodes_the_same_whatever_the_flaw_and_the_reads() {
        // Canonical text with one flaw at every offset over three blocks, a
        // line near the 1,000-octet limit, and the terminator, read whole
        // and in reads that cut blocks and CRLFs at different places.
        let mut text = canonical(3 * BLOCK);
        text.extend(std::iter::repeat_n(b'y', MAX_TEXT_LINE - 3));
        text.extend_from_slice(b"\r\n");
        text.extend_from_slice(&canonical(2 * BLOCK));
        let vectors = vectors();
        if vectors.len() == 1 {
            // Said out loud: on this CPU there is only the baseline skim, so
            // there is nothing to compare it with here (the decoder's own
            // tests hold it to the reference decoder).
            eprintln!("skipped: this CPU has no AVX2, only the baseline skim");
            return;
        }
        for flaw in FLAWS {
            for at in 0..3 * BLOCK {
                let mut wire = with_flaw(&text, flaw, at);
                wire.extend_from_slice(b".\r\nQUIT\r\n");
                for read in [wire.len(), 1_000, 129, 64, 7] {
                    let baseline = decode_with(Vector::Baseline, &wire, read);
                    for &vector in &vectors[1..] {
                        assert_eq!(
                            decode_with(vector, &wire, read),
                            baseline,
                            "{vector:?}, flaw {flaw:?} at {at}, reads of {read}"
                        );
                    }
                }
            }
        }
    }
}
