//! A Receiver-SMTP running in process, the way the demo and the end-to-end
//! tests need it: a plain listener offering STARTTLS and an implicit-TLS
//! listener on ephemeral loopback ports, AUTH for one user, recipients
//! accepted for one domain only, and a Maildir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use smtp_receiver::config::{ListenerKind, RecipientPolicy, ServerConfig};
use smtp_receiver::inbox::{Inbox, InboxConfig, InboxError};
use smtp_receiver::{
    Backend, MaildirHandler, Server, ServerError, ShutdownHandle, Users, WithUsers,
};
use smtp_sender::{ClientConfig, Credentials, TlsMode};
use tokio::task::JoinHandle;

use smtp_testkit::certs::PkiFiles;

/// The receiver's name in greetings and trace headers.
pub const SERVER_NAME: &str = "mx.example.org";
/// The only domain the receiver accepts mail for (it is not an open relay).
pub const DOMAIN: &str = "example.org";
/// The name the sender gives in EHLO/HELO.
pub const CLIENT_NAME: &str = "client.example.com";
/// The demo's AUTH user. A throw-away credential of a loopback demo, shown
/// nowhere: transcripts redact it.
pub const USER: &str = "alice";
/// The demo user's password.
pub const PASSWORD: &str = "wonderland-demo";

