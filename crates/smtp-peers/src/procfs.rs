//! What Linux's /proc says about processes and sockets (proc(5)), read
//! without touching the peers: no probe connection, no signal.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt as _;

use crate::error::{IoContext as _, Result};

/// A process seen in /proc: its PID and start time (clock ticks since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    pub(crate) pid: u32,
    start: u64,
}

impl Proc {
    /// Alive, not a zombie, and not a new process that reused the PID.
    pub(crate) fn still_alive(&self) -> bool {
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
    let rest = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// True when `pid` is gone or a zombie.
#[cfg(test)]
pub(crate) fn gone(pid: u32) -> bool {
    !matches!(proc_stat(pid), Some(s) if s.state != 'Z')
}

/// Every process below `root` in the process tree, now.
pub(crate) fn descendants_of(root: u32) -> Vec<Proc> {
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

/// True when a socket in LISTEN state is bound to `addr` (proc(5)
/// net/tcp): how a peer that cannot report its port is seen to be ready,
/// without a probe connection the peer would log or count.
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// assert!(smtp_peers::is_listening(listener.local_addr().unwrap()));
/// ```
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
            let words: String = a
                .ip()
                .octets()
                .chunks_exact(4)
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
    let [port] = free_ports()?;
    Ok(port)
}

/// `N` different free TCP ports on 127.0.0.1 (a peer with several
/// listeners, such as Postfix's smtp and smtps). Each port stays bound
/// until all are chosen: released one by one, the kernel may hand out the
/// same port twice (a CI run once found Postfix answering implicit TLS on
/// the port meant for its plain smtp service).
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0 for a port")?;
        *port = listener
            .local_addr()
            .context("reading a bound port")?
            .port();
        held.push(listener);
    }
    Ok(ports)
}

/// True when this process runs as root (the owner of /proc/self): Postfix's
/// test programs then have to be told to drop to `nobody`.
pub fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_seen_in_proc() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(is_listening(addr));
        drop(listener);
        assert!(!is_listening(addr));
        assert!(free_port().unwrap() > 1024);
        let [a, b, c] = free_ports().unwrap();
        assert!(a != b && b != c && a != c);
    }

    #[test]
    fn this_process_is_alive_and_a_missing_pid_is_gone() {
        let me = std::process::id();
        assert!(!gone(me));
        assert!(gone(u32::MAX));
    }
}
