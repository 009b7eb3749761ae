//! `smtp-receive` (no subcommand): build the configuration from the flags,
//! bind, print the listeners, serve until Ctrl-C / SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use smtp_io::tls::CertificateFiles;
use smtp_receiver::config::{ContentPolicy, ListenerKind, RecipientPolicy, ServerConfig};
use smtp_receiver::inbox::Inbox;
use smtp_receiver::rules::{Rules, WithRules};
use smtp_receiver::{
    Backend, ConnectionInfo, MaildirHandler, NO_ADDRESS, Server, SinkHandler, Users, WithUsers,
};
use tracing_subscriber::EnvFilter;

use super::inbox::{
    InboxArgs, Preset, bind_http, preset_config, spawn_http, spawn_router, temporary_maildir,
};
use super::reload::Reload;
use super::{LmtpListen, ServeArgs, deliver};

/// The listener used when none is given.
const DEFAULT_LISTEN: &str = "127.0.0.1:2525";

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.verbose);
    raise_open_files_limit();
    runtime()?.block_on(serve_async(args))
}

/// Raises the soft limit on open files to the hard one, as the Go runtime
/// does for every program: the default soft limit (1024) would hold about
/// 720 sessions (the server lowers `--max-connections` to what fits),
/// and the hard limit is the administrator's actual choice.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-files limit"),
        Err(error) => tracing::debug!(%error, "cannot raise the open-files limit"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// `smtp-receive inbox`: the developer preset (see `cli::inbox`).
pub fn inbox(mut preset: Preset) -> anyhow::Result<()> {
    init_logging(preset.verbose);
    raise_open_files_limit();
    if preset.inbox.http.is_empty() {
        preset
            .inbox
            .http
            .push("127.0.0.1:8025".parse().context("default HTTP address")?);
    }
    let (maildir, temporary) = match &preset.maildir {
        Some(dir) => (dir.clone(), false),
        None => (temporary_maildir()?, true),
    };
    println!("maildir: {}", maildir.display());
    let result = runtime()?.block_on(async {
        let mut config = preset_config(&preset, &maildir)?;
        if preset.verbose {
            print_transcripts(&mut config);
        }
        let rules = preset.inbox.rules()?;
        let mut reload = Reload::default();
        reload.add("the rules", preset.inbox.reload_rules(rules.clone()));
        let mut inbox_config = preset
            .inbox
            .config(&maildir, &config.session.hostname, rules);
        inbox_config.accept_any_auth = true;
        let inbox = Inbox::open(inbox_config).await?;
        run(
            config,
            inbox.backend(),
            Some(Http::Inbox(inbox, &preset.inbox)),
            reload,
        )
        .await
    });
    if temporary && let Err(error) = std::fs::remove_dir_all(&maildir) {
        eprintln!("smtp-receive: cannot remove {}: {error}", maildir.display());
    }
    result
}

fn init_logging(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

async fn serve_async(args: ServeArgs) -> anyhow::Result<()> {
    let plan = args.deliver.plan(args.maildir.as_deref())?;
    if plan.maildir.is_none() && plan.onward.is_none() && !args.sink {
        bail!("say where mail goes: --maildir DIR, --deliver DEST, or --sink to discard it");
    }
    let mut reload = Reload::default();
    let mut config = build_config(&args, &mut reload)?;
    let users = load_users(&args.users_file, &args.user)?;
    if args.require_auth && users.is_empty() {
        bail!("--require-auth needs users (--user NAME:PASSWORD or --users-file FILE)");
    }
    let rules = args.inbox.rules()?;
    reload.add("the rules", args.inbox.reload_rules(rules.clone()));
    if let Some(onward) = &plan.onward {
        if args.sink {
            bail!(
                "--sink discards mail: it cannot go with --deliver {}",
                onward.0
            );
        }
        let hostname = config.session.hostname.clone();
        let (forwarder, runner) =
            deliver::forwarder(&args.deliver, onward, plan.maildir.as_deref(), &hostname)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runner = deliver::spawn_runner(runner, stopped);
        let served = with_users(config, forwarder, &args, users, rules, reload).await;
        // Everything acknowledged is in the spool; the runner finishes its
        // pass and the rest waits there for the next start.
        let _ = stop.send(true);
        let _ = runner.await;
        return served;
    }
    match &plan.maildir {
        Some(dir) if !args.inbox.http.is_empty() => {
            let mut inbox_config = args.inbox.config(dir, &config.session.hostname, rules);
            if !users.is_empty() {
                config.session.auth.enabled = true;
                inbox_config.users = Some(users);
            }
            let inbox = Inbox::open(inbox_config)
                .await
                .with_context(|| format!("cannot open the inbox in {}", dir.display()))?;
            run(
                config,
                inbox.backend(),
                Some(Http::Inbox(inbox, &args.inbox)),
                reload,
            )
            .await
        }
        Some(dir) => {
            let handler = MaildirHandler::open(dir, &config.session.hostname)
                .with_context(|| format!("cannot open the Maildir {}", dir.display()))?;
            with_users(config, handler, &args, users, rules, reload).await
        }
        None if !args.inbox.http.is_empty() => {
            bail!("--http serves what is stored: it needs --maildir DIR")
        }
        None => with_users(config, SinkHandler::default(), &args, users, rules, reload).await,
    }
}

async fn with_users<H: smtp_receiver::Handler + Clone + Sync>(
    mut config: ServerConfig,
    handler: H,
    args: &ServeArgs,
    users: Users,
    rules: Rules,
    mut reload: Reload,
) -> anyhow::Result<()> {
    // Only reached without an inbox: `--http` then serves the health
    // endpoints alone (onward delivery keeps no index to show).
    let http = (!args.inbox.http.is_empty()).then_some(Http::Health(&args.inbox));
    if users.is_empty() {
        let backend = WithRules::new(handler, rules);
        match args.stdio {
            true => serve_stdio(config, backend).await,
            false => run(config, backend, http, reload).await,
        }
    } else {
        config.session.auth.enabled = true;
        let with_users = WithUsers::new(handler, users);
        let handle = with_users.clone();
        let (file, lines) = (args.users_file.clone(), args.user.clone());
        reload.add("the users", move || {
            handle.replace_users(load_users(&file, &lines)?);
            Ok(())
        });
        let backend = WithRules::new(with_users, rules);
        match args.stdio {
            true => serve_stdio(config, backend).await,
            false => run(config, backend, http, reload).await,
        }
    }
}

/// `--stdio`: one session on standard input and output. Nothing but SMTP
/// goes to stdout (no "listening on" line); logs and `-v` transcripts go
/// to stderr as always.
async fn serve_stdio<B: Backend>(config: ServerConfig, backend: B) -> anyhow::Result<()> {
    let info = ConnectionInfo::new(stdio_peer(), NO_ADDRESS, ListenerKind::Plain);
    let server = Server::new(config, backend);
    if std::io::stdin().is_terminal() {
        let stream = tokio::io::join(typed_lines(), tokio::io::stdout());
        server.serve_connection(stream, info).await;
    } else {
        let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        server.serve_connection(stream, info).await;
    }
    Ok(())
}

/// What a person types in a terminal, with each line ended by CRLF. A
/// terminal sends a bare LF at Enter, which the session rightly refuses
/// on the network (RFC 5321 §2.3.8); here a human is typing, not a
/// client that could smuggle, so Enter means the end of a line. Pipes
/// and sockets are passed through untouched.
fn typed_lines() -> tokio::io::DuplexStream {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let (_, mut to_session) = tokio::io::split(ours);
        let mut typed = tokio::io::BufReader::new(tokio::io::stdin());
        let mut line = Vec::new();
        loop {
            line.clear();
            match typed.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.ends_with(b"\n") && !line.ends_with(b"\r\n") {
                line.pop();
                line.extend_from_slice(b"\r\n");
            }
            if to_session.write_all(&line).await.is_err() {
                break;
            }
        }
    });
    theirs
}

