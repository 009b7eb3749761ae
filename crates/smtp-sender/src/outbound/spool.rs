//! The spool: a directory the user or another program writes into, and
//! the queue runner reads from. Crash-safe the way the receiver's Maildir
//! is: write, fsync, rename, fsync the directory.
//!
//! ```text
//! SPOOL/
//!   tmp/          files being written (never read as entries)
//!   queue/ID.msg  the message, exactly as it is sent (CRLF line ends)
//!   queue/ID.env  its envelope record (JSON, entry.rs); its presence
//!                 commits the entry
//!   bad/ID.*      entries that cannot be used, with ID.reason
//! ```
//!
//! The order of operations is the whole contract:
//! - **enqueue** writes `ID.msg` then `ID.env`, each through `tmp/` with
//!   an fsync before and after its rename. Until `ID.env` is in place the
//!   entry does not exist; a crash before leaves an orphan `ID.msg` that
//!   [`Spool::clean`] removes (the caller never heard "queued").
//! - **after an attempt** the new record replaces `ID.env` the same way.
//!   A crash before that rename loses the record of the last transaction,
//!   so its recipients are tried again: the duplicate window is the one
//!   transaction in flight.
//! - **removal** unlinks `ID.env` first (the entry is gone), then `ID.msg`.
//! - **locks**: a runner holds an exclusive lock on `ID.msg` (never
//!   rewritten, unlike `ID.env`) while it delivers, and reads the record
//!   only after taking it. Two runners never send the same entry twice.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use smtp_sender_core::{Envelope, Message};

use super::entry::{Malformed, QueuedMessage};

/// A spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file or directory of the spool could not be read or written.
    #[error("{action} {path}: {error}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The system's error (in the message, not a separate source, so
        /// that a chain of causes does not print it twice).
        error: io::Error,
    },
    /// No entry with this id.
    #[error("no message {0} in the spool")]
    NotFound(String),
    /// The entry is being delivered by a runner right now.
    #[error("message {0} is being delivered; try again when the attempt is over")]
    Locked(String),
    /// The entry's record cannot be used.
    #[error("message {id}: {reason}")]
    Malformed {
        /// The entry.
        id: String,
        /// Why.
        reason: Malformed,
    },
}

impl SpoolError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SpoolError {
        let path = path.to_path_buf();
        move |error| SpoolError::Io {
            action,
            path,
            error,
        }
    }
}

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

/// An entry locked for delivery; the lock goes with the value.
#[derive(Debug)]
pub struct Locked {
    _file: File,
    /// The record, read after the lock was taken.
    pub record: QueuedMessage,
}

/// How long a file in `tmp/`, or a message without a record, may stay
/// before [`Spool::clean`] takes it for the leftover of a crash.
pub const ORPHAN_AGE: Duration = Duration::from_secs(3600);

