//! A finished session as the API shows it: the connection, TLS, outcome,
//! the messages it delivered, and the transcript line by line with the
//! annotator's RFC note and the client judge's findings.

use serde::Serialize;
use smtp_wire::annotate::Annotator;
use smtp_wire::transcript::Direction;

use super::entry::millis;
use super::judge::{Finding, judge};
use super::store::SessionRow;
use super::time::rfc3339;
use crate::ListenerKind;
use crate::server::SessionRecord;

/// A session record (JSON, stored beside the Maildir and in the index).
#[derive(Debug, Serialize)]
pub struct SessionJson {
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
    #[serde(rename = "Local")]
    local: String,
    #[serde(rename = "Listener")]
    listener: &'static str,
    #[serde(rename = "Helo")]
    helo: String,
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "TLS")]
    tls: Option<Tls>,
    #[serde(rename = "Outcome")]
    outcome: &'static str,
    #[serde(rename = "Code")]
    code: Option<u16>,
    #[serde(rename = "Messages")]
    messages: Vec<String>,
    #[serde(rename = "Badge")]
    badge: Option<&'static str>,
    #[serde(rename = "Lines")]
    lines: Vec<Line>,
}

#[derive(Debug, Serialize)]
struct Tls {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Cipher")]
    cipher: String,
}

/// One transcript line.
#[derive(Debug, Serialize)]
struct Line {
    /// `C` (client), `S` (server), or `null` for markers (`TLS started`)
    /// and notes.
    #[serde(rename = "Dir")]
    dir: Option<&'static str>,
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

impl SessionJson {
    /// The record of `session`.
    pub fn new(session: &SessionRecord) -> SessionJson {
        let verdicts = judge(&session.transcript);
        let mut annotator = Annotator::new();
        let lines = session
            .transcript
            .lines()
            .into_iter()
            .enumerate()
            .map(|(n, line)| {
                let note = annotator.note(&line);
                Line {
                    dir: line.dir.map(|d| match d {
                        Direction::Client => "C",
                        Direction::Server => "S",
                    }),
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
        let (started, ended) = (millis(session.started), millis(session.ended));
        SessionJson {
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
            },
            helo: session.helo.clone().unwrap_or_default(),
            username: session.auth_user.clone().unwrap_or_default(),
            tls: session.tls.as_ref().map(|t| Tls {
                version: t.version.clone(),
                cipher: t.cipher.clone(),
            }),
            outcome: session.outcome.name(),
            code: session.outcome.code(),
            messages: session.delivered.clone(),
            badge: verdicts.badge,
            lines,
        }
    }

    /// The index row (the JSON itself included).
    pub fn row(&self) -> SessionRow {
        SessionRow {
            id: self.id.clone(),
            started_ms: self.started,
            ended_ms: self.ended,
            peer: self.peer.clone(),
            outcome: self.outcome.to_string(),
            record: serde_json::to_string(self).unwrap_or_default(),
        }
    }

    /// The queue ids of the messages it delivered.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }
}
