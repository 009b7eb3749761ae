//! Reading what a peer stored: Maildir files (`new/`), and the
//! `key=value` envelope sidecars the Python peers write beside them; and
//! [`StoringPeer`], the running peer that stores that way.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext as _, PeerError, Result};
use crate::output::{poll_until, tail};
use crate::process::PeerProcess;

/// One stored message file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its bytes, as stored.
    pub bytes: Vec<u8>,
}

impl StoredFile {
    /// The text with every CRLF turned into LF: peers store either.
    pub fn normalized(&self) -> Vec<u8> {
        normalize_newlines(&self.bytes)
    }

    /// The header section (up to the first empty line), lossy UTF-8, LF ends.
    pub fn header_section(&self) -> String {
        let text = String::from_utf8_lossy(&self.normalized()).into_owned();
        match text.find("\n\n") {
            Some(end) => text[..end + 1].to_string(),
            None => text,
        }
    }

    /// Every value of header field `name` (case-insensitive), unfolded and
    /// trimmed (RFC 5322 §2.2.3).
    pub fn headers(&self, name: &str) -> Vec<String> {
        let mut values = Vec::new();
        let mut current: Option<String> = None;
        for line in self.header_section().lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = current.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some(done) = current.take() {
                values.push(done);
            }
            if let Some((field, value)) = line.split_once(':')
                && field.eq_ignore_ascii_case(name)
            {
                current = Some(value.trim().to_string());
            }
        }
        values.extend(current);
        values
    }

    /// The first value of header field `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// True when the stored file ends with `expected` (both with LF line
    /// ends): the message arrived whole, after the trace fields the server
    /// prepended.
    pub fn ends_with_message(&self, expected: &[u8]) -> bool {
        self.normalized().ends_with(&normalize_newlines(expected))
    }

    /// What the server put before `expected` (its trace fields), if the file
    /// ends with it.
    pub fn prefix_before(&self, expected: &[u8]) -> Option<String> {
        let stored = self.normalized();
        let expected = normalize_newlines(expected);
        stored
            .ends_with(&expected)
            .then(|| String::from_utf8_lossy(&stored[..stored.len() - expected.len()]).into_owned())
    }
}

/// CRLF -> LF (a lone CR is kept).
pub fn normalize_newlines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The files in `DIR/new`, oldest name first (every peer here names files
/// so that this is arrival order, or close to it).
pub fn read_maildir(dir: &Path) -> Result<Vec<StoredFile>> {
    let new = dir.join("new");
    let mut paths: Vec<PathBuf> = match fs::read_dir(&new) {
        Ok(entries) => entries.filter_map(|e| Some(e.ok()?.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).context_with(|| format!("reading {}", new.display())),
    };
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).context_with(|| format!("reading {}", path.display()))?;
            Ok(StoredFile { path, bytes })
        })
        .collect()
}

/// The envelope and session facts a peer recorded for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerEnvelope {
    /// MAIL FROM, without angle brackets.
    pub mail_from: String,
    /// RCPT TO, in order.
    pub rcpt_to: Vec<String>,
    /// MAIL parameters (e.g. `SIZE=1234`, `BODY=8BITMIME`).
    pub mail_options: Vec<String>,
    /// The HELO/EHLO argument.
    pub helo: Option<String>,
    /// The TLS version when the session was encrypted.
    pub tls: Option<String>,
    /// The authenticated user, if any.
    pub login: Option<String>,
}

impl PeerEnvelope {
    /// Parses the `key=value` lines the Python peers write (`rcpt` and
    /// `mail_option` repeat; `-` means none).
    pub fn parse(text: &str) -> PeerEnvelope {
        let mut env = PeerEnvelope::default();
        let some = |v: &str| (v != "-").then(|| v.to_string());
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "mail_from" => env.mail_from = value.to_string(),
                "rcpt" => env.rcpt_to.push(value.to_string()),
                "mail_option" => env.mail_options.push(value.to_string()),
                "helo" => env.helo = some(value),
                "tls" => env.tls = some(value),
                "login" => env.login = some(value),
                _ => {}
            }
        }
        env
    }
}

/// A message stored by a Python peer, with its envelope.
#[derive(Debug, Clone)]
pub struct PeerMessage {
    /// The stored content.
    pub file: StoredFile,
    /// What the peer saw around it.
    pub envelope: PeerEnvelope,
}

/// Messages in `STORE/new/N.eml` with `STORE/meta/N.meta` beside them.
pub fn read_store(store: &Path) -> Result<Vec<PeerMessage>> {
    read_maildir(store)?
        .into_iter()
        .map(|file| {
            let stem = file
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let meta = store.join("meta").join(format!("{stem}.meta"));
            let text =
                fs::read_to_string(&meta).context_with(|| format!("reading {}", meta.display()))?;
            Ok(PeerMessage {
                file,
                envelope: PeerEnvelope::parse(&text),
            })
        })
        .collect()
}

