//! Server processes that must not outlive their user: a guard that stops
//! its process by PID when dropped (also while unwinding from a panic), and
//! a SIGINT/SIGTERM watcher that stops every live peer before exiting.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{IoContext as _, PeerError, Result};
use crate::output::{read_lossy, tail};
use crate::procfs::{Proc, descendants_of, is_listening};

/// How often a wait loop looks again.
pub(crate) const POLL: Duration = Duration::from_millis(20);
/// How long a peer gets to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// How long `stop` waits for descendants to die after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// PIDs of the processes started here that are still running: what the
/// signal watcher stops when the process is interrupted.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Set once SIGINT/SIGTERM arrived: nothing new is started after that.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once this process was interrupted (see [`stop_peers_on_signal`]).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// An error when interrupted: no new process may start then.
pub(crate) fn refuse_if_interrupted(name: &str) -> Result<()> {
    if interrupted() {
        return Err(PeerError::Interrupted { name: name.into() });
    }
    Ok(())
}

/// The live set, for adding or removing a PID.
pub(crate) fn live() -> MutexGuard<'static, BTreeSet<u32>> {
    // A panic while the lock was held leaves the set itself intact.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends `signal` (e.g. `"TERM"`, `"KILL"`) to one process, by PID.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// On SIGINT or SIGTERM, stops every live peer (SIGTERM, then SIGKILL after
/// a second) and exits with 130. Installed once; harmless to call again.
///
/// Without it, Ctrl-C would end this process without running the guards'
/// `Drop`, and Postfix's services (in a session of their own) would stay.
pub fn stop_peers_on_signal() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        std::thread::spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let caught = runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal as unix_signal};
                let (Ok(mut int), Ok(mut term)) = (
                    unix_signal(SignalKind::interrupt()),
                    unix_signal(SignalKind::terminate()),
                ) else {
                    return false;
                };
                tokio::select! {
                    _ = int.recv() => true,
                    _ = term.recv() => true,
                }
            });
            if !caught {
                return;
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            let pids: Vec<u32> = live().iter().copied().collect();
            eprintln!("interrupted: stopping {} peer process(es)", pids.len());
            for pid in &pids {
                signal(*pid, "TERM");
            }
            sleep(Duration::from_secs(1));
            for pid in &pids {
                signal(*pid, "KILL");
            }
            std::process::exit(130);
        });
    });
}

/// A long-running peer process (a server). Its stdout and stderr go to
/// files in a log folder; dropping the guard stops it (SIGTERM, then SIGKILL
/// after a grace period) and, when asked, the processes it forked.
///
/// ```
/// # fn main() -> smtp_peers::Result<()> {
/// use std::process::Command;
/// let logs = tempfile::tempdir().unwrap();
/// let mut server = smtp_peers::PeerProcess::spawn(
///     "sleeper",
///     Command::new("sh").args(["-c", "echo 'listening on 127.0.0.1:2525'; exec sleep 60"]),
///     logs.path(),
/// )?;
/// let ports = server.wait_for_stdout(std::time::Duration::from_secs(10), |line| {
///     line.strip_prefix("listening on 127.0.0.1:")?.parse::<u16>().ok()
/// })?;
/// assert_eq!(ports, [2525]);
/// drop(server); // SIGTERM, and the sleep is gone
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PeerProcess {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    reap_descendants: bool,
    stopped: bool,
}

