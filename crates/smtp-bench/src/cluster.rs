//! `cargo xtask cluster`: the reference deployment of docs/deploy.md, run
//! on loopback and checked.
//!
//! ```text
//! smtplib x CLIENTS ──> HAProxy (send-proxy-v2, round robin) ──> smtp-receive r1..rN
//!   from 127.0.0.11..                                              │ --deliver lmtp:unix:SOCK
//!                                                                  │ --spool (one per node)
//!                                                                  └──> Dovecot LMTP ──> Maildirs
//! ```
//!
//! With `kill`, one receiver is killed (SIGKILL) once half the messages
//! are acknowledged; HAProxy routes around it, the clients send again what
//! got no reply, and the node is restarted on its spool, which it then
//! delivers. The checks, from Dovecot's own view (`doveadm fetch`):
//! every acknowledged message is there; a message is there twice only if
//! its first attempt got no reply, or if it was being delivered from the
//! killed node's spool when the node died (Dovecot had it, the spool had
//! not yet recorded it: RFC 5321 §6.1 and RFC 2033 §4.2 accept a duplicate,
//! never a loss); every stored `Received:` line of a receiver names the
//! client's own address, never HAProxy's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use smtp_peers::{Dovecot, Haproxy, ProxyVersion, poll_until, run_with_timeout, script_command};
use smtp_testkit::bins::{Bins, RunningReceiver};

use crate::error::{BenchError, Result};

const CLUSTER_LOAD: &str = include_str!("cluster_load.py");

/// The mailbox every message is sent to.
const MAILBOX: &str = "inbox@example.test";

/// What to run.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Receivers behind HAProxy.
    pub receivers: usize,
    /// Concurrent smtplib clients.
    pub clients: u32,
    /// Messages in all.
    pub messages: u32,
    /// Kill one receiver halfway (needs 2 receivers or more).
    pub kill: bool,
    /// Where spools and logs go.
    pub work: PathBuf,
}

/// What a run showed.
#[derive(Debug, Clone)]
pub struct ClusterReport {
    /// Receivers behind HAProxy.
    pub receivers: usize,
    /// Concurrent clients.
    pub clients: u32,
    /// Messages sent.
    pub messages: u32,
    /// Messages acknowledged with 250.
    pub acknowledged: usize,
    /// Seconds from the first connection to the last acknowledgement.
    pub seconds: f64,
    /// After how many acknowledged messages a receiver was killed.
    pub killed_at: Option<u64>,
    /// Messages sent again after an attempt without a reply.
    pub in_doubt: usize,
    /// Messages the restarted node delivered from its spool.
    pub recovered_from_spool: usize,
    /// Messages in Dovecot.
    pub stored: usize,
    /// Acknowledged messages missing from Dovecot.
    pub lost: Vec<u64>,
    /// Messages stored twice or more whose first attempt got no reply.
    pub duplicates_in_doubt: Vec<u64>,
    /// Messages stored twice, every copy through the killed receiver:
    /// Dovecot had taken them when it died, before its spool recorded it,
    /// so the restarted node sent them again (the spool's documented
    /// window: the transactions in flight).
    pub duplicates_in_flight: Vec<u64>,
    /// Messages stored twice or more for any other reason.
    pub duplicates_unexplained: Vec<u64>,
    /// Stored messages whose `Received:` does not name the client's address.
    pub wrong_client_address: Vec<u64>,
    /// Messages refused, and the load's errors.
    pub refused: Vec<String>,
}

impl ClusterReport {
    /// Acknowledged messages per second through the balancer.
    pub fn msgs_per_s(&self) -> f64 {
        self.acknowledged as f64 / self.seconds.max(1e-9)
    }

    /// True when every check holds.
    pub fn passed(&self) -> bool {
        self.acknowledged == self.messages as usize
            && self.lost.is_empty()
            && self.duplicates_unexplained.is_empty()
            && self.wrong_client_address.is_empty()
            && self.refused.is_empty()
    }
}

