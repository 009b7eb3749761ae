//! Maildir delivery (<https://cr.yp.to/proto/maildir.html>): the "file
//! system" box of the protocol diagram, and the default handler.
//!
//! Layout: one Maildir for all recipients; one file per message in `new/`,
//! named `<queue id>.<hostname>`. The file holds the trace header lines the
//! session adds (`Return-Path:`, `X-Original-To:` with every envelope
//! recipient, `Received:`) followed by the message as received, with LF
//! line ends: the local text format that Postfix's and Dovecot's Maildir
//! deliveries write and mail readers (mutt, s-nail, Dovecot) expect. Each
//! CRLF of the canonical SMTP text (RFC 5321 §2.3.8) becomes LF while the
//! chunks stream in (a CR ending one chunk and its LF starting the next
//! too), in the write buffer, without another copy of the message; a CR
//! without its LF (which the session never lets through) is kept. Base64
//! and quoted-printable parts decode to the same octets, so an attachment
//! saved from the file is the one that was sent.
//!
//! Durability (RFC 5321 §6.1: a 250 is a promise to deliver):
//! 1. write into `tmp/<unique>` created with O_EXCL (`create_new`);
//! 2. fsync the file;
//! 3. link it into `new/` (atomic: readers see all or nothing), then unlink
//!    it from `tmp/`: unlike `rename`, `link` fails rather than replace a
//!    message already in `new/` under that name, and another name is taken;
//! 4. fsync the `new/` directory so the new entry survives a crash;
//!
//! and only then does the handler return `Ok`, and the session say 250.
//! Any failure removes the temporary file (also when the connection drops
//! mid-message: [`Delivery`] cleans up when dropped) and answers
//! `451 4.3.0`, or `452 4.3.1` when the disk is full.
//!
//! Stale files: a crash between steps 1 and 3 leaves a partial file in
//! `tmp/` that nobody will link. `tmp/` is swept when the Maildir is
//! opened and then hourly as deliveries begin; the rules (the Maildir
//! convention's 36 hours, and files this host's earlier processes left)
//! are in [`stale`].
//!
//! Group commit: step 4 is shared. Deliveries that reach it while an
//! fsync of `new/` runs wait for the next one, which covers them all
//! (`group::DirSync`); no 250 is sent before that fsync succeeded.
//!
//! Trips to the blocking pool: a message held whole in memory (up to the
//! write buffer, 256 KiB: nearly all mail) gets its file at commit, and
//! steps 1-3 (create, write, fsync, link, unlink from `tmp/`) run in one
//! blocking task; a longer one creates its file when the buffer first
//! fills and writes it out in pieces while it arrives. So a small message
//! costs one trip (and its share of the group commit), not one per system
//! call, and no runtime thread ever waits on a file system lock.

mod delivery;
mod group;
mod lf;
mod stale;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Instant, SystemTime};

use smtp_wire::Reply;

use crate::session::replies;
use crate::{Envelope, Handler, MessageBody};
pub use delivery::Delivery;
use group::DirSync;

/// When this process first opened a Maildir, before any delivery of its:
/// a file in `tmp/` named with this process's pid but older than this is
/// an earlier process's (see [`stale`]).
static PROCESS_START: OnceLock<SystemTime> = OnceLock::new();

/// An I/O failure while delivering, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct MaildirError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl MaildirError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> MaildirError {
        MaildirError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The underlying I/O error.
    pub fn io(&self) -> &io::Error {
        &self.source
    }

    /// True when the disk (or a quota) is full.
    pub fn is_storage_full(&self) -> bool {
        is_storage_full(&self.source)
    }

    /// The reply for the client: `452 4.3.1` when storage is full,
    /// `451 4.3.0` otherwise (RFC 3463); both transient, so the client retries.
    pub fn reply(&self) -> Reply {
        storage_error_reply(&self.source)
    }

    /// [`reply`](Self::reply), after logging the failure at error level
    /// with the path and the OS error: the client only sees a 4yz and
    /// retries, so without this line a read-only, full or misconfigured
    /// Maildir would go unnoticed until the senders give up.
    pub fn logged(&self, id: &str) -> Reply {
        let reply = self.reply();
        tracing::error!(
            id,
            path = %self.path.display(),
            os_error = %self.source,
            reply = reply.code,
            "storage failed: cannot {}",
            self.action
        );
        reply
    }
}

