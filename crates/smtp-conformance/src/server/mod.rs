//! The server suite: `smtp-conform server HOST:PORT`.
//!
//! Each case opens its own connection(s) to the server under test, drives a
//! short exchange with smtp-wire (or raw bytes where the case must be
//! malformed on purpose) and decides pass / fail / warn / skip /
//! inconclusive. The cases run one after the other, each under a deadline.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smtp_conformance::server::SuiteError> {
//! use smtp_conformance::server::{ServerOptions, run};
//! let mut options = ServerOptions::new("127.0.0.1:2525", "inbox@example.test");
//! options.only = vec!["smuggle".into()];
//! let report = run(&options).await?;
//! for r in &report.results {
//!     println!("{} {} {}", r.info.id, r.outcome, r.detail);
//! }
//! # Ok(()) }
//! ```

mod cases;
mod conn;
mod ctx;
mod judge;
pub mod replay;
mod script;
mod want;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::{CaseInfo, CaseResult, Level, Outcome, Report, Verdict};
use crate::tls::{self, Trust};
pub use cases::Case;
use cases::{Body, Need};
pub use conn::Endpoint;
use ctx::{Ctx, Probe, Target};

/// The protocol the server under test speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// SMTP (RFC 5321): the target is `HOST:PORT` or `smtp:HOST:PORT`.
    #[default]
    Smtp,
    /// LMTP (RFC 2033): the target is `lmtp:HOST:PORT` or `lmtp:unix:PATH`.
    /// The suite greets with LHLO, runs the `lmtp` cases and skips the ones
    /// about EHLO and HELO, which LMTP does not have.
    Lmtp,
}

/// Where the suite finds the server, as the target was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// `HOST:PORT`, to resolve.
    Host(&'a str),
    /// A Unix socket's path.
    Unix(&'a Path),
}

/// Splits a target into its protocol and place: `HOST:PORT` and
/// `smtp:HOST:PORT` are SMTP, `lmtp:HOST:PORT` and `lmtp:unix:PATH` LMTP
/// (the forms `smtp-receive --deliver` and `smtp-send` take). A prefix
/// counts only when a `HOST:PORT` or `unix:PATH` follows it, so a host
/// named `lmtp` still works (`lmtp:2525`).
///
/// ```
/// use smtp_conformance::server::{Place, Protocol, parse_target};
/// assert_eq!(parse_target("mx.example:25"), (Protocol::Smtp, Place::Host("mx.example:25")));
/// assert_eq!(parse_target("lmtp:127.0.0.1:24"), (Protocol::Lmtp, Place::Host("127.0.0.1:24")));
/// assert_eq!(
///     parse_target("lmtp:unix:/run/dovecot/lmtp"),
///     (Protocol::Lmtp, Place::Unix(std::path::Path::new("/run/dovecot/lmtp")))
/// );
/// assert_eq!(parse_target("lmtp:2525"), (Protocol::Smtp, Place::Host("lmtp:2525")));
/// ```
pub fn parse_target(target: &str) -> (Protocol, Place<'_>) {
    let (protocol, rest) = match target.split_once(':') {
        Some(("lmtp", rest)) if rest.contains(':') => (Protocol::Lmtp, rest),
        Some(("smtp", rest)) if rest.contains(':') => (Protocol::Smtp, rest),
        _ => (Protocol::Smtp, target),
    };
    match rest.strip_prefix("unix:") {
        Some(path) if protocol == Protocol::Lmtp => (protocol, Place::Unix(Path::new(path))),
        _ => (protocol, Place::Host(rest)),
    }
}

/// `--relay-to` and `--judge-listen`: the relay cases.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// A recipient the server under test accepts and forwards to the judge
    /// (its configuration routes it to `judge_listen`).
    pub rcpt: String,
    /// Where the suite's judging receiver listens (the server under test
    /// must be set up to deliver `rcpt` there).
    pub judge_listen: String,
    /// How long a relay case waits for the forwarded message.
    pub wait: Duration,
}

/// How the suite talks TLS to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain SMTP; STARTTLS cases still run when the server offers it.
    #[default]
    None,
    /// Every session upgrades with STARTTLS (RFC 3207) after the first EHLO.
    StartTls,
    /// TLS from the first byte (RFC 8314 implicit TLS, "smtps").
    Implicit,
}

