//! The test inbox on the command line: `--http` (and friends) next to the
//! SMTP listeners, and the `smtp-receive inbox` preset.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use smtp_receiver::config::{RecipientPolicy, ServerConfig};
use smtp_receiver::inbox::api::{self, ApiOptions, HtpasswdUsers, HttpListener};
use smtp_receiver::inbox::{DEFAULT_MAX_MESSAGES, Inbox, InboxConfig};
use smtp_receiver::rules::{Rule, Rules};
use tokio::sync::watch;

/// Options of the inbox (with `--http`) and of the reply rules.
#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Serve the web page (at /) and the HTTP API (Mailpit's API v1, sessions, metrics) on ADDR
    /// (repeatable; loopback unless you say otherwise; port 0 works). Needs --maildir.
    #[arg(long, value_name = "ADDR")]
    pub http: Vec<SocketAddr>,
    /// Require HTTP basic authentication: htpasswd lines NAME:BCRYPT-HASH (htpasswd -B).
    #[arg(long, value_name = "FILE")]
    pub http_auth: Option<PathBuf>,
    /// Serve HTTPS with the SMTP certificate (--cert/--key, or the inbox's own).
    #[arg(long)]
    pub http_tls: bool,
    /// A reply rule, STAGE:PATTERN=[P% ]ACTION, e.g. "rcpt:*@bounce.test=550 5.1.1 no such user" (repeatable).
    #[arg(long, value_name = "RULE")]
    pub rule: Vec<String>,
    /// A file of reply rules, one per line (# comments).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Seed of the generator behind rule probabilities (default: from the clock).
    #[arg(long, value_name = "N")]
    pub rule_seed: Option<u64>,
    /// Keep at most N messages, the oldest removed first (0: no limit).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_MESSAGES)]
    pub max_messages: u64,
    /// Remove messages older than this (30m, 12h, 7d).
    #[arg(long, value_name = "DUR", value_parser = parse_age)]
    pub max_age: Option<Duration>,
    /// Rebuild the index from the Maildir at start.
    #[arg(long)]
    pub reindex: bool,
}

/// The rules of a rules file (one per line, `#` comments) and of `--rule`.
fn read_rules(file: Option<&Path>, lines: &[String]) -> anyhow::Result<Vec<Rule>> {
    let mut all: Vec<String> = Vec::new();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    all.extend(lines.iter().cloned());
    all.iter()
        .map(|line| line.parse::<Rule>().map_err(anyhow::Error::from))
        .collect()
}

fn parse_age(text: &str) -> Result<Duration, String> {
    smtp_receiver::rules::parse_duration(text)
        .ok_or_else(|| format!("{text:?}: expected 30m, 12h, 7d"))
}

impl InboxArgs {
    /// The rules of `--rule` and `--rules`.
    pub fn rules(&self) -> anyhow::Result<Rules> {
        let seed = self.rule_seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
        let rules = Rules::new(seed);
        rules.replace(read_rules(self.rules.as_deref(), &self.rule)?);
        Ok(rules)
    }

    /// A reload step: `rules` replaced by what `--rules FILE` and `--rule`
    /// say now (the file is read again).
    pub fn reload_rules(
        &self,
        rules: Rules,
    ) -> impl Fn() -> anyhow::Result<()> + Send + Sync + 'static {
        let (file, lines) = (self.rules.clone(), self.rule.clone());
        move || {
            rules.replace(read_rules(file.as_deref(), &lines)?);
            Ok(())
        }
    }

    /// The inbox's configuration for `maildir`.
    pub fn config(&self, maildir: &Path, hostname: &str, rules: Rules) -> InboxConfig {
        let mut config = InboxConfig::new(maildir, hostname);
        config.reindex = self.reindex;
        config.max_messages = self.max_messages;
        config.max_age = self.max_age;
        config.rules = rules;
        config
    }
}

/// The HTTP listeners, bound, and their lines printed.
pub async fn bind_http(
    args: &InboxArgs,
    tls: Option<&std::sync::Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Vec<HttpListener>> {
    let mut bound = Vec::new();
    for addr in &args.http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (http)"))?;
        let local = listener.local_addr().context("local address")?;
        let (listener, kind) = match (args.http_tls, tls) {
            (true, Some(tls)) => (HttpListener::Tls(listener, tls.clone()), "https"),
            (true, None) => bail!("--http-tls needs a certificate (--cert/--key)"),
            (false, _) => (HttpListener::Plain(listener), "http"),
        };
        if !local.ip().is_loopback() {
            tracing::warn!(%local, "the HTTP API listens beyond loopback: anyone who can reach it reads the mail");
        }
        println!("listening on {local} ({kind})");
        bound.push(listener);
    }
    std::io::stdout()
        .flush()
        .context("cannot write to stdout")?;
    Ok(bound)
}

/// Serves the API on every listener until `stop` changes.
pub fn spawn_http(
    inbox: &Inbox,
    listeners: Vec<HttpListener>,
    auth: Option<&Path>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut options = ApiOptions::default();
    if let Some(file) = auth {
        options = options.with_auth(HtpasswdUsers::from_file(file)?);
    }
    Ok(spawn_router(
        api::router(inbox.clone(), options),
        listeners,
        stop,
    ))
}

/// Serves `router` on every listener until `stop` changes.
pub fn spawn_router(
    router: axum::Router,
    listeners: Vec<HttpListener>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    listeners
        .into_iter()
        .map(|listener| {
            let (router, mut stop) = (router.clone(), stop.clone());
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(error) = api::serve(listener, router, stopped).await {
                    tracing::error!(%error, "HTTP server failed");
                }
            })
        })
        .collect()
}

/// `smtp-receive inbox`: the preset for developers.
#[derive(Debug, Args)]
pub struct Preset {
    /// SMTP listener (STARTTLS offered).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1025")]
    pub smtp: SocketAddr,
    /// Store mail here (default: a new temporary directory, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Certificate chain, PEM (default: one made at start, its CA written beside the index).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key, PEM.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Print each session's transcript on stderr and log more.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub inbox: InboxArgs,
}

/// The preset's server configuration: any recipient, any AUTH (also
/// without TLS from loopback, as test clients do), STARTTLS.
pub fn preset_config(preset: &Preset, maildir: &Path) -> anyhow::Result<ServerConfig> {
    let mut config = ServerConfig::new("localhost");
    config.listen_plain(preset.smtp);
    match (&preset.cert, &preset.key) {
        (Some(cert), Some(key)) => {
            config.load_tls(cert, key)?;
        }
        _ => {
            let made = smtp_io::tls::self_signed::SelfMade::generate(
                "smtp-receive inbox CA",
                &["localhost", "127.0.0.1", "::1"],
            )?;
            let ca = maildir.join(smtp_receiver::inbox::INDEX_DIR).join("ca.pem");
            if let Some(dir) = ca.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&ca, &made.ca_pem)
                .with_context(|| format!("cannot write {}", ca.display()))?;
            println!("CA certificate: {}", ca.display());
            config.tls = Some(made.server_config()?);
        }
    }
    let session = &mut config.session;
    session.recipients = RecipientPolicy::AcceptAny;
    session.auth.enabled = true;
    session.auth.allow_plaintext_on_loopback = true;
    Ok(config)
}

/// A temporary Maildir: `$TMPDIR/smtp-inbox-<pid>-<time>`, private.
pub fn temporary_maildir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let dir = std::env::temp_dir().join(format!("smtp-inbox-{}-{micros}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
