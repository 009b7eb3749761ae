//! A delivery's file, from its creation in `tmp/` to its name in `new/`
//! (steps 1-3 of the [module](super) documentation). Everything here
//! blocks: it runs in the delivery's blocking task.
//!
//! On Linux the file is anonymous (`O_TMPFILE`): it has no name until it
//! is linked into `new/` from `/proc/self/fd`, so there is nothing to
//! unlink afterwards and a crash leaves nothing in `tmp/` (the kernel frees
//! the inode). It also spares each delivery the fsync of `tmp/` that ext4
//! adds to the fsync of a newly named file (`ext4_sync_parent`), and the
//! directory entry itself: a profile of 20 sessions delivering at once
//! spent 31 % of the file fsync's time on `tmp/`. Where `O_TMPFILE` or
//! `/proc` is missing (another system, NFS, some FUSE file systems), the
//! file is named `tmp/<id>.<host>` and created with O_EXCL, as Maildir
//! has always done.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::MaildirError;

/// A delivery's file once created, before it is linked into `new/`.
#[derive(Debug, Clone)]
pub(super) enum Unlinked {
    /// `O_TMPFILE`: no name yet, nothing to remove.
    Anonymous,
    /// Named in `tmp/`: removed once linked into `new/`, or on failure.
    Named(PathBuf),
}

impl Unlinked {
    /// The path in `tmp/`, for a named file.
    pub(super) fn path(&self) -> Option<&Path> {
        match self {
            Unlinked::Anonymous => None,
            Unlinked::Named(path) => Some(path),
        }
    }