/// What to test and how.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The server: `HOST:PORT` (SMTP), `lmtp:HOST:PORT` or
    /// `lmtp:unix:PATH` (LMTP), see [`parse_target`].
    pub addr: String,
    /// TLS mode of the sessions.
    pub tls: TlsMode,
    /// Whom to trust for TLS.
    pub trust: Trust,
    /// Name to verify the certificate against (default: the host of `addr`).
    pub server_name: Option<String>,
    /// A recipient the server accepts.
    pub rcpt: String,
    /// Further recipients it accepts (`--rcpt` given again): the LMTP cases
    /// send to several, since a reply per recipient is what they check.
    pub more_rcpts: Vec<String>,
    /// The relay cases, when the server is set up to forward to the judge.
    pub relay: Option<RelayOptions>,
    /// The sender address used in MAIL FROM.
    pub from: String,
    /// The EHLO/HELO domain.
    pub helo: String,
    /// `--auth`: user and password for the AUTH cases that need them.
    pub auth: Option<(String, String)>,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How long to wait for a reply that must *not* come.
    pub grace: Duration,
    /// How long the idle and slow-client cases may wait (`None`: skipped).
    pub idle_wait: Option<Duration>,
    /// How long a server may legitimately keep an idle session: RFC 5321
    /// §4.5.3.2.7 asks for at least 5 minutes. A session still open after
    /// `idle_wait` is a failure only when `idle_wait` exceeds this floor;
    /// otherwise the idle cases are inconclusive.
    pub idle_floor: Duration,
    /// Concurrent sessions opened by `limit.concurrent-sessions`.
    pub sessions: usize,
    /// Recipients sent by `limit.recipients-bounded` before it calls the
    /// server unbounded.
    pub rcpt_probe: usize,
    /// The largest message `size.actual-over-limit` may send.
    pub max_message: u64,
    /// Run only these cases (ids or family names like `smuggle`); empty: all.
    pub only: Vec<String>,
    /// Skip these cases (ids or family names).
    pub skip: Vec<String>,
}

impl ServerOptions {
    /// Defaults for a server at `addr` accepting mail for `rcpt`.
    pub fn new(addr: &str, rcpt: &str) -> ServerOptions {
        ServerOptions {
            addr: addr.to_string(),
            tls: TlsMode::None,
            trust: Trust::System,
            server_name: None,
            rcpt: rcpt.to_string(),
            more_rcpts: Vec::new(),
            relay: None,
            from: "conform@example.net".into(),
            helo: "conform.example.net".into(),
            auth: None,
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(1),
            idle_wait: None,
            idle_floor: Duration::from_secs(300),
            sessions: 20,
            rcpt_probe: 1100,
            max_message: 64 * 1024 * 1024,
            only: Vec::new(),
            skip: Vec::new(),
        }
    }
}

/// Why the suite could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The address did not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// An `--only` / `--skip` entry names no case.
    #[error("no case or family named {0:?} (see `smtp-conform list`)")]
    UnknownCase(String),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    /// The server name for TLS is not a valid DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    /// The first connection (greeting + EHLO) failed.
    #[error("probing the server: {0}")]
    Probe(String),
    /// The relay judge could not listen.
    #[error("the relay judge cannot listen on {addr}: {source}")]
    Judge {
        /// `--judge-listen`.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The catalogue: every case's id, title, RFC section and level.
pub fn catalogue() -> Vec<CaseInfo> {
    cases::all().into_iter().map(|c| c.info).collect()
}

/// True when `selector` (an id or a family name) picks `id`.
pub fn selects(selector: &str, id: &str) -> bool {
    id == selector || id.split('.').next() == Some(selector)
}

fn selected(options: &ServerOptions) -> Result<Vec<cases::Case>, SuiteError> {
    let all = cases::all();
    for sel in options.only.iter().chain(&options.skip) {
        if !all.iter().any(|c| selects(sel, c.info.id)) {
            return Err(SuiteError::UnknownCase(sel.clone()));
        }
    }
    Ok(all
        .into_iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|s| selects(s, c.info.id)))
        .filter(|c| !options.skip.iter().any(|s| selects(s, c.info.id)))
        .collect())
}