/// The client's address as the super-server that started us tells it:
/// ucspi-tcp's `TCPREMOTEIP`/`TCPREMOTEPORT`, or systemd's
/// `REMOTE_ADDR`/`REMOTE_PORT` (socket activation with `Accept=yes`).
/// Without either, [`NO_ADDRESS`]: a local process, treated as loopback.
fn stdio_peer() -> SocketAddr {
    let from = |ip: &str, port: &str| {
        let ip: std::net::IpAddr = std::env::var(ip).ok()?.parse().ok()?;
        let port = std::env::var(port)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Some(SocketAddr::new(ip, port))
    };
    from("TCPREMOTEIP", "TCPREMOTEPORT")
        .or_else(|| from("REMOTE_ADDR", "REMOTE_PORT"))
        .unwrap_or(NO_ADDRESS)
}

/// The server configuration of the flags; what SIGHUP reloads of it (the
/// certificate) goes into `reload`.
fn build_config(args: &ServeArgs, reload: &mut Reload) -> anyhow::Result<ServerConfig> {
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(smtp_io::host::server_name);
    let mut config = ServerConfig::new(hostname);
    let mut plain = args.listen.clone();
    if plain.is_empty() && args.listen_tls.is_empty() && args.listen_lmtp.is_empty() {
        plain.push(
            DEFAULT_LISTEN
                .parse::<SocketAddr>()
                .context("default listener")?,
        );
    }
    for addr in plain {
        config.listen_plain(addr);
    }
    for addr in &args.listen_tls {
        config.listen_tls(*addr);
    }
    for listen in &args.listen_lmtp {
        match listen {
            LmtpListen::Tcp(addr) => {
                config.listen_lmtp(*addr);
            }
            LmtpListen::Unix(path) => config.lmtp_sockets.push(path.clone()),
        }
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let files = CertificateFiles::load(cert, key)?;
        config.tls = Some(files.server_config()?);
        reload.add("the certificate", move || Ok(files.reload()?));
    } else if !args.listen_tls.is_empty() {
        bail!("--listen-tls needs --cert FILE and --key FILE");
    }
    let session = &mut config.session;
    session.recipients = match (args.accept_any_recipient, args.domain.is_empty()) {
        (true, _) => RecipientPolicy::AcceptAny,
        (false, false) => RecipientPolicy::domains(args.domain.iter().cloned()),
        (false, true) => {
            tracing::warn!(
                "no --domain and no --accept-any-recipient: only postmaster is accepted"
            );
            RecipientPolicy::default()
        }
    };
    session.auth.required = args.require_auth;
    session.auth.allow_plaintext_on_loopback = args.allow_plaintext_auth_on_loopback;
    session.limits.message_size = args.max_size;
    session.limits.recipients = args.max_recipients;
    session.limits.connections = args.max_connections;
    session.limits.connections_per_ip = args.max_connections_per_ip;
    session.record_recipients = !args.no_original_to;
    session.content_policy = content_policy(args.strict);
    if !args.trusted_network.is_empty() {
        config.trusted_networks = args.trusted_network.iter().flatten().copied().collect();
    }
    config.xclient_hosts = args.xclient_from.clone();
    if args.proxy_protocol {
        config.proxy_protocol = Some(smtp_receiver::server::ProxyProtocol {
            trusted: args.trusted_proxy.clone(),
        });
    }
    if args.explain {
        explain_transcripts(&mut config);
    } else if args.verbose {
        print_transcripts(&mut config);
    }
    Ok(config)
}

