//! `/metrics`: Prometheus / OpenMetrics text through `prometheus-client`.
//!
//! Why prometheus-client rather than metrics-exporter-prometheus: its
//! registry is a value, so every inbox (and every test server in one test
//! process) has its own figures; the `metrics` facade records into one
//! global recorder per process.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use smtp_wire::transcript::Direction;

use crate::server::SessionRecord;

type Labels = Vec<(String, String)>;

fn label(name: &str, value: impl Into<String>) -> Labels {
    vec![(name.to_string(), value.into())]
}

/// Totals since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// Messages stored.
    pub accepted: u64,
    /// Their octets.
    pub bytes: u64,
    /// Negative replies.
    pub refused: u64,
}

/// The inbox's figures.
pub struct Metrics {
    registry: Registry,
    sessions_open: Gauge,
    sessions: Family<Labels, Counter>,
    accepted: Counter,
    refused: Family<Labels, Counter>,
    bytes: Counter,
    tls: Family<Labels, Counter>,
    tls_failures: Counter,
    auth: Family<Labels, Counter>,
    index_messages: Gauge,
    store_seconds: Histogram,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("smtp");
        let m = Metrics {
            sessions_open: Gauge::default(),
            sessions: Family::default(),
            accepted: Counter::default(),
            refused: Family::default(),
            bytes: Counter::default(),
            tls: Family::default(),
            tls_failures: Counter::default(),
            auth: Family::default(),
            index_messages: Gauge::default(),
            // 100 µs to ~3 s.
            store_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 16)),
            registry: Registry::default(),
        };
        registry.register(
            "sessions_open",
            "SMTP sessions in progress",
            m.sessions_open.clone(),
        );
        registry.register(
            "sessions",
            "Finished SMTP sessions by outcome",
            m.sessions.clone(),
        );
        registry.register(
            "messages_accepted",
            "Messages stored (250 after the data)",
            m.accepted.clone(),
        );
        registry.register(
            "replies_refused",
            "Negative replies sent, by reply code",
            m.refused.clone(),
        );
        registry.register(
            "received_bytes",
            "Octets of the messages stored",
            m.bytes.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS sessions by protocol version",
            m.tls.clone(),
        );
        registry.register(
            "tls_failures",
            "TLS handshakes that failed",
            m.tls_failures.clone(),
        );
        registry.register("auth", "AUTH attempts by result", m.auth.clone());
        registry.register(
            "index_messages",
            "Messages in the index",
            m.index_messages.clone(),
        );
        registry.register(
            "store_seconds",
            "Time from the start of a message's data to it being durable and indexed",
            m.store_seconds.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// A session began (the application welcomed it).
    pub fn session_opened(&self) {
        self.sessions_open.inc();
    }

    /// A session's handler went away.
    pub fn session_closed(&self) {
        self.sessions_open.dec();
    }

    /// A message was stored.
    pub fn stored(&self, octets: u64, took: Duration) {
        self.accepted.inc();
        self.bytes.inc_by(octets);
        self.store_seconds.observe(took.as_secs_f64());
    }

    /// A finished session's outcome, refusals, TLS and AUTH.
    pub fn session(&self, record: &SessionRecord) {
        self.sessions
            .get_or_create(&label("outcome", record.outcome.name()))
            .inc();
        let mut asked_tls = false;
        for line in record.transcript.lines() {
            if line.dir != Some(Direction::Server) || line.text.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            let Some(code) = line.text.get(..3).and_then(|c| c.parse::<u16>().ok()) else {
                continue;
            };
            match code {
                400..=599 => {
                    self.refused
                        .get_or_create(&label("code", code.to_string()))
                        .inc();
                    if code == 535 {
                        self.auth.get_or_create(&label("result", "failure")).inc();
                    }
                }
                235 => {
                    self.auth.get_or_create(&label("result", "success")).inc();
                }
                220 if line.text.contains("TLS") => asked_tls = true,
                _ => {}
            }
        }
        match &record.tls {
            Some(tls) => {
                self.tls
                    .get_or_create(&label("version", tls.version.clone()))
                    .inc();
            }
            None if asked_tls || record.info.listener == crate::ListenerKind::ImplicitTls => {
                self.tls_failures.inc();
            }
            None => {}
        }
    }

    /// Totals for `/api/v1/info`.
    pub fn runtime(&self) -> Runtime {
        let mut refused = 0;
        for code in 400..600u16 {
            if let Some(c) = self.refused.get(&label("code", code.to_string())) {
                refused += c.get();
            }
        }
        Runtime {
            accepted: self.accepted.get(),
            bytes: self.bytes.get(),
            refused,
        }
    }

    /// The text exposition, with the index size as of now.
    pub fn render(&self, index_messages: u64) -> String {
        self.index_messages.set(index_messages as i64);
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
