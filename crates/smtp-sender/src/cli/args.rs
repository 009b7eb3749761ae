//! The command line of `smtp-send`.

use std::path::PathBuf;

use clap::Parser;
use smtp_sender::TlsMode;

const EXAMPLES: &str = "\
Examples:
  # A composed message over STARTTLS (the default on any port but 465), with AUTH:
  SMTP_PASSWORD=s3cret smtp-send --server mail.example.com:587 --user alice \\
      --from alice@example.com --to bob@example.org --subject Hello --text 'Hi Bob'

  # An RFC 5322 file; the envelope comes from its From/To/Cc/Bcc headers:
  smtp-send --server mail.example.com:465 --message letter.eml

  # From stdin, to a local test server with a private CA, showing the conversation:
  smtp-send --server localhost:2525 --ca ca.pem --message - -v < letter.eml

  # Load generation: 20000 messages of 10000 octets over 20 sessions:
  smtp-send --server 127.0.0.1:2525 --tls none --from a@example.test \\
      --to b@example.test --count 20000 --sessions 20 --size 10000

  # Extra header fields, as with swaks --header or curl -H:
  smtp-send --server mail.example.com:587 --user alice --from alice@example.com \
      --to bob@example.org --header 'Subject: Hello' --header 'X-Campaign: spring' --text 'Hi Bob'

  # Plain RFC 821 (HELO, no extensions), no TLS, for teaching:
  smtp-send --server 127.0.0.1:2525 --tls none --classic \\
      --from a@example.com --to b@example.com --text 'hello'

  # A spool and its delivery daemon (MX routing, retries, DSN): see
  # smtp-send enqueue --help and smtp-send queue --help
  smtp-send enqueue --spool q --from a@example.com --to b@example.org --message - < letter.eml
  smtp-send queue run --spool q

  # Type the SMTP conversation yourself, each reply explained (see smtp-send shell --help):
  smtp-send shell 127.0.0.1:2525

Exit status: 0 every recipient accepted the message; 75 (EX_TEMPFAIL) a
temporary failure, try again later; 69 (EX_UNAVAILABLE) a permanent failure;
64 (EX_USAGE) a usage error; 65 (EX_DATAERR) an invalid address or message;
66 (EX_NOINPUT) an input file missing or unreadable; 78 (EX_CONFIG) a --ca
file missing or holding no certificate. RUST_LOG sets the log
level (e.g. RUST_LOG=debug).";

/// Send a message over SMTP and report, recipient by recipient, what the server said.
#[derive(Debug, Parser)]
#[command(name = "smtp-send", version, after_help = EXAMPLES)]
pub struct Args {
    /// The server: HOST, HOST:PORT or [IPv6]:PORT (default port 465 with --tls implicit, else 25),
    /// or lmtp:HOST:PORT / lmtp:unix:PATH for LMTP
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: String,

    /// How to talk to the server.
    #[command(flatten)]
    pub session: SessionArgs,

    /// What to send, to whom.
    #[command(flatten)]
    pub mail: MessageArgs,

    /// Bulk mode (load generation): send N generated messages from --from
    /// to the --to recipients, then print one summary line
    /// (`bulk messages=N accepted=... seconds=... msgs_per_s=...`)
    #[arg(long, value_name = "N",
          conflicts_with_all = ["message", "subject", "text", "text_file", "html_file", "attach", "header"])]
    pub count: Option<u64>,

    /// Bulk mode: concurrent sessions, each its own connection
    #[arg(long, value_name = "S", default_value_t = 1, requires = "count")]
    pub sessions: u64,

    /// Bulk mode: octets per generated message, header section included (K, M, G suffixes)
    #[arg(long, value_name = "BYTES", default_value = "1024", requires = "count",
          value_parser = super::bulk::parse_size)]
    pub size: usize,

    /// Print the conversation (transcript) to stderr as it happens
    #[arg(short, long)]
    pub verbose: bool,

    /// Print the conversation to stderr as it happens, each line numbered
    /// with what the step is and the RFC section that says so (coloured
    /// on a terminal; NO_COLOR turns colour off)
    #[arg(long)]
    pub explain: bool,
}

/// The session options, shared by `smtp-send` and `smtp-send queue run`.
#[derive(Debug, Clone, clap::Args)]
pub struct SessionArgs {
    /// TLS mode: implicit, starttls, opportunistic or none [default: implicit on port 465,
    /// starttls otherwise; off ports 25 and 465 a server silent for 10 s is then given up
    /// with a hint at implicit TLS, while an explicit mode waits RFC 5321's 5 minutes]
    #[arg(long, value_name = "MODE")]
    pub tls: Option<TlsMode>,

    /// How the server's certificate is checked.
    #[command(flatten)]
    pub cert: CertArgs,

