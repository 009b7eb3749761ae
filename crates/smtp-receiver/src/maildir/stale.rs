//! Cleaning `tmp/`. A delivery that a crash (or a `kill -9`, a power cut)
//! cut between creating its file in `tmp/` and linking it into `new/`
//! leaves the partial file behind; no later delivery ever looks at it, so
//! without this it would stay for ever. Nothing was promised for it (no
//! 250 before the link and the fsync), so removing it loses no mail.
//!
//! Two rules, decided by [`judge`] from the name and the times only (no
//! I/O: unit-tested with made-up names and instants); [`sweep`] applies
//! them to the directory.
//!
//! 1. **Any file untouched for 36 hours**, whoever wrote it: the Maildir
//!    convention (<https://cr.yp.to/proto/maildir.html>: a file in `tmp/`
//!    not accessed for 36 hours is to be removed; qmail compares its
//!    access time with 129600 s). "Untouched" is the later of the access
//!    and the modification times, the cautious reading.
//! 2. **A file of this host whose writer is gone**, untouched for an hour:
//!    its name is this server's (`<queue id>.<host>`, the queue id
//!    `<seconds>M<micros>P<pid>Q<n>` naming the process that wrote it) and
//!    that process is no longer running, or it had the pid this process
//!    has but the file dates from before this process started (a restart
//!    where the server always gets the same pid, as PID 1 in a container).
//!
//! Why the hour in rule 2, when a dead pid seems proof enough: the host
//! part of the name is the configured host name, which two servers may
//! share (replicas behind one MX name storing into one volume, or two
//! containers whose pids live in different namespaces); a pid that looks
//! dead from here may be writing there. A live delivery writes its file at
//! least every few minutes (256 KiB buffered, each 64 KiB arriving within
//! the 3-minute data-block deadline), and no session lasts over an hour by
//! default, so a file untouched for an hour has no live writer whatever
//! the pid says. A live pid, or one that cannot be checked (no `/proc`),
//! keeps the file: rule 1 removes it later. Names that are not this
//! server's (another program's, another host's) only ever meet rule 1.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Rule 1: the Maildir convention's 36 hours.
pub(crate) const MAILDIR_STALE: Duration = Duration::from_secs(36 * 60 * 60);

/// Rule 2: how long a file of a process that is gone must have been
/// untouched (see the [module](self) documentation).
pub(crate) const ORPHAN_QUIET: Duration = Duration::from_secs(60 * 60);

/// How often `tmp/` is swept after the sweep at start.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// Why a file in `tmp/` is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale {
    /// Untouched for 36 hours (rule 1).
    Old,
    /// Written by a process of this host that is not running (rule 2).
    WriterGone { pid: u32 },
    /// Written by an earlier process that had this process's pid (rule 2).
    EarlierProcess { pid: u32 },
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stale::Old => write!(f, "untouched for 36 hours"),
            Stale::WriterGone { pid } => write!(f, "its writer, pid {pid}, is not running"),
            Stale::EarlierProcess { pid } => {
                write!(f, "left by an earlier process with pid {pid}")
            }
        }
    }
}

/// What the decision knows besides the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The host part of this Maildir's file names (as written: sanitized).
    pub(crate) host: &'a str,
    /// This process's pid.
    pub(crate) pid: u32,
    /// When this process began to use Maildirs, before its first delivery.
    pub(crate) started: SystemTime,
    /// Now.
    pub(crate) now: SystemTime,
}

/// Whether the file `name`, last touched at `touched`, is stale; `running`
/// tells whether a pid is a running process (`None`: cannot tell).
pub(crate) fn judge(
    name: &str,
    touched: SystemTime,
    context: &Context<'_>,
    running: impl Fn(u32) -> Option<bool>,
) -> Option<Stale> {
    // A time in the future (a clock set back) counts as just touched.
    let untouched = context
        .now
        .duration_since(touched)
        .unwrap_or(Duration::ZERO);
    if untouched >= MAILDIR_STALE {
        return Some(Stale::Old);
    }
    let pid = writer_pid(name, context.host)?;
    if untouched < ORPHAN_QUIET {
        return None;
    }
    if pid == context.pid {
        // Ours, unless it is older than this process.
        return (touched < context.started).then_some(Stale::EarlierProcess { pid });
    }
    match running(pid) {
        Some(false) => Some(Stale::WriterGone { pid }),
        Some(true) | None => None,
    }
}

