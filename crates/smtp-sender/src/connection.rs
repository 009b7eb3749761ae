//! The driver: sockets, timeouts and TLS around the sans-IO machines.
//!
//! Everything protocol-shaped lives in [`crate::client`]; this file only
//! moves bytes. It asks a machine for its next [`Step`], does it (write,
//! read one reply through the smtp-wire [`ReplyParser`], upgrade to TLS),
//! reports back, and records every byte in the [`Transcript`].

use std::net::SocketAddr;
use std::time::Duration;

use smtp_wire::path::{AddressLiteral, Domain};
use smtp_wire::{Capabilities, Event, Reply, ReplyParser, Transcript};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsConnector;

use crate::client::{
    Handshake, HandshakeSettings, Machine, Preferences, Quit, ServerInfo, Step, Transaction, Wait,
    canonical_message, plan,
};
use crate::config::{ClientConfig, TlsMode};
use crate::envelope::{Envelope, refuse_control_characters};
use crate::error::SendError;
use crate::report::Report;
use crate::stream::Stream;
use crate::tls;

/// Bytes read but not yet forming a complete reply line beyond which the
/// server is cut off (the ReplyParser's own line limit normally fires first).
const MAX_UNPARSED: usize = 64 * 1024;
/// How long a courtesy QUIT may take after a refusal.
const QUIT_GRACE: Duration = Duration::from_secs(10);

/// An open SMTP session with one server.
///
/// ```no_run
/// # async fn demo() -> Result<(), smtp_sender::SendError> {
/// use smtp_sender::{Client, ClientConfig, Envelope};
/// let mut client = Client::connect(ClientConfig::new("mail.example.com", 587)).await?;
/// let envelope = Envelope::new("alice@example.com", &["bob@example.org"])?;
/// let report = client.send(&envelope, b"Subject: hi\r\n\r\nHello\r\n").await?;
/// print!("{report}");
/// client.quit().await?;
/// # Ok(()) }
/// ```
pub struct Client {
    config: ClientConfig,
    stream: Option<Stream>,
    connector: Option<TlsConnector>,
    /// Bytes received and not yet consumed by the reply parser. After a reply
    /// is parsed, what remains belongs to the next reply (RFC 2920).
    inbox: Vec<u8>,
    parser: ReplyParser,
    transcript: Transcript,
    /// (event index, lines of it) of the transcript already logged.
    logged: (usize, usize),
    server: ServerInfo,
    needs_reset: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("tls", &self.is_tls())
            .field("closed", &self.is_closed())
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects, reads the greeting, says EHLO (or HELO), upgrades to TLS
    /// as configured, authenticates when credentials are given.
    ///
    /// The EHLO name and the TLS settings are checked before the first byte
    /// is sent.
    pub async fn connect(config: ClientConfig) -> Result<Client, SendError> {
        if let Some(name) = &config.ehlo_name {
            parse_ehlo_name(name)?;
        }
        let connector = match config.tls {
            TlsMode::None => None,
            _ => Some(tls::connector(&config)?),
        };
        let addr = format!("{}:{}", config.host, config.port);
        let host = config.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = timeout(
            config.timeouts.connect,
            TcpStream::connect((host, config.port)),
        )
        .await
        .map_err(|_| SendError::Connect {
            addr: addr.clone(),
            source: std::io::ErrorKind::TimedOut.into(),
        })?
        .map_err(|source| SendError::Connect {
            addr: addr.clone(),
            source,
        })?;
        // Small commands must leave at once, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr()?;
        let ehlo_name = match &config.ehlo_name {
            Some(name) => parse_ehlo_name(name)?,
            None => default_ehlo_name(local),
        };

        let mut client = Client {
            stream: Some(Stream::Plain(tcp)),
            connector,
            inbox: Vec::new(),
            parser: ReplyParser::new(),
            transcript: Transcript::with_limits(config.transcript_limits),
            logged: (0, 0),
            server: ServerInfo {
                greeting: Reply::new(220, ""),
                capabilities: crate::client::no_capabilities(),
                esmtp: false,
                tls: false,
                authenticated: false,
            },
            needs_reset: false,
            config,
        };
        client
            .transcript
            .note(&format!("connected to {addr} (TLS: {})", client.config.tls));
        if client.config.tls == TlsMode::Implicit {
            // RFC 8314 §3.3: TLS starts at once, before the greeting.
            client.start_tls().await?;
        }
        let settings = HandshakeSettings {
            ehlo_name,
            tls: client.config.tls,
            tls_active: client.is_tls(),
            classic: client.config.classic,
            credentials: client.config.credentials.clone(),
            allow_plaintext_auth: client.config.allow_plaintext_auth,
        };
        let mut handshake = Handshake::new(settings)?;
        if let Err(error) = client.drive(&mut handshake).await {
            client.abandon(&error).await;
            return Err(error);
        }
        client.server = handshake.server_info();
        Ok(client)
    }

