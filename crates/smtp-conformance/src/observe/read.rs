//! Recorded sessions read back from text, for [`super::judge_lines`] and
//! the annotator.
//!
//! Two [`Format`]s: this project's own rendering (which also reads the
//! `C:`/`S:` examples of the RFCs), and swaks output. Another format is a
//! variant and a function that turns its text into [`TranscriptLine`]s
//! (`C:`/`S:` lines with smtp-wire's escapes, `-- ... --` markers), plus a
//! rule in [`Format::detect`].

use smtp_wire::TranscriptLine;

/// A way sessions are written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// [`smtp_wire::Transcript::render`]: `C: ` and `S: ` lines with
    /// smtp-wire's escapes (`\n` for a bare LF line end, ...), `-- ... --`
    /// markers; several sessions each headed by a `--- session ... ---`
    /// line, as `smtp-receive -v` prints them (`smtp-send -v` prints one
    /// session without a header). Any other line (a log line) is skipped.
    /// The examples of the RFCs (`S: 220 foo.com Simple Mail Transfer
    /// Service Ready`, often indented) read the same way.
    Transcript,
    /// What swaks prints: ` -> ` (` ~> ` under TLS) for the client's
    /// lines, `<-  ` (`<~  `) for the server's, `<** ` (`<~* `) for a
    /// refusal, `=== ` for its own news (connected, TLS started), `*** `
    /// for its errors; each `=== Trying` starts a session. swaks shows
    /// text, not octets: every line is taken as ended by CRLF, so what
    /// only the octets show (a bare LF) cannot be seen in it.
    Swaks,
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
    /// The format of `text`: swaks when a line starts the way only swaks
    /// starts lines, else the transcript format.
    pub fn detect(text: &str) -> Format {
        let swaks = text.lines().any(|l| {
            SWAKS_CLIENT
                .iter()
                .chain(SWAKS_SERVER)
                .any(|p| l.starts_with(p))
                || l.starts_with("=== Trying ")
                || l.starts_with("=== Connected to ")
        });
        if swaks {
            Format::Swaks
        } else {
            Format::Transcript
        }
    }

    /// The sessions written in `text` in this format.
    pub fn read(self, text: &str) -> Vec<Recorded> {
        match self {
            Format::Transcript => rendered(text),
            Format::Swaks => swaks(text),
        }
    }
}

/// How swaks starts the client's lines: in the clear, and under TLS.
const SWAKS_CLIENT: &[&str] = &[" -> ", " ~> "];
/// How swaks starts the server's lines: accepted, refused (`**`), both in
/// the clear and under TLS.
const SWAKS_SERVER: &[&str] = &["<-  ", "<~  ", "<** ", "<~* "];

fn swaks(text: &str) -> Vec<Recorded> {
    // The lines go through smtp-wire's Transcript, as octets would: it
    // tells message text from commands, folds long bodies and masks AUTH
    // payloads (swaks prints them in the clear).
    let mut sessions = Vec::new();
    let mut current: Option<(Recorded, smtp_wire::Transcript)> = None;
    let finish = |done: Option<(Recorded, smtp_wire::Transcript)>, into: &mut Vec<Recorded>| {
        if let Some((mut recorded, transcript)) = done {
            recorded.lines = transcript.lines();
            into.push(recorded);
        }
    };
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(target) = raw.strip_prefix("=== Trying ") {
            finish(current.take(), &mut sessions);
            let title = format!("swaks to {}", target.trim_end_matches("..."));
            current = Some((
                Recorded {
                    title: Some(title),
                    lines: Vec::new(),
                    skipped: 0,
                },
                smtp_wire::Transcript::new(),
            ));
            continue;
        }
        let (recorded, transcript) = current.get_or_insert_with(|| {
            let recorded = Recorded {
                title: None,
                lines: Vec::new(),
                skipped: 0,
            };
            (recorded, smtp_wire::Transcript::new())
        });
        let with_crlf = |rest: &str| [rest.as_bytes(), b"\r\n"].concat();
        if let Some(rest) = SWAKS_CLIENT.iter().find_map(|p| raw.strip_prefix(p)) {
            transcript.client(&with_crlf(rest));
        } else if let Some(rest) = SWAKS_SERVER.iter().find_map(|p| raw.strip_prefix(p)) {
            transcript.server(&with_crlf(rest));
        } else if raw.starts_with("=== TLS started") {
            transcript.tls_started();
        } else if let Some(host) = raw.strip_prefix("=== Connected to ") {
            transcript.note(&format!("connected to {}", host.trim_end_matches('.')));
        } else if !raw.trim().is_empty() && !raw.starts_with("=== ") {
            recorded.skipped += 1;
        }
    }
    finish(current, &mut sessions);
    sessions
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
        match TranscriptLine::read(raw) {
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
