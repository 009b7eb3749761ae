//! Just enough of the conversation to know what a client line *is*: a
//! command, a secret AUTH response, or message content (DATA body, BDAT chunk).

use std::collections::VecDeque;

/// The text that replaces a secret.
pub(super) const REDACTED: &[u8] = b"<redacted>";

/// How many commands may wait for their replies before the oldest is
/// forgotten (pipelining, RFC 2920); only bounds memory against an abusive peer.
const MAX_AWAITING: usize = 1024;

/// What the next client bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientMode {
    /// Command lines.
    Command,
    /// Lines of an AUTH exchange (RFC 4954 §4): all secret.
    Auth,
    /// A DATA body, line by line, until `<CRLF>.<CRLF>` (RFC 5321 §4.5.2).
    Body,
    /// The octets of a BDAT chunk (RFC 3030 §2), counted, not line based.
    Chunk,
}

/// A command waiting for its reply, in order (RFC 2920 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// AUTH: 334 continues the exchange, anything else ends it.
    Auth,
    /// DATA before its 354.
    Data,
    /// DATA after its 354: waits for the reply to the message.
    DataFinal,
    /// Any other command: one reply.
    Other,
}

#[derive(Debug, Clone)]
struct BodyState {
    /// The previous line ended with a real CRLF (the DATA line itself did).
    prev_crlf: bool,
    /// Body lines seen so far.
    lines: u64,
}

/// The conversation state seen from the transcript.
#[derive(Debug, Clone, Default)]
pub(super) struct Tracker {
    awaiting: VecDeque<Awaiting>,
    auth_active: bool,
    body: Option<BodyState>,
    chunk_remaining: u64,
}

impl Tracker {
    pub(super) fn mode(&self) -> ClientMode {
        if self.chunk_remaining > 0 {
            ClientMode::Chunk
        } else if self.body.is_some() {
            ClientMode::Body
        } else if self.auth_active {
            ClientMode::Auth
        } else {
            ClientMode::Command
        }
    }

    pub(super) fn chunk_remaining(&self) -> u64 {
        self.chunk_remaining
    }

    /// `n` octets of the current BDAT chunk went by.
    pub(super) fn chunk_consumed(&mut self, n: u64) {
        self.chunk_remaining = self.chunk_remaining.saturating_sub(n);
    }

    /// A complete client command line (without its line end): update the
    /// state and return what to record (the line, or a redacted copy).
    pub(super) fn command_line(&mut self, line: &[u8]) -> Vec<u8> {
        let verb = first_word(line);
        let awaiting = if verb.eq_ignore_ascii_case(b"AUTH") {
            // RFC 4954 §4: the exchange lasts until a reply other than 334.
            self.auth_active = true;
            Awaiting::Auth
        } else if verb.eq_ignore_ascii_case(b"DATA") {
            // Assume the 354 will come, so that a body the client sends
            // early (pipelined) is never read as commands; a refusal before
            // any body line undoes it (see `server_line`).
            self.body = Some(BodyState {
                prev_crlf: true,
                lines: 0,
            });
            Awaiting::Data
        } else {
            if verb.eq_ignore_ascii_case(b"BDAT") {
                // RFC 3030 §2: exactly <size> octets follow the BDAT line,
                // whatever they contain, and whatever the reply will be.
                self.chunk_remaining = bdat_size(line);
            }
            Awaiting::Other
        };
        if self.awaiting.len() >= MAX_AWAITING {
            self.awaiting.pop_front();
        }
        self.awaiting.push_back(awaiting);
        redact_command(line)
    }

    /// A complete DATA body line; returns true when it is the terminating
    /// `.` line. RFC 5321 §4.5.2: only `<CRLF>.<CRLF>` with real CRLFs ends
    /// the data, so `\n.\n` or `\n.\r\n` (SMTP smuggling) does not.
    pub(super) fn body_line(&mut self, line: &[u8], crlf: bool) -> bool {
        let Some(body) = &mut self.body else {
            return false;
        };
        body.lines += 1;
        let end = body.prev_crlf && crlf && line == b".";
        body.prev_crlf = crlf;
        if end {
            self.body = None;
        }
        end
    }

    /// A complete server line: match final reply lines to the commands
    /// waiting for them.
    pub(super) fn server_line(&mut self, line: &[u8]) {
        // RFC 5321 §4.2.1: a reply ends with the line whose code is not
        // followed by '-'.
        let Some(code) = line.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit)) else {
            return;
        };
        if line.get(3) == Some(&b'-') {
            return;
        }
        let code = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        match self.awaiting.front().copied() {
            // RFC 4954 §4: 334 continues the exchange.
            Some(Awaiting::Auth) if code == 334 => {}
            Some(Awaiting::Auth) => {
                self.awaiting.pop_front();
                self.auth_active = false;
            }
            Some(Awaiting::Data) => {
                self.awaiting.pop_front();
                if code == 354 {
                    self.awaiting.push_front(Awaiting::DataFinal);
                } else if self.body.as_ref().is_some_and(|b| b.lines == 0) {
                    // DATA refused before any content was sent: back to commands.
                    self.body = None;
                }
            }
            Some(Awaiting::DataFinal | Awaiting::Other) => {
                self.awaiting.pop_front();
            }
            None => {}
        }
    }
}

/// The verb: everything up to the first SP or HTAB.
fn first_word(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    &line[..end]
}

/// RFC 3030 §2: `BDAT SP chunk-size [ SP end-marker ]`; 0 when unreadable
/// (the server cannot know the size either, so it reads no chunk).
fn bdat_size(line: &[u8]) -> u64 {
    let mut words = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    words.next();
    words
        .next()
        .filter(|w| w.len() <= 20 && w.iter().all(u8::is_ascii_digit))
        .and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// `AUTH <mechanism> <initial-response>` -> `AUTH <mechanism> <redacted>`
/// (RFC 4954 §4: the initial response is a credential); other lines unchanged.
/// Pure: also used for a command line that has not ended yet.
pub(super) fn redact_command(line: &[u8]) -> Vec<u8> {
    if !first_word(line).eq_ignore_ascii_case(b"AUTH") {
        return line.to_vec();
    }
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let mech_start = 4 + line[4..].iter().take_while(|b| is_space(b)).count();
    let mech_end = mech_start
        + line[mech_start..]
            .iter()
            .take_while(|b| !is_space(b))
            .count();
    if line[mech_end..].iter().all(is_space) {
        return line.to_vec();
    }
    let mut out = line[..mech_end].to_vec();
    out.push(b' ');
    out.extend_from_slice(REDACTED);
    out
}