    /// Authenticate as NAME (AUTH PLAIN or LOGIN); the password comes from
    /// --password-file or the SMTP_PASSWORD environment variable (or a
    /// token from --oauth-token-env / --oauth-token-file)
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Read the password from FILE (first line)
    #[arg(long, value_name = "FILE", requires = "user")]
    pub password_file: Option<PathBuf>,

    /// Authenticate with an OAuth 2.0 bearer token (OAUTHBEARER, RFC 7628, or
    /// XOAUTH2, as Gmail and Microsoft 365 take it) read from this
    /// environment variable, instead of a password
    #[arg(long, value_name = "VAR", requires = "user",
          conflicts_with_all = ["password_file", "oauth_token_file"])]
    pub oauth_token_env: Option<String>,

    /// Use this AUTH mechanism only (plain, login, oauthbearer, xoauth2)
    /// [default: the best one the server offers for the password or token]
    #[arg(long, value_name = "NAME", requires = "user", value_parser = parse_mechanism)]
    pub auth_mechanism: Option<smtp_sender::Mechanism>,

    /// Like --oauth-token-env, the token read from FILE (first line)
    #[arg(
        long,
        value_name = "FILE",
        requires = "user",
        conflicts_with = "password_file"
    )]
    pub oauth_token_file: Option<PathBuf>,

    /// Allow AUTH over an unencrypted connection
    #[arg(long)]
    pub allow_plaintext_auth: bool,

    /// The name to send with EHLO/HELO [default: this host's FQDN, or its address]
    #[arg(long, value_name = "NAME")]
    pub ehlo: Option<String>,

    /// Do not use PIPELINING even when offered
    #[arg(long)]
    pub no_pipelining: bool,

    /// Use CHUNKING (BDAT) when offered
    #[arg(long)]
    pub chunking: bool,

    /// Speak plain RFC 821: HELO, no extensions
    #[arg(long)]
    pub classic: bool,

    /// Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the
    /// data (also chosen by an lmtp:HOST:PORT or lmtp:unix:PATH server)
    #[arg(long, conflicts_with = "classic")]
    pub lmtp: bool,

    /// Use this timeout (seconds) for every step instead of RFC 5321's
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

/// How the server's certificate is checked: shared by `smtp-send`,
/// `smtp-send queue run` and `smtp-send shell`.
#[derive(Debug, Clone, clap::Args)]
pub struct CertArgs {
    /// Extra trusted CA certificates (PEM), added to the system's trust roots
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// The name to verify the certificate against and send as SNI [default: the server's host]
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,

    /// DANGEROUS: accept any certificate (the connection can be intercepted)
    #[arg(long)]
    pub insecure_skip_verify: bool,
}

impl CertArgs {
    /// Sets the certificate options of `config`.
    pub fn apply(&self, config: &mut smtp_sender::ClientConfig) {
        config.ca_file = self.ca.clone();
        config.servername = self.servername.clone();
        config.insecure_skip_verify = self.insecure_skip_verify;
    }
}

/// The message options, shared by `smtp-send` and `smtp-send enqueue`.
#[derive(Debug, Clone, clap::Args)]
pub struct MessageArgs {
    /// Envelope sender, and From: of a composed message [default: from the message's headers]
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,

    /// Recipient (repeatable); `Name <addr>` allowed
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,

    /// Copy recipient (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,

    /// Blind copy recipient (repeatable): in the envelope only, never in the headers
    #[arg(long, value_name = "ADDR")]
    pub bcc: Vec<String>,

    /// Subject of a composed message
    #[arg(long)]
    pub subject: Option<String>,

    /// Text body of a composed message
    #[arg(long, conflicts_with = "text_file")]
    pub text: Option<String>,

    /// Text body from a file (UTF-8)
    #[arg(long, value_name = "FILE")]
    pub text_file: Option<PathBuf>,

    /// HTML body from a file (UTF-8)
    #[arg(long, value_name = "FILE")]
    pub html_file: Option<PathBuf>,

    /// Attach a file (repeatable); the content type comes from the extension
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,

    /// Add a header field to a composed message (repeatable), e.g.
    /// --header "X-Campaign: spring". `Subject` sets the subject and `Reply-To` adds an
    /// address; From, To, Cc and Bcc come from their own options, and the fields smtp-send
    /// writes (Date, Message-ID, MIME-Version, Content-*) cannot be replaced
    #[arg(long, value_name = "NAME: VALUE")]
    pub header: Vec<String>,

    /// Send this RFC 5322 message file as it is (`-` for stdin)
    #[arg(long, short = 'm', value_name = "FILE",
          conflicts_with_all = ["subject", "text", "text_file", "html_file", "attach", "header"])]
    pub message: Option<PathBuf>,
}

/// `--auth-mechanism`: a built-in mechanism, any case.
fn parse_mechanism(name: &str) -> Result<smtp_sender::Mechanism, String> {
    smtp_sender::Mechanism::from_name(name)
        .ok_or_else(|| format!("unknown mechanism {name:?} (plain, login, oauthbearer, xoauth2)"))
}