impl fmt::Display for ClusterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[u64]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                format!("{} ({:?})", v.len(), &v[..v.len().min(10)])
            }
        };
        writeln!(
            f,
            "sent:       {} messages from {} clients through HAProxy to {} receiver(s)",
            self.messages, self.clients, self.receivers
        )?;
        writeln!(
            f,
            "acked:      {} in {:.2} s = {:.0} msgs/s",
            self.acknowledged,
            self.seconds,
            self.msgs_per_s()
        )?;
        match self.killed_at {
            Some(at) => writeln!(
                f,
                "killed:     receiver r2 (SIGKILL) after {at} acknowledgements; {} message(s) sent again after no reply; its spool delivered {} after a restart",
                self.in_doubt, self.recovered_from_spool
            )?,
            None => writeln!(f, "killed:     none")?,
        }
        writeln!(f, "in Dovecot: {} messages (doveadm)", self.stored)?;
        writeln!(f, "lost:       {}", list(&self.lost))?;
        writeln!(
            f,
            "twice:      {} resent by a client after no reply; {} in flight from the killed node's spool (RFC 5321 §6.1: a duplicate, never a loss); {} otherwise",
            list(&self.duplicates_in_doubt),
            list(&self.duplicates_in_flight),
            list(&self.duplicates_unexplained)
        )?;
        writeln!(
            f,
            "Received:   {} naming another address than the client's",
            list(&self.wrong_client_address)
        )?;
        if !self.refused.is_empty() {
            writeln!(f, "refused:    {:?}", self.refused)?;
        }
        write!(
            f,
            "verdict:    {}",
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

/// The load's JSON line.
#[derive(Debug)]
struct LoadResult {
    acked: Vec<u64>,
    in_doubt: Vec<u64>,
    refused: Vec<u64>,
    seconds: f64,
    killed_at: Option<u64>,
    errors: Vec<String>,
}

/// Runs the cluster and checks it; prints what it starts as it goes.
pub fn run_cluster(bins: &Bins, options: &ClusterOptions) -> Result<ClusterReport> {
    if options.kill && options.receivers < 2 {
        return Err(BenchError::Usage(
            "killing a receiver needs at least 2 behind the balancer".into(),
        ));
    }
    let work = &options.work;
    let dovecot = Dovecot::start()?;
    println!(
        "started Dovecot LMTP on {} and {}",
        dovecot.lmtp_addr(),
        dovecot.lmtp_socket().display()
    );
    let node_args = |k: usize| -> Vec<String> {
        let spool = work.join(format!("spool-r{k}"));
        vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--hostname".into(),
            format!("r{k}.test"),
            "--proxy-protocol".into(),
            "--trusted-proxy".into(),
            "127.0.0.1/32".into(),
            "--domain".into(),
            "example.test".into(),
            "--deliver".into(),
            format!("lmtp:unix:{}", dovecot.lmtp_socket().display()),
            "--spool".into(),
            spool.display().to_string(),
        ]
    };
    let start_node = |k: usize, logs: &str| -> Result<RunningReceiver> {
        let logs = work.join("logs").join(logs);
        Ok(RunningReceiver::start(&bins.receive, node_args(k), &logs)?)
    };
    let mut nodes = Vec::new();
    for k in 1..=options.receivers {
        let node = start_node(k, &format!("r{k}"))?;
        let addr = node
            .plain()
            .ok_or_else(|| BenchError::Measurement(format!("r{k} printed no listener")))?;
        println!("started smtp-receive r{k} on {addr} (PROXY v2 from 127.0.0.1, LMTP to Dovecot)");
        nodes.push((addr, node));
    }
    let backends: Vec<_> = nodes.iter().map(|(addr, _)| *addr).collect();
    let haproxy = Haproxy::start(&backends, ProxyVersion::V2)?;
    println!(
        "started HAProxy on {} (round robin, send-proxy-v2, health checks every 300 ms)",
        haproxy.addr()
    );

    let victim = options.kill.then(|| nodes[1].1.pid());
    let load = Load {
        messages: options.messages,
        clients: options.clients,
    };
    let load = run_load(load, haproxy.addr().port(), victim, work)?;
    let mut recovered_from_spool = 0;
    if let Some(pid) = victim {
        println!("killed r2 (pid {pid}); restarting it on its spool");
        let spool = work.join("spool-r2").join("queue");
        recovered_from_spool = count_entries(&spool);
        let restarted = start_node(2, "r2-restarted")?;
        nodes[1].1 = restarted;
    }
    // Every spool empties: what was acknowledged has reached Dovecot.
    let spools: Vec<PathBuf> = (1..=options.receivers)
        .map(|k| work.join(format!("spool-r{k}")).join("queue"))
        .collect();
    let drained = poll_until(Duration::from_secs(120), || {
        spools.iter().all(|s| count_entries(s) == 0).then_some(())
    });
    if drained.is_none() {
        return Err(BenchError::Measurement(format!(
            "the spools did not empty: {:?}",
            spools.iter().map(|s| count_entries(s)).collect::<Vec<_>>()
        )));
    }
    let stored = read_stored(&dovecot)?;
    drop(haproxy);
    drop(nodes);
    Ok(check(options, &load, &stored, recovered_from_spool))
}

