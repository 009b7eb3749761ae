//! Child processes that must not outlive the task: a guard that stops its
//! process by PID when dropped (also while unwinding from a panic), a run
//! with a deadline for one-shot clients, and a SIGINT/SIGTERM watcher that
//! stops every live peer before the task exits.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Read as _;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// How often a wait loop looks again.
const POLL: Duration = Duration::from_millis(20);
/// How long a peer gets to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// PIDs of the processes started here that are still running: what the
/// signal watcher stops when the task is interrupted.
static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Set once SIGINT/SIGTERM arrived: nothing new is started after that.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once the task was interrupted (see [`stop_peers_on_signal`]).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn refuse_if_interrupted(name: &str) -> Result<()> {
    if interrupted() {
        bail!("interrupted: {name} not started");
    }
    Ok(())
}

fn live() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    // A panic while the lock was held leaves the set itself intact.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends `signal` (e.g. `"TERM"`, `"KILL"`) to one process, by PID.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// On SIGINT or SIGTERM, stops every live peer (SIGTERM, then SIGKILL after
/// a second) and exits with 130. Installed once; harmless to call again.
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
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal as unix_signal};
                let (Ok(mut int), Ok(mut term)) = (
                    unix_signal(SignalKind::interrupt()),
                    unix_signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
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
        fs::create_dir_all(log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
        let stdout = log_dir.join(format!("{name}.out"));
        let stderr = log_dir.join(format!("{name}.err"));
        let child = command
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).context("creating the stdout log")?)
            .stderr(File::create(&stderr).context("creating the stderr log")?)
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", command.get_program()))?;
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

    /// Waits until a stdout line satisfies `pick`, and returns what it
    /// picked; fails when the process exits first or the time runs out.
    pub fn wait_for_stdout<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Result<Vec<T>> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.stdout();
            // Only complete lines: a line may be half-written.
            let complete = text.rfind('\n').map_or("", |end| &text[..end]);
            let picked: Vec<T> = complete.lines().filter_map(&mut pick).collect();
            if !picked.is_empty() {
                return Ok(picked);
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                bail!("{} printed nothing usable in {timeout:?}", self.name);
            }
            sleep(POLL);
        }
    }

    /// Waits until something listens on `addr` (seen in /proc/net/tcp, so
    /// the peer sees no probe connection).
    pub fn wait_for_listen(&mut self, addr: SocketAddr, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !is_listening(addr) {
            self.check_running()?;
            if Instant::now() >= deadline {
                bail!("{} is not listening on {addr} after {timeout:?}", self.name);
            }
            sleep(POLL);
        }
        Ok(())
    }

    /// An error (with the end of its stderr) when the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.exited() {
            None => Ok(()),
            Some(status) => bail!(
                "{} exited ({status}): {}",
                self.name,
                tail(&format!("{}{}", self.stdout(), self.stderr()), 8)
            ),
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
        // Postfix's master tells its children to go when it exits; give them
        // the grace period, then kill the ones still there (same PID *and*
        // same start time, so a recycled PID is never hit).
        let deadline = Instant::now() + GRACE;
        loop {
            let left: Vec<&Proc> = descendants.iter().filter(|p| p.still_alive()).collect();
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                for p in &left {
                    signal(p.pid, "KILL");
                }
                // SIGKILL is delivered asynchronously: wait (bounded) until
                // they are really gone, so a caller that checks right after
                // `stop` sees them dead.
                let killed = Instant::now() + KILL_WAIT;
                while left.iter().any(|p| p.still_alive()) && Instant::now() < killed {
                    sleep(POLL);
                }
                break;
            }
            sleep(POLL);
        }
    }
}

/// How long `stop` waits for descendants to die after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(2);

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process seen in /proc: its PID and start time (clock ticks since boot).
struct Proc {
    pid: u32,
    start: u64,
}

impl Proc {
    /// Alive, not a zombie, and not a new process that reused the PID.
    fn still_alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some(s) if s.start == self.start && s.state != 'Z')
    }
}

struct Stat {
    ppid: u32,
    state: char,
    start: u64,
}

/// Fields of /proc/PID/stat (proc(5)): state is field 3, ppid 4, starttime 22.
fn proc_stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every process below `root` in the process tree, now.
fn descendants_of(root: u32) -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<(u32, Stat)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, stat) in &all {
            if stat.ppid == parent {
                frontier.push(*pid);
                found.push(Proc {
                    pid: *pid,
                    start: stat.start,
                });
            }
        }
    }
    found
}

