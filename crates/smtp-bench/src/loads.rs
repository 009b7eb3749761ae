//! The load generators and what they report: Postfix's `smtp-source`,
//! `smtp-send --count` (bulk mode), and Python's smtplib
//! (`smtplib_load.py`). Each runs as a guarded child process with a
//! deadline; its wall time is measured from spawn to exit, to the
//! millisecond, the same way for every program.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use smtp_peers::{
    CommandOutput, SourceOptions, poll_until, run_with_timeout, script_command, smtp_source,
};
use smtp_testkit::bins::Bins;

use crate::error::{BenchError, Context as _, Result};

/// The smtplib load script, written next to the logs when used.
const SMTPLIB_LOAD: &str = include_str!("smtplib_load.py");
/// Envelope addresses of every generated message (a domain the Postfix
/// peer delivers locally).
pub const ADDRESS: &str = "bench@example.test";

/// Runs a client to its end: an error when it exits non-zero or outlives
/// `timeout` (it is then killed by PID).
fn run_client(
    name: &str,
    command: &mut Command,
    log_dir: &Path,
    timeout: Duration,
) -> Result<CommandOutput> {
    Ok(run_with_timeout(name, command, None, log_dir, timeout)?.success(name)?)
}

/// An `smtp-source` load.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// `-d`: one connection per session for all its messages; without it
    /// a new connection per message.
    pub reuse: bool,
    /// `-s`: parallel sessions.
    pub sessions: u32,
    /// `-m`: messages in all.
    pub messages: u32,
    /// `-l`: payload octets per message.
    pub size: u32,
}

impl Source {
    /// The options, as given to smtp-source: one recipient, [`ADDRESS`]
    /// on both sides of the envelope.
    pub fn options(&self) -> SourceOptions {
        SourceOptions {
            reuse_connection: self.reuse,
            sessions: self.sessions,
            messages: self.messages,
            size: self.size,
            recipients: 1,
            from: ADDRESS.into(),
            to: ADDRESS.into(),
        }
    }

    /// The command line for the report.
    pub fn command_line(&self) -> String {
        format!(
            "smtp-source {} 127.0.0.1:PORT",
            self.options().args().join(" ")
        )
    }

    /// Runs it against `addr`; returns its wall time.
    pub fn run(&self, addr: SocketAddr, log_dir: &Path, timeout: Duration) -> Result<Duration> {
        let out = smtp_source(addr, &self.options(), log_dir, timeout)?;
        Ok(out.success("smtp-source")?.elapsed)
    }
}

/// A bulk send by `smtp-send --count` or the smtplib script.
#[derive(Debug, Clone)]
pub struct Bulk {
    /// Messages in all.
    pub count: u64,
    /// Concurrent sessions.
    pub sessions: u64,
    /// Octets per message.
    pub size: u64,
}

/// The summary line both bulk senders print.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BulkLine {
    /// Messages asked for.
    pub messages: u64,
    /// Messages the server accepted.
    pub accepted: u64,
    /// Seconds from the first connection to the last QUIT.
    pub seconds: f64,
    /// Accepted messages per second.
    pub msgs_per_s: f64,
    /// Accepted octets per second, in millions.
    pub mb_per_s: f64,
}

impl BulkLine {
    /// Finds and parses `bulk messages=... seconds=...` in `text`.
    pub fn parse(text: &str) -> Option<BulkLine> {
        let line = text.lines().rev().find(|l| l.starts_with("bulk "))?;
        let field = |name: &str| -> Option<f64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        Some(BulkLine {
            messages: field("messages")? as u64,
            accepted: field("accepted")? as u64,
            seconds: field("seconds")?,
            msgs_per_s: field("msgs_per_s")?,
            mb_per_s: field("mb_per_s")?,
        })
    }
}