/// What one message costs the client, in each way of storing it: one
/// smtplib client sending `messages` messages one after the other over
/// one session, straight to one receiver.
#[derive(Debug, Clone)]
pub struct Latency {
    /// (how it was stored, mean milliseconds per message, msgs/s).
    pub modes: Vec<(String, f64, f64)>,
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (mode, ms, rate) in &self.modes {
            writeln!(f, "{mode:<58} {ms:>6.2} ms/message  {rate:>6.0} msgs/s")?;
        }
        Ok(())
    }
}

/// Measures [`Latency`]: a Maildir with fsync, LMTP into Dovecot through
/// the spool, and LMTP into Dovecot while the client waits.
pub fn lmtp_latency(bins: &Bins, messages: u32, work: &Path) -> Result<Latency> {
    let dovecot = Dovecot::start()?;
    let socket = format!("lmtp:unix:{}", dovecot.lmtp_socket().display());
    let spool = |name: &str| work.join(name).display().to_string();
    let modes: [(&str, Vec<String>); 3] = [
        (
            "--maildir (fsync)",
            vec!["--maildir".into(), spool("latency-maildir")],
        ),
        (
            "--deliver lmtp:unix:... --spool (queued)",
            vec![
                "--deliver".into(),
                socket.clone(),
                "--spool".into(),
                spool("latency-queued"),
            ],
        ),
        (
            "--deliver lmtp:unix:... --spool --deliver-sync",
            vec![
                "--deliver".into(),
                socket.clone(),
                "--spool".into(),
                spool("latency-sync"),
                "--deliver-sync".into(),
            ],
        ),
    ];
    let mut out = Vec::new();
    for (i, (mode, extra)) in modes.into_iter().enumerate() {
        let mut args: Vec<String> = ["--listen", "127.0.0.1:0", "--domain", "example.test"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra);
        let node = RunningReceiver::start(
            &bins.receive,
            &args,
            &work.join(format!("logs/latency-{i}")),
        )?;
        let port = node
            .plain()
            .ok_or_else(|| BenchError::Measurement("no listener".into()))?
            .port();
        let load = run_load(
            Load {
                messages,
                clients: 1,
            },
            port,
            None,
            work,
        )?;
        if load.acked.len() != messages as usize {
            return Err(BenchError::Measurement(format!(
                "{mode}: {} of {messages} acknowledged",
                load.acked.len()
            )));
        }
        let per = load.seconds / f64::from(messages);
        out.push((format!("smtp-receive {mode}"), per * 1000.0, 1.0 / per));
    }
    Ok(Latency { modes: out })
}

/// How many messages the load sends, from how many clients.
#[derive(Debug, Clone, Copy)]
struct Load {
    messages: u32,
    clients: u32,
}

fn run_load(load: Load, port: u16, victim: Option<u32>, work: &Path) -> Result<LoadResult> {
    let logs = work.join("logs/load");
    let mut cmd = script_command("python3", &logs, "cluster_load.py", CLUSTER_LOAD)?;
    cmd.args(["--port", &port.to_string()])
        .args(["--count", &load.messages.to_string()])
        .args(["--clients", &load.clients.to_string()]);
    if let Some(pid) = victim {
        cmd.args(["--kill-pid", &pid.to_string()])
            .args(["--kill-at", &(load.messages / 2).to_string()]);
    }
    println!(
        "sending {} messages from {} smtplib clients{}",
        load.messages,
        load.clients,
        if victim.is_some() {
            ", killing r2 halfway"
        } else {
            ""
        }
    );
    let out = run_with_timeout(
        "cluster-load",
        &mut cmd,
        None,
        &logs,
        Duration::from_secs(600),
    )?
    .success("cluster load")?;
    let bad =
        |why: String| BenchError::Measurement(format!("the load's result {why}: {}", out.stdout));
    let json: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).map_err(|e| bad(e.to_string()))?;
    let numbers = |key: &str| -> Result<Vec<u64>> {
        json[key]
            .as_array()
            .ok_or_else(|| bad(format!("has no {key}")))?
            .iter()
            .map(|v| v.as_u64().ok_or_else(|| bad(format!("has a bad {key}"))))
            .collect()
    };
    Ok(LoadResult {
        acked: numbers("acked")?,
        in_doubt: numbers("in_doubt")?,
        refused: numbers("refused")?,
        seconds: json["seconds"]
            .as_f64()
            .ok_or_else(|| bad("has no seconds".into()))?,
        killed_at: json["killed_at"].as_u64(),
        errors: json["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e.to_string()).collect())
            .unwrap_or_default(),
    })
}

