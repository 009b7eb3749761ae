//! WAL checkpoints off the path of the `250`.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the
//! write-ahead log past 1,000 pages: the writer thread copies the log into
//! the database file and fsyncs both, while every delivery of that group,
//! and every one queued behind it, waits for its reply (a delivery is
//! answered once its row is committed, so that a test which reads the API
//! right after the `250` finds the message). At about eleven pages a
//! message that was one stall every ninety messages.
//!
//! So the writer turns the automatic checkpoint off, and a thread of its
//! own runs PASSIVE checkpoints (they never block the writer or a reader)
//! every [`COMMITS_PER_CHECKPOINT`] commits. A PASSIVE checkpoint cannot
//! copy what is committed while it runs, and SQLite only starts the log
//! over when everything in it was copied, so under a steady load the log
//! would grow for ever; once it holds [`WAL_CAP`] pages the writer copies
//! the rest itself, between two groups (the background thread has already
//! copied nearly all of it, so this is short), and the log starts over.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;

/// Commits between two background checkpoints: at about eleven pages a
/// message, near SQLite's own 1,000-page interval when each commit holds
/// one message, fewer checkpoints when the groups are bigger.
const COMMITS_PER_CHECKPOINT: u32 = 64;

/// Pages in the log at which the writer copies the rest itself (80 MiB of
/// 4 KiB pages), so the log starts over.
const WAL_CAP: i64 = 20_000;

/// The writer's side: counts commits, wakes the checkpoint thread, and
/// catches the log up when it grew past [`WAL_CAP`].
pub struct Checkpoints {
    wake: mpsc::SyncSender<()>,
    commits: u32,
    /// Pages in the log at the last checkpoint (from either thread).
    wal_pages: Arc<AtomicI64>,
}

impl Checkpoints {
    /// Turns the writer's automatic checkpoint off and starts the thread
    /// that checkpoints the database at `db` instead. The thread ends when
    /// the returned value is dropped (with the writer).
    pub fn start(writer: &Connection, db: &Path) -> std::io::Result<Checkpoints> {
        let conn = Connection::open(db).map_err(std::io::Error::other)?;
        writer
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(std::io::Error::other)?;
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let wal_pages = Arc::new(AtomicI64::new(0));
        let pages = Arc::clone(&wal_pages);
        std::thread::Builder::new()
            .name("inbox-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    if let Some((log, _)) = checkpoint(&conn) {
                        pages.store(log, Ordering::Relaxed);
                    }
                }
            })?;
        Ok(Checkpoints {
            wake,
            commits: 0,
            wal_pages,
        })
    }

    /// After a commit: every [`COMMITS_PER_CHECKPOINT`], wakes the
    /// checkpoint thread (a wake-up already pending is enough).
    pub fn committed(&mut self) {
        self.commits += 1;
        if self.commits >= COMMITS_PER_CHECKPOINT {
            self.commits = 0;
            let _ = self.wake.try_send(());
        }
    }

    /// Before a group, on the writer's connection: when the log holds
    /// [`WAL_CAP`] pages, copies what the background checkpoints have not,
    /// so that the next transaction starts the log over.
    pub fn before_group(&mut self, writer: &Connection) {
        if self.wal_pages.load(Ordering::Relaxed) < WAL_CAP {
            return;
        }
        // All copied: the next transaction starts the log over. A reader
        // that still needs old pages keeps some in; the next group tries
        // again (a checkpoint with nothing to copy costs next to nothing).
        if let Some((log, copied)) = checkpoint(writer)
            && copied >= log
        {
            self.wal_pages.store(0, Ordering::Relaxed);
        }
    }
}

/// One PASSIVE checkpoint (SQLite's `wal_checkpoint` pragma); returns the
/// pages in the log and how many of them are copied, or `None` when it
/// failed (logged; the next one tries again).
fn checkpoint(conn: &Connection) -> Option<(i64, i64)> {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok(log) => Some(log),
        Err(error) => {
            tracing::warn!(%error, "index: checkpoint failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's own checkpoints are off, the background thread copies
    /// the log, and past the cap the writer catches it up so the log
    /// starts over: it never grows without bound under steady commits.
    #[test]
    fn the_log_is_checkpointed_and_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("index.sqlite");
        let mut conn = Connection::open(&db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let mut checkpoints = Checkpoints::start(&conn, &db).unwrap();
        let auto: i64 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(auto, 0, "the writer never checkpoints inside a commit");
        let blob = vec![7u8; 3000];
        let mut most = 0;
        for _ in 0..60_000 {
            checkpoints.before_group(&conn);
            let txn = conn.transaction().unwrap();
            txn.execute("INSERT INTO t VALUES (?1)", [&blob]).unwrap();
            txn.commit().unwrap();
            checkpoints.committed();
            most = most.max(checkpoints.wal_pages.load(Ordering::Relaxed));
        }
        assert!(most > 0, "the background thread reported the log");
        assert!(
            most < 3 * WAL_CAP,
            "the log grew to {most} pages, past the cap"
        );
        let wal = std::fs::metadata(dir.path().join("index.sqlite-wal"))
            .unwrap()
            .len();
        assert!(
            wal < 3 * WAL_CAP as u64 * 4200,
            "the log file is {wal} octets: it was never started over"
        );
    }
}
