//! The SQLite index beside the Maildir: one writer thread that commits in
//! groups, a few reader connections (WAL: readers never wait for it), and
//! the start-up check that finds what the index is missing.
//!
//! Order of truth: a message file is durable in `new/` before its row is
//! written, and a row is deleted before its file, so a row never points at
//! a missing file; a file without a row (a crash, a failed index write) is
//! found by the scan at the next start ([`scan`]).

mod checkpoint;
mod rows;
mod scan;
pub mod schema;
mod session_log;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::{broadcast, oneshot, watch};

pub use rows::{MessageRow, Page, SessionRow};
pub use scan::ScanReport;
pub use sessions::{session_row, sessions_dir};

/// Why the index failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("index: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A file could not be read or removed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The writer thread is gone (the store is shutting down).
    #[error("index writer stopped")]
    Stopped,
}

/// The result of index operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A unit of work for the writer thread: runs inside the group's
/// transaction and returns what to do once the commit succeeded (`true`)
/// or failed.
type Job = Box<dyn FnOnce(&Transaction<'_>) -> Done + Send>;
type Done = Box<dyn FnOnce(bool) + Send>;

/// What changed in the index, told after the commit to whoever listens
/// ([`Store::events`]: the live page's event stream).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A message was added (its id).
    Added(String),
    /// Messages were deleted (their ids).
    Deleted(Vec<String>),
    /// Read flags or tags changed.
    Updated,
    /// A session was recorded (its id).
    Session(String),
}

/// Changes a slow listener may fall behind by before it is told it
/// missed some (and reloads what it shows).
const EVENTS_BACKLOG: usize = 1024;

/// Ids told in one `Deleted` change at most: deleting 100,000 messages
/// is told in pieces rather than one huge event.
const DELETED_PER_CHANGE: usize = 500;

/// Jobs committed together at most (a bound on one transaction's size).
const GROUP: usize = 512;
/// Reader connections kept open.
const READERS: usize = 4;

/// The index. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    db: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    /// The session records on disk; used by the writer thread only.
    log: Mutex<session_log::SessionLog>,
    readers: Mutex<Vec<Connection>>,
    changes: watch::Sender<u64>,
    events: broadcast::Sender<Change>,
}

impl Inner {
    /// Runs `work` on the session log (the writer thread is its only user,
    /// so the lock is never contended).
    fn with_log<T>(
        &self,
        work: impl FnOnce(&mut session_log::SessionLog) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        match self.log.lock() {
            Ok(mut log) => work(&mut log),
            Err(_) => Err(std::io::Error::other("the session log's lock is poisoned")),
        }
    }
}

