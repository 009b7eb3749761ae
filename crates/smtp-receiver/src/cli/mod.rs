//! Command-line interface: serve (the default) or read the Maildir.

mod deliver;
mod inbox;
mod inspect;
mod reload;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  # Catch all mail for example.org on port 2525, stored in ./mail
  smtp-receive --listen 127.0.0.1:2525 --maildir ./mail --domain example.org

  # STARTTLS on 2525, implicit TLS on 4650, AUTH required
  smtp-receive --listen 127.0.0.1:2525 --listen-tls 127.0.0.1:4650 \\
      --cert cert.pem --key key.pem --maildir ./mail --accept-any-recipient \\
      --user alice:secret --require-auth

  # Any free port (printed on stdout), accept and discard everything
  smtp-receive --listen 127.0.0.1:0 --sink --accept-any-recipient

  # Testing a client: refuse bare-LF lines, long lines, undeclared UTF-8
  smtp-receive --listen 127.0.0.1:0 --sink --accept-any-recipient --strict

  # Behind HAProxy (PROXY v2), delivering into Dovecot over LMTP
  smtp-receive --listen 127.0.0.1:2525 --proxy-protocol --trusted-proxy 127.0.0.1/32 \\
      --domain example.org --deliver lmtp:unix:/run/dovecot/lmtp --spool /var/spool/smtp-receive

  # A test inbox: SMTP on 127.0.0.1:1025, the web page and API on http://127.0.0.1:8025
  smtp-receive inbox
  smtp-receive inbox --smtp 127.0.0.1:2525 --http 127.0.0.1:8080 --maildir ./mail \\
      --rule 'rcpt:*@bounce.test=550 5.1.1 no such user'

  # The web page and API beside a normal receiver
  smtp-receive --listen 127.0.0.1:2525 --maildir ./mail --accept-any-recipient \\
      --http 127.0.0.1:8025

  # What arrived, and one message in full (id or unique prefix)
  smtp-receive list --maildir ./mail
  smtp-receive show --maildir ./mail 1751371200M000042P4242Q7
  smtp-receive show --maildir ./mail 17513712 --save report.pdf --out /tmp/report.pdf

Logging: RUST_LOG=debug (tracing EnvFilter syntax); -v prints each session's
transcript on stderr (AUTH secrets redacted).

Exit status: 0 after a graceful shutdown (Ctrl-C, SIGTERM); 78 (EX_CONFIG)
a --cert or --key file missing or unusable; 1 any other error.";

/// An SMTP server (RFC 5321) that stores accepted mail in a Maildir.
#[derive(Debug, Parser)]
#[command(name = "smtp-receive", version, about = "An SMTP server (RFC 5321) that stores accepted mail in a Maildir", after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Reading the Maildir, or the test inbox preset.
#[derive(Debug, Subcommand)]
enum Command {
    /// A test inbox for developers: SMTP on 127.0.0.1:1025 (STARTTLS with a
    /// certificate made at start), the web page and HTTP API on 127.0.0.1:8025
    /// (Mailpit's API v1, the sessions, metrics), any recipient, any AUTH accepted and
    /// shown, mail in a temporary Maildir unless --maildir.
    Inbox(inbox::Preset),
    /// List the messages in a Maildir, oldest first.
    List {
        /// The Maildir.
        #[arg(long, value_name = "DIR")]
        maildir: PathBuf,
    },
    /// Show one message: headers, MIME structure, text, attachments.
    Show {
        /// The Maildir.
        #[arg(long, value_name = "DIR")]
        maildir: PathBuf,
        /// The message id (as in "queued as ID") or a unique prefix of its file name.
        id: String,
        /// Save the attachment with this file name (or 1-based number)...
        #[arg(long, value_name = "NAME", requires = "out")]
        save: Option<String>,
        /// ...into this file (never overwritten).
        #[arg(long, value_name = "FILE", requires = "save")]
        out: Option<PathBuf>,
    },
}

