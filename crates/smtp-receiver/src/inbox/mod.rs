//! # The test inbox
//!
//! What the receiver stored, behind an HTTP API that speaks Mailpit's
//! REST API v1 (so Mailpit's client libraries work unchanged), plus what
//! no capture server shows well: every SMTP session, with its transcript
//! explained line by line. Feature `inbox` (on with the default `cli`).
//!
//! | module | what |
//! |---|---|
//! | [`store`] | the SQLite index beside the Maildir (rebuilt from it when missing or stale) |
//! | [`entry`] | what the index holds about one message file |
//! | [`search`] | Mailpit's search syntax as an SQL filter |
//! | [`sessions`] | a recorded session as stored, and as the API explains it |
//! | [`api`] | the HTTP API (axum) |
//! | [`metrics`] | `/metrics` |
//! | [`web`] | the web page at `/` |
//!
//! The Maildir stays the truth: a message is durable in `new/` (fsync,
//! link, fsync) before its row is written, and the row before the 250;
//! deleting the index loses nothing (it is rebuilt at the next start).
//!
//! ```no_run
//! use smtp_receiver::inbox::{Inbox, InboxConfig};
//! use smtp_receiver::{Server, ServerConfig};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Inbox::open(InboxConfig::new("/tmp/mail", "localhost")).await?;
//! let mut config = ServerConfig::new("localhost");
//! config.listen_plain("127.0.0.1:1025".parse()?);
//! inbox.attach(&mut config);
//! let http = tokio::net::TcpListener::bind("127.0.0.1:8025").await?;
//! tokio::spawn(axum::serve(http, inbox.router()).into_future());
//! Server::bind(config, inbox.backend()).await?.run().await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod entry;
mod handler;
mod judge;
pub mod metrics;
pub mod search;
pub mod sessions;
pub mod store;
mod time;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use handler::{InboxBackend, InboxHandler};
use metrics::Metrics;
use sessions::StoredSession;
use store::{ScanReport, Store, StoreError};

use crate::config::ServerConfig;
use crate::maildir::{Maildir, MaildirError};
use crate::rules::Rules;

/// The directory inside the Maildir that holds the index and the session
/// records (not a Maildir++ folder: those start with a dot).
pub const INDEX_DIR: &str = "smtp-inbox";

/// Messages kept by default: enough for a long test run, a few hundred MiB
/// at most; Mailpit keeps 500.
pub const DEFAULT_MAX_MESSAGES: u64 = 10_000;

/// How often retention runs (Mailpit: every 60 s; not at each insert, so a
/// test that sends more than the limit sees them all for a moment).
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// Why the inbox could not open.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The Maildir.
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    /// The index.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the inbox is set up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InboxConfig {
    /// The Maildir (created when missing).
    pub maildir: PathBuf,
    /// Our host name (Maildir file names).
    pub hostname: String,
    /// The SQLite file (default `<maildir>/smtp-inbox/index.sqlite`).
    pub index: Option<PathBuf>,
    /// Rebuild the index from the Maildir at start.
    pub reindex: bool,
    /// Keep at most this many messages (0: no limit).
    pub max_messages: u64,
    /// Remove messages older than this.
    pub max_age: Option<Duration>,
    /// Accept any AUTH credentials (and show the user name).
    pub accept_any_auth: bool,
    /// Users for AUTH (before `accept_any_auth`).
    pub users: Option<crate::Users>,
    /// The reply rules (also changed by the chaos endpoint).
    pub rules: Rules,
}

impl InboxConfig {
    /// Defaults: retention [`DEFAULT_MAX_MESSAGES`], no age limit, AUTH
    /// refused unless users are configured, no rules.
    pub fn new(maildir: impl Into<PathBuf>, hostname: impl Into<String>) -> InboxConfig {
        InboxConfig {
            maildir: maildir.into(),
            hostname: hostname.into(),
            index: None,
            reindex: false,
            max_messages: DEFAULT_MAX_MESSAGES,
            max_age: None,
            accept_any_auth: false,
            users: None,
            rules: Rules::new(0),
        }
    }
}

/// An open inbox: the Maildir, its index, the rules and the figures.
/// Cheap to clone.
#[derive(Clone)]
pub struct Inbox {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) maildir: Maildir,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: InboxConfig,
    pub(crate) started: Instant,
    pub(crate) scan: ScanReport,
    /// False once the server drains: `/readyz` then answers 503, so a
    /// load balancer sends nobody new while sessions finish.
    pub(crate) ready: Arc<std::sync::atomic::AtomicBool>,
}

impl Inbox {
    /// Opens the Maildir and its index (scanning the Maildir for what the
    /// index lacks), and starts the retention task.
    pub async fn open(config: InboxConfig) -> Result<Inbox, InboxError> {
        let maildir = Maildir::create(&config.maildir, &config.hostname)?;
        let db = config
            .index
            .clone()
            .unwrap_or_else(|| config.maildir.join(INDEX_DIR).join("index.sqlite"));
        let (root, reindex) = (config.maildir.clone(), config.reindex);
        let (store, scan) = tokio::task::spawn_blocking(move || Store::open(&root, &db, reindex))
            .await
            .map_err(|_| StoreError::Stopped)??;
        let inbox = Inbox {
            shared: Arc::new(Shared {
                store,
                maildir,
                metrics: Metrics::new(),
                config,
                started: Instant::now(),
                scan,
                ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            }),
        };
        inbox.spawn_retention();
        Ok(inbox)
    }

    /// The index.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The reply rules.
    pub fn rules(&self) -> &Rules {
        &self.shared.config.rules
    }

    /// What the start-up scan found.
    pub fn scan_report(&self) -> ScanReport {
        self.shared.scan
    }

    /// The backend to serve: Maildir delivery and indexing, under the rules.
    pub fn backend(&self) -> crate::rules::WithRules<InboxBackend> {
        crate::rules::WithRules::new(InboxBackend::new(self.clone()), self.rules().clone())
    }

    /// Whether the server takes new sessions: `/readyz` answers 200 while
    /// this is true, 503 once it is false (the CLI turns it off at SIGTERM,
    /// when the server starts to drain).
    pub fn readiness(&self) -> Arc<std::sync::atomic::AtomicBool> {
        Arc::clone(&self.shared.ready)
    }

    /// Records every session of a server with this configuration.
    pub fn attach(&self, config: &mut ServerConfig) {
        let inbox = self.clone();
        config.on_session(move |record| {
            inbox.shared.metrics.session(&record);
            let (row, messages) = StoredSession::new(&record).into_row();
            let store = inbox.shared.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.record_session(row, messages).await {
                    tracing::warn!(%error, "cannot record the session");
                }
            });
        });
    }

    /// The HTTP API (see [`api`]).
    pub fn router(&self) -> axum::Router {
        api::router(self.clone(), api::ApiOptions::default())
    }

    fn spawn_retention(&self) {
        let (max, age) = (self.shared.config.max_messages, self.shared.config.max_age);
        if max == 0 && age.is_none() {
            return;
        }
        let store = self.shared.store.clone();
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            loop {
                match store.prune(max, age).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "retention: removed the oldest messages"),
                    Err(StoreError::Stopped) => return,
                    Err(error) => tracing::warn!(%error, "retention failed"),
                }
                tokio::time::sleep(PRUNE_EVERY).await;
                if weak.strong_count() == 0 {
                    return;
                }
            }
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.store.close();
    }
}