/// True when a socket in LISTEN state is bound to `addr` (proc(5) net/tcp).
pub fn is_listening(addr: SocketAddr) -> bool {
    let (file, local) = match addr {
        SocketAddr::V4(a) => (
            "/proc/net/tcp",
            format!(
                "{:08X}:{:04X}",
                u32::from_le_bytes(a.ip().octets()),
                a.port()
            ),
        ),
        SocketAddr::V6(a) => {
            // Four 32-bit words, each in host (little-endian) order.
            let o = a.ip().octets();
            let words: String = o
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect();
            ("/proc/net/tcp6", format!("{words}:{:04X}", a.port()))
        }
    };
    const LISTEN: &str = "0A";
    fs::read_to_string(file).is_ok_and(|table| {
        table.lines().skip(1).any(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.get(1) == Some(&local.as_str()) && cols.get(3) == Some(&LISTEN)
        })
    })
}

/// A free TCP port on 127.0.0.1, for peers that cannot bind port 0 and
/// report the port (Postfix, smtp-sink). The port is free when this returns;
/// the peer binds it a moment later.
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 for a port")?;
    Ok(listener.local_addr()?.port())
}

/// True when this process runs as root (the owner of /proc/self).
pub fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// What a one-shot command did.
#[derive(Debug)]
pub struct CommandOutput {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout (lossy UTF-8).
    pub stdout: String,
    /// Its stderr (lossy UTF-8).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl CommandOutput {
    /// Both streams, for error messages.
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// An error naming `what`, the status and the end of the output, unless
    /// the command exited with 0.
    pub fn success(self, what: &str) -> Result<CommandOutput> {
        if self.status.success() {
            Ok(self)
        } else {
            bail!(
                "{what} failed ({}): {}",
                self.status,
                tail(&self.both(), 12)
            )
        }
    }
}

/// Runs a one-shot command (a client) with a deadline: stdin from `stdin`
/// (or closed), stdout/stderr into `LOG_DIR/NAME.out|.err`; killed (SIGKILL)
/// and reported as an error when it runs longer than `timeout`.
pub fn run_with_timeout(
    name: &str,
    command: &mut Command,
    stdin: Option<&Path>,
    log_dir: &Path,
    timeout: Duration,
) -> Result<CommandOutput> {
    refuse_if_interrupted(name)?;
    fs::create_dir_all(log_dir)?;
    let out_path = log_dir.join(format!("{name}.out"));
    let err_path = log_dir.join(format!("{name}.err"));
    let input = match stdin {
        Some(path) => Stdio::from(File::open(path).with_context(|| format!("{}", path.display()))?),
        None => Stdio::null(),
    };
    let started = Instant::now();
    let mut child = command
        .stdin(input)
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .spawn()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    let pid = child.id();
    live().insert(pid);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Ok(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break Err(anyhow::anyhow!(
                "{name} did not finish within {timeout:?}: {}",
                tail(
                    &format!("{}{}", read_lossy(&out_path), read_lossy(&err_path)),
                    12
                )
            ));
        }
        sleep(POLL);
    };
    live().remove(&pid);
    Ok(CommandOutput {
        status: status?,
        stdout: read_lossy(&out_path),
        stderr: read_lossy(&err_path),
        elapsed: started.elapsed(),
    })
}

/// A file's content as text (empty when missing).
pub fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `n` non-empty lines of `text`, joined with " | ".
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Waits until `ready` returns `Some`, polling; `None` after `timeout`.
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

    fn gone(pid: u32) -> bool {
        !matches!(proc_stat(pid), Some(s) if s.state != 'Z')
    }

    #[test]
    fn listening_sockets_are_seen_in_proc() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(is_listening(addr));
        drop(listener);
        assert!(!is_listening(addr));
        assert!(free_port().unwrap() > 1024);
    }

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
        assert!(result.unwrap_err().to_string().contains("did not finish"));
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
        assert!(out.success("sh").unwrap_err().to_string().contains("oops"));
    }

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
        drop(peer);
        assert!(gone(pid));
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
        let kids = poll_until(Duration::from_secs(5), || {
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
        assert!(format!("{err:#}").contains("cannot bind"), "{err:#}");
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail("", 3), "");
    }
}
