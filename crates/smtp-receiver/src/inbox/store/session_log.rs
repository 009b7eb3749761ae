//! Session records on disk, beside the index (so that a rebuilt index has
//! them too): append-only segment files of one JSON record per line,
//! `<maildir>/smtp-inbox/sessions/<created, Unix ms>.jsonl`.
//!
//! One file per session cost an inode per session, on top of the message's
//! own: creating a file is the dearest system call of a delivery (ext4's
//! inode allocation, see docs/benchmarks.md). A segment is appended to
//! with one `write` per record and is never rewritten; retention removes
//! whole segments once every record in them is older than the oldest
//! session kept ([`SessionLog::prune`]). Records are not synced: a session
//! record is a convenience, a message is a promise. A record torn by a
//! crash is a line that does not parse, skipped when the index is rebuilt.
//!
//! Earlier versions wrote `<id>.json` files; they are moved into a segment
//! when the index is opened ([`SessionLog::open`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A segment is closed for appends past this size.
const SEGMENT_BYTES: u64 = 16 << 20;

const SEGMENT_EXTENSION: &str = "jsonl";

/// The segment files of one inbox, and the one being appended to.
#[derive(Debug)]
pub(crate) struct SessionLog {
    dir: PathBuf,
    /// The open segment and its size.
    current: Option<(File, u64)>,
}

impl SessionLog {
    /// The log in `dir` (created at the first append). Records left in
    /// one file each by earlier versions are appended to a segment and
    /// their files removed, so the rest of the store knows one layout.
    pub(crate) fn open(dir: PathBuf) -> io::Result<SessionLog> {
        let mut log = SessionLog { dir, current: None };
        for legacy in log.files("json")? {
            let record = std::fs::read_to_string(&legacy)?;
            log.append(record.trim_end())?;
            std::fs::remove_file(&legacy)?;
        }
        Ok(log)
    }

    /// Appends one record (a JSON text: it holds no line end).
    pub(crate) fn append(&mut self, record: &str) -> io::Result<()> {
        let mut line = Vec::with_capacity(record.len() + 1);
        line.extend_from_slice(record.as_bytes());
        line.push(b'\n');
        if self
            .current
            .as_ref()
            .is_none_or(|(_, size)| *size >= SEGMENT_BYTES)
        {
            self.current = Some((self.new_segment()?, 0));
        }
        if let Some((file, size)) = &mut self.current {
            // One write: with O_APPEND a record is never interleaved, and a
            // crash tears at most the last line.
            file.write_all(&line)?;
            *size += line.len() as u64;
        }
        Ok(())
    }

    /// Every record in the log, oldest segment first.
    pub(crate) fn records(dir: &Path) -> io::Result<Vec<String>> {
        let log = SessionLog {
            dir: dir.to_path_buf(),
            current: None,
        };
        let mut records = Vec::new();
        for segment in log.files(SEGMENT_EXTENSION)? {
            let text = std::fs::read(&segment)?;
            records.extend(
                text.split(|&b| b == b'\n')
                    .filter(|line| !line.is_empty())
                    .map(|line| String::from_utf8_lossy(line).into_owned()),
            );
        }
        Ok(records)
    }

    /// Removes the segments that hold only sessions older than every
    /// session kept: `oldest_kept` is the earliest end time (Unix ms) of
    /// the sessions left in the index, `None` when none is left. A
    /// segment's records were all written before the next segment was
    /// created, and a record is written after its session ended, so a
    /// segment followed by one created at or before `oldest_kept` holds
    /// nothing kept. The segment being appended to is never removed.
    /// Returns how many were removed.
    pub(crate) fn prune(&mut self, oldest_kept: Option<i64>) -> io::Result<usize> {
        let segments = self.files(SEGMENT_EXTENSION)?;
        let mut removed = 0;
        for pair in segments.windows(2) {
            let next_created = created_ms(&pair[1]).unwrap_or(i64::MAX);
            if oldest_kept.is_none_or(|kept| next_created <= kept) {
                std::fs::remove_file(&pair[0])?;
                removed += 1;
            }
        }
        if oldest_kept.is_none()
            && self.current.is_none()
            && let Some(last) = segments.last()
        {
            std::fs::remove_file(last)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// The files of the log with this extension, in name (= time) order.
    fn files(&self, extension: &str) -> io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == extension))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Creates the next segment, named by the time now (never an existing
    /// name: the time is moved on until one is free).
    fn new_segment(&self) -> io::Result<File> {
        std::fs::create_dir_all(&self.dir)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let newest = self
            .files(SEGMENT_EXTENSION)?
            .last()
            .and_then(|p| created_ms(p))
            .unwrap_or(0);
        let mut name = now.max(newest + 1);
        loop {
            let path = self.dir.join(format!("{name:016}.{SEGMENT_EXTENSION}"));
            match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => return Ok(file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => name += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The creation time in a segment's name.
fn created_ms(segment: &Path) -> Option<i64> {
    segment.file_stem()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_back_in_order_and_a_torn_line_is_just_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SessionLog::open(dir.path().join("sessions")).unwrap();
        log.append(r#"{"ID":"a"}"#).unwrap();
        log.append(r#"{"ID":"b"}"#).unwrap();
        let segment = log.files(SEGMENT_EXTENSION).unwrap().remove(0);
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(br#"{"ID":"c"#).unwrap();
        assert_eq!(
            SessionLog::records(&dir.path().join("sessions")).unwrap(),
            [r#"{"ID":"a"}"#, r#"{"ID":"b"}"#, r#"{"ID":"c"#]
        );
    }

    #[test]
    fn files_of_earlier_versions_move_into_a_segment() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = dir.path().join("sessions");
        std::fs::create_dir_all(&sessions).unwrap();
        std::fs::write(sessions.join("x.json"), "{\"ID\":\"x\"}\n").unwrap();
        let _log = SessionLog::open(sessions.clone()).unwrap();
        assert!(!sessions.join("x.json").exists());
        assert_eq!(SessionLog::records(&sessions).unwrap(), [r#"{"ID":"x"}"#]);
    }

    #[test]
    fn prune_removes_only_segments_older_than_every_kept_session() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = dir.path().join("sessions");
        std::fs::create_dir_all(&sessions).unwrap();
        for created in [1000, 2000, 3000] {
            std::fs::write(sessions.join(format!("{created:016}.jsonl")), "{}\n").unwrap();
        }
        let mut log = SessionLog::open(sessions.clone()).unwrap();
        let names = |log: &SessionLog| -> Vec<i64> {
            log.files(SEGMENT_EXTENSION)
                .unwrap()
                .iter()
                .filter_map(|p| created_ms(p))
                .collect()
        };
        // The oldest kept session ended at 1999: the segment created at 1000
        // may hold it (the next one began at 2000).
        assert_eq!(log.prune(Some(1999)).unwrap(), 0);
        assert_eq!(log.prune(Some(2000)).unwrap(), 1);
        assert_eq!(names(&log), [2000, 3000]);
        // Nothing kept: every segment goes, the last too when none is open.
        assert_eq!(log.prune(None).unwrap(), 2);
        assert!(names(&log).is_empty());
        // The open segment stays even then.
        log.append("{}").unwrap();
        assert_eq!(log.prune(None).unwrap(), 0);
        assert_eq!(names(&log).len(), 1);
        // A new segment is always named after the newest one.
        std::fs::write(sessions.join(format!("{:016}.jsonl", i64::MAX / 2)), "").unwrap();
        log.current = None;
        log.append("{}").unwrap();
        assert_eq!(names(&log).last(), Some(&(i64::MAX / 2 + 1)));
    }
}
