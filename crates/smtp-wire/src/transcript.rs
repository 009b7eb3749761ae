//! A record of what crossed the wire, for teaching and debugging.
//!
//! Feed it the bytes as they are sent or received ([`Transcript::client`],
//! [`Transcript::server`]), mark the TLS switch and add notes; read it back
//! as `C: ` / `S: ` lines ([`Transcript::render`]) or as structured lines
//! for coloured output ([`Transcript::lines`]).
//!
//! What it does on the way in:
//! - **AUTH secrets are redacted** (RFC 4954 §4): the initial response after
//!   `AUTH <mechanism>`, and every client line sent while an AUTH exchange
//!   is in progress (until the server answers with a code other than 334),
//!   are recorded as `<redacted>`;
//! - **message content is never taken for commands, nor commands for
//!   content**: after `DATA` the client lines are body until `<CRLF>.<CRLF>`
//!   (RFC 5321 §4.5.2; a `.` after a bare LF does not end it, as in the real
//!   decoder), and the octets after a valid `BDAT <n>` line are chunk
//!   content (RFC 3030 §2). What the client sends after `DATA` or `AUTH`
//!   before the server's reply is held until that reply says what it is (a
//!   body after 354, a response after 334, commands otherwise); shown before
//!   that, everything any reading could make a credential is hidden;
//! - **memory is bounded** ([`TranscriptLimits`]): only the first and last
//!   few lines of each message body are kept, with a note saying how many
//!   were left out; very long lines are cut; the whole record, held bytes
//!   included, has a cap (a client that sends more than that before the
//!   reply is no longer recorded, with a note, until TLS starts).
//!
//! On the way out every line is shown so that nothing hides: a bare LF line
//! end shows as `\n`, a bare CR as `\r`, other controls as `\x..`, a line
//! without an end gets `[no line end]`, a literal backslash is `\\`.
//!
//! ```
//! use smtp_wire::transcript::Transcript;
//! let mut t = Transcript::new();
//! t.server(b"220 mx.example.com ESMTP\r\n");
//! t.client(b"EHLO client.example\r\n");
//! t.server(b"250-mx.example.com\r\n250 STARTTLS\r\n");
//! t.client(b"STARTTLS\r\n");
//! t.server(b"220 Go ahead\r\n");
//! t.tls_started();
//! t.client(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
//! t.server(b"235 2.7.0 Authentication successful\r\n");
//! t.client(b"MAIL FROM:<alice@example.com>\nRSET\r\n");
//! assert_eq!(t.render(), "\
//! S: 220 mx.example.com ESMTP
//! C: EHLO client.example
//! S: 250-mx.example.com
//! S: 250 STARTTLS
//! C: STARTTLS
//! S: 220 Go ahead
//! -- TLS started --
//! C: AUTH PLAIN <redacted>
//! S: 235 2.7.0 Authentication successful
//! C: MAIL FROM:<alice@example.com>\\n
//! C: RSET
//! ");
//! ```

mod client;
mod hold;
mod line;
mod render;
mod tracker;

use std::collections::VecDeque;

use memchr::memchr;

use hold::{Held, Hold, with_ending};
use line::LineAsm;
pub use render::Ending;
use render::{escape_text, line_octets, line_text, split_lines};
use tracker::{Answer, Tracker};

/// Who sent the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The SMTP client (Sender-SMTP): `C: ` lines.
    Client,
    /// The SMTP server (Receiver-SMTP): `S: ` lines.
    Server,
}

impl Direction {
    /// `"C: "` or `"S: "`.
    pub fn prefix(self) -> &'static str {
        match self {
            Direction::Client => "C: ",
            Direction::Server => "S: ",
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Complete lines that crossed the wire in one direction, with their
    /// line ends, after redaction and elision (consecutive lines in the same
    /// direction are merged into one event).
    Bytes {
        /// Who sent them.
        dir: Direction,
        /// The (redacted) bytes.
        bytes: Vec<u8>,
    },
    /// The TLS handshake completed here; what follows was encrypted.
    TlsStarted,
    /// A note from the application or from the transcript itself
    /// (e.g. how many body lines were elided).
    Note(String),
}

/// One displayable line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    /// Who sent it; `None` for markers and notes.
    pub dir: Option<Direction>,
    /// The visible text, escaped (see the module documentation).
    pub text: String,
}