/// `452 4.3.1` for a full disk or quota, `451 4.3.0` for any other I/O error.
pub fn storage_error_reply(error: &io::Error) -> Reply {
    if is_storage_full(error) {
        replies::storage_full()
    } else {
        replies::local_error()
    }
}

fn is_storage_full(error: &io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    error.kind() == io::ErrorKind::StorageFull
        || matches!(error.raw_os_error(), Some(ENOSPC | EDQUOT))
}

/// A Maildir: `tmp/`, `new/` and `cur/` under one root.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    host: String,
    /// The group committer of `new/`, shared by the clones.
    new_sync: Arc<DirSync>,
    /// One file creation in `tmp/` at a time. The kernel serialises them
    /// anyway (the directory's lock), but its waiters spin on the CPU while
    /// ext4 searches for a free inode (a profile of 20 sessions delivering
    /// at once: 18 % of the receiver's time in `rwsem_spin_on_owner`);
    /// a blocking task waiting here sleeps. Only ever locked in blocking
    /// tasks ([`TmpFile::create`]).
    creating: Arc<Mutex<()>>,
    /// When `tmp/` is next swept for stale files, shared by the clones.
    next_sweep: Arc<Mutex<Instant>>,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating it and its three
    /// subdirectories (mode 0700) if needed. `hostname` ends file names.
    ///
    /// Removes the stale files of `tmp/` (see the [module](self)
    /// documentation), each logged at info level; deliveries then sweep
    /// it again every hour.
    pub fn create(root: impl Into<PathBuf>, hostname: &str) -> Result<Maildir, MaildirError> {
        PROCESS_START.get_or_init(SystemTime::now);
        let root = root.into();
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            create_private_dir(&dir).map_err(|e| MaildirError::new("create directory", &dir, e))?;
        }
        let maildir = Maildir {
            new_sync: Arc::new(DirSync::new(root.join("new"))),
            creating: Arc::default(),
            next_sweep: Arc::new(Mutex::new(Instant::now() + stale::SWEEP_EVERY)),
            root,
            host: sanitize_host(hostname),
        };
        maildir.sweep_tmp();
        Ok(maildir)
    }

    /// Removes the stale files of `tmp/`; returns how many. Blocking.
    fn sweep_tmp(&self) -> usize {
        let context = stale::Context {
            host: &self.host,
            pid: std::process::id(),
            started: *PROCESS_START.get_or_init(SystemTime::now),
            now: SystemTime::now(),
        };
        stale::sweep(&self.root.join("tmp"), &context)
    }

    /// Sweeps `tmp/` off the runtime's threads if the hour is up; the
    /// delivery that notices does not wait for it. A server that receives
    /// nothing does not sweep, and has nothing new in `tmp/` either.
    fn sweep_when_due(&self) {
        let now = Instant::now();
        let due = {
            let mut next = self
                .next_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = now >= *next;
            if due {
                *next = now + stale::SWEEP_EVERY;
            }
            due
        };
        if due {
            let maildir = self.clone();
            drop(tokio::task::spawn_blocking(move || maildir.sweep_tmp()));
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a delivery of the message with queue id `id`. Its file,
    /// `tmp/<id>.<hostname>`, is created when first needed: at commit for
    /// a message that fits the write buffer, else when the buffer first
    /// fills (see the [module](self) documentation).
    pub async fn begin(&self, id: &str) -> Result<Delivery, MaildirError> {
        self.sweep_when_due();
        let stem: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Delivery::new(
            &self.root,
            stem,
            self.host.clone(),
            Arc::clone(&self.creating),
            Arc::clone(&self.new_sync),
        ))
    }

    /// Delivers a whole message from a body stream; returns its path in `new/`.
    /// The reply on failure is the one to send (body refusal, 451, 452).
    ///
    /// A storage failure is logged ([`MaildirError::logged`]).
    pub async fn deliver(
        &self,
        envelope: &Envelope,
        body: &mut MessageBody<'_>,
    ) -> Result<PathBuf, Reply> {
        let (path, ()) = self.deliver_inspecting(envelope, body, |_, _| ()).await?;
        Ok(path)
    }

    /// [`deliver`](Self::deliver), with `inspect` run on the stored message
    /// as [`Delivery::commit_inspecting`] does.
    pub async fn deliver_inspecting<T: Send + 'static>(
        &self,
        envelope: &Envelope,
        body: &mut MessageBody<'_>,
        inspect: impl FnOnce(&Path, Option<&[u8]>) -> T + Send + 'static,
    ) -> Result<(PathBuf, T), Reply> {
        let logged = |error: MaildirError| error.logged(&envelope.id);
        let mut delivery = self.begin(&envelope.id).await.map_err(logged)?;
        // A body error is the client's doing (or the session's refusal),
        // not a fault of this server: the session logs what it needs.
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            delivery.write(chunk).await.map_err(logged)?;
        }
        delivery.commit_inspecting(inspect).await.map_err(logged)
    }
}

