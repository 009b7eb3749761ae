//! A record of what crossed the wire, for teaching and debugging.
//!
//! Feed it the bytes as they are sent or received ([`Transcript::client`],
//! [`Transcript::server`]), mark the TLS switch and add notes; read it back
//! as `C: ` / `S: ` lines ([`Transcript::render`]) or as structured lines
//! for coloured output ([`Transcript::lines`]).
//!
//! What it does on the way in:
//! - **AUTH secrets are redacted** (RFC 4954 §4): the initial response after
//!   `AUTH <mechanism>` and every client line while an AUTH exchange is in
//!   progress (until the server answers with a code other than 334) are
//!   recorded as `<redacted>`;
//! - **message content is never taken for commands**: after `DATA` the
//!   client lines are body until `<CRLF>.<CRLF>` (RFC 5321 §4.5.2; a `.`
//!   after a bare LF does not end it, as in the real decoder), and the
//!   octets after `BDAT <n>` are chunk content (RFC 3030 §2);
//! - **memory is bounded** ([`TranscriptLimits`]): only the first and last
//!   few lines of each message body are kept, with a note saying how many
//!   were left out; very long lines are cut; the whole record has a cap.
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

mod render;
mod tracker;

use std::collections::VecDeque;

use memchr::memchr;

use render::{Ending, escape_text, line_text, split_lines};
use tracker::{ClientMode, REDACTED, Tracker, redact_command};

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

/// A line being assembled from chunks, cut at a maximum length.
#[derive(Debug, Clone, Default)]
struct LineBuf {
    kept: Vec<u8>,
    /// Bytes beyond the cut.
    cut: u64,
    /// The last byte pushed (to see a CR that fell beyond the cut).
    last: Option<u8>,
}

/// A complete line, without its line end.
#[derive(Debug, Clone)]
struct Line {
    content: Vec<u8>,
    ending: Ending,
    cut: u64,
}

impl LineBuf {
    fn push(&mut self, bytes: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.cut += (bytes.len() - room) as u64;
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
    }

    fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.cut == 0
    }

    /// The line ended with an LF (not pushed).
    fn take_terminated(&mut self) -> Line {
        let mut content = std::mem::take(&mut self.kept);
        let mut cut = std::mem::take(&mut self.cut);
        let ending = if self.last.take() == Some(b'\r') {
            // The CR belongs to the line end: remove it from wherever it is.
            if cut > 0 {
                cut -= 1;
            } else {
                content.pop();
            }
            Ending::Crlf
        } else {
            Ending::BareLf
        };
        Line {
            content,
            ending,
            cut,
        }
    }

    fn take_unterminated(&mut self) -> Line {
        self.last = None;
        Line {
            content: std::mem::take(&mut self.kept),
            ending: Ending::None,
            cut: std::mem::take(&mut self.cut),
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
    client_buf: LineBuf,
    server_buf: LineBuf,
    tracker: Tracker,
    body: Option<BodyKeep>,
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
            client_buf: LineBuf::default(),
            server_buf: LineBuf::default(),
            tracker: Tracker::default(),
            body: None,
        }
    }

    /// Record bytes the client sent, in any chunks.
    pub fn client(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let remaining = self.tracker.chunk_remaining();
            if remaining > 0 {
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                self.chunk_bytes(chunk);
                rest = tail;
                continue;
            }
            match memchr(b'\n', rest) {
                Some(lf) => {
                    self.client_buf
                        .push(&rest[..lf], self.limits.max_line_bytes);
                    let line = self.client_buf.take_terminated();
                    self.client_line(line);
                    rest = &rest[lf + 1..];
                }
                None => {
                    self.client_buf.push(rest, self.limits.max_line_bytes);
                    break;
                }
            }
        }
    }

    /// Record bytes the server sent, in any chunks.
    pub fn server(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(lf) = memchr(b'\n', rest) {
            self.server_buf
                .push(&rest[..lf], self.limits.max_line_bytes);
            let line = self.server_buf.take_terminated();
            self.tracker.server_line(&line.content);
            self.store_line(Direction::Server, &line.content, line.ending, line.cut);
            self.sync_body();
            rest = &rest[lf + 1..];
        }
        self.server_buf.push(rest, self.limits.max_line_bytes);
    }

    /// Mark the point where TLS started. A line still waiting for its end is
    /// recorded first (as sent in the clear, without a line end).
    pub fn tls_started(&mut self) {
        self.flush_partial();
        self.events.push(Event::TlsStarted);
    }

    /// Add a note (shown as `-- text --`).
    pub fn note(&mut self, text: &str) {
        self.flush_partial();
        if self.fits(text.len()) {
            self.events.push(Event::Note(text.to_string()));
        }
    }

    /// The recorded events. A line that has not ended yet, and the kept
    /// last lines of a body still in progress, are not in here until they
    /// complete; [`Transcript::lines`] shows them.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The transcript as displayable lines, one per line that crossed the
    /// wire, plus markers and notes (`dir: None`).
    pub fn lines(&self) -> Vec<TranscriptLine> {
        let mut out = Vec::new();
        for event in &self.events {
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
        // What is still in progress: kept body tail, unfinished lines.
        if let Some(body) = &self.body {
            out.extend(body.note().map(|n| marker(&n)));
            for kept in &body.tail {
                for (line, ending) in split_lines(&kept.bytes) {
                    out.push(client_text(line_text(line, ending)));
                }
                out.extend(cut_note(kept.cut).map(|n| marker(&n)));
            }
        }
        if !self.client_buf.is_empty() {
            let shown = self.shown_partial_client();
            out.push(client_text(line_text(&shown, Ending::None)));
        }
        if !self.server_buf.is_empty() {
            out.push(TranscriptLine {
                dir: Some(Direction::Server),
                text: line_text(&self.server_buf.kept, Ending::None),
            });
        }
        if self.dropped_lines > 0 {
            out.push(marker(&format!(
                "transcript limit reached: {} more lines not recorded",
                self.dropped_lines
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

    /// A complete client line, classified by the conversation state.
    fn client_line(&mut self, line: Line) {
        match self.tracker.mode() {
            ClientMode::Body => {
                if self
                    .tracker
                    .body_line(&line.content, line.ending == Ending::Crlf)
                {
                    // The end-of-data line: show the kept tail first.
                    self.finish_body();
                    self.store_line(Direction::Client, &line.content, line.ending, line.cut);
                } else {
                    self.body_line(line);
                }
            }
            ClientMode::Auth => self.store_line(Direction::Client, REDACTED, line.ending, 0),
            ClientMode::Command | ClientMode::Chunk => {
                let shown = self.tracker.command_line(&line.content);
                // A redacted line says nothing about the secret, not even its length.
                let cut = if shown == line.content { line.cut } else { 0 };
                self.store_line(Direction::Client, &shown, line.ending, cut);
            }
        }
        self.sync_body();
    }

    /// Octets of a BDAT chunk: lines of body content, not commands.
    fn chunk_bytes(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(lf) = memchr(b'\n', rest) {
            self.client_buf
                .push(&rest[..lf], self.limits.max_line_bytes);
            let line = self.client_buf.take_terminated();
            self.body_line(line);
            rest = &rest[lf + 1..];
        }
        self.client_buf.push(rest, self.limits.max_line_bytes);
        self.tracker.chunk_consumed(chunk.len() as u64);
        if self.tracker.chunk_remaining() == 0 {
            // RFC 3030 §2: a chunk need not end at a line end.
            if !self.client_buf.is_empty() {
                let line = self.client_buf.take_unterminated();
                self.body_line(line);
            }
            self.finish_body();
        }
    }

    /// Start or finish the kept body to follow the tracker's state.
    fn sync_body(&mut self) {
        let in_body = matches!(self.tracker.mode(), ClientMode::Body | ClientMode::Chunk);
        if in_body && self.body.is_none() {
            self.body = Some(BodyKeep {
                head_left: self.limits.body_head_lines,
                tail: VecDeque::new(),
                elided_lines: 0,
                elided_bytes: 0,
            });
        } else if !in_body && self.body.is_some() {
            self.finish_body();
        }
    }

    /// One body line: stored while within the head, then kept in the tail ring.
    fn body_line(&mut self, line: Line) {
        let Some(body) = &mut self.body else {
            self.store_line(Direction::Client, &line.content, line.ending, line.cut);
            return;
        };
        if body.head_left > 0 {
            body.head_left -= 1;
            self.store_line(Direction::Client, &line.content, line.ending, line.cut);
            return;
        }
        let mut bytes = line.content;
        bytes.extend_from_slice(line.ending.bytes());
        body.tail.push_back(KeptLine {
            bytes,
            cut: line.cut,
        });
        if body.tail.len() > self.limits.body_tail_lines
            && let Some(old) = body.tail.pop_front()
        {
            body.elided_lines += 1;
            body.elided_bytes += old.bytes.len() as u64 + old.cut;
        }
    }

    /// End of a body or chunk: note the elided lines, then store the tail.
    fn finish_body(&mut self) {
        let Some(body) = self.body.take() else {
            return;
        };
        if let Some(note) = body.note()
            && self.fits(note.len())
        {
            self.events.push(Event::Note(note));
        }
        for kept in body.tail {
            self.store_raw(Direction::Client, &kept.bytes, kept.cut);
        }
    }

    /// What to show for the client's unfinished line (redacted as it would be).
    fn shown_partial_client(&self) -> Vec<u8> {
        let kept = &self.client_buf.kept;
        match self.tracker.mode() {
            ClientMode::Auth => REDACTED.to_vec(),
            ClientMode::Command => redact_command(kept),
            ClientMode::Body | ClientMode::Chunk => kept.clone(),
        }
    }

    /// Record unfinished lines without a line end (before TLS or a note).
    fn flush_partial(&mut self) {
        if !self.client_buf.is_empty() {
            let shown = self.shown_partial_client();
            let line = self.client_buf.take_unterminated();
            self.store_line(Direction::Client, &shown, Ending::None, line.cut);
        }
        if !self.server_buf.is_empty() {
            let line = self.server_buf.take_unterminated();
            self.store_line(Direction::Server, &line.content, Ending::None, line.cut);
        }
    }

    fn store_line(&mut self, dir: Direction, content: &[u8], ending: Ending, cut: u64) {
        let mut bytes = Vec::with_capacity(content.len() + 2);
        bytes.extend_from_slice(content);
        bytes.extend_from_slice(ending.bytes());
        self.store_raw(dir, &bytes, cut);
    }

    /// Append one line (with its line end) to the events, within the total cap.
    fn store_raw(&mut self, dir: Direction, bytes: &[u8], cut: u64) {
        if !self.fits(bytes.len()) {
            self.dropped_lines += 1;
            return;
        }
        match self.events.last_mut() {
            // Merge with the previous line of the same direction if it ended.
            Some(Event::Bytes {
                dir: last_dir,
                bytes: last,
            }) if *last_dir == dir && last.last() == Some(&b'\n') => last.extend_from_slice(bytes),
            _ => self.events.push(Event::Bytes {
                dir,
                bytes: bytes.to_vec(),
            }),
        }
        if let Some(note) = cut_note(cut)
            && self.fits(note.len())
        {
            self.events.push(Event::Note(note));
        }
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