impl Spool {
    /// Opens a spool, creating its directories when missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Spool, SpoolError> {
        let spool = Spool { root: root.into() };
        for dir in [spool.tmp(), spool.queue(), spool.bad()] {
            fs::create_dir_all(&dir).map_err(SpoolError::io("creating", &dir))?;
        }
        Ok(spool)
    }

    /// The spool's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn queue(&self) -> PathBuf {
        self.root.join("queue")
    }

    fn bad(&self) -> PathBuf {
        self.root.join("bad")
    }

    fn path(&self, id: &str, ext: &str) -> PathBuf {
        self.queue().join(format!("{id}.{ext}"))
    }

    /// Puts a message in the spool and returns its id once it is durable;
    /// bare LF line ends become CRLF. On any error (a full disk among them) nothing of it is left behind.
    pub fn enqueue(
        &self,
        envelope: &Envelope,
        message: &[u8],
        now: SystemTime,
    ) -> Result<String, SpoolError> {
        // Stored as it will be sent: CRLF line ends (RFC 5321 §2.3.8), so
        // that sizes, reports and the runner's sends see the same octets.
        let message = Message::new(message);
        let mut writer = self.create(now)?;
        writer.write(message.as_bytes())?;
        writer.commit(envelope)
    }

    /// Starts an entry written piece by piece (a receiver streaming DATA
    /// into the spool): [`SpoolWriter::write`] the message, with CRLF line
    /// ends, then [`SpoolWriter::commit`] it with its envelope. Nothing of
    /// it is visible before the commit, and dropping the writer removes
    /// it.
    pub fn create(&self, now: SystemTime) -> Result<SpoolWriter, SpoolError> {
        let id = new_id(now);
        let tmp = self.tmp().join(format!("{id}.msg"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(SpoolError::io("creating", &tmp))?;
        Ok(SpoolWriter {
            spool: self.clone(),
            id,
            now,
            file: Some(io::BufWriter::with_capacity(64 * 1024, file)),
            tmp,
            size: 0,
        })
    }

    /// Writes `bytes` to `tmp/NAME`, fsyncs it, renames it to `dest` and
    /// fsyncs `queue/`.
    fn install(&self, name: &str, bytes: &[u8], dest: &Path) -> Result<(), SpoolError> {
        let tmp = self.tmp().join(name);
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Io {
                action: "writing",
                path: tmp,
                error,
            });
        }
        if let Err(error) = fs::rename(&tmp, dest) {
            let _ = fs::remove_file(&tmp);
            return Err(SpoolError::Io {
                action: "renaming into",
                path: dest.to_path_buf(),
                error,
            });
        }
        self.sync_queue()
    }

    fn sync_queue(&self) -> Result<(), SpoolError> {
        let dir = self.queue();
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(SpoolError::io("syncing", &dir))
    }

    /// Replaces an entry's record (durably).
    pub fn write_record(&self, record: &QueuedMessage) -> Result<(), SpoolError> {
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        self.install(
            &format!("{}.env.{}.{unique}", record.id, std::process::id()),
            &record.to_json(),
            &self.path(&record.id, "env"),
        )
    }

    /// The ids of the entries, oldest first (ids start with the time).
    pub fn ids(&self) -> Result<Vec<String>, SpoolError> {
        let dir = self.queue();
        let mut ids = Vec::new();
        for item in fs::read_dir(&dir).map_err(SpoolError::io("listing", &dir))? {
            let item = item.map_err(SpoolError::io("listing", &dir))?;
            let name = item.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".env")) {
                ids.push(id.to_string());
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Reads an entry's record without locking it (for listing and
    /// planning; delivery re-reads it under the lock).
    pub fn record(&self, id: &str) -> Result<QueuedMessage, SpoolError> {
        let path = self.path(id, "env");
        let bytes = match fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound(id.to_string()));
            }
            other => other.map_err(SpoolError::io("reading", &path))?,
        };
        let record = QueuedMessage::from_json(&bytes).map_err(|reason| SpoolError::Malformed {
            id: id.to_string(),
            reason,
        })?;
        if record.id != id {
            return Err(SpoolError::Malformed {
                id: id.to_string(),
                reason: Malformed(format!("the record says it is {:?}", record.id)),
            });
        }
        Ok(record)
    }

    /// The message bytes of an entry.
    pub fn message(&self, id: &str) -> Result<Vec<u8>, SpoolError> {
        let path = self.path(id, "msg");
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SpoolError::NotFound(id.to_string()),
            _ => SpoolError::Io {
                action: "reading",
                path,
                error: e,
            },
        })
    }

    /// Locks an entry for delivery and reads its record under the lock.
    /// `Ok(None)`: another runner holds it, or it is gone.
    pub fn lock(&self, id: &str) -> Result<Option<Locked>, SpoolError> {
        let msg = self.path(id, "msg");
        let file = match File::open(&msg) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SpoolError::io("opening", &msg)(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(SpoolError::io("locking", &msg)(e)),
        }
        match self.record(id) {
            Ok(record) => Ok(Some(Locked {
                _file: file,
                record,
            })),
            Err(SpoolError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes an entry: its record first, so a crash in between leaves an
    /// orphan message, never a record without its message.
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        let env = self.path(id, "env");
        match fs::remove_file(&env) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound(id.to_string()));
            }
            other => other.map_err(SpoolError::io("removing", &env))?,
        }
        let msg = self.path(id, "msg");
        let _ = fs::remove_file(&msg);
        self.sync_queue()
    }

    /// Moves an entry to `bad/` with a `ID.reason` file saying why: it is
    /// never retried and never deleted silently.
    pub fn move_aside(&self, id: &str, reason: &str) -> Result<(), SpoolError> {
        let bad = self.bad();
        let why = bad.join(format!("{id}.reason"));
        fs::write(&why, format!("{reason}\n")).map_err(SpoolError::io("writing", &why))?;
        for ext in ["msg", "env"] {
            let from = self.path(id, ext);
            let to = bad.join(format!("{id}.{ext}"));
            match fs::rename(&from, &to) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(SpoolError::io("moving aside", &from)(e));
                }
                _ => {}
            }
        }
        self.sync_queue()
    }

    /// The entries moved aside, with their reasons.
    pub fn bad_entries(&self) -> Result<Vec<(String, String)>, SpoolError> {
        let dir = self.bad();
        let mut out = Vec::new();
        for item in fs::read_dir(&dir).map_err(SpoolError::io("listing", &dir))? {
            let path = item.map_err(SpoolError::io("listing", &dir))?.path();
            if path.extension().is_some_and(|e| e == "reason")
                && let Some(id) = path.file_stem().and_then(|s| s.to_str())
            {
                let reason = fs::read_to_string(&path).unwrap_or_default();
                out.push((id.to_string(), reason.trim().to_string()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes the leftovers of a crash older than [`ORPHAN_AGE`]: files in
    /// `tmp/`, and messages in `queue/` whose record never arrived (their
    /// enqueue never returned an id). Returns how many were removed.
    pub fn clean(&self, now: SystemTime) -> Result<usize, SpoolError> {
        let old = |path: &Path| {
            fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= ORPHAN_AGE))
        };
        let mut removed = 0;
        for dir in [self.tmp(), self.queue()] {
            for item in fs::read_dir(&dir).map_err(SpoolError::io("listing", &dir))? {
                let path = item.map_err(SpoolError::io("listing", &dir))?.path();
                let orphan = if dir == self.tmp() {
                    true
                } else {
                    path.extension().is_some_and(|e| e == "msg")
                        && !path.with_extension("env").exists()
                };
                if orphan && old(&path) && fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// A spool entry being written; see [`Spool::create`].
#[derive(Debug)]
pub struct SpoolWriter {
    spool: Spool,
    id: String,
    now: SystemTime,
    /// `None` once committed.
    file: Option<io::BufWriter<File>>,
    tmp: PathBuf,
    size: u64,
}

impl SpoolWriter {
    /// The entry's id (final once committed).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Octets written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends message octets (CRLF line ends: they are stored as sent).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        let file = self.file.as_mut().ok_or_else(|| SpoolError::Io {
            action: "writing",
            path: self.tmp.clone(),
            error: io::Error::other("entry already committed"),
        })?;
        file.write_all(bytes)
            .map_err(SpoolError::io("writing", &self.tmp))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Makes the entry durable and visible (fsync, rename into `queue/`,
    /// fsync, then the record, as [`Spool::enqueue`] does) and returns its
    /// id. On error nothing of it is left.
    pub fn commit(mut self, envelope: &Envelope) -> Result<String, SpoolError> {
        let Some(file) = self.file.take() else {
            return Err(SpoolError::NotFound(self.id.clone()));
        };
        let synced = file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .and_then(|file| file.sync_all());
        synced.map_err(SpoolError::io("writing", &self.tmp))?;
        let msg = self.spool.path(&self.id, "msg");
        fs::rename(&self.tmp, &msg).map_err(SpoolError::io("renaming into", &msg))?;
        let record = QueuedMessage::new(self.id.clone(), envelope, self.size, self.now);
        let committed = self
            .spool
            .sync_queue()
            .and_then(|()| self.spool.write_record(&record));
        if let Err(error) = committed {
            let _ = fs::remove_file(&msg);
            return Err(error);
        }
        Ok(self.id.clone())
    }
}

impl Drop for SpoolWriter {
    /// Not committed (or the commit failed before the rename): the
    /// temporary file goes. After the rename there is none left to remove.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A new entry id: the time in microseconds (so ids sort oldest first),
/// the process id and a counter, all hex: unique across runners, and safe
/// as a file name.
fn new_id(now: SystemTime) -> String {
    let micros = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{micros:014x}-{:x}-{n:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn envelope() -> Envelope {
        Envelope::new("alice@example.com", &["bob@example.org"]).unwrap()
    }

    #[test]
    fn enqueue_lock_update_remove() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let now = SystemTime::now();
        let id = spool
            .enqueue(&envelope(), b"Subject: x\r\n\r\nhi\r\n", now)
            .unwrap();
        assert_eq!(spool.ids().unwrap(), std::slice::from_ref(&id));
        assert_eq!(spool.message(&id).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none()
        );

        let mut locked = spool.lock(&id).unwrap().unwrap();
        assert!(
            spool.lock(&id).unwrap().is_none(),
            "a second lock waits its turn"
        );
        locked.record.make_due();
        locked.record.remember(now, "mx", "451");
        spool.write_record(&locked.record).unwrap();
        assert_eq!(spool.record(&id).unwrap().history.len(), 1);
        drop(locked);
        assert!(spool.lock(&id).unwrap().is_some());

        spool.remove(&id).unwrap();
        assert!(spool.ids().unwrap().is_empty());
        assert!(matches!(spool.remove(&id), Err(SpoolError::NotFound(_))));
        assert!(spool.lock(&id).unwrap().is_none());
    }

    #[test]
    fn bad_records_are_moved_aside_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let id = spool
            .enqueue(&envelope(), b"x\r\n", SystemTime::now())
            .unwrap();
        fs::write(dir.path().join(format!("queue/{id}.env")), b"{ broken").unwrap();
        let err = spool.record(&id).unwrap_err();
        assert!(matches!(err, SpoolError::Malformed { .. }), "{err}");
        spool.move_aside(&id, &err.to_string()).unwrap();
        assert!(spool.ids().unwrap().is_empty());
        let bad = spool.bad_entries().unwrap();
        assert_eq!(bad.len(), 1);
        assert!(bad[0].1.contains("not a record"), "{bad:?}");
        assert!(dir.path().join(format!("bad/{id}.msg")).exists());
    }

    #[test]
    fn crash_leftovers_are_cleaned_after_an_hour() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let id = spool
            .enqueue(&envelope(), b"x\r\n", SystemTime::now())
            .unwrap();
        // A message whose enqueue died before its record, and a tmp file.
        fs::write(dir.path().join("queue/orphan.msg"), b"x").unwrap();
        fs::write(dir.path().join("tmp/half.env.1.2"), b"{").unwrap();
        assert_eq!(spool.clean(SystemTime::now()).unwrap(), 0, "too young");
        let later = SystemTime::now() + ORPHAN_AGE + Duration::from_secs(1);
        assert_eq!(spool.clean(later).unwrap(), 2);
        assert_eq!(spool.ids().unwrap(), std::slice::from_ref(&id));
        assert!(spool.message(&id).is_ok(), "a committed entry stays");
    }

    #[test]
    fn messages_are_stored_with_crlf_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let id = spool
            .enqueue(&envelope(), b"Subject: x\n\nhi\n", SystemTime::now())
            .unwrap();
        assert_eq!(spool.message(&id).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        assert_eq!(spool.record(&id).unwrap().size, 18, "the size as sent");
    }

    #[test]
    fn a_failed_enqueue_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        // tmp/ turned into a file: every write fails, as on a full disk.
        fs::remove_dir(dir.path().join("tmp")).unwrap();
        fs::write(dir.path().join("tmp"), b"").unwrap();
        let err = spool
            .enqueue(&envelope(), b"x\r\n", SystemTime::now())
            .unwrap_err();
        assert!(err.to_string().starts_with("creating "), "{err}");
        assert_eq!(fs::read_dir(dir.path().join("queue")).unwrap().count(), 0);
    }

    #[test]
    fn a_streamed_entry_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let mut writer = spool.create(SystemTime::now()).unwrap();
        writer.write(b"Subject: x\r\n\r\n").unwrap();
        writer.write(b"hi\r\n").unwrap();
        assert!(spool.ids().unwrap().is_empty(), "not before the commit");
        let id = writer.commit(&envelope()).unwrap();
        assert_eq!(spool.message(&id).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        assert_eq!(spool.record(&id).unwrap().size, 18);
        let dropped = spool.create(SystemTime::now()).unwrap();
        drop(dropped);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(spool.ids().unwrap(), [id]);
    }

    #[test]
    fn ids_sort_by_time_and_are_unique() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = new_id(t);
        let b = new_id(t);
        assert_ne!(a, b);
        assert!(new_id(t + Duration::from_secs(1)) > b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
    }
}
