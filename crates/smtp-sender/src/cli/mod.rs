//! `smtp-send`: options -> message -> session -> one line per recipient.

pub mod args;
mod bulk;
pub mod explain;
mod header;
mod message;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use smtp_sender::{Client, ClientConfig, Credentials, Envelope, SendError, Timeouts, TlsMode};

use args::Args;
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
    let prepared = match message::prepare(&args) {
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
    let (Some(from), Some(to)) = (&args.from, args.to.first()) else {
        return output::usage_error(&anyhow::anyhow!("--count needs --from and --to"));
    };
    let prepared = bulk::generate_message(from, to, args.size).and_then(|message| {
        let recipients = given_recipients_of(args)?;
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

fn given_recipients_of(args: &Args) -> Result<Vec<String>> {
    args.to
        .iter()
        .chain(&args.cc)
        .chain(&args.bcc)
        .map(|r| message::email_of(r))
        .collect()
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
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .context("--server: missing ']' after an IPv6 address")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => anyhow::bail!("--server: unexpected {after:?} after ']'"),
        }
    } else if server.matches(':').count() == 1 {
        let (host, port) = server.split_once(':').unwrap_or((server, ""));
        (host, Some(port))
    } else {
        (server, None)
    };
    if host.is_empty() {
        anyhow::bail!("--server: the host is empty");
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .with_context(|| format!("--server: bad port {p:?}"))
        })
        .transpose()?;
    Ok((host.to_string(), port))
}

fn build_config(args: &Args) -> Result<ClientConfig> {
    let (host, port) = parse_server(&args.server)?;
    let port = port.unwrap_or(if args.tls == Some(TlsMode::Implicit) {
        465
    } else {
        25
    });
    let mut config = ClientConfig::new(host, port);
    if let Some(tls) = args.tls {
        // Chosen, not guessed from the port: the RFC 5321 greeting wait holds.
        config.tls = tls;
        config.silence_limit = None;
    }
    config.ca_file = args.ca.clone();
    config.servername = args.servername.clone();
    config.insecure_skip_verify = args.insecure_skip_verify;
    config.ehlo_name = args.ehlo.clone();
    config.allow_plaintext_auth = args.allow_plaintext_auth;
    config.pipelining = !args.no_pipelining;
    config.chunking = args.chunking;
    config.classic = args.classic;
    if let Some(seconds) = args.timeout {
        config.timeouts = Timeouts::all(Duration::from_secs(seconds));
    }
    if let Some(user) = &args.user {
        config.credentials = Some(Credentials::new(user, password(args)?));
    }
    Ok(config)
}

/// The password never comes from the command line (it would show in `ps`).
fn password(args: &Args) -> Result<String> {
    if let Some(path) = &args.password_file {
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
