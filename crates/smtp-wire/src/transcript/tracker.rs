//! Just enough of the conversation to know what a client line *is*: a
//! command, a secret AUTH response, message content (DATA body, BDAT chunk),
//! or not known yet.
//!
//! What the client sends after `DATA` is a message body if the server
//! answers 354 and commands otherwise; what it sends after `AUTH` is a
//! response if the server answers 334 and commands otherwise. The client may
//! send those bytes before the reply (pipelining, RFC 2920), so the
//! transcript does not guess: it holds them ([`ClientMode::Hold`]) until the
//! reply says what they are. BDAT is the exception: RFC 3030 §2 makes the
//! chunk octets follow the command whatever the reply, so a BDAT line the
//! server accepts as one is enough, and this module asks smtp-wire's own
//! parser whether it is one.

use std::collections::VecDeque;

use crate::command::Command;
use crate::line::MAX_COMMAND_LINE;

use super::line::Line;
use super::render::Ending;

/// The text that replaces a secret.
pub(super) const REDACTED: &[u8] = b"<redacted>";

/// What the next client bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientMode {
    /// Command lines.
    Command,
    /// The response to a 334 (RFC 4954 §4): secret.
    Secret,
    /// A DATA body, line by line, until `<CRLF>.<CRLF>` (RFC 5321 §4.5.2).
    Body,
    /// The octets of a BDAT chunk (RFC 3030 §2), counted, not line based.
    Chunk,
    /// Not known until the server answers DATA or AUTH: kept aside.
    Hold,
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

/// What a reply changed for the client bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// Nothing: the client bytes are read as before.
    Nothing,
    /// The held bytes are now known (body, response or commands).
    Decides,
}

/// The conversation state seen from the transcript.
#[derive(Debug, Clone, Default)]
pub(super) struct Tracker {
    /// Commands waiting for replies, run-length encoded: every command is
    /// counted (none is forgotten, or later replies would be matched to the
    /// wrong commands), in a few runs (an AUTH or DATA is always the last one
    /// until its reply: what follows it is held).
    awaiting: VecDeque<(Awaiting, u64)>,
    /// A DATA line was read and its reply has not come.
    data_pending: bool,
    /// An AUTH exchange is in progress (RFC 4954 §4): until its final reply,
    /// what the client sends is secret by intent.
    auth_open: bool,
    /// A 334 came: the next client line is the response.
    response_owed: bool,
    /// Inside a DATA body: the previous line ended with a real CRLF.
    body: Option<bool>,
    chunk_remaining: u64,
    /// Show held bytes before their reply, hiding whatever any reading of
    /// them could make a credential (see [`Tracker::command_line`]).
    preview: bool,
}

impl Tracker {
    /// The state for showing bytes held in `outer` before they are known.
    pub(super) fn preview_of(outer: &Tracker) -> Tracker {
        Tracker {
            auth_open: outer.auth_open,
            preview: true,
            ..Tracker::default()
        }
    }

    pub(super) fn mode(&self) -> ClientMode {
        if self.chunk_remaining > 0 {
            ClientMode::Chunk
        } else if self.body.is_some() {
            ClientMode::Body
        } else if self.auth_open && (self.response_owed || self.preview) {
            ClientMode::Secret
        } else if self.data_pending || self.auth_open {
            ClientMode::Hold
        } else {
            ClientMode::Command
        }
    }

    /// An AUTH exchange is in progress: bytes held now are secret by intent.
    pub(super) fn auth_open(&self) -> bool {
        self.auth_open
    }

    pub(super) fn chunk_remaining(&self) -> u64 {
        self.chunk_remaining
    }

    /// `n` octets of the current BDAT chunk went by.
    pub(super) fn chunk_consumed(&mut self, n: u64) {
        self.chunk_remaining = self.chunk_remaining.saturating_sub(n);
    }

    /// The state shows held bytes before they are known.
    pub(super) fn is_preview(&self) -> bool {
        self.preview
    }

    /// A complete client command line: update the state.
    ///
    /// In preview the held bytes could still be a body (and commands after
    /// its end) or commands (with BDAT chunks that end anywhere in a line):
    /// lines are cut at LF only, no chunk is counted, and from the first
    /// `AUTH` anywhere in a line (or a line too long to look at whole)
    /// everything is secret.
    pub(super) fn command_line(&mut self, line: &Line) {
        let class = line.class();
        if self.preview {
            self.auth_open |=
                !line.is_whole() || class.windows(4).any(|w| w.eq_ignore_ascii_case(b"AUTH"));
            return;
        }
        // Deciding "maybe AUTH" or "maybe DATA" too often only holds (until
        // the reply decides) or hides more, so the verb test is loose.
        let awaiting = if first_word_is(class, b"AUTH") {
            self.auth_open = true;
            self.response_owed = false;
            Awaiting::Auth
        } else if first_word_is(class, b"DATA") {
            self.data_pending = !self.preview;
            Awaiting::Data
        } else {
            if let Some(size) = bdat_chunk_size(line) {
                self.chunk_remaining = size;
            }
            Awaiting::Other
        };
        if !self.preview {
            self.push(awaiting);
        }
    }

    /// The response line owed to a 334 was read.
    pub(super) fn response_line(&mut self) {
        self.response_owed = false;
    }

    /// A complete DATA body line; returns true when it is the terminating
    /// `.` line. RFC 5321 §4.5.2: only `<CRLF>.<CRLF>` with real CRLFs ends
    /// the data, so `\n.\n` or `\n.\r\n` (SMTP smuggling) does not.
    pub(super) fn body_line(&mut self, line: &Line) -> bool {
        let Some(prev_crlf) = &mut self.body else {
            return false;
        };
        let crlf = line.ending == Ending::Crlf;
        let end = *prev_crlf && crlf && line.is_whole() && line.class() == b".";
        *prev_crlf = crlf;
        if end {
            self.body = None;
        }
        end
    }

