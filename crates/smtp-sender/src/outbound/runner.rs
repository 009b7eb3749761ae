//! The queue runner: one pass over the spool delivers what is due, and
//! the daemon repeats passes.
//!
//! A pass reads the records (not the messages) in batches, groups the due
//! recipients by destination (their domain, or the relay), and for each
//! destination opens up to [`RunnerConfig::per_destination`] connections
//! to its first working exchanger. Each connection carries message after
//! message (RFC 5321 §4.1.1.5: RSET between); the recipients of one
//! domain share one transaction. Every entry is locked while it is sent
//! and its record rewritten right after (spool.rs explains why that makes
//! the duplicate window one transaction).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use smtp_sender_core::{Outcome, ProtocolError, Report, SendError};
use tokio::sync::Semaphore;

use super::entry::{QueuedMessage, RetryPolicy, Verdict};
use super::report::{Reporter, reports_due};
use super::route::{Exchanger, RouteError, Router};
use super::spool::{Locked, Spool, SpoolError};
use crate::{Client, ClientConfig, Envelope};

/// How the runner delivers.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// MX or relay.
    pub router: Router,
    /// The session settings for every connection; `host`, `port` and
    /// `servername` are set per exchanger. Build its TLS configuration
    /// once ([`ClientConfig::tls_config`]): it is shared by every
    /// connection.
    pub client: ClientConfig,
    /// The retry schedule.
    pub retry: RetryPolicy,
    /// Connections at once to one destination (Postfix's
    /// `default_destination_concurrency_limit` is 20).
    pub per_destination: usize,
    /// Connections at once in all.
    pub max_connections: usize,
    /// Who signs the delivery status reports.
    pub reporter: Reporter,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassSummary {
    /// Entries in the spool when the pass began.
    pub entries: usize,
    /// Transactions tried (one per message and destination).
    pub transactions: usize,
    /// Recipients delivered.
    pub delivered: usize,
    /// Recipients deferred.
    pub deferred: usize,
    /// Recipients failed for good.
    pub failed: usize,
    /// Delivery status reports queued.
    pub reports: usize,
    /// Entries another runner held.
    pub busy: usize,
    /// Entries moved to `bad/`.
    pub bad: usize,
    /// Entries left in the spool after the pass.
    pub remaining: usize,
}

impl fmt::Display for PassSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entries={} transactions={} delivered={} deferred={} failed={} reports={} busy={} bad={} remaining={}",
            self.entries,
            self.transactions,
            self.delivered,
            self.deferred,
            self.failed,
            self.reports,
            self.busy,
            self.bad,
            self.remaining
        )
    }
}

/// The group of records that only need finishing (reports, removal).
const FINISH: &str = "\0finish";

/// How many records a pass plans at once: memory stays bounded by this,
/// not by the size of the spool.
const BATCH: usize = 4096;

/// Delivers the spool.
#[derive(Debug, Clone)]
pub struct QueueRunner {
    spool: Spool,
    config: Arc<RunnerConfig>,
    wake: Arc<tokio::sync::Notify>,
}

/// One message's share of a destination: the recipients of `domain` (all
/// of them for a relay).
#[derive(Debug, Clone)]
struct Item {
    id: String,
    domain: Option<String>,
}

/// An entry taken for one item: locked in the spool, its record read
/// under the lock, and this process's other items of it kept waiting.
struct Taken {
    locked: Locked,
    /// The last item of the entry in this pass: its reports are due.
    last: bool,
    _gate: tokio::sync::OwnedMutexGuard<()>,
}

/// The state one pass shares between its tasks.
struct Pass {
    runner: QueueRunner,
    now: SystemTime,
    force: bool,
    connections: Semaphore,
    /// Entries being sent by a task of this process: a message with
    /// recipients in two domains is sent by two tasks, one after the other.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Items of each entry not yet sent in this pass: its reports wait for
    /// the last, so that one report covers every domain that failed.
    items_left: Mutex<HashMap<String, usize>>,
    summary: Mutex<PassSummary>,
}

