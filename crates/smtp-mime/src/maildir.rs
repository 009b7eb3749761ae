//! A Maildir seen by a person: list it, find one message, save an attachment.
//! These back the `smtp-receive list` and `smtp-receive show` commands.
//!
//! ```no_run
//! use std::path::Path;
//! let dir = Path::new("/var/mail/alice");
//! print!("{}", smtp_mime::render_listing(&smtp_mime::list_maildir(dir)?));
//! let path = smtp_mime::find_message(dir, "17328")?;
//! let msg = smtp_mime::inspect(&std::fs::read(&path).unwrap());
//! print!("{}", smtp_mime::render_message(&msg));
//! smtp_mime::save_attachment(&msg, "report.pdf", Path::new("/tmp/report.pdf"))?;
//! # Ok::<(), smtp_mime::MimeError>(())
//! ```

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mail_parser::DateTime;

use crate::inspect::{attachment_by_name, inspect};
use crate::{Inspected, MimeError};

/// The Maildir sub-directories that hold delivered messages; `tmp/` holds deliveries in
/// progress and is never read.
const DELIVERED: [&str; 2] = ["new", "cur"];

/// One line of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The file name in `new/` or `cur/`.
    pub id: String,
    /// The full path of the file.
    pub path: PathBuf,
    /// The Date field as `YYYY-MM-DD HH:MM` in the sender's zone, or as written when it
    /// cannot be parsed.
    pub date: Option<String>,
    /// The first author: display name, else address; `(unknown)` if none.
    pub from: String,
    /// The decoded subject; `(no subject)` if none.
    pub subject: String,
    /// The file size in octets.
    pub size: u64,
    /// The number of attachments (inline images included).
    pub attachments: usize,
}

/// Lists the messages of a Maildir (`new/` and `cur/`), oldest delivery first.
///
/// Files that disappear while listing (another reader moving `new/` to `cur/`) are
/// skipped; a directory with neither `new/` nor `cur/` is an error.
pub fn list_maildir(dir: &Path) -> Result<Vec<Summary>, MimeError> {
    let mut listed = Vec::new();
    for entry in delivered_files(dir)? {
        let bytes = match fs::read(&entry.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(MimeError::Io {
                    path: entry.path,
                    source,
                });
            }
        };
        let msg = inspect(&bytes);
        listed.push((
            entry.modified,
            summarize(entry.id, entry.path, bytes.len() as u64, &msg),
        ));
    }
    listed.sort_by(|(a_time, a), (b_time, b)| a_time.cmp(b_time).then_with(|| a.id.cmp(&b.id)));
    Ok(listed.into_iter().map(|(_, summary)| summary).collect())
}

/// Finds a message by its id (file name) or by a prefix of it that matches one message.
pub fn find_message(dir: &Path, id: &str) -> Result<PathBuf, MimeError> {
    let files = delivered_files(dir)?;
    if id.is_empty() {
        return Err(MimeError::NotFound(id.to_string()));
    }
    if let Some(exact) = files.iter().find(|f| f.id == id) {
        return Ok(exact.path.clone());
    }
    let mut matching = files.into_iter().filter(|f| f.id.starts_with(id));
    match (matching.next(), matching.next()) {
        (Some(only), None) => Ok(only.path),
        (Some(_), Some(_)) => Err(MimeError::Ambiguous(id.to_string())),
        (None, _) => Err(MimeError::NotFound(id.to_string())),
    }
}

/// Writes an attachment (found by name or 1-based number, see
/// [`attachment_by_name`]) to `out`, refusing to overwrite an existing file.
/// Returns the number of bytes written.
pub fn save_attachment(msg: &Inspected, name: &str, out: &Path) -> Result<usize, MimeError> {
    let attachment =
        attachment_by_name(msg, name).ok_or_else(|| MimeError::NoAttachment(name.to_string()))?;
    let io_error = |source| MimeError::Io {
        path: out.to_path_buf(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(io_error)?;
    file.write_all(&attachment.bytes).map_err(io_error)?;
    Ok(attachment.bytes.len())
}

struct DeliveredFile {
    id: String,
    path: PathBuf,
    modified: SystemTime,
}

fn delivered_files(dir: &Path) -> Result<Vec<DeliveredFile>, MimeError> {
    let mut files = Vec::new();
    let mut found_any = false;
    for sub in DELIVERED {
        let sub_dir = dir.join(sub);
        let entries = match fs::read_dir(&sub_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(MimeError::Io {
                    path: sub_dir,
                    source,
                });
            }
        };
        found_any = true;
        for entry in entries {
            let entry = entry.map_err(|source| MimeError::Io {
                path: sub_dir.clone(),
                source,
            })?;
            let id = entry.file_name().to_string_lossy().into_owned();
            if id.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            files.push(DeliveredFile { id, path, modified });
        }
    }
    if !found_any {
        return Err(MimeError::NotMaildir(dir.to_path_buf()));
    }
    Ok(files)
}

fn summarize(id: String, path: PathBuf, size: u64, msg: &Inspected) -> Summary {
    let from = msg
        .from
        .first()
        .map(|a| match &a.name {
            Some(name) if !name.trim().is_empty() => name.clone(),
            _ => a.email.clone(),
        })
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "(unknown)".to_string());
    let subject = msg
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "(no subject)".to_string());
    let date = msg
        .date
        .as_deref()
        .map(|raw| match DateTime::parse_rfc822(raw) {
            Some(d) if d.is_valid() => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                d.year, d.month, d.day, d.hour, d.minute
            ),
            _ => raw.to_string(),
        });
    Summary {
        id,
        path,
        date,
        from,
        subject,
        size,
        attachments: msg.attachments.len(),
    }
}