impl Store {
    /// Opens (or creates) the index `db` of the Maildir at `root` and
    /// brings it up to date with the files: a full rebuild when `reindex`
    /// (or when the index is of another version), else the quick check of
    /// [`scan`]. Blocking (run it before serving, or in `spawn_blocking`).
    pub fn open(root: &Path, db: &Path, reindex: bool) -> Result<(Store, ScanReport)> {
        if let Some(dir) = db.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                action: "create",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let log =
            session_log::SessionLog::open(sessions_dir(root)).map_err(|source| StoreError::Io {
                action: "open the session records in",
                path: sessions_dir(root),
                source,
            })?;
        let mut conn = Connection::open(db)?;
        schema::configure(&conn)?;
        let current = schema::create(&conn)?;
        let report = scan::sync(&mut conn, root, reindex || !current)?;
        let checkpoints =
            checkpoint::Checkpoints::start(&conn, db).map_err(|source| StoreError::Io {
                action: "start the checkpoint thread for",
                path: db.to_path_buf(),
                source,
            })?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("inbox-index".into())
            .spawn(move || writer(conn, checkpoints, rx))
            .map_err(|source| StoreError::Io {
                action: "start the writer thread for",
                path: db.to_path_buf(),
                source,
            })?;
        let store = Store {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                db: db.to_path_buf(),
                writer: Mutex::new(Some(tx)),
                log: Mutex::new(log),
                readers: Mutex::new(Vec::new()),
                changes: watch::Sender::new(0),
                events: broadcast::Sender::new(EVENTS_BACKLOG),
            }),
        };
        Ok((store, report))
    }

    /// The Maildir root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The SQLite file.
    pub fn db_path(&self) -> &Path {
        &self.inner.db
    }

    /// A counter bumped after every commit that changed messages or
    /// sessions (the long-poll wait and live pages watch it).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Every change from now on, as it is committed. A receiver that falls
    /// more than 1024 changes behind gets `Lagged` and should reload.
    pub fn events(&self) -> broadcast::Receiver<Change> {
        self.inner.events.subscribe()
    }

    /// Tells the listeners (none listening is fine).
    fn tell(&self, change: Change) {
        let _ = self.inner.events.send(change);
    }

    fn tell_deleted(&self, ids: Vec<String>) {
        for chunk in ids.chunks(DELETED_PER_CHANGE) {
            self.tell(Change::Deleted(chunk.to_vec()));
        }
    }

    /// Stops the writer after the jobs already queued.
    pub fn close(&self) {
        if let Ok(mut writer) = self.inner.writer.lock() {
            writer.take();
        }
    }

    /// Runs `work` on the writer thread, in a transaction shared with the
    /// jobs queued at the same time; `after` runs once it committed (file
    /// removals). Resolves when the commit is done.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
        after: impl FnOnce(&T) + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let changes = self.inner.changes.clone();
        let job: Job = Box::new(move |txn| {
            let result = work(txn);
            Box::new(move |committed| {
                let result = match (result, committed) {
                    (Ok(value), true) => {
                        after(&value);
                        changes.send_modify(|n| *n += 1);
                        Ok(value)
                    }
                    (Ok(_), false) => Err(StoreError::Sql(rusqlite::Error::ExecuteReturnedResults)),
                    (Err(e), _) => Err(StoreError::Sql(e)),
                };
                let _ = tx.send(result);
            })
        });
        let sent = match self.inner.writer.lock() {
            Ok(writer) => writer.as_ref().is_some_and(|w| w.send(job).is_ok()),
            Err(_) => false,
        };
        if !sent {
            return Err(StoreError::Stopped);
        }
        rx.await.unwrap_or(Err(StoreError::Stopped))
    }

    /// Runs `work` on a reader connection, off the runtime's threads.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match conn {
                Some(conn) => conn,
                None => open_reader(&inner.db)?,
            };
            let result = work(&conn);
            if let Ok(mut readers) = inner.readers.lock()
                && readers.len() < READERS
            {
                readers.push(conn);
            }
            result.map_err(StoreError::from)
        })
        .await
        .unwrap_or(Err(StoreError::Stopped))
    }
}

fn open_reader(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// The writer thread: takes the jobs waiting, runs them in one
/// transaction, commits, then tells each job (group commit). Checkpoints
/// happen off this path ([`checkpoint`]).
fn writer(
    mut conn: Connection,
    mut checkpoints: checkpoint::Checkpoints,
    jobs: mpsc::Receiver<Job>,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        checkpoints.before_group(&conn);
        let txn = match conn.transaction() {
            Ok(txn) => txn,
            Err(error) => {
                tracing::error!(%error, "index: cannot begin a transaction");
                // The jobs are dropped: their callers see `Stopped`.
                continue;
            }
        };
        let done: Vec<Done> = group.into_iter().map(|job| job(&txn)).collect();
        let committed = match txn.commit() {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "index: commit failed");
                false
            }
        };
        for d in done {
            d(committed);
        }
        if committed {
            checkpoints.committed();
        }
    }
}

/// Removes message files after their rows are gone. A file already gone is
/// fine; any other failure is logged (the scan at the next start puts the
/// message back in the index rather than lose it).
fn remove_files(root: &Path, paths: &[String]) {
    for path in paths {
        let full = root.join(path);
        if let Err(error) = std::fs::remove_file(&full)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %full.display(), %error, "cannot remove a deleted message's file");
        }
    }
}