impl QueueRunner {
    /// A runner for `spool`.
    pub fn new(spool: Spool, config: RunnerConfig) -> QueueRunner {
        QueueRunner {
            spool,
            config: Arc::new(config),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Starts the next pass of [`run`](Self::run) now instead of after the
    /// poll interval: what a receiver calls once it has queued a message.
    /// A call during a pass starts another right after it.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The spool.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// One pass at time `now`: everything due is tried once. `force`
    /// (`queue flush`) tries every recipient not yet final, due or not.
    pub async fn run_once(&self, now: SystemTime, force: bool) -> Result<PassSummary, SpoolError> {
        let _ = self.spool.clean(now);
        let ids = self.spool.ids()?;
        let pass = Arc::new(Pass {
            runner: self.clone(),
            now,
            force,
            connections: Semaphore::new(self.config.max_connections.max(1)),
            in_flight: Mutex::new(HashMap::new()),
            items_left: Mutex::new(HashMap::new()),
            summary: Mutex::new(PassSummary {
                entries: ids.len(),
                ..PassSummary::default()
            }),
        });
        for batch in ids.chunks(BATCH) {
            let groups = pass.plan(batch);
            let mut tasks = tokio::task::JoinSet::new();
            for (key, (domain, items)) in groups {
                let pass = pass.clone();
                tasks.spawn(async move { pass.destination(key, domain, items).await });
            }
            while let Some(joined) = tasks.join_next().await {
                if let Err(error) = joined {
                    tracing::error!("a delivery task failed: {error}");
                }
            }
            // Every item of the batch is done: what was kept per entry goes,
            // so memory follows the batch, not the spool.
            if let Ok(mut gates) = pass.in_flight.lock() {
                gates.clear();
            }
            if let Ok(mut left) = pass.items_left.lock() {
                left.clear();
            }
        }
        let mut summary = pass.summary.lock().map(|s| *s).unwrap_or_default();
        summary.remaining = self.spool.ids()?.len();
        Ok(summary)
    }

    /// Passes until `stop` resolves: one at once, then one every `poll`
    /// (new entries and due retries are picked up within that time), or
    /// at once after [`wake`](Self::wake).
    pub async fn run(
        &self,
        poll: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), SpoolError> {
        tokio::pin!(stop);
        loop {
            let summary = self.run_once(SystemTime::now(), false).await?;
            if summary.transactions > 0 || summary.bad > 0 {
                tracing::info!("queue pass: {summary}");
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(poll) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}

impl Pass {
    fn count(&self, f: impl FnOnce(&mut PassSummary)) {
        if let Ok(mut summary) = self.summary.lock() {
            f(&mut summary);
        }
    }

    /// Reads a batch of records and groups what is due by destination.
    fn plan(&self, batch: &[String]) -> HashMap<String, (Option<String>, VecDeque<Item>)> {
        let spool = &self.runner.spool;
        let router = &self.runner.config.router;
        let mut groups: HashMap<String, (Option<String>, VecDeque<Item>)> = HashMap::new();
        for id in batch {
            let record = match spool.record(id) {
                Ok(record) => record,
                Err(SpoolError::NotFound(_)) => continue,
                Err(error @ SpoolError::Malformed { .. }) => {
                    self.set_aside(id, &error.to_string());
                    continue;
                }
                Err(error) => {
                    tracing::warn!("{error}");
                    continue;
                }
            };
            if record.is_final() {
                // A pass that stopped between the last reply and the
                // removal: finish it (reports, removal).
                if let Ok(mut left) = self.items_left.lock() {
                    *left.entry(id.clone()).or_default() += 1;
                }
                groups
                    .entry(FINISH.into())
                    .or_insert((None, VecDeque::new()))
                    .1
                    .push_back(Item {
                        id: id.clone(),
                        domain: None,
                    });
                continue;
            }
            let due = record.due(self.now, self.force);
            let mut domains: Vec<Option<String>> = match router {
                Router::Relay { .. } if !due.is_empty() => vec![None],
                Router::Relay { .. } => vec![],
                Router::Mx { .. } => due
                    .iter()
                    .map(|&i| Some(record.domain_of(i).unwrap_or_default()))
                    .collect(),
            };
            domains.sort();
            domains.dedup();
            if let Ok(mut left) = self.items_left.lock() {
                *left.entry(id.clone()).or_default() += domains.len();
            }
            for domain in domains {
                let key = router.key(domain.as_deref().unwrap_or_default());
                groups
                    .entry(key)
                    .or_insert((domain.clone(), VecDeque::new()))
                    .1
                    .push_back(Item {
                        id: id.clone(),
                        domain,
                    });
            }
        }
        groups
    }

    fn set_aside(&self, id: &str, reason: &str) {
        tracing::warn!("moving {id} to bad/: {reason}");
        match self.runner.spool.move_aside(id, reason) {
            Ok(()) => self.count(|s| s.bad += 1),
            Err(error) => tracing::error!("cannot move {id} aside: {error}"),
        }
    }

    /// Delivers one destination's items over up to `per_destination`
    /// connections.
    async fn destination(
        self: Arc<Self>,
        key: String,
        domain: Option<String>,
        items: VecDeque<Item>,
    ) {
        if key == FINISH {
            for item in items {
                self.finish_only(&item).await;
            }
            return;
        }
        let route = self
            .runner
            .config
            .router
            .exchangers(domain.as_deref().unwrap_or_default())
            .await;
        let exchangers = match route {
            Ok(list) => Arc::new(list),
            Err(error) => {
                let (verdict, text) = route_verdict(&error);
                for item in items {
                    self.settle(&item, None, |_| verdict.clone(), &text).await;
                }
                return;
            }
        };
        let workers = self
            .runner
            .config
            .per_destination
            .clamp(1, items.len().max(1));
        let queue = Arc::new(Mutex::new(items));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let pass = self.clone();
            let queue = queue.clone();
            let exchangers = exchangers.clone();
            tasks.spawn(async move { pass.worker(&exchangers, &queue).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// One connection's life: take items until none is left.
    async fn worker(&self, exchangers: &[Exchanger], queue: &Mutex<VecDeque<Item>>) {
        let Ok(_permit) = self.connections.acquire().await else {
            return;
        };
        let next = || queue.lock().ok().and_then(|mut q| q.pop_front());
        let mut session: Option<(Client, &Exchanger)> = None;
        while let Some(item) = next() {
            if session.as_ref().is_none_or(|(c, _)| c.is_closed()) {
                match connect(&self.runner.config.client, exchangers).await {
                    Ok(open) => session = Some(open),
                    Err(reason) => {
                        // Every exchanger failed: the whole destination
                        // waits for the next attempt.
                        let verdict = Verdict::Deferred {
                            reply: reason.clone(),
                            status: "4.4.1".into(),
                        };
                        let mut rest = vec![item];
                        if let Ok(mut q) = queue.lock() {
                            rest.extend(q.drain(..));
                        }
                        for item in rest {
                            self.settle(&item, None, |_| verdict.clone(), &reason).await;
                        }
                        return;
                    }
                }
            }
            if let Some((client, exchanger)) = session.as_mut() {
                self.send(client, exchanger, &item).await;
            }
        }
        if let Some((mut client, _)) = session {
            let _ = client.quit().await;
        }
    }

    /// Sends one item over an open session and settles its recipients.
    async fn send(&self, client: &mut Client, exchanger: &Exchanger, item: &Item) {
        let Some(mut taken) = self.take(&item.id).await else {
            return;
        };
        let (record, last) = (&mut taken.locked.record, taken.last);
        let spool = &self.runner.spool;
        let indices = self.indices(record, item);
        if indices.is_empty() {
            self.finish(record, last).await;
            return;
        }
        let envelope = match record.envelope_for(&indices) {
            Ok(envelope) => envelope,
            Err(reason) => {
                self.set_aside(&item.id, &reason.0);
                return;
            }
        };
        let message = match spool.message(&item.id) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!("{error}");
                return;
            }
        };
        self.count(|s| s.transactions += 1);
        let result = client.send(&envelope, &message).await;
        let passed_on = envelope.dsn.is_some() && client.server_info().offers("DSN");
        let (verdicts, summary) = verdicts(&indices, result, passed_on);
        for (i, verdict) in indices.iter().zip(verdicts) {
            self.tally(&verdict);
            record.record(
                *i,
                verdict,
                Some(&exchanger.name),
                self.now,
                &self.runner.config.retry,
            );
        }
        record.remember(self.now, &exchanger.to_string(), &summary);
        self.finish(record, last).await;
    }

    /// Applies the same verdict to an item's recipients without a session
    /// (routing failed, no exchanger answered).
    async fn settle(
        &self,
        item: &Item,
        remote: Option<&str>,
        verdict: impl Fn(usize) -> Verdict,
        summary: &str,
    ) {
        let Some(mut taken) = self.take(&item.id).await else {
            return;
        };
        let (record, last) = (&mut taken.locked.record, taken.last);
        let indices = self.indices(record, item);
        for i in &indices {
            let v = verdict(*i);
            self.tally(&v);
            record.record(*i, v, remote, self.now, &self.runner.config.retry);
        }
        if !indices.is_empty() {
            let destination = item.domain.clone().unwrap_or_else(|| "relay".into());
            record.remember(self.now, &destination, summary);
        }
        self.finish(record, last).await;
    }

    async fn finish_only(&self, item: &Item) {
        if let Some(mut taken) = self.take(&item.id).await {
            self.finish(&mut taken.locked.record, taken.last).await;
        }
    }

    /// Takes entry `id` for one item: waits for this process's other item
    /// of it (the gate), counts the item, then locks it in the spool.
    /// `None` when another runner holds it (counted as busy) or it cannot
    /// be read (logged).
    async fn take(&self, id: &str) -> Option<Taken> {
        let gate = self
            .in_flight
            .lock()
            .map(|mut map| map.entry(id.to_string()).or_default().clone())
            .unwrap_or_default()
            .lock_owned()
            .await;
        let last = self.item_started(id);
        match self.runner.spool.lock(id) {
            Ok(Some(locked)) => Some(Taken {
                locked,
                last,
                _gate: gate,
            }),
            Ok(None) => {
                self.count(|s| s.busy += 1);
                None
            }
            Err(error) => {
                tracing::warn!("{error}");
                None
            }
        }
    }

    /// The recipients of `item` still due, under the lock.
    fn indices(&self, record: &QueuedMessage, item: &Item) -> Vec<usize> {
        record
            .due(self.now, self.force)
            .into_iter()
            .filter(|&i| match &item.domain {
                None => true,
                Some(domain) => record.domain_of(i).unwrap_or_default() == *domain,
            })
            .collect()
    }

    fn tally(&self, verdict: &Verdict) {
        self.count(|s| match verdict {
            Verdict::Delivered { .. } => s.delivered += 1,
            Verdict::Deferred { .. } => s.deferred += 1,
            Verdict::Failed { .. } => s.failed += 1,
        });
    }

    /// Queues the reports now due, then removes the entry when every
    /// recipient is final, or saves its record. A report is queued
    /// before the record that says it was: a crash in between repeats a
    /// report, never loses one.
    async fn finish(&self, record: &mut QueuedMessage, last: bool) {
        let spool = &self.runner.spool;
        let before = record.clone();
        let reports = if last {
            reports_due(record)
        } else {
            Vec::new()
        };
        if !reports.is_empty() {
            let original = spool.message(&record.id).unwrap_or_default();
            for (action, recipients) in &reports {
                let text = self
                    .runner
                    .config
                    .reporter
                    .report(record, *action, recipients, &original, self.now);
                let queued = Envelope::new("", &[record.from.as_str()])
                    .map_err(|e| e.to_string())
                    .and_then(|env| {
                        spool
                            .enqueue(&env, &text, self.now)
                            .map_err(|e| e.to_string())
                    });
                match queued {
                    Ok(_) => self.count(|s| s.reports += 1),
                    Err(error) => {
                        tracing::error!("cannot queue the report on {}: {error}", record.id);
                        *record = before;
                        let _ = spool.write_record(record);
                        return;
                    }
                }
            }
        }
        let saved = if record.is_final() {
            spool.remove(&record.id)
        } else {
            spool.write_record(record)
        };
        if let Err(error) = saved {
            tracing::error!("{error}");
        }
    }

    /// Counts one item of `id` as taken (under its gate); true for the
    /// last of the pass.
    fn item_started(&self, id: &str) -> bool {
        self.items_left.lock().map_or(true, |mut left| {
            let n = left.entry(id.to_string()).or_default();
            *n = n.saturating_sub(1);
            let last = *n == 0;
            if last {
                left.remove(id);
            }
            last
        })
    }
}

/// Connects to the first exchanger that answers with a greeting (RFC
/// 5321 §5.1: try the next when one cannot be reached).
async fn connect<'a>(
    template: &ClientConfig,
    exchangers: &'a [Exchanger],
) -> Result<(Client, &'a Exchanger), String> {
    let mut failures = Vec::new();
    for exchanger in exchangers {
        let mut config = template.clone();
        config.host.clone_from(&exchanger.connect);
        config.port = exchanger.port;
        config.servername = Some(exchanger.name.clone());
        match Client::connect(config).await {
            Ok(client) => return Ok((client, exchanger)),
            Err(error) => {
                tracing::debug!("{exchanger}: {error}");
                failures.push(format!("{exchanger}: {error}"));
            }
        }
    }
    Err(if failures.is_empty() {
        "no exchanger to try".into()
    } else {
        failures.join("; ")
    })
}

/// A routing failure as a verdict for every recipient of the domain.
fn route_verdict(error: &RouteError) -> (Verdict, String) {
    let text = error.to_string();
    let verdict = match error {
        RouteError::Temporary(_) => Verdict::Deferred {
            reply: text.clone(),
            status: "4.4.3".into(),
        },
        RouteError::Permanent { status, .. } => Verdict::Failed {
            reply: text.clone(),
            status: (*status).into(),
        },
    };
    (verdict, text)
}

/// The verdict for each recipient of one transaction, and a line for the
/// history.
fn verdicts(
    indices: &[usize],
    result: Result<Report, SendError>,
    passed_on: bool,
) -> (Vec<Verdict>, String) {
    match result {
        Ok(report) => {
            let list = report
                .recipients
                .iter()
                .map(|r| {
                    let reply = r.reply.to_string();
                    match r.outcome {
                        Outcome::Accepted => Verdict::Delivered { reply, passed_on },
                        Outcome::Deferred => Verdict::Deferred {
                            status: status_of(&r.reply, "4.0.0"),
                            reply,
                        },
                        Outcome::Refused => Verdict::Failed {
                            status: status_of(&r.reply, "5.0.0"),
                            reply,
                        },
                    }
                })
                .collect();
            let line = match &report.data_reply {
                Some(reply) => reply.to_string(),
                None => "no recipient accepted".into(),
            };
            (list, line)
        }
        Err(error) => {
            let verdict = error_verdict(&error);
            (vec![verdict; indices.len()], error.to_string())
        }
    }
}

/// A transaction that failed as a whole (refused sender, lost session,
/// local refusal).
fn error_verdict(error: &SendError) -> Verdict {
    let reply_text = error
        .reply()
        .map_or_else(|| error.to_string(), ToString::to_string);
    if error.is_temporary() {
        let status = match error.reply() {
            Some(reply) => status_of(reply, "4.0.0"),
            None => "4.4.2".into(),
        };
        return Verdict::Deferred {
            reply: reply_text,
            status,
        };
    }
    let status = match (error.reply(), error) {
        (Some(reply), _) => status_of(reply, "5.0.0"),
        (None, SendError::Protocol(ProtocolError::MessageTooLarge { .. })) => "5.3.4".into(),
        (None, SendError::Protocol(ProtocolError::ExtensionRequired { extension, .. })) => {
            if *extension == "SMTPUTF8" {
                "5.6.7"
            } else {
                "5.6.3"
            }
            .into()
        }
        _ => "5.0.0".into(),
    };
    Verdict::Failed {
        reply: reply_text,
        status,
    }
}

/// The reply's enhanced status code (RFC 3463), or the class default.
fn status_of(reply: &smtp_wire::Reply, default: &str) -> String {
    reply
        .enhanced
        .map_or_else(|| default.to_string(), |e| e.to_string())
}