impl TranscriptLine {
    /// The octets a client or server line stood for, and how it ended:
    /// the escapes of [`text`](Self::text) read back, so that a recording
    /// (or its rendering, read back line by line) can be judged as sent.
    ///
    /// ```
    /// use smtp_wire::transcript::{Ending, Transcript};
    ///
    /// let mut t = Transcript::new();
    /// t.client(b"MAIL FROM:<a@b>\n");
    /// let line = &t.lines()[0];
    /// assert_eq!(line.text, "MAIL FROM:<a@b>\\n");
    /// assert_eq!(line.octets(), (b"MAIL FROM:<a@b>".to_vec(), Ending::BareLf));
    /// ```
    pub fn octets(&self) -> (Vec<u8>, Ending) {
        line_octets(&self.text)
    }

    /// A line read back as [`Transcript::render`] shows it: `C: text`,
    /// `S: text` or `-- marker --`. The RFCs' examples are read too: their
    /// `C:`/`S:` lines are indented, and an empty `C: ` line may have lost
    /// its trailing space. `None` for any other text (a log line).
    ///
    /// ```
    /// use smtp_wire::{Direction, TranscriptLine};
    ///
    /// let line = TranscriptLine::read("   C: EHLO bar.com").unwrap();
    /// assert_eq!(line.dir, Some(Direction::Client));
    /// assert_eq!(line.text, "EHLO bar.com");
    /// assert!(TranscriptLine::read("-- TLS started --").unwrap().is_tls_started());
    /// assert_eq!(TranscriptLine::read("2026-12-03 INFO delivered"), None);
    /// ```
    pub fn read(shown: &str) -> Option<TranscriptLine> {
        let directed = |dir, rest: &str| TranscriptLine {
            dir: Some(dir),
            text: rest.strip_prefix(' ').unwrap_or(rest).to_string(),
        };
        let trimmed = shown.trim_start();
        if let Some(rest) = trimmed.strip_prefix("C:") {
            return Some(directed(Direction::Client, rest));
        }
        if let Some(rest) = trimmed.strip_prefix("S:") {
            return Some(directed(Direction::Server, rest));
        }
        (shown.starts_with("-- ") && shown.ends_with(" --")).then(|| TranscriptLine {
            dir: None,
            text: shown.to_string(),
        })
    }

    /// The marker of the TLS handshake (RFC 3207 §4.2, RFC 8314 §3):
    /// what follows it was encrypted.
    pub fn is_tls_started(&self) -> bool {
        self.dir.is_none() && self.text.contains("TLS started")
    }
}

/// Memory limits of a [`Transcript`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptLimits {
    /// Body lines kept at the start of each message (DATA) or BDAT chunk.
    pub body_head_lines: usize,
    /// Body lines kept at the end of each message or chunk.
    pub body_tail_lines: usize,
    /// Longer lines are cut to this many bytes (the rest is counted).
    pub max_line_bytes: usize,
    /// Total bytes recorded; later lines are counted, not kept.
    pub max_total_bytes: usize,
}

impl Default for TranscriptLimits {
    /// 10 head lines, 3 tail lines, 1024-byte lines, 1 MiB in total.
    fn default() -> Self {
        TranscriptLimits {
            body_head_lines: 10,
            body_tail_lines: 3,
            max_line_bytes: 1024,
            max_total_bytes: 1 << 20,
        }
    }
}

/// A stored line and how many bytes were cut from it.
#[derive(Debug, Clone)]
struct KeptLine {
    bytes: Vec<u8>,
    cut: u64,
}

/// The first/last lines of a message body being kept.
#[derive(Debug, Clone)]
struct BodyKeep {
    head_left: usize,
    tail: VecDeque<KeptLine>,
    elided_lines: u64,
    elided_bytes: u64,
}

impl BodyKeep {
    /// Keeps a line (its `parts` joined) as the newest of at most `limit`
    /// tail lines; the oldest then goes, counted as elided (with `limit` 0,
    /// the line itself). Every line of a body passes here and nearly all
    /// are elided: the new line is written into the buffer of the one it
    /// pushes out, so a long body costs no allocation per line.
    fn keep_in_tail(&mut self, limit: usize, parts: [&[u8]; 2], cut: u64) {
        if limit == 0 {
            self.elide(parts.iter().map(|p| p.len()).sum(), cut);
            return;
        }
        let mut bytes = Vec::new();
        if self.tail.len() >= limit
            && let Some(old) = self.tail.pop_front()
        {
            self.elide(old.bytes.len(), old.cut);
            bytes = old.bytes;
            bytes.clear();
        }
        for part in parts {
            bytes.extend_from_slice(part);
        }
        self.tail.push_back(KeptLine { bytes, cut });
    }

