//! A finished session as the inbox keeps it and as the API shows it.
//!
//! What is stored (the record file beside the Maildir, and the index row)
//! is the session as it happened: the connection, TLS, outcome, the
//! messages it delivered, and the transcript's lines as they crossed the
//! wire ([`StoredSession`]). The annotator's RFC notes and the client
//! judge's findings are added when the API reads a session
//! ([`StoredSession::explained`]), not at the end of every session: they
//! are five times the size of the lines themselves, and writing them made
//! each delivery slower (docs/benchmarks.md, issue 15's ingest figure).
//! The notes also stay those of the running version.

use serde::{Deserialize, Serialize};
use smtp_conformance::observe::{SessionEnd, judge_lines};
use smtp_wire::annotate::Annotator;
use smtp_wire::transcript::{Direction, TranscriptLine};

use super::entry::millis;
use super::judge::{Finding, Verdicts};
use super::store::SessionRow;
use super::time::rfc3339;
use crate::ListenerKind;
use crate::server::SessionRecord;

/// Everything about a session but its lines (the listing's fields); the
/// start of a stored record, read alone when only the index row is needed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionHead {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Started")]
    started: i64,
    #[serde(rename = "Ended")]
    ended: i64,
    #[serde(rename = "StartedAt")]
    started_at: String,
    #[serde(rename = "EndedAt")]
    ended_at: String,
    #[serde(rename = "Peer")]
    peer: String,
    #[serde(rename = "Local", default)]
    local: String,
    #[serde(rename = "Listener", default)]
    listener: String,
    #[serde(rename = "Helo", default)]
    helo: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "TLS", default)]
    tls: Option<Tls>,
    #[serde(rename = "Outcome")]
    outcome: String,
    #[serde(rename = "Code", default)]
    code: Option<u16>,
    #[serde(rename = "Messages", default)]
    messages: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tls {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Cipher")]
    cipher: String,
}

/// One transcript line as stored: who sent it and its text.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredLine {
    /// `C` (client), `S` (server), or `null` for markers (`TLS started`)
    /// and notes.
    #[serde(rename = "Dir")]
    dir: Option<String>,
    #[serde(rename = "Text")]
    text: String,
}

/// A session record as stored (JSON, in its file and in the index).
/// Records written by earlier versions, with notes and findings in each
/// line, read as well: what is not needed is ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSession {
    #[serde(flatten)]
    head: SessionHead,
    #[serde(rename = "Lines", default)]
    lines: Vec<StoredLine>,
}

/// The listing's item: the head and the judge's badge.
#[derive(Debug, Serialize)]
pub struct SessionSummary<'a> {
    #[serde(flatten)]
    head: &'a SessionHead,
    /// `conforming`, `warnings`, `violations`.
    #[serde(rename = "Badge")]
    badge: Option<&'static str>,
}

/// A session as the API shows it: each line with its RFC note and the
/// judge's findings on it.
#[derive(Debug, Serialize)]
pub struct ExplainedSession<'a> {
    #[serde(flatten)]
    head: &'a SessionHead,
    #[serde(rename = "Badge")]
    badge: Option<&'static str>,
    #[serde(rename = "Lines")]
    lines: Vec<Line>,
}

/// One explained transcript line.
#[derive(Debug, Serialize)]
struct Line {
    #[serde(rename = "Dir")]
    dir: Option<String>,
    #[serde(rename = "Text")]
    text: String,
    /// The annotator's note: what this step is, with its RFC.
    #[serde(rename = "Note")]
    note: Option<String>,
    #[serde(rename = "Cites")]
    cites: Vec<Cite>,
    #[serde(rename = "Findings")]
    findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
struct Cite {
    #[serde(rename = "RFC")]
    rfc: u16,
    #[serde(rename = "Section")]
    section: &'static str,
    #[serde(rename = "URL")]
    url: String,
}

impl SessionHead {
    /// The index row of `record` (a stored session's JSON, of which this
    /// head was read) and the ids of the messages it delivered.
    pub fn into_row(self, record: String) -> (SessionRow, Vec<String>) {
        (
            SessionRow {
                id: self.id,
                started_ms: self.started,
                ended_ms: self.ended,
                peer: self.peer,
                outcome: self.outcome,
                record,
            },
            self.messages,
        )
    }
}

impl StoredSession {
    /// The record of `session`.
    pub fn new(session: &SessionRecord) -> StoredSession {
        let (started, ended) = (millis(session.started), millis(session.ended));
        let head = SessionHead {
            id: session.id.clone(),
            started,
            ended,
            started_at: rfc3339(started),
            ended_at: rfc3339(ended),
            peer: session.info.peer.to_string(),
            local: session.info.local.to_string(),
            listener: match session.info.listener {
                ListenerKind::Plain => "smtp",
                ListenerKind::ImplicitTls => "smtps",
                ListenerKind::Lmtp => "lmtp",
            }
            .to_string(),
            helo: session.helo.clone().unwrap_or_default(),
            username: session.auth_user.clone().unwrap_or_default(),
            tls: session.tls.as_ref().map(|t| Tls {
                version: t.version.clone(),
                cipher: t.cipher.clone(),
            }),
            outcome: session.outcome.name().to_string(),
            code: session.outcome.code(),
            messages: session.delivered.clone(),
        };
        let lines = session
            .transcript
            .lines()
            .into_iter()
            .map(|line| StoredLine {
                dir: line.dir.map(|d| direction_name(d).to_string()),
                text: line.text,
            })
            .collect();
        StoredSession { head, lines }
    }