/// Runs the suite against `options.addr`.
pub async fn run(options: &ServerOptions) -> Result<Report, SuiteError> {
    let started = Instant::now();
    let chosen = selected(options)?;
    let (protocol, place) = parse_target(&options.addr);
    let (endpoint, host) = match place {
        Place::Host(host_port) => {
            let addr = tokio::net::lookup_host(host_port)
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| SuiteError::Resolve(options.addr.clone()))?;
            (Endpoint::Tcp(addr), host_of(host_port))
        }
        // A Unix socket has no name to check a certificate against: a
        // server offering STARTTLS there names itself, usually localhost.
        Place::Unix(path) => (Endpoint::Unix(path.to_path_buf()), "localhost".to_string()),
    };
    let host = options.server_name.clone().unwrap_or(host);
    let server_name = tls::server_name(&host).ok_or(SuiteError::ServerName(host))?;
    let judge = match &options.relay {
        Some(relay) if protocol == Protocol::Smtp => Some(
            judge::Judge::start(&relay.judge_listen)
                .await
                .map_err(|source| SuiteError::Judge {
                    addr: relay.judge_listen.clone(),
                    source,
                })?,
        ),
        _ => None,
    };
    let target = Arc::new(Target {
        endpoint,
        protocol,
        tls: tls::client_config(&options.trust)?,
        server_name,
        options: options.clone(),
        judge,
    });
    let probe = Arc::new(probe(&target).await?);
    let mut notes = Vec::new();
    let verb = target.hello_verb();
    if protocol == Protocol::Lmtp {
        notes.push(format!(
            "LMTP (RFC 2033) at {}: the sessions greet with LHLO",
            target.endpoint
        ));
    }
    if let Some(plain) = &probe.plain_caps {
        notes.push(format!("{verb} (clear): {}", keywords(plain)));
    }
    if options.tls != TlsMode::None {
        notes.push(format!("{verb} (TLS): {}", keywords(&probe.caps)));
    }
    if let Some(judge) = &target.judge {
        notes.push(format!(
            "relay judge listening on {} for mail to {}",
            judge.local_addr(),
            options.relay.as_ref().map_or("", |r| r.rcpt.as_str())
        ));
    }
    let mut results = Vec::new();
    for case in chosen {
        let (result, case_notes) = run_case(&case, &target, &probe).await;
        results.push(result);
        for note in case_notes {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
    }
    Ok(Report {
        suite: "server",
        target: options.addr.clone(),
        notes,
        results,
        session: Vec::new(),
        duration: started.elapsed(),
    })
}

fn keywords(caps: &smtp_wire::Capabilities) -> String {
    let words: Vec<&str> = caps.lines().collect();
    format!("{} | {}", caps.domain(), words.join(", "))
}

