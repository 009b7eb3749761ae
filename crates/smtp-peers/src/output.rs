//! One-shot commands (clients) run to their end with a deadline, and the
//! small helpers every wait loop and error message here uses.

use std::fs::{self, File};
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{IoContext as _, PeerError, Result};
use crate::process::{POLL, live, refuse_if_interrupted};

/// How often a running client is looked at: often, so that the measured
/// run time is right to the millisecond (the bench divides by it).
const CLIENT_POLL: Duration = Duration::from_millis(1);

/// What a one-shot command did.
#[derive(Debug)]
pub struct CommandOutput {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout (lossy UTF-8).
    pub stdout: String,
    /// Its stderr (lossy UTF-8).
    pub stderr: String,
    /// From spawn to exit.
    pub elapsed: Duration,
}

impl CommandOutput {
    /// Both streams, for error messages.
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// [`PeerError::Failed`] naming `what`, the status and the end of the
    /// output, unless the command exited with 0.
    pub fn success(self, what: &str) -> Result<CommandOutput> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(PeerError::Failed {
                what: what.to_string(),
                status: self.status,
                output: tail(&self.both(), 12),
            })
        }
    }
}

/// Runs a one-shot command (a client) with a deadline: stdin from `stdin`
/// (or closed), stdout/stderr into `LOG_DIR/NAME.out|.err`; killed (SIGKILL)
/// and reported as [`PeerError::TimedOut`] when it runs longer than `timeout`.
/// A non-zero exit is not an error here (see [`CommandOutput::success`]).
///
/// ```
/// # fn main() -> smtp_peers::Result<()> {
/// use std::{process::Command, time::Duration};
/// let logs = tempfile::tempdir().unwrap();
/// let out = smtp_peers::run_with_timeout(
///     "echo",
///     Command::new("echo").arg("hello"),
///     None,
///     logs.path(),
///     Duration::from_secs(10),
/// )?
/// .success("echo")?;
/// assert_eq!(out.stdout, "hello\n");
/// # Ok(()) }
/// ```
pub fn run_with_timeout(
    name: &str,
    command: &mut Command,
    stdin: Option<&Path>,
    log_dir: &Path,
    timeout: Duration,
) -> Result<CommandOutput> {
    refuse_if_interrupted(name)?;
    fs::create_dir_all(log_dir).context_with(|| format!("creating {}", log_dir.display()))?;
    let out_path = log_dir.join(format!("{name}.out"));
    let err_path = log_dir.join(format!("{name}.err"));
    let input = match stdin {
        Some(path) => {
            Stdio::from(File::open(path).context_with(|| format!("opening {}", path.display()))?)
        }
        None => Stdio::null(),
    };
    let started = Instant::now();
    let mut child = command
        .stdin(input)
        .stdout(File::create(&out_path).context("creating the stdout log")?)
        .stderr(File::create(&err_path).context("creating the stderr log")?)
        .spawn()
        .context_with(|| format!("starting {name} ({:?})", command.get_program()))?;
    let pid = child.id();
    live().insert(pid);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let output = format!("{}{}", read_lossy(&out_path), read_lossy(&err_path));
                break Err(PeerError::TimedOut {
                    what: format!("{name} did not finish: {}", tail(&output, 12)),
                    waited: timeout,
                });
            }
            Ok(None) => sleep(CLIENT_POLL),
            Err(e) => {
                break Err(PeerError::Io {
                    context: format!("waiting for {name}"),
                    source: e,
                });
            }
        }
    };
    let elapsed = started.elapsed();
    live().remove(&pid);
    Ok(CommandOutput {
        status: status?,
        stdout: read_lossy(&out_path),
        stderr: read_lossy(&err_path),
        elapsed,
    })
}

/// A file's content as text (empty when missing): logs are read while
/// their writer may still be running.
pub fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `n` non-empty lines of `text`, joined with " | ": the end of a
/// log, on one line of an error message.
///
/// ```
/// assert_eq!(smtp_peers::tail("a\n\nb\nc\n", 2), "b | c");
/// ```
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Waits until `ready` returns `Some`, polling; `None` after `timeout`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(smtp_peers::poll_until(Duration::from_secs(1), || Some(7)), Some(7));
/// assert_eq!(smtp_peers::poll_until(Duration::ZERO, || None::<u8>), None);
/// ```
pub fn poll_until<T>(timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_deadline_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let result = run_with_timeout(
            "sleeper",
            Command::new("sleep").arg("30"),
            None,
            dir.path(),
            Duration::from_millis(300),
        );
        let err = result.unwrap_err();
        assert!(matches!(err, PeerError::TimedOut { .. }), "{err}");
        assert!(err.to_string().contains("did not finish"));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_client_output_and_status_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        fs::write(&input, "from stdin\n").unwrap();
        let out = run_with_timeout(
            "sh",
            Command::new("sh").args(["-c", "cat; echo oops >&2; exit 3"]),
            Some(&input),
            dir.path(),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, "from stdin\n");
        assert_eq!(out.stderr, "oops\n");
        let err = out.success("sh").unwrap_err();
        assert!(matches!(err, PeerError::Failed { .. }));
        assert!(err.to_string().contains("oops"));
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail("", 3), "");
    }
}