    /// Reads a stored record; `None` when it is not one.
    pub fn parse(record: &str) -> Option<StoredSession> {
        serde_json::from_str(record).ok()
    }

    /// The index row (the JSON itself included) and the ids of the
    /// messages it delivered.
    pub fn into_row(self) -> (SessionRow, Vec<String>) {
        let record = serde_json::to_string(&self).unwrap_or_default();
        self.head.into_row(record)
    }

    /// The lines as the annotator and the judge read them.
    fn transcript_lines(&self) -> Vec<TranscriptLine> {
        self.lines
            .iter()
            .map(|line| TranscriptLine {
                dir: match line.dir.as_deref() {
                    Some("C") => Some(Direction::Client),
                    Some("S") => Some(Direction::Server),
                    _ => None,
                },
                text: line.text.clone(),
            })
            .collect()
    }

    /// The judge's word on what the client did (the session is over, so
    /// how it ended is judged too).
    fn verdicts(&self, lines: &[TranscriptLine]) -> Verdicts {
        Verdicts::from(judge_lines(lines, SessionEnd::Closed))
    }

    /// The listing's item.
    pub fn summary(&self) -> SessionSummary<'_> {
        SessionSummary {
            head: &self.head,
            badge: self.verdicts(&self.transcript_lines()).badge,
        }
    }

    /// The session with a note per line and the judge's findings.
    pub fn explained(&self) -> ExplainedSession<'_> {
        let lines = self.transcript_lines();
        let verdicts = self.verdicts(&lines);
        let mut annotator = Annotator::new();
        let explained = lines
            .into_iter()
            .enumerate()
            .map(|(n, line)| {
                let note = annotator.note(&line);
                Line {
                    dir: line.dir.map(|d| direction_name(d).to_string()),
                    findings: verdicts
                        .findings
                        .iter()
                        .filter(|f| f.line == n)
                        .cloned()
                        .collect(),
                    cites: note
                        .iter()
                        .flat_map(|n| &n.cites)
                        .map(|c| Cite {
                            rfc: c.rfc,
                            section: c.section,
                            url: c.url(),
                        })
                        .collect(),
                    note: note.map(|n| n.text),
                    text: line.text,
                }
            })
            .collect();
        ExplainedSession {
            head: &self.head,
            badge: verdicts.badge,
            lines: explained,
        }
    }
}

fn direction_name(dir: Direction) -> &'static str {
    match dir {
        Direction::Client => "C",
        Direction::Server => "S",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the first inbox version wrote it: notes, cites and
    /// findings in every line, a badge.
    const ANNOTATED: &str = r#"{"ID":"s1","Started":1000,"Ended":2000,
        "StartedAt":"1970-01-01T00:00:01.000Z","EndedAt":"1970-01-01T00:00:02.000Z",
        "Peer":"127.0.0.1:5000","Local":"127.0.0.1:25","Listener":"smtp","Helo":"c",
        "Username":"","TLS":null,"Outcome":"delivered","Code":null,"Messages":["m1"],
        "Badge":"warnings","Lines":[
        {"Dir":"S","Text":"220 mx ESMTP","Note":"old note","Cites":[],"Findings":[]},
        {"Dir":"C","Text":"HELO c","Note":"old","Cites":[],"Findings":[]},
        {"Dir":"S","Text":"250 mx","Note":null,"Cites":[],"Findings":[]},
        {"Dir":"C","Text":"QUIT","Note":null,"Cites":[],"Findings":[]},
        {"Dir":"S","Text":"221 bye","Note":null,"Cites":[],"Findings":[]}]}"#;

    #[test]
    fn a_stored_record_keeps_lines_only_and_is_explained_when_read() {
        let session = StoredSession::parse(ANNOTATED).expect("an earlier record reads");
        let (row, messages) = session.clone().into_row();
        assert_eq!((row.id.as_str(), messages), ("s1", vec!["m1".to_string()]));
        // What is stored again has no notes, cites, findings or badge.
        for word in ["Note", "Cites", "Findings", "Badge", "old note"] {
            assert!(!row.record.contains(word), "{word} in {}", row.record);
        }
        let explained = serde_json::to_value(session.explained()).unwrap();
        let lines = explained["Lines"].as_array().unwrap();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1]["Dir"], "C");
        assert!(
            lines[1]["Note"].as_str().is_some_and(|n| n.contains("RFC")),
            "the running annotator's note: {explained:#}"
        );
        // HELO without EHLO first is a SHOULD finding on line 1.
        assert!(
            lines[1]["Findings"]
                .as_array()
                .is_some_and(|f| !f.is_empty()),
            "{explained:#}"
        );
        assert_eq!(explained["Badge"], "warnings");
        let summary = serde_json::to_value(session.summary()).unwrap();
        assert!(summary.get("Lines").is_none());
        assert_eq!(summary["Badge"], "warnings");
        assert_eq!(summary["Messages"][0], "m1");
    }

    #[test]
    fn not_a_record_is_none() {
        assert!(StoredSession::parse("{}").is_none());
        assert!(StoredSession::parse("not json").is_none());
    }
}