/// Runs blocking file work off the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    joined(tokio::task::spawn_blocking(work)).await
}

/// The result of a blocking task already started; a task that panicked
/// or was cancelled is an I/O error like any other.
async fn joined<T>(task: tokio::task::JoinHandle<io::Result<T>>) -> io::Result<T> {
    task.await
        .unwrap_or_else(|join| Err(io::Error::other(join)))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Maildir spec: `/` and `:` in the host part are written `\057` and `\072`.
fn sanitize_host(hostname: &str) -> String {
    let host = hostname.replace('/', "\\057").replace(':', "\\072");
    if host.is_empty() {
        "localhost".to_string()
    } else {
        host
    }
}

/// The default handler: every accepted message goes into one [`Maildir`].
///
/// ```no_run
/// use smtp_receiver::{MaildirHandler, Server};
/// use smtp_receiver::config::ServerConfig;
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = ServerConfig::new("mx.example.org");
/// config.listen_plain("127.0.0.1:2525".parse()?);
/// let handler = MaildirHandler::open("/var/mail/catchall", "mx.example.org")?;
/// Server::bind(config, handler).await?.run().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MaildirHandler {
    maildir: Arc<Maildir>,
}

impl MaildirHandler {
    /// A handler delivering into `maildir`.
    pub fn new(maildir: Maildir) -> MaildirHandler {
        MaildirHandler {
            maildir: Arc::new(maildir),
        }
    }

    /// Opens (or creates) the Maildir at `root`.
    pub fn open(root: impl Into<PathBuf>, hostname: &str) -> Result<MaildirHandler, MaildirError> {
        Ok(MaildirHandler::new(Maildir::create(root, hostname)?))
    }

    /// The Maildir.
    pub fn maildir(&self) -> &Maildir {
        &self.maildir
    }
}

impl Handler for MaildirHandler {
    async fn data(&mut self, envelope: &Envelope, body: &mut MessageBody<'_>) -> Result<(), Reply> {
        match self.maildir.deliver(envelope, body).await {
            Ok(path) => {
                tracing::info!(id = %envelope.id, path = %path.display(), "delivered");
                Ok(())
            }
            Err(reply) => {
                tracing::info!(id = %envelope.id, %reply, "not delivered");
                Err(reply)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::delivery::{PAGE, WRITE_BUFFER};
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn commit_moves_the_file_into_new() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path().join("mail"), "mx/host:1").unwrap();
        let mut delivery = maildir.begin("1234M5P6Q7").await.unwrap();
        delivery
            .write(b"Subject: x\r\n\r\nhello\r\n")
            .await
            .unwrap();
        // A message that fits the write buffer has no file until commit.
        assert_eq!(delivery.tmp_path(), None);
        assert!(names(&maildir.root().join("tmp")).is_empty());
        let path = delivery.commit().await.unwrap();
        assert!(names(&maildir.root().join("tmp")).is_empty());
        assert_eq!(
            names(&maildir.root().join("new")),
            ["1234M5P6Q7.mx\\057host\\0721"]
        );
        assert_eq!(std::fs::read(path).unwrap(), b"Subject: x\n\nhello\n");
    }

    #[tokio::test]
    async fn inspect_sees_the_stored_octets_from_memory_or_none_once_spilled() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut small = maildir.begin("small").await.unwrap();
        small.write(b"Subject: x\r\n\r\nhi\r").await.unwrap();
        let (path, seen) = small
            .commit_inspecting(|path, stored| (path.to_path_buf(), stored.map(<[u8]>::to_vec)))
            .await
            .unwrap();
        assert_eq!(seen.0, path);
        // What inspect saw is what the file holds (LF line ends, the lone
        // CR at the end kept).
        assert_eq!(seen.1.as_deref(), Some(&b"Subject: x\n\nhi\r"[..]));
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: x\n\nhi\r");

        let mut big = maildir.begin("big").await.unwrap();
        let line = [b'a'; 1022];
        for _ in 0..(WRITE_BUFFER / 1024 + 2) {
            big.write(&line).await.unwrap();
            big.write(b"\r\n").await.unwrap();
        }
        let (path, seen) = big
            .commit_inspecting(|_, stored| stored.map(<[u8]>::len))
            .await
            .unwrap();
        assert_eq!(seen, None, "written out in pieces: inspect reads the file");
        assert_eq!(
            std::fs::metadata(path).unwrap().len() as usize,
            (WRITE_BUFFER / 1024 + 2) * 1023
        );
    }