/// Serving options (the default command).
#[derive(Debug, Args)]
struct ServeArgs {
    /// Plain SMTP listener, STARTTLS offered when --cert is given (repeatable).
    /// Default: 127.0.0.1:2525 when no listener is given.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// Implicit-TLS listener, the port-465 style of RFC 8314 (repeatable; needs --cert/--key).
    #[arg(long, value_name = "ADDR")]
    listen_tls: Vec<SocketAddr>,
    /// LMTP listener (RFC 2033): LHLO, one reply per recipient after the
    /// message, so an MTA (Postfix's lmtp(8)) can deliver through it: ADDR,
    /// or unix:PATH for a Unix socket (repeatable)
    #[arg(long, value_name = "ADDR|unix:PATH", value_parser = parse_lmtp_listen)]
    listen_lmtp: Vec<LmtpListen>,
    /// Certificate chain, PEM, leaf first.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Private key, PEM.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Store accepted mail in this Maildir (created if needed).
    #[arg(long, value_name = "DIR", conflicts_with = "sink")]
    maildir: Option<PathBuf>,
    /// Accept every valid message and store nothing (benchmarks).
    #[arg(long)]
    sink: bool,
    /// Our host name (greeting, Received: by). Default: the system's.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Accept recipients in this domain (repeatable, case-insensitive).
    #[arg(long, value_name = "D")]
    domain: Vec<String>,
    /// Accept any recipient (test set-ups; mail is only stored, never relayed).
    #[arg(long)]
    accept_any_recipient: bool,
    /// A user for AUTH PLAIN/LOGIN, as NAME:PASSWORD (repeatable).
    #[arg(long, value_name = "NAME:PASSWORD")]
    user: Vec<String>,
    /// A file of NAME:PASSWORD lines for AUTH.
    #[arg(long, value_name = "FILE")]
    users_file: Option<PathBuf>,
    /// Refuse MAIL until the client has authenticated.
    #[arg(long)]
    require_auth: bool,
    /// Allow AUTH without TLS for clients on a loopback address.
    #[arg(long)]
    allow_plaintext_auth_on_loopback: bool,
    /// Largest message in octets (suffixes K, M, G: binary multiples).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "25M")]
    max_size: u64,
    /// Recipients per message.
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_recipients: usize,
    /// Simultaneous sessions (lowered to what the open-files limit allows).
    #[arg(long, value_name = "N", default_value_t = smtp_receiver::Limits::default().connections)]
    max_connections: usize,
    /// Simultaneous sessions per client (an IPv4 address or an IPv6 /64).
    #[arg(long, value_name = "N", default_value_t = smtp_receiver::Limits::default().connections_per_ip)]
    max_connections_per_ip: usize,
    /// A network exempt from the per-client limits (sessions per client,
    /// AUTH lockout), as ADDRESS/PREFIX (repeatable). Given, it replaces
    /// the default, loopback (127.0.0.0/8 and ::1); `none` trusts nobody.
    #[arg(long, value_name = "CIDR", value_parser = parse_network)]
    trusted_network: Vec<Option<smtp_receiver::network::Cidr>>,
    /// Behind a load balancer (HAProxy `send-proxy` / `send-proxy-v2`):
    /// every connection of the SMTP and SMTPS listeners starts with a PROXY
    /// protocol header (v1 or v2) naming the real client, which is then the
    /// address used everywhere. Needs --trusted-proxy
    #[arg(long, requires = "trusted_proxy")]
    proxy_protocol: bool,
    /// A balancer whose PROXY headers are believed, as ADDRESS/PREFIX
    /// (repeatable); a connection from anywhere else is closed without a greeting
    #[arg(long, value_name = "CIDR", requires = "proxy_protocol")]
    trusted_proxy: Vec<smtp_receiver::network::Cidr>,
    /// A mail proxy allowed to use XCLIENT (Postfix's extension; nginx's
    /// mail module speaks it) to name the client it speaks for, as
    /// ADDRESS/PREFIX (repeatable). Nobody by default
    #[arg(long, value_name = "CIDR")]
    xclient_from: Vec<smtp_receiver::network::Cidr>,
    /// Refuse what RFC 5321/6531 forbid and mainstream servers take:
    /// bare-LF content lines (550 5.6.11), text lines over 1000 octets
    /// (550 5.6.0), UTF-8 addresses without SMTPUTF8 (553 5.6.7). For
    /// testing clients; the default accepts them as Postfix 3.9+ does.
    #[arg(long)]
    strict: bool,
    /// Do not add X-Original-To (the envelope recipients, Bcc ones included)
    /// to stored messages: for a Maildir that recipients read themselves.
    #[arg(long)]
    no_original_to: bool,
    /// Print each session's transcript on stderr (AUTH redacted) and log more.
    #[arg(short, long)]
    verbose: bool,
    /// Print each session's transcript on stderr with a note per line: what
    /// the step is and the RFC section that says so (coloured on a
    /// terminal, plain when redirected or with NO_COLOR).
    #[arg(long)]
    explain: bool,
    /// Serve one SMTP session on standard input and output, then exit
    /// (inetd, systemd socket activation with Accept=yes, `swaks --pipe`,
    /// or typing a conversation by hand). The client address is taken
    /// from TCPREMOTEIP/TCPREMOTEPORT (ucspi-tcp) or REMOTE_ADDR/REMOTE_PORT
    /// (systemd), else 127.0.0.1:0.
    #[arg(long, conflicts_with_all = ["listen", "listen_tls", "listen_lmtp", "http"])]
    stdio: bool,
    #[command(flatten)]
    deliver: deliver::DeliverArgs,
    #[command(flatten)]
    inbox: inbox::InboxArgs,
}