    /// Sends one message to the envelope's recipients and reports, recipient
    /// by recipient, what the server said.
    ///
    /// A refused recipient does not stop delivery to the others; the report
    /// lists it. `Err` means nobody got the message: a local refusal (too
    /// large, needs an extension the server lacks, bad address), a refused
    /// sender, or a session failure (421, timeout, broken connection), after
    /// which the client is closed.
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Report, SendError> {
        if self.stream.is_none() {
            return Err(SendError::Closed);
        }
        let content = canonical_message(message);
        let prefs = Preferences {
            pipelining: self.config.pipelining,
            chunking: self.config.chunking,
        };
        let plan = plan(envelope, &content, &self.server, prefs)?;
        let mut transaction = Transaction::new(
            envelope,
            content,
            plan,
            self.needs_reset,
            self.server.offers("ENHANCEDSTATUSCODES"),
        )?;
        if let Err(error) = self.drive(&mut transaction).await {
            self.abandon(&error).await;
            return Err(error);
        }
        self.needs_reset = transaction.needs_reset_after();
        transaction.into_report()
    }

    /// Ends the session politely (QUIT, RFC 5321 §4.1.1.10) and closes the
    /// connection. Closing an already closed client does nothing.
    pub async fn quit(&mut self) -> Result<(), SendError> {
        if self.stream.is_none() {
            return Ok(());
        }
        let result = self.drive(&mut Quit::new()).await;
        self.close().await;
        result
    }

    /// Everything that crossed the wire so far (AUTH secrets redacted, the
    /// TLS switch marked).
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// What the handshake learned: greeting, capabilities, TLS, AUTH.
    pub fn server_info(&self) -> &ServerInfo {
        &self.server
    }

    /// The EHLO capabilities in force (learned after TLS when TLS is used).
    pub fn capabilities(&self) -> &Capabilities {
        &self.server.capabilities
    }

    /// True when the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(Stream::is_tls)
    }

    /// True once QUIT was sent or a fatal error closed the connection.
    pub fn is_closed(&self) -> bool {
        self.stream.is_none()
    }

    /// Runs a machine to completion.
    async fn drive(&mut self, machine: &mut impl Machine) -> Result<(), SendError> {
        loop {
            match machine.next_step() {
                Step::Send { bytes, wait } => self.write(&bytes, wait).await?,
                Step::ReadReply { wait } => {
                    let reply = self.read_reply(wait).await?;
                    machine.on_reply(reply)?;
                }
                Step::StartTls => {
                    self.start_tls().await?;
                    machine.on_tls_established();
                }
                Step::Done => return Ok(()),
            }
        }
    }

    async fn write(&mut self, bytes: &[u8], wait: Wait) -> Result<(), SendError> {
        let limit = wait.timeout(&self.config.timeouts);
        self.transcript.client(bytes);
        self.log_transcript();
        let stream = self.stream.as_mut().ok_or(SendError::Closed)?;
        let io = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        timeout(limit, io).await.map_err(|_| SendError::Timeout {
            stage: wait.describe(),
            after: limit,
        })??;
        Ok(())
    }

    /// Reads exactly one reply; bytes after it stay in the inbox for the next.
    async fn read_reply(&mut self, wait: Wait) -> Result<Reply, SendError> {
        let limit = wait.timeout(&self.config.timeouts);
        // RFC 5321 §4.5.3.2: the timeout covers the whole reply, so a server
        // dripping continuation lines cannot keep us forever.
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 16 * 1024];
        loop {
            let (used, reply) = self.parser.decode(&self.inbox)?;
            if used > 0 {
                self.transcript.server(&self.inbox[..used]);
                self.inbox.drain(..used);
            }
            if let Some(reply) = reply {
                self.log_transcript();
                return Ok(reply);
            }
            if used > 0 {
                continue;
            }
            if self.inbox.len() > MAX_UNPARSED {
                return Err(SendError::ReplyTooLong(self.inbox.len()));
            }
            let stream = self.stream.as_mut().ok_or(SendError::Closed)?;
            let n = timeout_at(deadline, stream.read(&mut buf))
                .await
                .map_err(|_| SendError::Timeout {
                    stage: wait.describe(),
                    after: limit,
                })??;
            if n == 0 {
                return Err(SendError::ConnectionClosed {
                    during: wait.describe(),
                });
            }
            self.inbox.extend_from_slice(&buf[..n]);
        }
    }

    /// The TLS handshake: implicit TLS at connect, or after `220` to STARTTLS.
    async fn start_tls(&mut self) -> Result<(), SendError> {
        // RFC 3207 §4.2 / CVE-2011-0411: whatever arrived after the 220 was
        // sent in the clear and must not be read as if it came under TLS.
        if !self.inbox.is_empty() {
            return Err(SendError::ResponseInjection);
        }
        let connector = self
            .connector
            .clone()
            .ok_or_else(|| SendError::Config("TLS requested but TLS mode is none".into()))?;
        let name = tls::server_name(&self.config)?;
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            return Err(SendError::Config(
                "STARTTLS on a connection already under TLS".into(),
            ));
        };
        let limit = self.config.timeouts.command;
        let tls_stream = timeout(limit, connector.connect(name, tcp))
            .await
            .map_err(|_| SendError::Timeout {
                stage: "the TLS handshake",
                after: limit,
            })?
            .map_err(|e| tls::explain_handshake_error(e, self.config.tls_name()))?;
        self.stream = Some(Stream::Tls(Box::new(tls_stream)));
        // Nothing from before the handshake carries over (RFC 3207 §4.2).
        self.parser = ReplyParser::new();
        self.transcript.tls_started();
        self.log_transcript();
        Ok(())
    }

    /// After an error: a courtesy QUIT when the conversation is still in
    /// step (a refusal), then close. Never after I/O trouble, a timeout, a
    /// TLS failure, a 421 or an injection: the connection is not trusted.
    async fn abandon(&mut self, error: &SendError) {
        tracing::debug!("abandoning the session: {error}");
        if error.conversation_intact() && self.stream.is_some() {
            let saved = self.config.timeouts;
            self.config.timeouts = crate::config::Timeouts::all(QUIT_GRACE.min(saved.command));
            let _ = self.drive(&mut Quit::new()).await;
            self.config.timeouts = saved;
        }
        self.close().await;
    }

    async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = timeout(QUIT_GRACE, stream.shutdown()).await;
        }
    }

    /// Sends what was added to the transcript to the log (target
    /// `smtp_sender::transcript`, level DEBUG): `smtp-send -v` shows it as
    /// it happens. Only the last event can still grow (the transcript merges
    /// consecutive lines of one direction), so `logged` remembers how many
    /// of its lines were already shown.
    fn log_transcript(&mut self) {
        if !tracing::enabled!(target: "smtp_sender::transcript", tracing::Level::DEBUG) {
            return;
        }
        let events = self.transcript.events();
        let (mut index, mut skip) = self.logged;
        while let Some(event) = events.get(index) {
            let lines: Vec<String> = match event {
                Event::Bytes { dir, bytes } => {
                    let prefix = match dir {
                        smtp_wire::Direction::Client => "C: ",
                        smtp_wire::Direction::Server => "S: ",
                    };
                    String::from_utf8_lossy(bytes)
                        .lines()
                        .map(|line| format!("{prefix}{line}"))
                        .collect()
                }
                Event::TlsStarted => vec!["-- TLS started --".to_string()],
                Event::Note(text) => vec![format!("-- {text} --")],
            };
            for line in lines.iter().skip(skip) {
                tracing::debug!(target: "smtp_sender::transcript", "{line}");
            }
            self.logged = (index, lines.len());
            index += 1;
            skip = 0;
        }
    }
}