    /// A message many write buffers long, in pieces of every size, lands
    /// whole and in order while earlier pieces are still being written;
    /// dropping such a delivery midway leaves nothing behind.
    #[tokio::test]
    async fn a_long_message_is_written_in_order_while_it_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let line = |n: usize| format!("line {n} {}\r\n", "x".repeat(n % 97));
        let text: String = (0..40_000).map(line).collect();
        let mut delivery = maildir.begin("long").await.unwrap();
        let mut rest = text.as_bytes();
        let mut size = 1;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            delivery.write(piece).await.unwrap();
            rest = tail;
            size = size * 7 % 70_001 + 1;
            // Whole pages until the commit (see `PAGE`), even while a
            // write is in flight: the kernel grows the file a page at a time.
            if let Some(tmp) = delivery.tmp_path() {
                assert_eq!(std::fs::metadata(tmp).unwrap().len() % PAGE as u64, 0);
            }
        }
        let path = delivery.commit().await.unwrap();
        assert!(text.len() > 8 * WRITE_BUFFER);
        assert_eq!(
            std::fs::read(path).unwrap(),
            text.replace("\r\n", "\n").into_bytes()
        );

        let mut dropped = maildir.begin("dropped").await.unwrap();
        for _ in 0..3 {
            dropped.write(&[b'y'; WRITE_BUFFER]).await.unwrap();
        }
        drop(dropped);
        assert!(names(&maildir.root().join("tmp")).is_empty());
        assert_eq!(names(&maildir.root().join("new")).len(), 1);
    }

    #[tokio::test]
    async fn a_crlf_split_between_writes_is_stored_as_lf() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut delivery = maildir.begin("split").await.unwrap();
        for piece in [&b"Subject: x\r"[..], b"\n\r", b"\nbody\r\n", b"last\r"] {
            delivery.write(piece).await.unwrap();
        }
        let path = delivery.commit().await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"Subject: x\n\nbody\nlast\r");
    }

    /// Two deliveries with one queue id: the second file created in
    /// `tmp/` takes another name there, whether the first was created when
    /// its buffer filled or at commit, and both messages land in `new/`.
    #[tokio::test]
    async fn same_id_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut long = maildir.begin("x").await.unwrap();
        long.write(&[b'a'; WRITE_BUFFER]).await.unwrap();
        let taken = maildir.root().join("tmp").join("x.h");
        assert_eq!(long.tmp_path(), Some(taken.as_path()));
        let mut short = maildir.begin("x").await.unwrap();
        short.write(b"short\r\n").await.unwrap();
        let short_path = short.commit().await.unwrap();
        assert_eq!(short_path, maildir.root().join("new").join("x_1.h"));
        let long_path = long.commit().await.unwrap();
        assert_eq!(long_path, maildir.root().join("new").join("x.h"));
        assert_eq!(std::fs::read(&short_path).unwrap(), b"short\n");
        assert_eq!(std::fs::read(&long_path).unwrap().len(), WRITE_BUFFER);
        assert!(names(&maildir.root().join("tmp")).is_empty());
    }

    /// Maildir: a delivery never replaces a file already in `new/`, even
    /// one with the name it picked in `tmp/` (another process, a restored
    /// backup, a reused pid): it is linked under a fresh name instead.
    #[tokio::test]
    async fn commit_never_overwrites_a_file_in_new() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut delivery = maildir.begin("dup").await.unwrap();
        let taken = maildir.root().join("new").join("dup.h");
        std::fs::write(&taken, b"already here\n").unwrap();
        delivery.write(b"new message\r\n").await.unwrap();
        let path = delivery.commit().await.unwrap();
        assert_ne!(path, taken);
        assert_eq!(std::fs::read(&taken).unwrap(), b"already here\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"new message\n");
        assert_eq!(names(&maildir.root().join("new")).len(), 2);
        assert!(names(&maildir.root().join("tmp")).is_empty());
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("dup") && name.ends_with(".h"), "{name}");
    }

    #[tokio::test]
    async fn dropping_a_delivery_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut delivery = maildir.begin("gone").await.unwrap();
        delivery.write(&[b'x'; 300_000]).await.unwrap();
        drop(delivery);
        assert!(names(&maildir.root().join("tmp")).is_empty());
        assert!(names(&maildir.root().join("new")).is_empty());
    }

    #[tokio::test]
    async fn a_failed_rename_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        // A message whose file is created at commit, and one whose file was
        // created when the write buffer first filled.
        for size in [6, 300_000] {
            let mut delivery = maildir.begin("m").await.unwrap();
            delivery.write(&b"data\r\n".repeat(size / 6)).await.unwrap();
            // new/ replaced by a file: the link fails with an I/O error.
            let new = maildir.root().join("new");
            std::fs::remove_dir(&new).unwrap();
            std::fs::write(&new, b"").unwrap();
            let error = delivery.commit().await.unwrap_err();
            assert_eq!(error.reply().code, 451);
            assert!(names(&maildir.root().join("tmp")).is_empty());
            std::fs::remove_file(&new).unwrap();
            std::fs::create_dir(&new).unwrap();
        }
    }

    /// A file that cannot be created at commit (here `tmp/` is gone) is a
    /// 451 with the path it would have had, and nothing reaches `new/`.
    #[tokio::test]
    async fn a_file_that_cannot_be_created_answers_451() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut delivery = maildir.begin("m").await.unwrap();
        delivery.write(b"data\r\n").await.unwrap();
        std::fs::remove_dir(maildir.root().join("tmp")).unwrap();
        let error = delivery.commit().await.unwrap_err();
        assert_eq!(error.reply().code, 451);
        assert!(error.to_string().starts_with("cannot create "), "{error}");
        assert!(error.to_string().contains("m.h"), "{error}");
        assert!(names(&maildir.root().join("new")).is_empty());
    }

    /// The same when the write buffer first fills: the write fails (451),
    /// naming the file, and nothing is left anywhere.
    #[tokio::test]
    async fn a_file_that_cannot_be_created_mid_message_answers_451() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let mut delivery = maildir.begin("m").await.unwrap();
        std::fs::remove_dir(maildir.root().join("tmp")).unwrap();
        let error = delivery.write(&[b'x'; WRITE_BUFFER]).await.unwrap_err();
        assert_eq!(error.reply().code, 451);
        assert!(error.to_string().starts_with("cannot create "), "{error}");
        assert!(error.to_string().contains("tmp/m.h"), "{error}");
        drop(delivery);
        assert!(names(&maildir.root().join("new")).is_empty());
    }

    /// After the sweep at start, the first delivery once the hour is up
    /// sweeps `tmp/` again (in the background).
    #[tokio::test]
    async fn deliveries_sweep_tmp_every_hour() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let crashed = maildir.root().join("tmp").join("left-by-a-crash");
        std::fs::write(&crashed, b"partial").unwrap();
        let long_ago = SystemTime::now() - std::time::Duration::from_secs(40 * 3600);
        let times = std::fs::FileTimes::new()
            .set_accessed(long_ago)
            .set_modified(long_ago);
        std::fs::File::options()
            .write(true)
            .open(&crashed)
            .unwrap()
            .set_times(times)
            .unwrap();
        drop(maildir.begin("a").await.unwrap());
        assert!(crashed.exists(), "not an hour yet");
        *maildir.next_sweep.lock().unwrap() = Instant::now();
        drop(maildir.begin("b").await.unwrap());
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while crashed.exists() {
            assert!(Instant::now() < deadline, "not swept");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(names(&maildir.root().join("tmp")).is_empty());
    }

    #[tokio::test]
    async fn a_full_disk_answers_452() {
        // /dev/full fails every write with ENOSPC.
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .await
            .unwrap();
        use tokio::io::AsyncWriteExt as _;
        let mut writer = tokio::io::BufWriter::new(file);
        writer.write_all(b"x").await.unwrap();
        let error = writer.flush().await.unwrap_err();
        let error = MaildirError::new("write", Path::new("/dev/full"), error);
        assert!(error.is_storage_full());
        let reply = error.reply();
        assert_eq!(
            (reply.code, reply.enhanced.map(|e| e.to_string())),
            (452, Some("4.3.1".to_string()))
        );
        assert_eq!(storage_error_reply(&io::Error::other("EIO")).code, 451);
    }
}
