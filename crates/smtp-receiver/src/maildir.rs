//! Maildir delivery (<https://cr.yp.to/proto/maildir.html>): the "file
//! system" box of the protocol diagram, and the default handler.
//!
//! Layout: one Maildir for all recipients; one file per message in `new/`,
//! named `<queue id>.<hostname>`. The file holds the trace header lines the
//! session adds (`Return-Path:`, `X-Original-To:` with every envelope
//! recipient, `Received:`) followed by the message exactly as received.
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
//! Steps 2-4 live in `Maildir::commit`, behind an `async` call: a later
//! group commit can queue concurrent deliveries there and fsync `new/` once
//! per batch, without changing [`Delivery`] or the [`Handler`] trait.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use smtp_wire::Reply;
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::handler::{Envelope, Handler};
use crate::server::MessageBody;
use crate::session::replies;

/// Write buffer per delivery: large writes, few system calls.
const WRITE_BUFFER: usize = 256 * 1024;

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
}

impl Maildir {
    /// Opens the Maildir at `root`, creating it and its three
    /// subdirectories (mode 0700) if needed. `hostname` ends file names.
    pub fn create(root: impl Into<PathBuf>, hostname: &str) -> Result<Maildir, MaildirError> {
        let root = root.into();
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            create_private_dir(&dir).map_err(|e| MaildirError::new("create directory", &dir, e))?;
        }
        Ok(Maildir {
            root,
            host: sanitize_host(hostname),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a delivery: creates `tmp/<id>.<hostname>` exclusively.
    pub async fn begin(&self, id: &str) -> Result<Delivery, MaildirError> {
        let id: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut attempt = 0u32;
        loop {
            let name = match attempt {
                0 => format!("{id}.{}", self.host),
                n => format!("{id}_{n}.{}", self.host),
            };
            let tmp_path = self.root.join("tmp").join(&name);
            let mut options = tokio::fs::OpenOptions::new();
            options.write(true).create_new(true).mode(0o600);
            match options.open(&tmp_path).await {
                Ok(file) => {
                    return Ok(Delivery {
                        file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
                        new_path: self.root.join("new").join(&name),
                        new_dir: self.root.join("new"),
                        tmp_path,
                        finished: false,
                    });
                }
                // Unique names make this unlikely; never overwrite, pick another.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(MaildirError::new("create", &tmp_path, e)),
            }
        }
    }

    /// Delivers a whole message from a body stream; returns its path in `new/`.
    /// The reply on failure is the one to send (body refusal, 451, 452).
    pub async fn deliver(
        &self,
        envelope: &Envelope,
        body: &mut MessageBody<'_>,
    ) -> Result<PathBuf, Reply> {
        let mut delivery = self.begin(&envelope.id).await.map_err(|e| e.reply())?;
        while let Some(chunk) = body.chunk().await.map_err(|e| e.reply())? {
            delivery.write(chunk).await.map_err(|e| e.reply())?;
        }
        delivery.commit().await.map_err(|e| e.reply())
    }

    /// Steps 2-4 of a delivery: fsync the file, link it into `new/` (under
    /// `new`, or a fresh name if that one is taken), fsync `new/`, unlink it
    /// from `tmp/`. Returns where it is in `new/`.
    async fn commit(
        file: tokio::fs::File,
        tmp: &Path,
        new: &Path,
        new_dir: &Path,
    ) -> Result<PathBuf, MaildirError> {
        file.sync_all()
            .await
            .map_err(|e| MaildirError::new("fsync", tmp, e))?;
        drop(file);
        let new = link_new(tmp, new).await?;
        let dir = new_dir.to_path_buf();
        let synced = tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
            .await
            .unwrap_or_else(|join| Err(io::Error::other(join)));
        if let Err(e) = synced {
            // We are about to answer 4xx: the client will send the message
            // again, so this copy must not stay visible.
            let _ = tokio::fs::remove_file(&new).await;
            return Err(MaildirError::new("fsync", new_dir, e));
        }
        // The message is safe in new/; a leftover link in tmp/ would only be
        // litter (Maildir readers clean tmp/), never a second message.
        if let Err(e) = tokio::fs::remove_file(tmp).await {
            tracing::warn!(path = %tmp.display(), error = %e, "cannot unlink the delivered file from tmp/");
        }
        Ok(new)
    }
}

/// A message being written into `tmp/`. Dropped without
/// [`commit`](Self::commit), it removes its temporary file.
#[derive(Debug)]
pub struct Delivery {
    file: Option<BufWriter<tokio::fs::File>>,
    tmp_path: PathBuf,
    new_path: PathBuf,
    new_dir: PathBuf,
    finished: bool,
}

impl Delivery {
    /// Appends message octets.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), MaildirError> {
        let Some(file) = self.file.as_mut() else {
            return Err(MaildirError::new(
                "write",
                &self.tmp_path,
                io::Error::other("delivery finished"),
            ));
        };
        file.write_all(bytes)
            .await
            .map_err(|e| MaildirError::new("write", &self.tmp_path, e))
    }

    /// Makes the message durable and visible in `new/`; returns its path.
    pub async fn commit(mut self) -> Result<PathBuf, MaildirError> {
        let Some(mut file) = self.file.take() else {
            return Err(MaildirError::new(
                "commit",
                &self.tmp_path,
                io::Error::other("delivery finished"),
            ));
        };
        file.flush()
            .await
            .map_err(|e| MaildirError::new("write", &self.tmp_path, e))?;
        let path = Maildir::commit(
            file.into_inner(),
            &self.tmp_path,
            &self.new_path,
            &self.new_dir,
        )
        .await?;
        self.finished = true;
        Ok(path)
    }

    /// The temporary file's path.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp_path
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.finished {
            // Nothing half-written may stay behind (nor, after a failed
            // rename, anything at all). A small synchronous unlink.
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// Makes `tmp` visible in `new/` without ever replacing a file there
/// (Maildir, as qmail delivers: `link()` fails with EEXIST where `rename()`
/// would silently overwrite). If the name is taken, `<stem>_<n>.<host>` is
/// tried. On a file system without hard links, falls back to `rename` after
/// checking that the name is free.
async fn link_new(tmp: &Path, new: &Path) -> Result<PathBuf, MaildirError> {
    let mut target = new.to_path_buf();
    for attempt in 1..=100u32 {
        match tokio::fs::hard_link(tmp, &target).await {
            Ok(()) => return Ok(target),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if links_unsupported(&e) => {
                if !tokio::fs::try_exists(&target).await.unwrap_or(true) {
                    return match tokio::fs::rename(tmp, &target).await {
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
        assert_eq!(
            names(&maildir.root().join("tmp")),
            ["1234M5P6Q7.mx\\057host\\0721"]
        );
        delivery
            .write(b"Subject: x\r\n\r\nhello\r\n")
            .await
            .unwrap();
        let path = delivery.commit().await.unwrap();
        assert!(names(&maildir.root().join("tmp")).is_empty());
        assert_eq!(std::fs::read(path).unwrap(), b"Subject: x\r\n\r\nhello\r\n");
    }

    #[tokio::test]
    async fn same_id_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::create(dir.path(), "h").unwrap();
        let a = maildir.begin("x").await.unwrap();
        let b = maildir.begin("x").await.unwrap();
        assert_ne!(a.tmp_path(), b.tmp_path());
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
        std::fs::write(&taken, b"already here\r\n").unwrap();
        delivery.write(b"new message\r\n").await.unwrap();
        let path = delivery.commit().await.unwrap();
        assert_ne!(path, taken);
        assert_eq!(std::fs::read(&taken).unwrap(), b"already here\r\n");
        assert_eq!(std::fs::read(&path).unwrap(), b"new message\r\n");
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
        let mut delivery = maildir.begin("m").await.unwrap();
        delivery.write(b"data\r\n").await.unwrap();
        // new/ replaced by a file: the rename fails with an I/O error.
        std::fs::remove_dir(maildir.root().join("new")).unwrap();
        std::fs::write(maildir.root().join("new"), b"").unwrap();
        let error = delivery.commit().await.unwrap_err();
        assert_eq!(error.reply().code, 451);
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
        let mut writer = BufWriter::new(file);
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
