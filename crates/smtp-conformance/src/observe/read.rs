//! Recorded sessions read back from text, for [`super::judge_lines`] and
//! the annotator.
//!
//! One [`Format`] today: this project's own rendering. Another format is a
//! variant and a function that turns its text into [`TranscriptLine`]s
//! (`C:`/`S:` lines with smtp-wire's escapes, `-- ... --` markers), plus a
//! rule in [`Format::detect`].

use smtp_wire::{Direction, TranscriptLine};

/// A way sessions are written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// [`smtp_wire::Transcript::render`]: `C: ` and `S: ` lines with
    /// smtp-wire's escapes (`\n` for a bare LF line end, ...), `-- ... --`
    /// markers; several sessions each headed by a `--- session ... ---`
    /// line, as `smtp-receive -v` prints them (`smtp-send -v` prints one
    /// session without a header). Any other line (a log line) is skipped.
    Transcript,
}

/// One session read from text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its header without the dashes (`session 127.0.0.1:40312
    /// (127.0.0.1:2525)`), if it had one.
    pub title: Option<String>,
    /// Its lines, as [`smtp_wire::Transcript::lines`] gives them.
    pub lines: Vec<TranscriptLine>,
    /// Lines of text after its start (its header, or the start of the
    /// text) that were no part of a transcript (log lines...), skipped.
    pub skipped: usize,
}

impl Format {
    /// The format of `text` (only one is known yet).
    pub fn detect(_text: &str) -> Format {
        Format::Transcript
    }

    /// The sessions written in `text` in this format.
    pub fn read(self, text: &str) -> Vec<Recorded> {
        match self {
            Format::Transcript => rendered(text),
        }
    }
}

/// The sessions in `text`, whatever its [`Format`].
///
/// ```
/// use smtp_conformance::observe;
/// let sessions = observe::read("--- session 127.0.0.1:40312 (127.0.0.1:2525) ---\nS: 220 ready\nC: EHLO a\\n\n");
/// assert_eq!(sessions[0].title.as_deref(), Some("session 127.0.0.1:40312 (127.0.0.1:2525)"));
/// assert_eq!(sessions[0].lines[1].text, "EHLO a\\n");
/// ```
pub fn read(text: &str) -> Vec<Recorded> {
    Format::detect(text).read(text)
}

fn rendered(text: &str) -> Vec<Recorded> {
    let mut sessions: Vec<Recorded> = Vec::new();
    let mut current = Recorded {
        title: None,
        lines: Vec::new(),
        skipped: 0,
    };
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(title) = raw
            .strip_prefix("--- ")
            .and_then(|r| r.strip_suffix(" ---"))
        {
            let next = Recorded {
                title: Some(title.to_string()),
                lines: Vec::new(),
                skipped: 0,
            };
            let done = std::mem::replace(&mut current, next);
            if done.title.is_some() || !done.lines.is_empty() {
                sessions.push(done);
            }
            continue;
        }
        match line(raw) {
            Some(line) => current.lines.push(line),
            None if raw.trim().is_empty() => {}
            None => current.skipped += 1,
        }
    }
    if current.title.is_some() || !current.lines.is_empty() {
        sessions.push(current);
    }
    sessions
}

/// `C: text`, `S: text` or `-- marker --` (a trailing space of an empty
/// `C: ` line may have been lost on the way).
fn line(raw: &str) -> Option<TranscriptLine> {
    let directed = |dir, rest: &str| TranscriptLine {
        dir: Some(dir),
        text: rest.strip_prefix(' ').unwrap_or(rest).to_string(),
    };
    if let Some(rest) = raw.strip_prefix("C:") {
        return Some(directed(Direction::Client, rest));
    }
    if let Some(rest) = raw.strip_prefix("S:") {
        return Some(directed(Direction::Server, rest));
    }
    (raw.starts_with("-- ") && raw.ends_with(" --")).then(|| TranscriptLine {
        dir: None,
        text: raw.to_string(),
    })
}
