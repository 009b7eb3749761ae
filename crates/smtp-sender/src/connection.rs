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
    canonical_message, plan_scanned, scan_content,
};
use crate::config::{ClientConfig, TlsMode};
use crate::envelope::{Envelope, refuse_control_characters};
use crate::error::SendError;
use crate::report::Report;
use crate::sampling::ContentSampler;
use crate::stream::Stream;
use crate::tls;

/// Bytes read but not yet forming a complete reply line beyond which the
/// server is cut off (the ReplyParser's own line limit normally fires first).
const MAX_UNPARSED: usize = 64 * 1024;
/// How long a courtesy QUIT may take after a refusal.
const QUIT_GRACE: Duration = Duration::from_secs(10);
/// After a failed write: how long to wait for a reply the server may have
/// sent before it closed (RFC 5321 §3.8).
const LAST_WORD_GRACE: Duration = Duration::from_secs(2);
/// How much of an out-of-turn reply an error message quotes.
const QUOTE_LIMIT: usize = 200;

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
    /// While DATA content is being written: what the transcript gets of it.
    sampler: Option<ContentSampler>,
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
            sampler: None,
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
        // RFC 5321 §2.3.8: only CRLF ends a line. Most messages already
        // comply; they are sent from the caller's buffer as they are, the
        // others from a canonical copy (a 100 MiB copy into fresh memory
        // costs about 50 ms, half of what sending it over TLS costs).
        let copy;
        let (content, eight_bit): (&[u8], bool) = match scan_content(message) {
            Some(eight_bit) => (message, eight_bit),
            None => {
                copy = canonical_message(message);
                (&copy, !copy.is_ascii())
            }
        };
        let prefs = Preferences {
            pipelining: self.config.pipelining,
            chunking: self.config.chunking,
        };
        let plan = plan_scanned(envelope, content, eight_bit, &self.server, prefs)?;
        // BDAT chunks are built from an owned copy (all at once, so they
        // can be pipelined); DATA content is dot-stuffed block by block
        // straight from `content`.
        let chunking = plan.chunking;
        let owned = if chunking {
            content.to_vec()
        } else {
            Vec::new()
        };
        let mut transaction = Transaction::new(
            envelope,
            owned,
            plan,
            self.needs_reset,
            self.server.offers("ENHANCEDSTATUSCODES"),
        )?;
        let driven = if chunking {
            self.drive(&mut transaction).await
        } else {
            self.sampler = Some(ContentSampler::default());
            let driven = self
                .drive_with(&mut transaction, |tx| tx.next_step_with(content))
                .await;
            self.sampler = None;
            driven
        };
        if let Err(error) = driven {
            self.abandon(&error).await;
            // The replies already received still count (a 550 to MAIL, a
            // refused RCPT, the reply to the end of data).
            return transaction.report_after_failure(error);
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
        self.drive_with(machine, Machine::next_step).await
    }

    /// Runs a machine to completion, asking `next` for each step.
    async fn drive_with<M: Machine>(
        &mut self,
        machine: &mut M,
        mut next: impl FnMut(&mut M) -> Step,
    ) -> Result<(), SendError> {
        loop {
            match next(machine) {
                Step::Send { bytes, wait } => {
                    if let Err(error) = self.write(&bytes, wait).await {
                        return Err(self.last_word(machine, error).await);
                    }
                }
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
        self.refuse_unsolicited(bytes, wait).await?;
        let limit = wait.timeout(&self.config.timeouts);
        match (&mut self.sampler, wait) {
            (Some(sampler), Wait::DataBlock) => sampler.record(&mut self.transcript, bytes),
            _ => self.transcript.client(bytes),
        }
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

    /// A machine asks for a write only once every reply it expects so far
    /// has been read (content and BDAT chunks come before their reply), so
    /// anything already received now answers no command: RFC 5321 §4.2
    /// gives one reply per command and RFC 2920 §3.1 keeps a flight's
    /// replies in order. Taking it for the next command's reply would pair
    /// every later reply with the wrong command (a refused RCPT reported as
    /// accepted), so the session ends here, as Postfix does ("unexpected
    /// server reply").
    ///
    /// Before a command, a single non-blocking read also catches bytes that
    /// reached the socket after the last reply was parsed. Not before
    /// message data: that costs a system call per block, and a reply sent
    /// in the middle of the data is read after the final dot (or after a
    /// failed write, see `last_word`).
    async fn refuse_unsolicited(&mut self, bytes: &[u8], wait: Wait) -> Result<(), SendError> {
        if wait != Wait::DataBlock
            && self.inbox.is_empty()
            && let Some(stream) = self.stream.as_mut()
        {
            let mut buf = [0u8; 4096];
            // The read is polled once: `biased` tries it first, and the
            // ready branch wins when nothing is waiting (the read is
            // cancel-safe: nothing was read then). Nothing waiting, an EOF
            // or an error are left for the write or the next read to
            // report. (Not `timeout(Duration::ZERO, ..)`: its timer fires
            // only at the next millisecond tick, so every command waited
            // 1 ms; 1 KiB messages over one session went from 7,800 to 840
            // per second.)
            let probe = tokio::select! {
                biased;
                read = stream.read(&mut buf) => Some(read),
                () = std::future::ready(()) => None,
            };
            if let Some(Ok(n)) = probe {
                self.inbox.extend_from_slice(&buf[..n]);
            }
        }
        if self.inbox.is_empty() {
            return Ok(());
        }
        self.transcript.server(&self.inbox);
        self.log_transcript();
        let mut received = String::from_utf8_lossy(&self.inbox).into_owned();
        if let Some((cut, _)) = received.char_indices().nth(QUOTE_LIMIT) {
            received.truncate(cut);
        }
        let before = if wait == Wait::DataBlock {
            "message data".to_string()
        } else {
            let line = bytes.split(|&b| b == b' ' || b == b'\r').next();
            String::from_utf8_lossy(line.unwrap_or_default()).into_owned()
        };
        Err(SendError::UnexpectedServerReply {
            before,
            received: received.trim_end().to_string(),
        })
    }

    /// After a failed write: the server may have answered and closed first
    /// (RFC 5321 §3.8 and §4.1.1.4: a 552 in the middle of the data, a 554
    /// before closing). That reply, not "broken pipe", is the news, so try
    /// to read it for a short while and hand it to the machine as the answer
    /// to the oldest command still owed one. The machine keeps it (e.g. as
    /// the reply to the end of data) for `Transaction::report_after_failure`.
    async fn last_word<M: Machine>(&mut self, machine: &mut M, error: SendError) -> SendError {
        if !matches!(error, SendError::Io(_)) || self.stream.is_none() {
            return error;
        }
        match self.read_reply_within(Wait::Command, LAST_WORD_GRACE).await {
            Ok(reply) => {
                tracing::debug!("the server answered before the write failed: {reply}");
                match machine.on_reply(reply) {
                    // The reply ends the session by itself (e.g. a 421).
                    Err(from_reply) => from_reply,
                    Ok(()) => error,
                }
            }
            Err(_) => error,
        }
    }

    /// Reads exactly one reply; bytes after it stay in the inbox for the next.
    async fn read_reply(&mut self, wait: Wait) -> Result<Reply, SendError> {
        self.read_reply_within(wait, wait.timeout(&self.config.timeouts))
            .await
    }

    /// [`Client::read_reply`] with an explicit time limit.
    async fn read_reply_within(&mut self, wait: Wait, limit: Duration) -> Result<Reply, SendError> {
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
