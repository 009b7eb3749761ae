//! Bringing the index up to date with the Maildir at start: rows whose
//! file is gone are dropped, files without a row are read and added,
//! recorded sessions without a row are loaded from their JSON files. A
//! rebuild (`--reindex`, a deleted or outdated index) is the same with an
//! empty index to start from.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use rusqlite::Connection;

use super::rows::insert;
use super::sessions::{load_sessions, sessions_dir};
use super::{Result, StoreError};
use crate::inbox::entry::{Entry, id_from_file_name};

/// What the start-up check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Message files found in `new/` and `cur/`.
    pub files: usize,
    /// Files that had no row and were indexed.
    pub added: usize,
    /// Rows whose file was gone, dropped.
    pub dropped: usize,
    /// Session records loaded from their files.
    pub sessions_loaded: usize,
    /// The index was rebuilt from scratch.
    pub rebuilt: bool,
}

/// Messages indexed per transaction while rebuilding.
const BATCH: usize = 2_000;

pub(super) fn sync(conn: &mut Connection, root: &Path, rebuild: bool) -> Result<ScanReport> {
    let mut report = ScanReport {
        rebuilt: rebuild,
        ..ScanReport::default()
    };
    if rebuild {
        conn.execute_batch(
            "DELETE FROM messages; DELETE FROM message_text; DELETE FROM sessions; \
             DELETE FROM delivered;",
        )?;
    }
    let files = message_files(root)?;
    report.files = files.len();
    let indexed: HashMap<String, String> = {
        let mut stmt = conn.prepare("SELECT id, path FROM messages")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let txn = conn.transaction()?;
    for (id, path) in &indexed {
        match files.get(id) {
            Some((file, _)) if file == path => {}
            Some((file, _)) => {
                // A reader moved it (new/ -> cur/): same message, new path.
                txn.execute("UPDATE messages SET path = ?1 WHERE id = ?2", [file, id])?;
            }
            None => {
                txn.execute("DELETE FROM messages WHERE id = ?1", [id])?;
                txn.execute("DELETE FROM message_text WHERE id = ?1", [id])?;
                report.dropped += 1;
            }
        }
    }
    txn.commit()?;
    let missing: Vec<(&String, &(String, SystemTime))> = files
        .iter()
        .filter(|(id, _)| !indexed.contains_key(*id))
        .collect();
    for batch in missing.chunks(BATCH) {
        let txn = conn.transaction()?;
        for (_, (path, modified)) in batch {
            let full = root.join(path);
            let raw = match std::fs::read(&full) {
                Ok(raw) => raw,
                // Removed meanwhile (a reader, a prune): nothing to index.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(StoreError::Io {
                        action: "read",
                        path: full,
                        source,
                    });
                }
            };
            insert(&txn, &Entry::read(path, &raw, *modified), "")?;
            report.added += 1;
        }
        txn.commit()?;
    }
    let known: i64 = conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?;
    if rebuild || known == 0 {
        report.sessions_loaded = load_sessions(conn, &sessions_dir(root))?;
    }
    Ok(report)
}

/// The message files of the Maildir (`new/` and `cur/`), by id:
/// (path relative to the root, modification time). Dot files are skipped
/// (Maildir readers' own files).
fn message_files(root: &Path) -> Result<HashMap<String, (String, SystemTime)>> {
    let mut files = HashMap::new();
    for sub in ["new", "cur"] {
        let dir = root.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(StoreError::Io {
                    action: "list",
                    path: dir,
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            files.insert(
                id_from_file_name(&name),
                (format!("{sub}/{name}"), modified),
            );
        }
    }
    Ok(files)
}