impl Bulk {
    /// `smtp-send` arguments (the server and TLS options come first).
    fn send_args(&self) -> Vec<String> {
        [
            "--from",
            ADDRESS,
            "--to",
            ADDRESS,
            "--ehlo",
            "bench.example.test",
            "--count",
            &self.count.to_string(),
            "--sessions",
            &self.sessions.to_string(),
            "--size",
            &self.size.to_string(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// The smtp-send command line for the report.
    pub fn send_command_line(&self, tls: bool) -> String {
        let connection = if tls {
            "--server localhost:PORT --tls implicit --ca ca.pem"
        } else {
            "--server 127.0.0.1:PORT --tls none"
        };
        format!("smtp-send {connection} {}", self.send_args().join(" "))
    }

    /// Runs `smtp-send --count`: plain text when `ca` is `None`, else
    /// implicit TLS to `localhost` (the name in the test certificate).
    pub fn smtp_send(
        &self,
        bins: &Bins,
        addr: SocketAddr,
        ca: Option<&Path>,
        log_dir: &Path,
        timeout: Duration,
    ) -> Result<(CommandOutput, BulkLine)> {
        let mut cmd = Command::new(&bins.send);
        match ca {
            None => cmd.args(["--server", &addr.to_string(), "--tls", "none"]),
            Some(ca) => cmd
                .args([
                    "--server",
                    &format!("localhost:{}", addr.port()),
                    "--tls",
                    "implicit",
                    "--ca",
                ])
                .arg(ca),
        };
        cmd.args(self.send_args());
        let finished = run_client("smtp-send", &mut cmd, log_dir, timeout)?;
        let line = self.check(&finished.stdout, "smtp-send")?;
        Ok((finished, line))
    }

    /// The smtplib command line for the report.
    pub fn smtplib_command_line(&self) -> String {
        format!(
            "python3 smtplib_load.py --port PORT --cafile ca.pem --count {} --sessions {} --size {}",
            self.count, self.sessions, self.size
        )
    }

    /// Runs Python's smtplib (SMTP_SSL, one thread per session) against `addr`.
    pub fn smtplib(
        &self,
        addr: SocketAddr,
        ca: &Path,
        log_dir: &Path,
        timeout: Duration,
    ) -> Result<(CommandOutput, BulkLine)> {
        let mut cmd = script_command("python3", log_dir, "smtplib_load.py", SMTPLIB_LOAD)?;
        cmd.args([
            "--host",
            "localhost",
            "--port",
            &addr.port().to_string(),
            "--cafile",
        ])
        .arg(ca)
        .args([
            "--count",
            &self.count.to_string(),
            "--sessions",
            &self.sessions.to_string(),
        ])
        .args(["--size", &self.size.to_string()]);
        let finished = run_client("smtplib", &mut cmd, log_dir, timeout)?;
        let line = self.check(&finished.stdout, "smtplib")?;
        Ok((finished, line))
    }

    fn check(&self, stdout: &str, who: &str) -> Result<BulkLine> {
        let line = BulkLine::parse(stdout).ok_or_else(|| {
            BenchError::Measurement(format!("{who} printed no summary line: {stdout}"))
        })?;
        if line.accepted != self.count {
            return Err(BenchError::Measurement(format!(
                "{who}: {} of {} messages accepted",
                line.accepted, self.count
            )));
        }
        Ok(line)
    }
}

/// Files in `DIR/new`.
pub fn count_maildir(dir: &Path) -> usize {
    fs::read_dir(dir.join("new")).map_or(0, |entries| entries.count())
}

/// Empties `new/`, `cur/` and `tmp/` of a Maildir, so every round starts alike.
pub fn clear_maildir(dir: &Path) -> Result<()> {
    for sub in ["new", "cur", "tmp"] {
        let Ok(entries) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.context("reading a Maildir folder")?.path();
            fs::remove_file(&path).context_with(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Starts a fresh `new/` for the next round: the old one is renamed
/// `new.N` (same owner and mode for the fresh one), not emptied. Deleting
/// thousands of files would leave ext4 with thousands of recently freed
/// inodes, which makes the next round's file creations slower (its
/// `recently_deleted` check) for whoever runs next; a rename costs nothing.
pub fn rotate_maildir(dir: &Path, round: usize) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
    let new = dir.join("new");
    let meta = fs::metadata(&new).context_with(|| format!("reading {}", new.display()))?;
    let old = dir.join(format!("new.{round}"));
    fs::rename(&new, &old).context_with(|| format!("renaming {}", new.display()))?;
    fs::DirBuilder::new()
        .mode(meta.permissions().mode() & 0o7777)
        .create(&new)
        .context_with(|| format!("creating {}", new.display()))?;
    std::os::unix::fs::chown(&new, Some(meta.uid()), Some(meta.gid()))
        .context_with(|| format!("chown {}", new.display()))?;
    Ok(())
}

/// Waits until `DIR/new` holds `count` files.
pub fn wait_for_maildir(dir: &Path, count: usize, timeout: Duration) -> Result<()> {
    let found = poll_until(timeout, || (count_maildir(dir) >= count).then_some(()));
    if found.is_none() {
        return Err(BenchError::Measurement(format!(
            "{} of {count} messages in {} after {timeout:?}",
            count_maildir(dir),
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bulk_lines_parse() {
        let out = "bulk messages=10 accepted=9 failed=1 sessions=2 size=1024 seconds=0.5 msgs_per_s=18.0 mb_per_s=0.0\n";
        let line = BulkLine::parse(out).unwrap();
        assert_eq!((line.messages, line.accepted, line.seconds), (10, 9, 0.5));
        assert_eq!(line.msgs_per_s, 18.0);
        assert!(BulkLine::parse("nothing here").is_none());
    }

    #[test]
    fn source_options() {
        let s = Source {
            reuse: true,
            sessions: 20,
            messages: 20000,
            size: 10000,
        };
        assert_eq!(
            s.command_line(),
            "smtp-source -d -s 20 -m 20000 -l 10000 -f bench@example.test -t bench@example.test 127.0.0.1:PORT"
        );
    }
}