/// Sends one message in one call: connect, send, quit, as
/// `smtplib.SMTP(...).sendmail(...)` does.
///
/// ```no_run
/// # async fn demo() -> Result<(), smtp_sender::SendError> {
/// use smtp_sender::{ClientConfig, Envelope, send_mail};
/// let envelope = Envelope::new("alice@example.com", &["bob@example.org"])?;
/// let report = send_mail(ClientConfig::new("mail.example.com", 587), &envelope,
///                        b"Subject: hi\r\n\r\nHello\r\n").await?;
/// assert!(report.all_accepted());
/// # Ok(()) }
/// ```
pub async fn send_mail(
    config: ClientConfig,
    envelope: &Envelope,
    message: &[u8],
) -> Result<Report, SendError> {
    let mut client = Client::connect(config).await?;
    let report = client.send(envelope, message).await;
    // The message's fate is decided; a failing QUIT changes nothing.
    let _ = client.quit().await;
    report
}

/// RFC 5321 §4.1.1.1: the EHLO argument is a domain or an address literal;
/// CR, LF and NUL are refused outright (they would end the command line).
fn parse_ehlo_name(name: &str) -> Result<Domain, SendError> {
    refuse_control_characters("EHLO name", name)?;
    Domain::parse(name).map_err(|e| SendError::InvalidInput {
        what: "EHLO name",
        value: name.to_string(),
        reason: e.to_string(),
    })
}

/// RFC 5321 §4.1.4: the client's fully qualified domain name, or, when it
/// has none, an address literal of the connection's local address.
fn default_ehlo_name(local: SocketAddr) -> Domain {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if hostname.contains('.')
        && let Ok(domain) = Domain::parse(&hostname)
    {
        return domain;
    }
    Domain::Literal(match local.ip() {
        std::net::IpAddr::V4(ip) => AddressLiteral::V4(ip),
        std::net::IpAddr::V6(ip) => AddressLiteral::V6(ip),
    })
}
