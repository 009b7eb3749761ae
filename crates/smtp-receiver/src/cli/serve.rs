//! `smtp-receive` (no subcommand): build the configuration from the flags,
//! bind, print the listeners, serve until Ctrl-C / SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;

use anyhow::{Context, bail};
use smtp_receiver::config::{ContentPolicy, ListenerKind, RecipientPolicy, ServerConfig};
use smtp_receiver::{Backend, MaildirHandler, Server, SinkHandler, Users, WithUsers};
use tracing_subscriber::EnvFilter;

use super::ServeArgs;

/// The listener used when none is given.
const DEFAULT_LISTEN: &str = "127.0.0.1:2525";

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve_async(args))
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
    if args.maildir.is_none() && !args.sink {
        bail!("say where mail goes: --maildir DIR, or --sink to discard it");
    }
    let config = build_config(&args)?;
    let users = load_users(&args)?;
    if args.require_auth && users.is_empty() {
        bail!("--require-auth needs users (--user NAME:PASSWORD or --users-file FILE)");
    }
    match &args.maildir {
        Some(dir) => {
            let handler = MaildirHandler::open(dir, &config.session.hostname)
                .with_context(|| format!("cannot open the Maildir {}", dir.display()))?;
            with_users(config, handler, users).await
        }
        _ => with_users(config, SinkHandler::default(), users).await,
    }
}

async fn with_users<H: smtp_receiver::Handler + Clone + Sync>(
    mut config: ServerConfig,
    handler: H,
    users: Users,
) -> anyhow::Result<()> {
    if users.is_empty() {
        run(config, handler).await
    } else {
        config.session.auth.enabled = true;
        run(config, WithUsers::new(handler, users)).await
    }
}

fn build_config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(smtp_io::host::server_name);
    let mut config = ServerConfig::new(hostname);
    let mut plain = args.listen.clone();
    if plain.is_empty() && args.listen_tls.is_empty() {
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
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        config.load_tls(cert, key)?;
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
    if args.verbose {
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
    Ok(config)
}

/// `--strict` selects the strict content policy; the default is liberal.
fn content_policy(strict: bool) -> ContentPolicy {
    if strict {
        ContentPolicy::Strict
    } else {
        ContentPolicy::Liberal
    }
}

fn load_users(args: &ServeArgs) -> anyhow::Result<Users> {
    let mut users = match &args.users_file {
        Some(path) => Users::from_file(path)?,
        None => Users::new(),
    };
    for line in &args.user {
        users.insert_line(line, "--user")?;
    }
    Ok(users)
}

async fn run<B: Backend>(config: ServerConfig, backend: B) -> anyhow::Result<()> {
    let server = Server::bind(config, backend).await?;
    // One line per listener, flushed, so scripts can read the port.
    let mut stdout = std::io::stdout().lock();
    for bound in server.local_addrs() {
        let kind = match (bound.kind, bound.starttls) {
            (ListenerKind::Plain, true) => "smtp, starttls",
            (ListenerKind::Plain, false) => "smtp",
            (ListenerKind::ImplicitTls, _) => "smtps",
        };
        writeln!(stdout, "listening on {} ({kind})", bound.addr)
            .context("cannot write to stdout")?;
    }
    stdout.flush().context("cannot write to stdout")?;
    drop(stdout);

    let mut signal_failed = None;
    server
        .run_until(async {
            if let Err(error) = wait_for_signal().await {
                signal_failed = Some(error);
            }
            eprintln!("smtp-receive: shutting down");
        })
        .await?;
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
        build_config(&cli.serve).unwrap()
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