impl PeerProcess {
    /// Starts `command` with stdin closed, stdout to `LOG_DIR/NAME.out` and
    /// stderr to `LOG_DIR/NAME.err`.
    pub fn spawn(name: &str, command: &mut Command, log_dir: &Path) -> Result<PeerProcess> {
        refuse_if_interrupted(name)?;
        fs::create_dir_all(log_dir).context_with(|| format!("creating {}", log_dir.display()))?;
        let stdout = log_dir.join(format!("{name}.out"));
        let stderr = log_dir.join(format!("{name}.err"));
        let child = command
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).context("creating the stdout log")?)
            .stderr(File::create(&stderr).context("creating the stderr log")?)
            .spawn()
            .context_with(|| format!("starting {name} ({:?})", command.get_program()))?;
        live().insert(child.id());
        Ok(PeerProcess {
            name: name.to_string(),
            child,
            stdout,
            stderr,
            reap_descendants: false,
            stopped: false,
        })
    }

    /// Also stop the processes this one forked (Postfix's master starts its
    /// services in a session of their own, so they would not see our signals).
    pub fn reap_descendants(mut self) -> PeerProcess {
        self.reap_descendants = true;
        self
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// What the process wrote on stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout)
    }

    /// What the process wrote on stderr so far.
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr)
    }

    /// Waits until the stdout lines `pick` accepts satisfy `enough`, and
    /// returns what it picked; fails when the process exits first or the
    /// time runs out. Only complete lines count: a line may be half-written.
    pub fn wait_for_stdout_lines<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
        enough: impl Fn(&[T]) -> bool,
    ) -> Result<Vec<T>> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.stdout();
            let complete = text.rfind('\n').map_or("", |end| &text[..end]);
            let picked: Vec<T> = complete.lines().filter_map(&mut pick).collect();
            if !picked.is_empty() && enough(&picked) {
                return Ok(picked);
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                return Err(PeerError::TimedOut {
                    what: format!(
                        "{} did not print what was expected: {}",
                        self.name,
                        tail(&text, 8)
                    ),
                    waited: timeout,
                });
            }
            sleep(POLL);
        }
    }

    /// [`wait_for_stdout_lines`](Self::wait_for_stdout_lines) until one line is picked.
    pub fn wait_for_stdout<T>(
        &mut self,
        timeout: Duration,
        pick: impl FnMut(&str) -> Option<T>,
    ) -> Result<Vec<T>> {
        self.wait_for_stdout_lines(timeout, pick, |_| true)
    }

    /// Waits for the `listening on HOST:PORT` line the peer scripts print
    /// (aiosmtpd, smtpd, smtp-server) and returns the address.
    pub(crate) fn wait_for_listening_line(&mut self, timeout: Duration) -> Result<SocketAddr> {
        let addrs = self.wait_for_stdout(timeout, |line| {
            line.strip_prefix("listening on ")?
                .trim()
                .parse::<SocketAddr>()
                .ok()
        })?;
        // `wait_for_stdout` returns at least one.
        addrs.into_iter().next().ok_or(PeerError::TimedOut {
            what: format!("{} printed no listening line", self.name),
            waited: timeout,
        })
    }

    /// Waits until something listens on `addr` (seen in /proc/net/tcp, so
    /// the peer sees no probe connection).
    pub fn wait_for_listen(&mut self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !is_listening(addr) {
            self.check_running()?;
            if Instant::now() >= deadline {
                return Err(PeerError::TimedOut {
                    what: format!("{} is not listening on {addr}", self.name),
                    waited: timeout,
                });
            }
            sleep(POLL);
        }
        Ok(())
    }

    /// An error (with the end of its output) when the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.exited() {
            None => Ok(()),
            Some(status) => Err(PeerError::Exited {
                name: self.name.clone(),
                status,
                output: tail(&format!("{}{}", self.stdout(), self.stderr()), 8),
            }),
        }
    }

    /// Stops the process: SIGTERM, up to 5 s to exit, then SIGKILL; then
    /// the descendants recorded before the signal, if asked. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pid = self.child.id();
        let descendants = if self.reap_descendants {
            descendants_of(pid)
        } else {
            Vec::new()
        };
        if self.exited().is_none() {
            signal(pid, "TERM");
            let deadline = Instant::now() + GRACE;
            while self.exited().is_none() && Instant::now() < deadline {
                sleep(POLL);
            }
            if self.exited().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        live().remove(&pid);
        stop_descendants(&descendants);
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Postfix's master tells its children to go when it exits; gives them the
/// grace period, then kills the ones still there (same PID *and* same start
/// time, so a recycled PID is never hit).
fn stop_descendants(descendants: &[Proc]) {
    let deadline = Instant::now() + GRACE;
    loop {
        let left: Vec<&Proc> = descendants.iter().filter(|p| p.still_alive()).collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            for p in &left {
                signal(p.pid, "KILL");
            }
            // SIGKILL is delivered asynchronously: wait (bounded) until they
            // are really gone, so a caller that checks right after sees them dead.
            let killed = Instant::now() + KILL_WAIT;
            while left.iter().any(|p| p.still_alive()) && Instant::now() < killed {
                sleep(POLL);
            }
            return;
        }
        sleep(POLL);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::procfs::gone;

    #[test]
    fn a_peer_is_stopped_when_dropped_and_its_port_line_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut peer = PeerProcess::spawn(
            "fake-peer",
            Command::new("sh").args(["-c", "echo 'listening on 127.0.0.1:4242'; exec sleep 60"]),
            dir.path(),
        )
        .unwrap();
        let addrs = peer
            .wait_for_stdout(Duration::from_secs(10), |l| {
                l.strip_prefix("listening on ")?.parse::<SocketAddr>().ok()
            })
            .unwrap();
        assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 4242))]);
        let pid = peer.pid();
        assert!(!gone(pid));
        assert!(live().contains(&pid));
        drop(peer);
        assert!(gone(pid));
        assert!(!live().contains(&pid));
    }

    #[test]
    fn waiting_for_several_lines_waits_until_there_are_enough() {
        let dir = tempfile::tempdir().unwrap();
        let mut peer = PeerProcess::spawn(
            "two-lines",
            Command::new("sh").args(["-c", "echo a; sleep 0.3; echo b; exec sleep 60"]),
            dir.path(),
        )
        .unwrap();
        let lines = peer
            .wait_for_stdout_lines(
                Duration::from_secs(10),
                |l| Some(l.to_string()),
                |seen| seen.len() == 2,
            )
            .unwrap();
        assert_eq!(lines, ["a", "b"]);
        let err = peer
            .wait_for_stdout_lines(Duration::from_millis(100), |_| Some(()), |_| false)
            .unwrap_err();
        assert!(matches!(err, PeerError::TimedOut { .. }), "{err}");
    }

    #[test]
    fn descendants_in_their_own_right_are_stopped_too() {
        let dir = tempfile::tempdir().unwrap();
        // The shell dies on SIGTERM; its two sleeps would be orphaned.
        let mut peer = PeerProcess::spawn(
            "forker",
            Command::new("sh").args(["-c", "sleep 61 & sleep 62"]),
            dir.path(),
        )
        .unwrap()
        .reap_descendants();
        let kids = crate::output::poll_until(Duration::from_secs(5), || {
            let kids = descendants_of(peer.pid());
            (kids.len() == 2).then_some(kids)
        })
        .unwrap();
        peer.stop();
        for kid in &kids {
            assert!(!kid.still_alive(), "pid {} survived", kid.pid);
        }
    }

    #[test]
    fn a_peer_that_dies_at_start_is_reported_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let mut peer = PeerProcess::spawn(
            "broken",
            Command::new("sh").args(["-c", "echo cannot bind >&2; exit 1"]),
            dir.path(),
        )
        .unwrap();
        let err = peer
            .wait_for_stdout(Duration::from_secs(10), |_| Some(()))
            .unwrap_err();
        assert!(matches!(err, PeerError::Exited { .. }), "{err}");
        assert!(err.to_string().contains("cannot bind"), "{err}");
    }
}