/// The host part of `HOST:PORT` (brackets of an IPv6 literal removed):
/// the name a server certificate is checked against by default.
pub fn host_of(addr: &str) -> String {
    let host = match addr.rfind(':') {
        Some(i) => &addr[..i],
        None => addr,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// The first contact: greeting, EHLO, and STARTTLS + EHLO in STARTTLS mode.
async fn probe(target: &Arc<Target>) -> Result<Probe, SuiteError> {
    let dummy = Arc::new(Probe {
        plain_caps: None,
        caps: smtp_wire::Capabilities::default(),
    });
    let mut ctx = Ctx::new(target.clone(), dummy);
    let fail = |v: Verdict| SuiteError::Probe(v.detail().to_string());
    // Any positive greeting will do here: greet.code-220 judges it.
    let mut conn = ctx.open().await.map_err(fail)?;
    let greeting = conn
        .reply()
        .await
        .map_err(|e| SuiteError::Probe(format!("the greeting: {e}")))?;
    if !greeting.is_positive() {
        return Err(SuiteError::Probe(format!(
            "the server refuses service: {greeting}"
        )));
    }
    let first = match ctx.ehlo(&mut conn).await {
        Ok(caps) => caps,
        // Without EHLO (LHLO) there is still a suite to run (HELO, and the
        // EHLO or lmtp.lhlo cases fail): go on with no extensions, unless
        // STARTTLS is needed.
        Err(v) if target.options.tls != TlsMode::StartTls => {
            ctx.note(v.detail());
            smtp_wire::Capabilities::default()
        }
        Err(v) => return Err(fail(v)),
    };
    let (plain_caps, caps) = match target.options.tls {
        TlsMode::Implicit => (None, first),
        TlsMode::None => (Some(first.clone()), first),
        TlsMode::StartTls => {
            ctx.starttls(&mut conn).await.map_err(fail)?;
            let caps = ctx.ehlo(&mut conn).await.map_err(fail)?;
            (Some(first), caps)
        }
    };
    let _ = conn.command("QUIT").await;
    Ok(Probe { plain_caps, caps })
}

/// Why a case cannot run here, if it cannot.
fn unmet(need: Need, target: &Target, probe: &Probe) -> Option<String> {
    let o = &target.options;
    let plain_starttls = probe.plain_caps.as_ref().is_some_and(|c| c.has("STARTTLS"));
    let lmtp = target.protocol == Protocol::Lmtp;
    match need {
        Need::Lmtp => (!lmtp).then(|| {
            "the target speaks SMTP: LMTP cases run against lmtp:HOST:PORT or lmtp:unix:PATH".into()
        }),
        Need::Smtp => lmtp.then(|| {
            "the target speaks LMTP, which has no EHLO or HELO (RFC 2033 §4.1): see lmtp.*".into()
        }),
        Need::Relay => match (&o.relay, lmtp) {
            (_, true) => Some("the target speaks LMTP: final delivery, no relay".into()),
            (None, _) => Some(
                "needs --relay-to ADDR and --judge-listen ADDR, with the server set up to \
                 forward that recipient to the judge"
                    .into(),
            ),
            (Some(_), false) => None,
        },
        Need::Ext(kw) => (!probe.caps.has(kw)).then(|| format!("{kw} not advertised")),
        Need::StartTls => (!plain_starttls).then(|| match o.tls {
            TlsMode::Implicit => "implicit TLS: no STARTTLS".to_string(),
            _ => "STARTTLS not advertised".to_string(),
        }),
        Need::Plaintext => {
            (o.tls == TlsMode::Implicit).then(|| "implicit TLS: no plaintext EHLO".into())
        }
        Need::Tls => {
            (o.tls != TlsMode::Implicit && !plain_starttls).then(|| "no TLS available".into())
        }
        Need::AuthPlain => (!probe.caps.auth_mechanisms().iter().any(|m| m == "PLAIN"))
            .then(|| "AUTH PLAIN not advertised in this session mode".into()),
        Need::Credentials => o.auth.is_none().then(|| "needs --auth USER".into()),
        Need::IdleWait => o
            .idle_wait
            .is_none()
            .then(|| "needs --idle-wait SECONDS".into()),
        Need::SizeLimit => probe
            .caps
            .size_limit()
            .is_none()
            .then(|| "no SIZE limit advertised".into()),
    }
}

/// The deadline of one case: generous, since some servers pause after
/// errors; the idle cases get their wait on top.
fn budget(case: &cases::Case, o: &ServerOptions) -> Duration {
    let mut budget = o.timeout * 8 + o.grace * 4;
    if case.needs.contains(&Need::IdleWait) {
        budget += o.idle_wait.unwrap_or_default();
    }
    if case.needs.contains(&Need::Relay) {
        budget += o.relay.as_ref().map(|r| r.wait * 2).unwrap_or_default();
    }
    budget
}

/// Runs one case; returns its result and the notes it has for the report.
async fn run_case(
    case: &cases::Case,
    target: &Arc<Target>,
    probe: &Arc<Probe>,
) -> (CaseResult, Vec<String>) {
    let started = Instant::now();
    let info = case.info;
    let skip = case.needs.iter().find_map(|n| unmet(*n, target, probe));
    let mut ctx = Ctx::new(target.clone(), probe.clone());
    let verdict = match skip {
        Some(reason) => Verdict::Skip(reason),
        None => {
            let limit = budget(case, &target.options);
            let body = async {
                match case.body {
                    Body::Script(steps) => script::run(&mut ctx, steps).await,
                    Body::Custom(f) => f(&mut ctx).await,
                }
            };
            match tokio::time::timeout(limit, body).await {
                Ok(v) => v,
                Err(_) => {
                    Verdict::Inconclusive(format!("the case did not finish within {limit:?}"))
                }
            }
        }
    };
    let outcome = verdict.outcome(info.level);
    let evidence = match outcome {
        Outcome::Fail | Outcome::Warn | Outcome::Inconclusive => ctx.evidence(20),
        Outcome::Pass | Outcome::Skip => Vec::new(),
    };
    let result = CaseResult {
        info,
        outcome,
        detail: verdict.detail().to_string(),
        evidence,
        transcript: ctx.transcript(),
        duration: started.elapsed(),
    };
    (result, ctx.report_notes)
}

/// Counts of cases per level, for documentation.
pub fn level_counts() -> [(Level, usize); 4] {
    let all = catalogue();
    [Level::Must, Level::Should, Level::May, Level::Hardening]
        .map(|l| (l, all.iter().filter(|c| c.level == l).count()))
}