/// `--explain`: each session's transcript on stderr, a note per line
/// (`smtp_wire::annotate`, the notes of the demo and the web page).
fn explain_transcripts(config: &mut ServerConfig) {
    use smtp_wire::annotate::{Style, explain};
    let style = Style::for_output(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    );
    config.on_transcript(move |info, transcript| {
        let text = format!(
            "--- session {} ({}) ---\n{}",
            info.peer,
            info.listener,
            explain(&transcript.lines(), style)
        );
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    });
}

/// `-v`: each session's transcript on stderr.
fn print_transcripts(config: &mut ServerConfig) {
    {
        config.on_transcript(|info, transcript| {
            let text = format!(
                "--- session {} ({}) ---\n{}",
                info.peer,
                info.listener,
                transcript.render()
            );
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        });
    }
}

/// `--strict` selects the strict content policy; the default is liberal.
fn content_policy(strict: bool) -> ContentPolicy {
    if strict {
        ContentPolicy::Strict
    } else {
        ContentPolicy::Liberal
    }
}

/// The users of `--users-file` and `--user` (the file is read each time).
fn load_users(file: &Option<PathBuf>, lines: &[String]) -> anyhow::Result<Users> {
    let mut users = match file {
        Some(path) => Users::from_file(path)?,
        None => Users::new(),
    };
    for line in lines {
        users.insert_line(line, "--user")?;
    }
    Ok(users)
}

