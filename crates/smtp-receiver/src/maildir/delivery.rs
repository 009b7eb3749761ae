//! A message being written into a Maildir: `tmp/` first, in pieces while
//! it arrives, then fsync and a link into `new/` (the steps of the
//! [parent module](super)'s documentation).

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::group::DirSync;
use super::lf::push_with_lf_line_ends;
use super::{MaildirError, blocking, joined};

/// Octets of a message held before they are written out: large writes,
/// few system calls; a message up to this size is written at commit in
/// one go.
pub(super) const WRITE_BUFFER: usize = 256 * 1024;

/// Every write but the last covers whole pages of the file, so each starts
/// at a page boundary: in the page cache, at the start of a 64-octet line,
/// as the buffer it comes from (jemalloc, `smtp-receive`'s allocator, puts
/// blocks this large on a page). The kernel's copy into the page cache is
/// about twice as slow when the destination sits 1 to 31 octets into its
/// line: `write(2)` of 256 KiB from a page-aligned buffer here ran at
/// 3.4-3.9 GB/s at file offsets 0 and 32-63 (mod 64), 1.5-1.8 GB/s at
/// 1-31. Writes of whatever the buffer held put the offset anywhere; in
/// one profile of a 100 MiB message that copy took 31 % of the
/// receiver's time (docs/benchmarks.md, "Maildir over TLS").
pub(super) const PAGE: usize = 4096;

// A full buffer always holds at least one whole page to write.
const _: () = assert!(WRITE_BUFFER >= PAGE && WRITE_BUFFER.is_multiple_of(PAGE));

/// A background write of one buffer: it hands the file and the buffer back.
type Writing = tokio::task::JoinHandle<io::Result<(std::fs::File, Vec<u8>)>>;

/// A message being written into `tmp/`. Dropped without
/// [`commit`](Self::commit), it removes its temporary file.
#[derive(Debug)]
pub struct Delivery {
    /// The temporary file, written only from blocking tasks (moved there
    /// and back); `None` before it is created, while a write is in flight,
    /// once committed, or after a failed write.
    file: Option<std::fs::File>,
    /// The temporary file's path, once it has been created: when the write
    /// buffer first filled, so part of the message is in it already.
    tmp_path: Option<PathBuf>,
    /// How to create it.
    tmp: TmpFile,
    /// The blocking task writing the previous full buffer out, if any: the
    /// message keeps arriving while the disk takes the last piece (one
    /// write in flight at most, so two buffers at most per delivery).
    writing: Option<Writing>,
    /// The buffer back from the last write, emptied, for the next one.
    spare: Vec<u8>,
    /// Octets not yet written to `file` (at most [`WRITE_BUFFER`], a chunk
    /// and the part of a page a write left behind), with LF line ends.
    pending: Vec<u8>,
    /// The last write ended with a CR, not written yet: dropped if the next
    /// write starts with its LF, written otherwise.
    held_cr: bool,
    new_dir: PathBuf,
    new_sync: Arc<DirSync>,
    finished: bool,
}

impl Delivery {
    /// A delivery into the Maildir at `root` of the message whose queue id,
    /// reduced to characters safe in a file name, is `stem`; nothing is
    /// created yet.
    pub(super) fn new(
        root: &Path,
        stem: String,
        host: String,
        creating: Arc<Mutex<()>>,
        new_sync: Arc<DirSync>,
    ) -> Delivery {
        Delivery {
            file: None,
            tmp_path: None,
            tmp: TmpFile {
                dir: root.join("tmp"),
                stem,
                host,
                creating,
            },
            writing: None,
            spare: Vec::new(),
            pending: Vec::new(),
            held_cr: false,
            new_dir: root.join("new"),
            new_sync,
            finished: false,
        }
    }