/// A running server peer that stores every message with its envelope in
/// `DIR/store` (the layout [`read_store`] reads): aiosmtpd, Python's
/// `smtpd` and nodemailer's smtp-server, each behind its own type
/// ([`Aiosmtpd`](crate::Aiosmtpd), [`PythonSmtpd`](crate::PythonSmtpd),
/// [`NodeSmtpServer`](crate::NodeSmtpServer)), which derefs to this.
/// Dropping it stops the process and removes the folder.
#[derive(Debug)]
pub struct StoringPeer {
    /// The peer's name, for errors.
    name: &'static str,
    // Declared before `dir`: stopped before the folder goes.
    process: PeerProcess,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl StoringPeer {
    /// Spawns `cmd` (which stores into `dir/store`, logs to `dir/log`) and
    /// waits up to `start_timeout` for its `listening on` line.
    pub(crate) fn spawn(
        name: &'static str,
        cmd: &mut Command,
        dir: tempfile::TempDir,
        start_timeout: Duration,
    ) -> Result<StoringPeer> {
        let mut process = PeerProcess::spawn(name, cmd, &dir.path().join("log"))?;
        let addr = process.wait_for_listening_line(start_timeout)?;
        Ok(StoringPeer {
            name,
            process,
            dir,
            addr,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it logged (stderr).
    pub fn log(&self) -> String {
        self.process.stderr()
    }

    /// The messages stored so far, in arrival order.
    pub fn messages(&self) -> Result<Vec<PeerMessage>> {
        read_store(&self.store())
    }

    /// Waits up to `timeout` for at least `count` messages; the error
    /// names the peer and ends with its log.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Result<Vec<PeerMessage>> {
        let store = self.store();
        match poll_until(timeout, || {
            read_store(&store).ok().filter(|m| m.len() >= count)
        }) {
            Some(messages) => Ok(messages),
            None => Err(PeerError::TimedOut {
                what: format!(
                    "{} stored {} of {count} expected message(s); log: {}",
                    self.name,
                    read_store(&store)?.len(),
                    tail(&self.log(), 6)
                ),
                waited: timeout,
            }),
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stored(text: &str) -> StoredFile {
        StoredFile {
            path: PathBuf::from("test.eml"),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn headers_are_unfolded_and_matched_without_case() {
        let f = stored(
            "Return-Path: <a@b>\r\nX-Original-To: x@y,\r\n\tz@y\r\nreceived: one\r\nReceived: two\r\n\r\nBody: not a header\r\n",
        );
        assert_eq!(f.header("return-path").as_deref(), Some("<a@b>"));
        assert_eq!(f.header("X-Original-To").as_deref(), Some("x@y, z@y"));
        assert_eq!(f.headers("Received"), ["one", "two"]);
        assert_eq!(f.header("Body"), None);
    }

    #[test]
    fn the_message_is_found_after_trace_fields_whatever_the_line_ends() {
        let f = stored("Received: x\r\nSubject: s\r\n\r\n.\r\nend\r\n");
        assert!(f.ends_with_message(b"Subject: s\n\n.\nend\n"));
        assert_eq!(
            f.prefix_before(b"Subject: s\r\n\r\n.\r\nend\r\n")
                .as_deref(),
            Some("Received: x\n")
        );
        assert!(!f.ends_with_message(b"Subject: s\r\n\r\nend\r\n"));
        assert_eq!(normalize_newlines(b"a\r\nb\rc\n"), b"a\nb\rc\n");
    }

    #[test]
    fn sidecars_parse() {
        let e = PeerEnvelope::parse(
            "mail_from=a@b\nrcpt=x@y\nrcpt=z@y\nmail_option=SIZE=10\nhelo=h\ntls=-\nlogin=alice\n",
        );
        assert_eq!(e.mail_from, "a@b");
        assert_eq!(e.rcpt_to, ["x@y", "z@y"]);
        assert_eq!(e.mail_options, ["SIZE=10"]);
        assert_eq!(e.helo.as_deref(), Some("h"));
        assert_eq!(e.tls, None);
        assert_eq!(e.login.as_deref(), Some("alice"));
    }

    #[test]
    fn a_store_is_read_in_order_with_its_sidecars() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "meta"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        for n in [2, 1] {
            fs::write(
                dir.path().join(format!("new/00000{n}.eml")),
                format!("msg {n}\r\n"),
            )
            .unwrap();
            fs::write(
                dir.path().join(format!("meta/00000{n}.meta")),
                format!("mail_from=s{n}@x\n"),
            )
            .unwrap();
        }
        let messages = read_store(dir.path()).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].file.bytes, b"msg 1\r\n");
        assert_eq!(messages[1].envelope.mail_from, "s2@x");
        assert!(
            read_maildir(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}