/// The pid in a file name this server writes, `<seconds>M<micros>P<pid>Q<n>`
/// (then `_<k>` when the name was taken) `.<host>`; `None` for any other
/// name, and for pid 0 (a queue id made without a process id).
fn writer_pid(name: &str, host: &str) -> Option<u32> {
    let id = name.strip_suffix(host)?.strip_suffix('.')?;
    let id = match id.split_once('_') {
        Some((id, k)) if all_digits(k) => id,
        Some(_) => return None,
        None => id,
    };
    let (seconds, rest) = id.split_once('M')?;
    let (micros, rest) = rest.split_once('P')?;
    let (pid, sequence) = rest.split_once('Q')?;
    if ![seconds, micros, pid, sequence].into_iter().all(all_digits) {
        return None;
    }
    pid.parse().ok().filter(|&pid| pid != 0)
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether process `pid` is running: `/proc/<pid>` exists. `None` where
/// there is no `/proc` (not Linux, or not mounted): then no file is
/// removed on that ground.
pub(crate) fn process_running(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    match std::fs::symlink_metadata(proc.join(pid.to_string())) {
        Ok(_) => Some(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

/// Removes the stale regular files of `tmp` (see [`judge`]), each logged
/// at info level; returns how many. Blocking. Problems are logged at warn
/// level and the sweep goes on: it is housekeeping, never a reason to
/// refuse mail.
pub(crate) fn sweep(tmp: &Path, context: &Context<'_>) -> usize {
    let entries = match std::fs::read_dir(tmp) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::warn!(path = %tmp.display(), %error, "cannot read tmp/ to remove stale files");
            return 0;
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        // Not followed: a symbolic link or a directory is not a delivery.
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let touched = [meta.modified(), meta.accessed()]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(context.now);
        let name = entry.file_name();
        let Some(why) = judge(&name.to_string_lossy(), touched, context, process_running) else {
            continue;
        };
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), reason = %why, "removed a stale file from tmp/");
                removed += 1;
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot remove a stale file from tmp/");
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "mx.example";
    const HOUR: Duration = Duration::from_secs(3600);

    fn at(hours_ago: u64) -> SystemTime {
        now() - HOUR * hours_ago as u32
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn context() -> Context<'static> {
        Context {
            host: HOST,
            pid: 4242,
            started: at(2),
            now: now(),
        }
    }

    /// Running: 4242 (this process) and 100; gone: everything else.
    fn running(pid: u32) -> Option<bool> {
        Some(matches!(pid, 4242 | 100))
    }

    fn name(pid: u32) -> String {
        format!("1799990000M000042P{pid}Q7.{HOST}")
    }

    #[test]
    fn anything_untouched_for_36_hours_goes() {
        let judge = |name: &str, hours| judge(name, at(hours), &context(), running);
        for file in ["notes.txt", "1234.other-host", &name(100), &name(4242)] {
            assert_eq!(judge(file, 36), Some(Stale::Old), "{file}");
        }
        assert_eq!(judge("notes.txt", 35), None);
        assert_eq!(judge("1234.other-host", 35), None);
    }

    #[test]
    fn a_file_of_a_process_that_is_gone_goes_after_an_hour() {
        let judge = |name: &str, touched| judge(name, touched, &context(), running);
        assert_eq!(judge(&name(7), at(1)), Some(Stale::WriterGone { pid: 7 }));
        // Taken names get `_<k>`; still ours.
        let taken = format!("1799990000M000042P7Q7_3.{HOST}");
        assert_eq!(judge(&taken, at(5)), Some(Stale::WriterGone { pid: 7 }));
        // Touched within the hour: perhaps a writer elsewhere (same host
        // name, another machine or pid namespace).
        assert_eq!(judge(&name(7), now() - Duration::from_secs(3599)), None);
        assert_eq!(judge(&name(7), now()), None);
    }

    #[test]
    fn a_running_writer_or_one_that_cannot_be_checked_keeps_its_file() {
        assert_eq!(judge(&name(100), at(30), &context(), running), None);
        assert_eq!(judge(&name(7), at(30), &context(), |_| None), None);
    }

    #[test]
    fn our_own_pid_means_ours_unless_older_than_this_process() {
        let judge = |touched| judge(&name(4242), touched, &context(), running);
        // Started 2 hours ago: a file from 3 hours ago is an earlier
        // process's with the same pid (a container's PID 1 restarted).
        assert_eq!(judge(at(3)), Some(Stale::EarlierProcess { pid: 4242 }));
        // From after the start: one of our deliveries (maybe a slow one).
        assert_eq!(judge(at(1)), None);
        assert_eq!(judge(now() - HOUR * 3 / 2), None);
    }

    #[test]
    fn names_that_are_not_this_servers_meet_only_the_36_hours() {
        for other in [
            "1799990000M000042P7Q7.other.example".to_string(),
            format!("1799990000M000042P7Q7.x{HOST}"),
            format!("1799990000M000042P7Q7.{HOST}.bak"),
            format!("1799990000M000042P7Q7_x.{HOST}"),
            format!("1799990000M42P7.{HOST}"),
            format!("1799990000M000042PQ7.{HOST}"),
            format!("1799990000M000042P0Q7.{HOST}"),
            format!("xM000042P7Q7.{HOST}"),
            HOST.to_string(),
            format!(".{HOST}"),
            "1762000000.M1P7Q1.host".to_string(),
        ] {
            assert_eq!(judge(&other, at(30), &context(), running), None, "{other}");
        }
    }

    #[test]
    fn a_time_in_the_future_counts_as_just_touched() {
        let future = now() + HOUR * 100;
        assert_eq!(judge("notes", future, &context(), running), None);
        assert_eq!(judge(&name(7), future, &context(), running), None);
    }

    #[test]
    fn this_process_is_running() {
        if let Some(running) = process_running(std::process::id()) {
            assert!(running);
            // Above the kernel's largest pid (2^22): never a process.
            assert_eq!(process_running(4_194_305 + 1000), Some(false));
        }
    }
}