    /// Appends message octets; CRLF line ends are stored as LF (see the
    /// [module](self) documentation).
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), MaildirError> {
        self.check_usable("write")?;
        self.held_cr = push_with_lf_line_ends(&mut self.pending, bytes, self.held_cr);
        if self.pending.len() >= WRITE_BUFFER {
            // The previous buffer must be out before this one goes: the
            // pieces reach the file in order, and memory stays bounded.
            self.finish_writing().await?;
            if self.tmp_path.is_none() {
                let tmp = self.tmp.clone();
                let (file, path) = blocking(move || Ok(tmp.create()))
                    .await
                    .map_err(|e| MaildirError::new("create", &self.tmp.first_path(), e))??;
                self.file = Some(file);
                self.tmp_path = Some(path);
            }
            let (file, mut pending) = self.take_file()?;
            // Whole pages only: the rest starts the next buffer (see
            // `PAGE`).
            let whole = pending.len() - pending.len() % PAGE;
            self.pending = std::mem::take(&mut self.spare);
            self.pending.extend_from_slice(&pending[whole..]);
            pending.truncate(whole);
            self.writing = Some(tokio::task::spawn_blocking(move || {
                let mut file = file;
                file.write_all(&pending)?;
                Ok((file, pending))
            }));
        }
        Ok(())
    }

    /// Waits for the write in flight, if any, and takes the file back.
    async fn finish_writing(&mut self) -> Result<(), MaildirError> {
        let Some(writing) = self.writing.take() else {
            return Ok(());
        };
        let (file, mut written) = joined(writing)
            .await
            .map_err(|e| MaildirError::new("write", &self.shown_path(), e))?;
        written.clear();
        self.file = Some(file);
        self.spare = written;
        Ok(())
    }

    /// Makes the message durable and visible in `new/` (steps 2-4 of the
    /// module documentation); returns its path.
    pub async fn commit(self) -> Result<PathBuf, MaildirError> {
        let (path, ()) = self.commit_inspecting(|_, _| ()).await?;
        Ok(path)
    }

    /// [`commit`](Self::commit), and `inspect` run on the stored message in
    /// the same blocking task, once it is linked into `new/`: with its path
    /// and, when the whole message was still in memory (under 256 KiB), its
    /// octets as stored (LF line ends); `None` when it was written out in
    /// pieces, for `inspect` to read the file. The test inbox indexes each
    /// message this way without reading back what was just written, and
    /// without another trip to the blocking pool. `inspect`'s result is
    /// returned only if the message is durable (step 4 succeeded).
    pub async fn commit_inspecting<T: Send + 'static>(
        mut self,
        inspect: impl FnOnce(&Path, Option<&[u8]>) -> T + Send + 'static,
    ) -> Result<(PathBuf, T), MaildirError> {
        if std::mem::take(&mut self.held_cr) {
            self.pending.push(b'\r'); // a CR at the very end had no LF
        }
        self.check_usable("commit")?;
        self.finish_writing().await?;
        // The file, or (a message that never filled the buffer, so held
        // whole in `pending`) none yet. A created file is back in
        // `self.file` here: `check_usable` refused a lost one, and
        // `finish_writing` returned it or failed.
        let opened = self.file.take().zip(self.tmp_path.clone());
        let whole = opened.is_none();
        let pending = std::mem::take(&mut self.pending);
        let (tmp, new_dir) = (self.tmp.clone(), self.new_dir.clone());
        // Steps 1-3 in one blocking task: the file created if need be, the
        // rest of the message, fsync of the file (its content is durable
        // before any name points to it), link into new/.
        let (linked, seen) = blocking(move || {
            let (file, tmp_path) = match opened {
                Some(opened) => opened,
                None => match tmp.create() {
                    Ok(created) => created,
                    Err(e) => return Ok(Err(e)),
                },
            };
            let stored = write_sync_link(file, &pending, &tmp_path, &new_dir);
            if stored.is_err() {
                // Nothing half-written may stay behind, and a file created
                // in this task is not known to the delivery's drop.
                let _ = std::fs::remove_file(&tmp_path);
            }
            Ok(stored.map(|linked| {
                let seen = inspect(&linked, whole.then_some(&pending[..]));
                (linked, seen)
            }))
        })
        .await
        .map_err(|e| MaildirError::new("write", &self.shown_path(), e))??;
        // Step 4, shared with the deliveries committing at the same time.
        if let Err(e) = self.new_sync.sync().await {
            // We are about to answer 4xx: the client will send the message
            // again, so this copy must not stay visible.
            let _ = std::fs::remove_file(&linked);
            return Err(MaildirError::new("fsync", &self.new_dir, e));
        }
        self.finished = true;
        Ok((linked, seen))
    }

    /// The temporary file's path, once the file exists: from the first
    /// time the write buffer filled (a message that never fills it is
    /// created, written and linked into `new/` at commit).
    pub fn tmp_path(&self) -> Option<&Path> {
        self.tmp_path.as_deref()
    }

    /// The path to name in an error: the file's, or the one it would get.
    fn shown_path(&self) -> PathBuf {
        self.tmp_path
            .clone()
            .unwrap_or_else(|| self.tmp.first_path())
    }

    /// Refuses to go on once the file was lost to a failed write: created,
    /// but neither here nor in a write in flight.
    fn check_usable(&self, action: &'static str) -> Result<(), MaildirError> {
        match &self.tmp_path {
            Some(path) if self.file.is_none() && self.writing.is_none() => Err(MaildirError::new(
                action,
                path,
                io::Error::other("delivery finished"),
            )),
            _ => Ok(()),
        }
    }

    /// The file and the pending octets, to move into a blocking task.
    fn take_file(&mut self) -> Result<(std::fs::File, Vec<u8>), MaildirError> {
        match self.file.take() {
            Some(file) => Ok((file, std::mem::take(&mut self.pending))),
            None => Err(MaildirError::new(
                "write",
                &self.shown_path(),
                io::Error::other("delivery finished"),
            )),
        }
    }
}

