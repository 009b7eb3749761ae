//! Memory: resident memory per idle session (many connections that said
//! EHLO and then nothing), and a process's peak resident memory (VmHWM).
//!
//! The idle clients are `smtp_sender::Client`s in this process (plain, or
//! implicit TLS with certificate verification), so the file-descriptor
//! limit is raised to the hard limit first; the receiver, started
//! afterwards, inherits it.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use smtp_sender::{Client, ClientConfig, Timeouts, TlsMode};

/// Connections opened at the same time while building up the idle set.
const CONNECT_CONCURRENCY: usize = 200;

/// One field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Resets VmHWM to the current resident size (proc(5): clear_refs, "5").
pub fn reset_peak(pid: u32) -> Result<()> {
    fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting the peak RSS of {pid}"))
}

/// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (with
/// prlimit(1), i.e. prlimit(2) on our own PID: the workspace forbids the
/// `unsafe` a direct setrlimit call would need). Children inherit it.
/// Returns the limit now in force.
pub fn raise_nofile_limit() -> Result<u64> {
    let (soft, hard) = nofile_limits()?;
    if soft < hard {
        let pid = std::process::id().to_string();
        let status = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
            .status()
            .context("running prlimit (util-linux)")?;
        if !status.success() {
            bail!("prlimit --nofile={hard}:{hard} failed ({status})");
        }
    }
    Ok(nofile_limits()?.0)
}

/// (soft, hard) RLIMIT_NOFILE from /proc/self/limits.
fn nofile_limits() -> Result<(u64, u64)> {
    let text = fs::read_to_string("/proc/self/limits")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .context("no 'Max open files' in /proc/self/limits")?;
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers[..] {
        [soft, hard, ..] => Ok((soft, hard)),
        _ => Ok((u64::MAX, u64::MAX)), // "unlimited"
    }
}

/// Resident memory of `pid` before and after `sessions` idle sessions.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    /// Sessions held open.
    pub sessions: usize,
    /// VmRSS with one session opened and closed (KiB).
    pub before_kib: u64,
    /// VmRSS with every session idle (KiB).
    pub after_kib: u64,
}

impl Idle {
    /// KiB per idle session.
    pub fn per_session_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.sessions as f64
    }
}

/// Opens `sessions` connections to the server `pid` listening on `addr`
/// (implicit TLS when `ca` is given), each reading the greeting and
/// saying EHLO, then measures the server's resident memory while they
/// idle; closes them all.
pub fn idle_sessions(
    pid: u32,
    addr: SocketAddr,
    ca: Option<&Path>,
    sessions: usize,
) -> Result<Idle> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let config = client_config(addr, ca);
    runtime.block_on(async {
        // Warm-up: the first session allocates what every later one shares.
        let mut first = Client::connect(config.clone())
            .await
            .context("first idle session")?;
        let _ = first.quit().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before_kib = status_kib(pid, "VmRSS")?;

        let mut clients = Vec::with_capacity(sessions);
        let mut pending = tokio::task::JoinSet::new();
        let mut started = 0;
        while clients.len() < sessions {
            while started < sessions && pending.len() < CONNECT_CONCURRENCY {
                pending.spawn(Client::connect(config.clone()));
                started += 1;
            }
            let Some(joined) = pending.join_next().await else {
                break;
            };
            let client = joined
                .context("an idle-session task panicked")?
                .with_context(|| format!("idle session {} of {sessions}", clients.len() + 1))?;
            clients.push(client);
        }
        // Let the server finish writing its EHLO replies and settle.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after_kib = status_kib(pid, "VmRSS")?;
        drop(clients);
        Ok(Idle {
            sessions,
            before_kib,
            after_kib,
        })
    })
}

fn client_config(addr: SocketAddr, ca: Option<&Path>) -> ClientConfig {
    let mut config = match ca {
        Some(ca) => {
            let mut config = ClientConfig::new("localhost", addr.port());
            config.tls = TlsMode::Implicit;
            config.ca_file = Some(ca.to_path_buf());
            config
        }
        None => {
            let mut config = ClientConfig::new(addr.ip().to_string(), addr.port());
            config.tls = TlsMode::None;
            config
        }
    };
    config.ehlo_name = Some("bench.example.test".into());
    config.timeouts = Timeouts::all(Duration::from_secs(120));
    config
}