/// What the `--http` listeners serve.
enum Http<'a> {
    /// The test inbox: its API, its page, the health endpoints.
    Inbox(Inbox, &'a InboxArgs),
    /// `/livez` and `/readyz` alone.
    Health(&'a InboxArgs),
}

/// Serves until SIGINT/SIGTERM (then drains); SIGHUP runs `reload`.
async fn run<B: Backend>(
    mut config: ServerConfig,
    backend: B,
    http: Option<Http<'_>>,
    reload: Reload,
) -> anyhow::Result<()> {
    if let Some(Http::Inbox(inbox, _)) = &http {
        inbox.attach(&mut config);
    }
    let ready = match &http {
        Some(Http::Inbox(inbox, _)) => inbox.readiness(),
        _ => Arc::new(AtomicBool::new(true)),
    };
    let tls = config.tls.clone();
    let server = Server::bind(config, backend).await?;
    // One line per listener, flushed, so scripts can read the port.
    let mut stdout = std::io::stdout().lock();
    for bound in server.local_addrs() {
        let kind = match (bound.kind, bound.starttls) {
            (ListenerKind::Plain, true) => "smtp, starttls",
            (ListenerKind::Plain, false) => "smtp",
            (ListenerKind::ImplicitTls, _) => "smtps",
            (ListenerKind::Lmtp, _) => "lmtp",
        };
        writeln!(stdout, "listening on {} ({kind})", bound.addr)
            .context("cannot write to stdout")?;
    }
    for path in server.local_sockets() {
        writeln!(stdout, "listening on unix:{} (lmtp)", path.display())
            .context("cannot write to stdout")?;
    }
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let http = match &http {
        Some(Http::Inbox(inbox, args)) => {
            let listeners = bind_http(args, tls.as_ref()).await?;
            spawn_http(inbox, listeners, args.http_auth.as_deref(), stopped)?
        }
        Some(Http::Health(args)) => {
            let listeners = bind_http(args, tls.as_ref()).await?;
            let health = smtp_receiver::inbox::api::health(Arc::clone(&ready));
            spawn_router(health, listeners, stopped)
        }
        None => Vec::new(),
    };

    let hangups = reload.spawn_on_sighup()?;
    let mut signal_failed = None;
    server
        .run_until(async {
            if let Err(error) = wait_for_signal().await {
                signal_failed = Some(error);
            }
            ready.store(false, Ordering::Relaxed);
            eprintln!("smtp-receive: shutting down");
        })
        .await?;
    hangups.abort();
    let _ = stop.send(true);
    for task in http {
        let _ = task.await;
    }
    signal_failed.map_or(Ok(()), Err)
}

/// Ctrl-C (SIGINT) or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install a SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot wait for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn config_of(args: &[&str]) -> ServerConfig {
        let cli = Cli::try_parse_from([&["smtp-receive", "--sink"], args].concat()).unwrap();
        build_config(&cli.serve, &mut Reload::default()).unwrap()
    }

    #[test]
    fn strict_selects_the_strict_content_policy() {
        let policy = |args: &[&str]| config_of(args).session.content_policy;
        assert_eq!(policy(&[]), ContentPolicy::Liberal);
        assert_eq!(policy(&["--strict"]), ContentPolicy::Strict);
    }

    #[test]
    fn no_original_to_turns_the_recipient_header_off() {
        assert!(config_of(&[]).session.record_recipients);
        assert!(!config_of(&["--no-original-to"]).session.record_recipients);
    }
}