    /// A complete server line: match final reply lines to the commands
    /// waiting for them.
    pub(super) fn server_line(&mut self, line: &[u8]) -> Answer {
        // RFC 5321 §4.2.1: a reply ends with the line whose code is not
        // followed by '-'.
        let Some(code) = line.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit)) else {
            return Answer::Nothing;
        };
        if line.get(3) == Some(&b'-') {
            return Answer::Nothing;
        }
        let code = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        match self.awaiting.front().map(|&(kind, _)| kind) {
            // RFC 4954 §4: 334 asks for one more response line.
            Some(Awaiting::Auth) if code == 334 => {
                self.response_owed = true;
                Answer::Decides
            }
            Some(Awaiting::Auth) => {
                self.pop();
                self.auth_open = false;
                self.response_owed = false;
                Answer::Decides
            }
            // RFC 5321 §4.1.1.4: 354 starts the body; any other reply
            // refuses DATA, and what followed it were commands.
            Some(Awaiting::Data) => {
                self.pop();
                self.data_pending = false;
                if code == 354 {
                    self.awaiting.push_front((Awaiting::DataFinal, 1));
                    self.body = Some(true);
                }
                Answer::Decides
            }
            Some(Awaiting::DataFinal | Awaiting::Other) => {
                self.pop();
                Answer::Nothing
            }
            None => Answer::Nothing,
        }
    }

    fn push(&mut self, kind: Awaiting) {
        match self.awaiting.back_mut() {
            Some((last, n)) if *last == kind => *n = n.saturating_add(1),
            _ => self.awaiting.push_back((kind, 1)),
        }
    }

    fn pop(&mut self) {
        if let Some((_, n)) = self.awaiting.front_mut() {
            *n -= 1;
            if *n == 0 {
                self.awaiting.pop_front();
            }
        }
    }
}

fn is_space(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

/// `(start, end)` of the first word, after any leading SP/HTAB, up to the
/// next SP/HTAB. Looser than RFC 5321 §4.1.1 (one SP) on purpose.
fn first_word(line: &[u8]) -> (usize, usize) {
    let start = line.iter().take_while(|b| is_space(b)).count();
    let end = start + line[start..].iter().take_while(|b| !is_space(b)).count();
    (start, end)
}

fn first_word_is(line: &[u8], word: &[u8]) -> bool {
    let (start, end) = first_word(line);
    line[start..end].eq_ignore_ascii_case(word)
}

/// The chunk size when the server reads this line as BDAT, exactly as
/// smtp-wire's receiver does: the whole line, ended by CRLF (a bare LF line
/// is refused, RFC 5321 §2.3.8), within the 512-octet command line limit
/// (§4.5.3.1.4; a longer one is refused and skipped), and parsed as BDAT by
/// [`Command::parse`] (RFC 3030 §2: `"BDAT" SP chunk-size [SP end-marker]`,
/// one SP, nothing else). A line that only looks like BDAT (`BDAT\t40`,
/// `BDAT  40`) is refused by the server, which reads no chunk: taking its
/// next octets as content would show the commands in them unredacted.
fn bdat_chunk_size(line: &Line) -> Option<u64> {
    let fits = line.len().saturating_add(2) <= MAX_COMMAND_LINE as u64;
    if line.ending != Ending::Crlf || !line.is_whole() || !fits {
        return None;
    }
    match Command::parse(line.class()) {
        Ok(Command::Bdat { size, .. }) => Some(size),
        _ => None,
    }
}

/// `AUTH <mechanism> <initial-response>` -> `AUTH <mechanism> <redacted>`
/// (RFC 4954 §4: the initial response is a credential); `None` for any
/// other line. Loose on purpose (leading blanks, TAB separators, any case),
/// and a line longer than its `class` that starts with AUTH is redacted too
/// (its end is not known). Pure: also used for a line that has not ended.
pub(super) fn redact_auth(class: &[u8], whole: bool) -> Option<Vec<u8>> {
    redact_auth_at_start(class, whole)
}

/// [`redact_auth`] for a held line shown before it is known: a BDAT chunk
/// may end anywhere in it, so an AUTH command may start at any `AUTH` in it;
/// everything from the first one that carries data is redacted.
pub(super) fn redact_auth_anywhere(class: &[u8], whole: bool) -> Option<Vec<u8>> {
    (0..class.len().saturating_sub(3))
        .filter(|&i| class[i..i + 4].eq_ignore_ascii_case(b"AUTH"))
        .find_map(|i| {
            let mut shown = class[..i].to_vec();
            shown.extend(redact_auth_at_start(&class[i..], whole)?);
            Some(shown)
        })
}

fn redact_auth_at_start(class: &[u8], whole: bool) -> Option<Vec<u8>> {
    let (start, end) = first_word(class);
    if !class[start..end].eq_ignore_ascii_case(b"AUTH") {
        return None;
    }
    let mech_start = end + class[end..].iter().take_while(|b| is_space(b)).count();
    let mech_end = mech_start
        + class[mech_start..]
            .iter()
            .take_while(|b| !is_space(b))
            .count();
    if whole && class[mech_end..].iter().all(is_space) {
        return None;
    }
    let mut out = class[..mech_end].to_vec();
    out.push(b' ');
    out.extend_from_slice(REDACTED);
    Some(out)
}
