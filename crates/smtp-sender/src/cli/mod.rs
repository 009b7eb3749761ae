//! `smtp-send`: options -> message -> session -> one line per recipient.

pub mod args;
mod bulk;
pub mod explain;
mod header;
mod message;
mod output;
pub mod queue;
pub mod shell;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use smtp_sender::outbound::NextHop;
use smtp_sender::{Client, ClientConfig, Credentials, Envelope, SendError, Timeouts, TlsMode};

use args::{Args, SessionArgs};
pub use output::{EX_TEMPFAIL, EX_USAGE};

/// Runs the program; the exit code follows sysexits(3).
pub async fn run(args: Args) -> ExitCode {
    let config = match build_config(&args) {
        Ok(config) => config,
        Err(error) => return output::usage_error(&error),
    };
    if let Some(count) = args.count {
        return run_bulk(&args, config, count).await;
    }
    let prepared = match message::prepare(&args.mail) {
        Ok(prepared) => prepared,
        Err(error) => return output::input_error(&error),
    };
    if config.insecure_skip_verify {
        eprintln!(
            "smtp-send: warning: --insecure-skip-verify: the server's certificate is NOT checked; \
             anyone on the path can read and change this mail"
        );
    }
    let result = send(config, &prepared.envelope, &prepared.message).await;
    output::report(&prepared.envelope, result)
}

/// `--count N`: the load generator; exit 0 only when every message was accepted.
async fn run_bulk(args: &Args, config: ClientConfig, count: u64) -> ExitCode {
    let (Some(from), Some(to)) = (&args.mail.from, args.mail.to.first()) else {
        return output::usage_error(&anyhow::anyhow!("--count needs --from and --to"));
    };
    let prepared = bulk::generate_message(from, to, args.size).and_then(|message| {
        let recipients = message::given_recipients(&args.mail)?;
        Ok((
            Envelope::new(&message::email_of(from)?, &recipients)?,
            message,
        ))
    });
    let (envelope, message) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return output::input_error(&error),
    };
    let bulk = bulk::Bulk {
        count,
        sessions: args.sessions,
    };
    match bulk::run(config, envelope, message, bulk).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp-send: error: {error:#}");
            ExitCode::from(output::EX_TEMPFAIL)
        }
    }
}

async fn send(
    config: ClientConfig,
    envelope: &smtp_sender::Envelope,
    message: &[u8],
) -> Result<smtp_sender::Report, SendError> {
    let mut client = Client::connect(config).await?;
    let result = client.send(envelope, message).await;
    if let Err(error) = client.quit().await {
        tracing::debug!("QUIT: {error}");
    }
    result
}

/// `HOST`, `HOST:PORT`, `[IPv6]:PORT` or a bare IPv6 address.
pub fn parse_server(server: &str) -> Result<(String, Option<u16>)> {
    smtp_sender::outbound::host_and_port(server)
        .map_err(|reason| anyhow::anyhow!("--server {server:?}: {reason}"))
}

/// The client configuration for a server given as `HOST[:PORT]` (port 465
/// with `--tls implicit`, else 25), `smtp:HOST[:PORT]`, `lmtp:HOST:PORT`
/// or `lmtp:unix:PATH` (with `--lmtp`, a plain `HOST:PORT` is LMTP).
pub fn server_config(server: &str, session: &SessionArgs) -> Result<ClientConfig> {
    let written = match server.split_once(':') {
        Some(("lmtp" | "smtp", _)) => server.to_string(),
        _ if session.lmtp => format!("lmtp:{server}"),
        _ => {
            let (host, port) = parse_server(server)?;
            return session_config(host, port, session);
        }
    };
    let hop: NextHop = written.parse()?;
    let mut config = session_config(String::new(), None, session)?;
    hop.configure(&mut config, session.tls.is_some());
    Ok(config)
}

fn build_config(args: &Args) -> Result<ClientConfig> {
    server_config(&args.server, &args.session)
}

/// A client configuration from the session options; without a port, 465
/// for implicit TLS, else 25.
pub fn session_config(
    host: String,
    port: Option<u16>,
    session: &SessionArgs,
) -> Result<ClientConfig> {
    let port = port.unwrap_or(if session.tls == Some(TlsMode::Implicit) {
        465
    } else {
        25
    });
    let mut config = ClientConfig::new(host, port);
    if let Some(tls) = session.tls {
        // Chosen, not guessed from the port: the RFC 5321 greeting wait holds.
        config.tls = tls;
        config.silence_limit = None;
    }
    session.cert.apply(&mut config);
    config.ehlo_name = session.ehlo.clone();
    config.allow_plaintext_auth = session.allow_plaintext_auth;
    config.pipelining = !session.no_pipelining;
    config.chunking = session.chunking;
    config.classic = session.classic;
    if let Some(seconds) = session.timeout {
        config.timeouts = Timeouts::all(Duration::from_secs(seconds));
    }
    if let Some(user) = &session.user {
        let credentials = match token(session)? {
            Some(token) => Credentials::bearer(user, token),
            None => Credentials::new(user, password(session)?),
        };
        config.credentials = Some(match session.auth_mechanism {
            Some(mechanism) => credentials.with_mechanism(mechanism),
            None => credentials,
        });
    }
    Ok(config)
}

/// The bearer token of `--oauth-token-env` or `--oauth-token-file`: never
/// on the command line either.
fn token(session: &SessionArgs) -> Result<Option<String>> {
    let token = if let Some(var) = &session.oauth_token_env {
        std::env::var(var).with_context(|| {
            format!("--oauth-token-env: the environment variable {var} is not set")
        })?
    } else if let Some(path) = &session.oauth_token_file {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?
    } else {
        return Ok(None);
    };
    let token = token.lines().next().unwrap_or_default().trim().to_string();
    if token.is_empty() {
        anyhow::bail!("the OAuth token is empty");
    }
    Ok(Some(token))
}

/// The password never comes from the command line (it would show in `ps`).
fn password(session: &SessionArgs) -> Result<String> {
    if let Some(path) = &session.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the password file {}", path.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_string());
    }
    std::env::var("SMTP_PASSWORD")
        .context("--user needs a password: use --password-file FILE or set SMTP_PASSWORD")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::parse_server;

    #[test]
    fn server_forms() {
        assert_eq!(
            parse_server("mx.example.com").unwrap(),
            ("mx.example.com".into(), None)
        );
        assert_eq!(parse_server("mx:587").unwrap(), ("mx".into(), Some(587)));
        assert_eq!(
            parse_server("[::1]:2525").unwrap(),
            ("::1".into(), Some(2525))
        );
        assert_eq!(parse_server("::1").unwrap(), ("::1".into(), None));
        assert!(parse_server("mx:99999").is_err());
        assert!(parse_server(":25").is_err());
    }
}
