//! Memory: resident memory per idle session (many connections that said
//! EHLO and then nothing), and a process's peak resident memory (VmHWM).
//!
//! The idle clients are minimal SMTP clients in this process (smtp-io's
//! stream, smtp-wire's reply parser; plain, or implicit TLS verified
//! against the test CA): connect, read the greeting, say EHLO, wait. The
//! file-descriptor limit is raised to the hard limit first; the receiver,
//! started afterwards, inherits it.

use std::fs;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use smtp_io::MaybeTls;
use smtp_wire::ReplyParser;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::{BenchError, Context as _, Result};

/// Connections opened at the same time while building up the idle set.
const CONNECT_CONCURRENCY: usize = 200;
/// How long one idle session may take to get to its EHLO reply.
const SESSION_TIMEOUT: Duration = Duration::from_secs(120);
/// The name every idle client gives in EHLO.
const EHLO: &[u8] = b"EHLO bench.example.test\r\n";

/// One field of /proc/PID/status in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))
        .context_with(|| format!("reading /proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| BenchError::Measurement(format!("no {field} in /proc/{pid}/status")))
}

/// Resets VmHWM to the current resident size (proc(5): clear_refs, "5").
pub fn reset_peak(pid: u32) -> Result<()> {
    fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .context_with(|| format!("resetting the peak RSS of {pid}"))
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
            return Err(BenchError::Measurement(format!(
                "prlimit --nofile={hard}:{hard} failed ({status})"
            )));
        }
    }
    Ok(nofile_limits()?.0)
}

/// (soft, hard) RLIMIT_NOFILE from /proc/self/limits.
fn nofile_limits() -> Result<(u64, u64)> {
    let text = fs::read_to_string("/proc/self/limits").context("reading /proc/self/limits")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or_else(|| {
            BenchError::Measurement("no 'Max open files' in /proc/self/limits".into())
        })?;
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
/// (implicit TLS to `localhost` when `tls` is given), each reading the
/// greeting and saying EHLO, then measures the server's resident memory
/// while they idle; closes them all.
pub fn idle_sessions(
    pid: u32,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    sessions: usize,
) -> Result<Idle> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting a runtime")?;
    let connector = tls.map(TlsConnector::from);
    runtime.block_on(async {
        // Warm-up: the first session allocates what every later one shares.
        let first = idle_session(addr, connector.clone())
            .await
            .context("first idle session")?;
        drop(first);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before_kib = status_kib(pid, "VmRSS")?;

        let mut held = Vec::with_capacity(sessions);
        let mut pending = tokio::task::JoinSet::new();
        let mut started = 0;
        while held.len() < sessions {
            while started < sessions && pending.len() < CONNECT_CONCURRENCY {
                pending.spawn(idle_session(addr, connector.clone()));
                started += 1;
            }
            let Some(joined) = pending.join_next().await else {
                break;
            };
            let session = joined
                .map_err(|e| BenchError::Measurement(format!("an idle-session task failed: {e}")))?
                .context_with(|| format!("idle session {} of {sessions}", held.len() + 1))?;
            held.push(session);
        }
        // Let the server finish writing its EHLO replies and settle.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after_kib = status_kib(pid, "VmRSS")?;
        drop(held);
        Ok(Idle {
            sessions,
            before_kib,
            after_kib,
        })
    })
}

/// One session up to its EHLO reply, within [`SESSION_TIMEOUT`]; the
/// stream is returned to be held open.
async fn idle_session(addr: SocketAddr, tls: Option<TlsConnector>) -> Result<MaybeTls<TcpStream>> {
    let session = async {
        let tcp = TcpStream::connect(addr)
            .await
            .context_with(|| format!("connecting to {addr}"))?;
        let mut stream = MaybeTls::plain(tcp);
        if let Some(connector) = &tls {
            // The test certificate is for `localhost` (RFC 8314 §3: TLS
            // from the first byte, the name checked as for any client).
            let name = ServerName::try_from("localhost")
                .map_err(|e| BenchError::Measurement(format!("server name: {e}")))?;
            stream
                .connect(connector, name, SESSION_TIMEOUT)
                .await
                .context("TLS handshake")?;
        }
        positive_reply(&mut stream).await.context("greeting")?;
        stream.write_all(EHLO).await.context("sending EHLO")?;
        positive_reply(&mut stream).await.context("EHLO reply")?;
        Ok(stream)
    };
    tokio::time::timeout(SESSION_TIMEOUT, session)
        .await
        .map_err(|_| BenchError::Measurement(format!("no EHLO reply in {SESSION_TIMEOUT:?}")))?
}

/// Reads one reply (RFC 5321 §4.2: the last line has a space after the
/// code); an error unless it is 2yz. Nothing is pipelined here, so no byte
/// after the reply is lost.
async fn positive_reply<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut MaybeTls<S>) -> Result<()> {
    let mut parser = ReplyParser::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let (used, reply) = parser
            .decode(&buf)
            .map_err(|e| BenchError::Measurement(format!("bad reply: {e}")))?;
        buf.drain(..used);
        if let Some(reply) = reply {
            return if reply.is_positive() {
                Ok(())
            } else {
                Err(BenchError::Measurement(format!(
                    "refused: {}",
                    reply.text()
                )))
            };
        }
        let read = stream.read(&mut chunk).await.context("reading a reply")?;
        if read == 0 {
            return Err(BenchError::Measurement("connection closed".into()));
        }
        buf.extend_from_slice(&chunk[..read]);
    }
}