/// Where a delivery's file goes in `tmp/`, and how it is created there.
#[derive(Debug, Clone)]
struct TmpFile {
    /// `tmp/`.
    dir: PathBuf,
    /// The queue id, reduced to characters safe in a file name.
    stem: String,
    /// The host name, as the Maildir convention escapes it.
    host: String,
    /// See [`Maildir::creating`].
    creating: Arc<Mutex<()>>,
}

impl TmpFile {
    /// The first name tried: `tmp/<id>.<host>`.
    fn first_path(&self) -> PathBuf {
        self.dir.join(format!("{}.{}", self.stem, self.host))
    }

    /// Blocking: creates the file exclusively (O_EXCL, mode 0600) as
    /// `tmp/<id>.<host>`, or `tmp/<id>_<n>.<host>` when that is taken
    /// (unique queue ids make it unlikely; an existing file is never
    /// overwritten); returns it with its path.
    fn create(&self) -> Result<(std::fs::File, PathBuf), MaildirError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let mut attempt = 0u32;
        loop {
            // The variants are named as in new/ (see `link_new`).
            let path = match attempt {
                0 => self.first_path(),
                n => alternate_name(&self.first_path(), n),
            };
            let opened = {
                let _one_at_a_time = self.creating.lock().unwrap_or_else(PoisonError::into_inner);
                options.open(&path)
            };
            match opened {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(MaildirError::new("create", &path, e)),
            }
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.finished
            && let Some(path) = &self.tmp_path
        {
            // Nothing half-written may stay behind (nor, after a failed
            // link, anything at all). A small synchronous unlink; a write
            // still in flight ends in the unlinked file.
            drop(self.file.take());
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Blocking: the rest of the message, fsync of the file, link into `new/`,
/// unlink from `tmp/`.
///
/// The unlink may come before the fsync of `new/`: nothing is promised
/// until that fsync (a crash in between loses a message nobody said 250
/// to). Done here, it costs no extra trip to the blocking pool and never
/// blocks a runtime thread on a directory lock (20 sessions delivering at
/// once contend for `tmp/`).
fn write_sync_link(
    mut file: std::fs::File,
    pending: &[u8],
    tmp: &Path,
    new_dir: &Path,
) -> Result<PathBuf, MaildirError> {
    file.write_all(pending)
        .map_err(|e| MaildirError::new("write", tmp, e))?;
    file.sync_all()
        .map_err(|e| MaildirError::new("fsync", tmp, e))?;
    drop(file);
    // The name in new/ is the one in tmp/ (the queue id, then the host).
    let name = tmp.file_name().ok_or_else(|| {
        MaildirError::new("link into new/", tmp, io::Error::other("no file name"))
    })?;
    let linked = link_new(tmp, &new_dir.join(name))?;
    // A leftover link in tmp/ would only be litter (Maildir readers clean
    // tmp/), never a second message; gone already after the rename fallback.
    if let Err(e) = std::fs::remove_file(tmp)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %tmp.display(), error = %e, "cannot unlink the delivered file from tmp/");
    }
    Ok(linked)
}

/// Makes `tmp` visible in `new/` without ever replacing a file there
/// (Maildir, as qmail delivers: `link()` fails with EEXIST where `rename()`
/// would silently overwrite). If the name is taken, `<stem>_<n>.<host>` is
/// tried. On a file system without hard links, falls back to `rename` after
/// checking that the name is free.
/// Blocking: runs inside the delivery's blocking task.
fn link_new(tmp: &Path, new: &Path) -> Result<PathBuf, MaildirError> {
    let mut target = new.to_path_buf();
    for attempt in 1..=100u32 {
        match std::fs::hard_link(tmp, &target) {
            Ok(()) => return Ok(target),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if links_unsupported(&e) => {
                if !std::fs::exists(&target).unwrap_or(true) {
                    return match std::fs::rename(tmp, &target) {
                        Ok(()) => Ok(target),
                        Err(e) => Err(MaildirError::new("rename into new/", tmp, e)),
                    };
                }
            }
            Err(e) => return Err(MaildirError::new("link into new/", tmp, e)),
        }
        target = alternate_name(new, attempt);
    }
    Err(MaildirError::new(
        "link into new/",
        tmp,
        io::Error::from(io::ErrorKind::AlreadyExists),
    ))
}

/// EPERM / EOPNOTSUPP / ENOSYS from link(): the file system has no hard links.
fn links_unsupported(error: &io::Error) -> bool {
    const EPERM: i32 = 1;
    const ENOSYS: i32 = 38;
    const EOPNOTSUPP: i32 = 95;
    error.kind() == io::ErrorKind::Unsupported
        || matches!(error.raw_os_error(), Some(EPERM | ENOSYS | EOPNOTSUPP))
}

/// `new/<stem>.<host>` -> `new/<stem>_<n>.<host>`: the queue id still
/// starts the name.
fn alternate_name(new: &Path, n: u32) -> PathBuf {
    let name = new
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let renamed = match name.split_once('.') {
        Some((stem, host)) => format!("{stem}_{n}.{host}"),
        None => format!("{name}_{n}"),
    };
    new.with_file_name(renamed)
}