/// One stored message, as doveadm shows its header.
struct Stored {
    number: u64,
    sent_from: String,
    received: Vec<String>,
}

impl Stored {
    /// The receivers whose `Received:` line it carries (`by rN.test`).
    fn via(&self) -> Vec<u32> {
        self.received
            .iter()
            .filter_map(|r| receiver_of(r))
            .collect()
    }
}

fn read_stored(dovecot: &Dovecot) -> Result<Vec<Stored>> {
    let headers = dovecot.headers(MAILBOX)?;
    Ok(headers.iter().filter_map(|h| parse_stored(h)).collect())
}

/// The fields of a header section (folded lines joined).
fn parse_stored(header: &str) -> Option<Stored> {
    let mut fields: Vec<String> = Vec::new();
    for line in header.lines() {
        match (line.starts_with([' ', '\t']), fields.last_mut()) {
            (true, Some(last)) => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => fields.push(line.to_string()),
        }
    }
    let value = |name: &str| {
        fields.iter().find_map(|f| {
            let (n, v) = f.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let number = value("Message-ID")?
        .trim_start_matches("<cluster-")
        .split('@')
        .next()?
        .parse()
        .ok()?;
    Some(Stored {
        number,
        sent_from: value("X-Sent-From")?,
        received: fields
            .iter()
            .filter(|f| f.to_ascii_lowercase().starts_with("received:"))
            .cloned()
            .collect(),
    })
}

fn check(
    options: &ClusterOptions,
    load: &LoadResult,
    stored: &[Stored],
    recovered: usize,
) -> ClusterReport {
    let mut copies: BTreeMap<u64, usize> = BTreeMap::new();
    for s in stored {
        *copies.entry(s.number).or_default() += 1;
    }
    let in_doubt: BTreeSet<u64> = load.in_doubt.iter().copied().collect();
    let lost = load
        .acked
        .iter()
        .filter(|n| !copies.contains_key(n))
        .copied()
        .collect();
    let (duplicates_in_doubt, others): (Vec<u64>, Vec<u64>) = copies
        .iter()
        .filter(|&(_, &c)| c > 1)
        .map(|(&n, _)| n)
        .partition(|n| in_doubt.contains(n));
    let killed = options.kill.then_some(2);
    let (duplicates_in_flight, duplicates_unexplained): (Vec<u64>, Vec<u64>) =
        others.into_iter().partition(|&n| {
            stored
                .iter()
                .filter(|s| s.number == n)
                .all(|s| s.via() == [killed.unwrap_or(0)])
        });
    // Our Received: line (by rN.test) must name the client's own address.
    let wrong_client_address = stored
        .iter()
        .filter(|s| {
            let ours: Vec<&String> = s
                .received
                .iter()
                .filter(|r| receiver_of(r).is_some())
                .collect();
            ours.is_empty()
                || ours
                    .iter()
                    .any(|r| !r.contains(&format!("([{}])", s.sent_from)))
        })
        .map(|s| s.number)
        .collect();
    let mut refused: Vec<String> = load
        .refused
        .iter()
        .map(|n| format!("message {n}"))
        .collect();
    refused.extend(load.errors.iter().cloned());
    ClusterReport {
        receivers: options.receivers,
        clients: options.clients,
        messages: options.messages,
        acknowledged: load.acked.len(),
        seconds: load.seconds,
        killed_at: load.killed_at,
        in_doubt: load.in_doubt.len(),
        recovered_from_spool: recovered,
        stored: stored.len(),
        lost,
        duplicates_in_doubt,
        duplicates_in_flight,
        duplicates_unexplained,
        wrong_client_address,
        refused,
    }
}

/// The receiver that wrote a `Received:` line (`by rN.test`), if one did.
fn receiver_of(received: &str) -> Option<u32> {
    let words: Vec<&str> = received.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        (w[0] == "by")
            .then(|| w[1].strip_prefix('r')?.strip_suffix(".test")?.parse().ok())
            .flatten()
    })
}

fn count_entries(queue: &Path) -> usize {
    std::fs::read_dir(queue).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
            .count()
    })
}