/// Where an LMTP listener listens.
#[derive(Debug, Clone)]
enum LmtpListen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// `ADDR` or `unix:PATH`.
fn parse_lmtp_listen(text: &str) -> Result<LmtpListen, String> {
    match text.strip_prefix("unix:") {
        Some("") => Err("unix: needs a socket path".into()),
        Some(path) => Ok(LmtpListen::Unix(PathBuf::from(path))),
        None => text
            .parse()
            .map(LmtpListen::Tcp)
            .map_err(|e| format!("{text:?}: {e} (expected ADDR:PORT or unix:PATH)")),
    }
}

/// `10000`, `64K`, `25M`, `1G`.
/// A `--trusted-network` value: a CIDR block, or `none` (no network).
fn parse_network(text: &str) -> Result<Option<smtp_receiver::network::Cidr>, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| format!("{e}"))
}

fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_uppercase()),
        _ => (text, 'B'),
    };
    let multiplier: u64 = match unit {
        'B' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        _ => return Err(format!("unknown unit {unit:?} (use K, M or G)")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a number of octets, got {text:?}"))?;
    n.checked_mul(multiplier)
        .ok_or_else(|| format!("{text} is too large"))
}

/// sysexits(3) EX_CONFIG: a configuration file (`--cert`, `--key`) is
/// missing or unusable. Not 69 (EX_UNAVAILABLE) nor 75 (EX_TEMPFAIL):
/// nothing is unavailable and retrying will not help until an operator
/// fixes the file, and a service manager can tell the two apart.
pub const EX_CONFIG: u8 = 78;

/// The exit status for an error that ended the program: [`EX_CONFIG`] for
/// a certificate or key that cannot be read or used, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    let bad_tls_file = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<smtp_io::TlsError>(),
            Some(tls) if !matches!(tls, smtp_io::TlsError::Generate(_))
        )
    });
    if bad_tls_file {
        ExitCode::from(EX_CONFIG)
    } else {
        ExitCode::FAILURE
    }
}

/// Runs what the command line asks for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::List { maildir }) => inspect::list(&maildir),
        Some(Command::Show {
            maildir,
            id,
            save,
            out,
        }) => inspect::show(&maildir, &id, save.as_deref(), out.as_deref()),
        Some(Command::Inbox(preset)) => serve::inbox(preset),
        None => serve::serve(cli.serve),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("25M"), Ok(25 << 20));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn clap_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