/// Why the harness could not start or inspect the receiver.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The receiver could not start.
    #[error("starting the receiver: {0}")]
    Server(#[from] ServerError),
    /// The Maildir could not be created.
    #[error("opening the Maildir: {0}")]
    Maildir(#[from] smtp_receiver::maildir::MaildirError),
    /// TLS material could not be loaded.
    #[error("loading the certificate: {0}")]
    Tls(#[from] smtp_receiver::TlsError),
    /// A listener is missing (should not happen).
    #[error("the receiver has no {0} listener")]
    NoListener(&'static str),
    /// The Maildir could not be read.
    #[error("reading the Maildir: {0}")]
    Io(#[from] std::io::Error),
    /// The test PKI could not be made.
    #[error("making the test PKI: {0}")]
    Pki(#[from] smtp_testkit::certs::CertError),
    /// The test inbox (index, sessions) could not open.
    #[error("opening the test inbox: {0}")]
    Inbox(#[from] InboxError),
}

/// The demo's one user.
fn users() -> Users {
    let mut users = Users::new();
    users.insert(USER, PASSWORD);
    users
}

/// One message found in the Maildir's `new/` folder.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// Its file.
    pub path: PathBuf,
    /// Its bytes, trace headers included.
    pub bytes: Vec<u8>,
}

impl StoredMessage {
    /// The message as the sender sent it: the bytes after the trace header
    /// fields the receiver prepends (`Return-Path:`, `Received:`,
    /// `X-Original-To:`, RFC 5321 §4.4).
    pub fn without_trace(&self) -> &[u8] {
        strip_trace_fields(&self.bytes)
    }
}

/// Skips the leading trace fields (and their folded continuation lines).
pub fn strip_trace_fields(message: &[u8]) -> &[u8] {
    const TRACE: [&[u8]; 3] = [b"return-path:", b"received:", b"x-original-to:"];
    let mut rest = message;
    let mut in_trace = false;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..=end];
        let folded = in_trace && matches!(line.first(), Some(b' ' | b'\t'));
        let starts_trace = TRACE
            .iter()
            .any(|name| line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name));
        if !(folded || starts_trace) {
            break;
        }
        in_trace = true;
        rest = &rest[end + 1..];
    }
    rest
}

/// A running receiver; stop it with [`Receiver::stop`].
pub struct Receiver {
    /// Plain SMTP with STARTTLS (RFC 3207).
    pub plain: SocketAddr,
    /// Implicit TLS, the port-465 style (RFC 8314).
    pub implicit: SocketAddr,
    /// The Maildir's root (`tmp/`, `new/`, `cur/` below it).
    pub maildir: PathBuf,
    /// The CA file clients must trust.
    pub ca_file: PathBuf,
    transcripts: Arc<Mutex<Vec<String>>>,
    shutdown: ShutdownHandle,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Receiver {
    /// Starts the receiver on ephemeral loopback ports, delivering into a
    /// Maildir at `maildir` (created when missing).
    pub async fn start(maildir: &Path, pki: &PkiFiles) -> Result<Receiver, HarnessError> {
        let handler = WithUsers::new(MaildirHandler::open(maildir, SERVER_NAME)?, users());
        Receiver::bind(maildir, pki, handler, |_| {}).await
    }

    /// [`Receiver::start`], delivering through the test inbox instead: the
    /// same Maildir files, plus the index and every session recorded, so
    /// that its web page can show the conversations (`cargo xtask demo
    /// --web`).
    pub async fn start_with_inbox(
        maildir: &Path,
        pki: &PkiFiles,
    ) -> Result<(Receiver, Inbox), HarnessError> {
        let mut config = InboxConfig::new(maildir, SERVER_NAME);
        config.users = Some(users());
        let inbox = Inbox::open(config).await?;
        let receiver = Receiver::bind(maildir, pki, inbox.backend(), |c| inbox.attach(c)).await?;
        Ok((receiver, inbox))
    }

    async fn bind<B: Backend>(
        maildir: &Path,
        pki: &PkiFiles,
        handler: B,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Result<Receiver, HarnessError> {
        let mut config = ServerConfig::new(SERVER_NAME);
        config.listen_plain(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.listen_tls(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.load_tls(&pki.server_cert, &pki.server_key)?;
        config.session.recipients = RecipientPolicy::domains([DOMAIN]);
        config.session.auth.enabled = true;
        // Every test client comes from 127.0.0.1: the per-address limit
        // (16 by default) would turn a concurrency test into a limit test.
        config.session.limits.connections_per_ip = config.session.limits.connections;
        let transcripts = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&transcripts);
        config.on_transcript(move |_info, transcript| {
            if let Ok(mut all) = sink.lock() {
                all.push(transcript.render());
            }
        });

        configure(&mut config);
        let server = Server::bind(config, handler).await?;
        let plain = server
            .local_addr(ListenerKind::Plain)
            .ok_or(HarnessError::NoListener("plain"))?;
        let implicit = server
            .local_addr(ListenerKind::ImplicitTls)
            .ok_or(HarnessError::NoListener("implicit TLS"))?;
        let shutdown = server.shutdown_handle();
        let task = tokio::spawn(server.run());
        Ok(Receiver {
            plain,
            implicit,
            maildir: maildir.to_path_buf(),
            ca_file: pki.ca_cert.clone(),
            transcripts,
            shutdown,
            task,
        })
    }

    /// Starts a receiver whose PKI (freshly generated) and Maildir live in
    /// `dir`: what a test wants, with `dir` a temporary folder.
    pub async fn start_in(dir: &Path) -> Result<Receiver, HarnessError> {
        let pki = smtp_testkit::certs::TestPki::generate()?.write(&dir.join("pki"))?;
        Receiver::start(&dir.join("maildir"), &pki).await
    }

    /// A sender configuration for this receiver: `localhost` (so the
    /// certificate's name is checked), the test CA trusted, our EHLO name.
    pub fn client_config(&self, tls: TlsMode) -> ClientConfig {
        let addr = match tls {
            TlsMode::Implicit => self.implicit,
            _ => self.plain,
        };
        let mut config = ClientConfig::new("localhost", addr.port());
        config.tls = tls;
        config.ca_file = Some(self.ca_file.clone());
        config.ehlo_name = Some(CLIENT_NAME.to_string());
        config
    }

    /// [`Receiver::client_config`] plus the demo user's credentials.
    pub fn client_config_with_auth(&self, tls: TlsMode) -> ClientConfig {
        let mut config = self.client_config(tls);
        config.credentials = Some(Credentials::new(USER, PASSWORD));
        config
    }

    /// Every message in `new/`, oldest first (Maildir names start with the
    /// delivery time).
    pub fn messages(&self) -> Result<Vec<StoredMessage>, HarnessError> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path)?;
                Ok(StoredMessage { path, bytes })
            })
            .collect()
    }

    /// The server-side transcripts of the sessions that have ended.
    pub fn transcripts(&self) -> Vec<String> {
        self.transcripts
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Stops accepting, lets sessions finish, and waits for the server.
    pub async fn stop(self) -> Result<(), HarnessError> {
        self.shutdown.shutdown();
        match self.task.await {
            Ok(result) => Ok(result?),
            Err(join) => Err(HarnessError::Io(std::io::Error::other(join))),
        }
    }
}