    /// Removes a named file from `tmp/` after a failure: nothing
    /// half-written may stay behind. An anonymous one goes with its
    /// descriptor.
    pub(super) fn discard(&self) {
        if let Unlinked::Named(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where a delivery's file is created, and under what name.
#[derive(Debug, Clone)]
pub(super) struct TmpFile {
    /// `tmp/`.
    pub(super) dir: PathBuf,
    /// The queue id, reduced to characters safe in a file name.
    pub(super) stem: String,
    /// The host name, as the Maildir convention escapes it.
    pub(super) host: String,
    /// Files are anonymous ([`anonymous_files_work`] said so for `dir`).
    pub(super) anonymous: bool,
    /// One creation at a time (see `Maildir::creating`).
    pub(super) creating: Arc<Mutex<()>>,
}

impl TmpFile {
    /// The message's name: `<id>.<host>`, in `tmp/` and then in `new/`.
    pub(super) fn name(&self) -> String {
        format!("{}.{}", self.stem, self.host)
    }

    /// Creates the file, mode 0600: anonymous when it can be; else
    /// exclusively (O_EXCL) as `tmp/<id>.<host>`, or `tmp/<id>_<n>.<host>`
    /// when that is taken (unique queue ids make it unlikely; an existing
    /// file is never overwritten).
    pub(super) fn create(&self) -> Result<(std::fs::File, Unlinked), MaildirError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        if self.anonymous {
            let _one_at_a_time = self.lock();
            return open_anonymous(&self.dir)
                .map(|file| (file, Unlinked::Anonymous))
                .map_err(|e| MaildirError::new("create a file in", &self.dir, e));
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true).mode(0o600);
        let mut attempt = 0u32;
        loop {
            let path = match attempt {
                0 => self.dir.join(self.name()),
                n => self.dir.join(format!("{}_{n}.{}", self.stem, self.host)),
            };
            let opened = {
                let _one_at_a_time = self.lock();
                options.open(&path)
            };
            match opened {
                Ok(file) => return Ok((file, Unlinked::Named(path))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(MaildirError::new("create", &path, e)),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.creating.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether files can be created anonymous in `dir` and named later:
/// Linux with `/proc` mounted, and a file system with `O_TMPFILE` (ext4,
/// XFS, btrfs, tmpfs; not NFS). Tried once when the Maildir is opened.
pub(super) fn anonymous_files_work(dir: &Path) -> bool {
    Path::new("/proc/self/fd").is_dir() && open_anonymous(dir).is_ok()
}

#[cfg(target_os = "linux")]
fn open_anonymous(dir: &Path) -> io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    // Without O_EXCL, so that linkat(2) may give it a name (open(2)).
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    let fd = rustix::fs::open(dir, flags, Mode::from_raw_mode(0o600))?;
    Ok(std::fs::File::from(fd))
}

#[cfg(not(target_os = "linux"))]
fn open_anonymous(_dir: &Path) -> io::Result<std::fs::File> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The rest of the message, fsync of the file (its content is durable
/// before any name points to it), link into `new_dir` under `name` (or
/// the next free variant of it), and for a named file its unlink from
/// `tmp/`. Returns the path in `new/`. On failure a named file is left
/// for the caller to [`discard`](Unlinked::discard).
///
/// The unlink may come before the fsync of `new/`: nothing is promised
/// until that fsync (a crash in between loses a message nobody said 250
/// to). Done here, it costs no extra trip to the blocking pool and never
/// blocks a runtime thread on a directory lock.
pub(super) fn write_sync_link(
    mut file: std::fs::File,
    pending: &[u8],
    unlinked: &Unlinked,
    new_dir: &Path,
    name: &str,
) -> Result<PathBuf, MaildirError> {
    let shown = unlinked.path().unwrap_or(new_dir);
    file.write_all(pending)
        .map_err(|e| MaildirError::new("write", shown, e))?;
    file.sync_all()
        .map_err(|e| MaildirError::new("fsync", shown, e))?;
    match unlinked {
        Unlinked::Anonymous => link_new(Source::Fd(&file), &new_dir.join(name)),
        Unlinked::Named(tmp) => {
            drop(file);
            // The name in new/ is the one in tmp/ (it may be a variant).
            let name = tmp.file_name().ok_or_else(|| {
                MaildirError::new("link into new/", tmp, io::Error::other("no file name"))
            })?;
            let linked = link_new(Source::Path(tmp), &new_dir.join(name))?;
            // A leftover link in tmp/ would only be litter (Maildir readers
            // clean tmp/), never a second message; gone already after the
            // rename fallback.
            if let Err(e) = std::fs::remove_file(tmp)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %tmp.display(), error = %e, "cannot unlink the delivered file from tmp/");
            }
            Ok(linked)
        }
    }
}

/// What [`link_new`] gives a name in `new/`.
enum Source<'a> {
    /// An anonymous file, by its descriptor.
    Fd(&'a std::fs::File),
    /// A file named in `tmp/`.
    Path(&'a Path),
}

/// Makes the file visible in `new/` without ever replacing a file there
/// (Maildir, as qmail delivers: `link()` fails with EEXIST where `rename()`
/// would silently overwrite). If the name is taken, `<stem>_<n>.<host>` is
/// tried. On a file system without hard links, a named file falls back to
/// `rename` after checking that the name is free.
fn link_new(source: Source<'_>, new: &Path) -> Result<PathBuf, MaildirError> {
    let mut target = new.to_path_buf();
    for attempt in 1..=100u32 {
        let linked = match source {
            Source::Fd(file) => link_fd(file, &target),
            Source::Path(tmp) => std::fs::hard_link(tmp, &target),
        };
        match (linked, &source) {
            (Ok(()), _) => return Ok(target),
            (Err(e), _) if e.kind() == io::ErrorKind::AlreadyExists => {}
            (Err(e), Source::Path(tmp)) if links_unsupported(&e) => {
                if !std::fs::exists(&target).unwrap_or(true) {
                    return match std::fs::rename(tmp, &target) {
                        Ok(()) => Ok(target),
                        Err(e) => Err(MaildirError::new("rename into new/", tmp, e)),
                    };
                }
            }
            (Err(e), _) => return Err(MaildirError::new("link into new/", &target, e)),
        }
        target = alternate_name(new, attempt);
    }
    Err(MaildirError::new(
        "link into new/",
        new,
        io::Error::from(io::ErrorKind::AlreadyExists),
    ))
}

/// Names an anonymous file: linkat(2) of `/proc/self/fd/N` with
/// AT_SYMLINK_FOLLOW, the way open(2) documents for `O_TMPFILE` (the
/// other way, AT_EMPTY_PATH, needs CAP_DAC_READ_SEARCH).
#[cfg(target_os = "linux")]
fn link_fd(file: &std::fs::File, target: &Path) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    use std::os::fd::AsRawFd as _;
    let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(CWD, by_fd.as_str(), CWD, target, AtFlags::SYMLINK_FOLLOW)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn link_fd(_file: &std::fs::File, _target: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
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
