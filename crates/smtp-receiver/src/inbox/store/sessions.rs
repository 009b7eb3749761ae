//! Recorded sessions in the index, and their JSON files beside it (so that
//! a rebuilt index has them too).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::{Change, Result, SessionRow, Store, StoreError};
use crate::inbox::sessions::SessionHead;

/// Where session records are kept: `<maildir>/smtp-inbox/sessions/`.
pub fn sessions_dir(root: &Path) -> PathBuf {
    root.join(crate::inbox::INDEX_DIR).join("sessions")
}

fn insert_session(
    conn: &Connection,
    row: &SessionRow,
    delivered: &[String],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO sessions (id, started, ended, peer, outcome, record) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        row.id,
        row.started_ms,
        row.ended_ms,
        row.peer,
        row.outcome,
        row.record
    ])?;
    for message in delivered {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO delivered (message_id, session_id) VALUES (?1, ?2)",
        )?
        .execute(params![message, row.id])?;
    }
    Ok(())
}

/// Parses a session record (the JSON the inbox writes) into a row and its
/// delivered message ids.
pub fn session_row(record: String) -> Option<(SessionRow, Vec<String>)> {
    let head: SessionHead = serde_json::from_str(&record).ok()?;
    Some(head.into_row(record))
}

pub(super) fn load_session_files(conn: &mut Connection, dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(StoreError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let txn = conn.transaction()?;
    let mut loaded = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some((row, delivered)) = std::fs::read_to_string(&path).ok().and_then(session_row)
        else {
            tracing::warn!(path = %path.display(), "not a session record; skipped");
            continue;
        };
        insert_session(&txn, &row, &delivered)?;
        loaded += 1;
    }
    txn.commit()?;
    Ok(loaded)
}

impl Store {
    /// Records a finished session: its JSON file (not synced: a session
    /// record is a convenience, a message is a promise), then its row and
    /// the links to the messages it delivered. The file is written by the
    /// index's writer thread, in the job that inserts the row: no trip to
    /// the blocking pool for each session.
    pub async fn record_session(&self, row: SessionRow, delivered: Vec<String>) -> Result<()> {
        let dir = sessions_dir(self.root());
        let id = row.id.clone();
        self.write(
            move |txn| {
                let file = dir.join(format!("{}.json", row.id));
                let written = std::fs::write(&file, &row.record).or_else(|error| {
                    // The first session of a new inbox makes the folder.
                    if error.kind() != std::io::ErrorKind::NotFound {
                        return Err(error);
                    }
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(&file, &row.record)
                });
                if let Err(error) = written {
                    tracing::warn!(%error, session = %row.id, "cannot write the session record file");
                }
                insert_session(txn, &row, &delivered)
            },
            |_| {},
        )
        .await?;
        self.tell(Change::Session(id));
        Ok(())
    }

    /// Sessions, newest first, optionally of one outcome; and how many there are.
    pub async fn sessions(
        &self,
        outcome: Option<String>,
        start: u64,
        limit: u64,
    ) -> Result<(u64, Vec<SessionRow>)> {
        self.read(move |conn| {
            let (clause, values): (&str, Vec<String>) = match outcome {
                Some(o) => ("WHERE outcome = ?1", vec![o]),
                None => ("", vec![]),
            };
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM sessions {clause}"),
                rusqlite::params_from_iter(&values),
                |r| r.get(0),
            )?;
            let limit = if limit == 0 { -1 } else { limit as i64 };
            let mut stmt = conn.prepare(&format!(
                "SELECT id, started, ended, peer, outcome, record FROM sessions {clause} \
                 ORDER BY started DESC, id DESC LIMIT {limit} OFFSET {start}"
            ))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(&values), |r| {
                    Ok(SessionRow {
                        id: r.get(0)?,
                        started_ms: r.get(1)?,
                        ended_ms: r.get(2)?,
                        peer: r.get(3)?,
                        outcome: r.get(4)?,
                        record: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((total as u64, rows))
        })
        .await
    }

    /// One session's JSON record.
    pub async fn session(&self, id: String) -> Result<Option<String>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT record FROM sessions WHERE id = ?1")?;
            let mut rows = stmt.query_map([id], |r| r.get(0))?;
            rows.next().transpose()
        })
        .await
    }
}