    /// Counts a body line that will not be shown.
    fn elide(&mut self, len: usize, cut: u64) {
        self.elided_lines += 1;
        self.elided_bytes += len as u64 + cut;
    }

    fn note(&self) -> Option<String> {
        (self.elided_lines > 0).then(|| {
            format!(
                "{} body lines ({} bytes) not shown",
                self.elided_lines, self.elided_bytes
            )
        })
    }
}

/// A record of an SMTP conversation (see the module documentation).
#[derive(Debug, Clone)]
pub struct Transcript {
    limits: TranscriptLimits,
    events: Vec<Event>,
    stored_bytes: usize,
    dropped_lines: u64,
    client_line: LineAsm,
    server_line: LineAsm,
    tracker: Tracker,
    body: Option<BodyKeep>,
    /// Recorded after a DATA or AUTH line, waiting for its reply.
    held: Hold,
    /// Client octets not recorded since there was too much to hold.
    blind: Option<u64>,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcript {
    /// An empty transcript with the default [`TranscriptLimits`].
    pub fn new() -> Self {
        Self::with_limits(TranscriptLimits::default())
    }

    /// An empty transcript with explicit limits.
    pub fn with_limits(limits: TranscriptLimits) -> Self {
        Transcript {
            limits,
            events: Vec::new(),
            stored_bytes: 0,
            dropped_lines: 0,
            client_line: LineAsm::default(),
            server_line: LineAsm::default(),
            tracker: Tracker::default(),
            body: None,
            held: Hold::default(),
            blind: None,
        }
    }

    /// Record bytes the client sent, in any chunks.
    pub fn client(&mut self, bytes: &[u8]) {
        if let Some(lost) = &mut self.blind {
            *lost += bytes.len() as u64;
            return;
        }
        if self.holding() {
            self.hold_client(bytes, false);
            return;
        }
        let used = self.feed_client(bytes, false);
        if used < bytes.len() {
            self.hold_client(&bytes[used..], false);
        }
    }

    /// Record bytes the server sent, in any chunks.
    pub fn server(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(lf) = memchr(b'\n', rest) {
            self.server_line
                .push(&rest[..lf], self.limits.max_line_bytes, false);
            let line = self.server_line.take_terminated();
            if self.blind.is_none() && self.tracker.server_line(line.class()) == Answer::Decides {
                // The reply says what the held bytes are: they come first
                // (they were sent before it).
                self.sync_body();
                self.drain_held();
            }
            self.sync_body();
            let (content, cut) = line.unshown(self.limits.max_line_bytes);
            let bytes = with_ending(content, line.ending);
            if self.held.is_empty() {
                self.store_raw(Direction::Server, &bytes, cut);
            } else {
                self.hold(Held::Server { bytes, cut });
            }
            rest = &rest[lf + 1..];
        }
        self.server_line
            .push(rest, self.limits.max_line_bytes, false);
    }

    /// Mark the point where TLS started. What was held is recorded as shown
    /// so far, then a line still waiting for its end (as sent in the clear,
    /// without a line end). The conversation starts over (RFC 3207 §4.2: the
    /// server forgets what the client said before, and discards what it
    /// pipelined after STARTTLS).
    pub fn tls_started(&mut self) {
        match self.blind.take() {
            Some(lost) => self.note_now(&format!("{lost} client bytes not recorded")),
            None => self.settle_held(),
        }
        self.flush_partial();
        self.finish_body();
        self.client_line = LineAsm::default();
        self.server_line = LineAsm::default();
        self.tracker = Tracker::default();
        self.events.push(Event::TlsStarted);
    }

    /// Add a note (shown as `-- text --`).
    pub fn note(&mut self, text: &str) {
        if self.blind.is_none() && !self.held.is_empty() {
            self.hold(Held::Note(text.to_string()));
        } else {
            self.note_now(text);
        }
    }

    /// The recorded events. A line that has not ended yet, the kept last
    /// lines of a body still in progress, and what the client sent after
    /// DATA or AUTH before the server's reply to it, are not in here until
    /// they are complete and known; [`Transcript::lines`] shows them.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The transcript as displayable lines, one per line that crossed the
    /// wire, plus markers and notes (`dir: None`).
    pub fn lines(&self) -> Vec<TranscriptLine> {
        let mut out = event_lines(&self.events);
        self.live_lines(&mut out);
        let mut dropped = self.dropped_lines;
        if !self.held.is_empty() {
            let preview = self.preview();
            out.extend(event_lines(&preview.events));
            preview.live_lines(&mut out);
            dropped += preview.dropped_lines;
        }
        if self.server_line.has_unshown() {
            let line = self.server_line.peek();
            let (shown, _) = line.unshown(self.limits.max_line_bytes);
            out.push(TranscriptLine {
                dir: Some(Direction::Server),
                text: line_text(shown, Ending::None),
            });
        }
        if let Some(lost) = self.blind {
            out.push(marker(&format!("{lost} client bytes not recorded")));
        }
        if dropped > 0 {
            out.push(marker(&format!(
                "transcript limit reached: {dropped} more lines not recorded"
            )));
        }
        out
    }

    /// The transcript as text: `C: `/`S: ` lines, markers as `-- ... --`,
    /// each line ending with `'\n'`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in self.lines() {
            if let Some(dir) = line.dir {
                out.push_str(dir.prefix());
            }
            out.push_str(&line.text);
            out.push('\n');
        }
        out
    }

    /// What is in progress on the client side: kept body tail, unfinished line.
    fn live_lines(&self, out: &mut Vec<TranscriptLine>) {
        if let Some(body) = &self.body {
            out.extend(body.note().map(|n| marker(&n)));
            for kept in &body.tail {
                for (line, ending) in split_lines(&kept.bytes) {
                    out.push(client_text(line_text(line, ending)));
                }
                out.extend(cut_note(kept.cut).map(|n| marker(&n)));
            }
        }
        if self.client_line.has_unshown() {
            let (shown, _) = self.shown_partial_client();
            out.push(client_text(line_text(&shown, Ending::None)));
        }
    }

    /// Add a note now, after the unfinished lines so far.
    fn note_now(&mut self, text: &str) {
        self.flush_partial();
        if self.fits(text.len()) {
            self.events.push(Event::Note(text.to_string()));
        }
    }

    fn store_line(&mut self, dir: Direction, content: &[u8], ending: Ending, cut: u64) {
        self.store_raw(dir, &with_ending(content, ending), cut);
    }

    /// Append one line (with its line end) to the events, within the total cap.
    fn store_raw(&mut self, dir: Direction, bytes: &[u8], cut: u64) {
        if !self.fits(bytes.len()) {
            self.dropped_lines += 1;
            return;
        }
        self.push_event(Event::Bytes {
            dir,
            bytes: bytes.to_vec(),
        });
        if let Some(note) = cut_note(cut)
            && self.fits(note.len())
        {
            self.events.push(Event::Note(note));
        }
    }

    /// Append an event (already counted against the cap), merging a line
    /// with the previous one of the same direction if that one ended.
    fn push_event(&mut self, event: Event) {
        if let (
            Some(Event::Bytes {
                dir: last_dir,
                bytes: last,
            }),
            Event::Bytes { dir, bytes },
        ) = (self.events.last_mut(), &event)
            && last_dir == dir
            && last.last() == Some(&b'\n')
        {
            last.extend_from_slice(bytes);
            return;
        }
        self.events.push(event);
    }

    /// Reserve `len` bytes of the total cap, if there is room.
    fn fits(&mut self, len: usize) -> bool {
        if self.stored_bytes.saturating_add(len) > self.limits.max_total_bytes {
            return false;
        }
        self.stored_bytes += len;
        true
    }
}

fn event_lines(events: &[Event]) -> Vec<TranscriptLine> {
    let mut out = Vec::new();
    for event in events {
        match event {
            Event::Bytes { dir, bytes } => {
                out.extend(split_lines(bytes).map(|(line, ending)| TranscriptLine {
                    dir: Some(*dir),
                    text: line_text(line, ending),
                }))
            }
            Event::TlsStarted => out.push(marker("TLS started")),
            Event::Note(text) => out.push(marker(&escape_text(text))),
        }
    }
    out
}

fn marker(text: &str) -> TranscriptLine {
    TranscriptLine {
        dir: None,
        text: format!("-- {text} --"),
    }
}

fn client_text(text: String) -> TranscriptLine {
    TranscriptLine {
        dir: Some(Direction::Client),
        text,
    }
}

fn cut_note(cut: u64) -> Option<String> {
    (cut > 0).then(|| format!("line cut: {cut} more bytes not shown"))
}
