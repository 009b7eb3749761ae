//! Recorded sessions in the index, and their records in the session log
//! beside it (so that a rebuilt index has them too).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::session_log::SessionLog;
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

/// Loads the session records of the log in `dir` into the index.
pub(super) fn load_sessions(conn: &mut Connection, dir: &Path) -> Result<usize> {
    let records = SessionLog::records(dir).map_err(|source| StoreError::Io {
        action: "read the session records in",
        path: dir.to_path_buf(),
        source,
    })?;
    let txn = conn.transaction()?;
    let mut loaded = 0;
    for record in records {
        let Some((row, delivered)) = session_row(record) else {
            // A line torn by a crash, or not ours.
            tracing::warn!(dir = %dir.display(), "not a session record; skipped");
            continue;
        };
        insert_session(&txn, &row, &delivered)?;
        loaded += 1;
    }
    txn.commit()?;
    Ok(loaded)
}

impl Store {
    /// Records a finished session: its record appended to the session log
    /// (see [`SessionLog`]), then its row and the links to the messages it
    /// delivered, in one job of the index's writer thread.
    pub async fn record_session(&self, row: SessionRow, delivered: Vec<String>) -> Result<()> {
        let id = row.id.clone();
        let inner = std::sync::Arc::clone(&self.inner);
        self.write(
            move |txn| {
                if let Err(error) = inner.with_log(|log| log.append(&row.record)) {
                    tracing::warn!(%error, session = %row.id, "cannot append the session record to its log");
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
