//! [`Client`]: one SMTP session with one server, over TCP or any stream.
//!
//! Everything protocol-shaped lives in `smtp-sender-core`: the machines say
//! what to send, the [`Connection`] matches replies, checks for injected
//! and unsolicited bytes, keeps the deadlines and the transcript. This file
//! opens the connection and holds the session's state; `drive.rs` moves
//! the bytes.

mod drive;
mod tap;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use smtp_io::MaybeTls;
use smtp_sender_core::{
    Capabilities, Connection, Envelope, Handover, Handshake, HandshakeSettings, Message,
    Preferences, ProtocolError, Quit, Report, SendError, ServerInfo, TlsMode, Transaction,
    Transcript, TransportError, parse_ehlo_name,
};
use smtp_wire::path::Domain;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::ClientConfig;
use tokio_rustls::TlsConnector;

use crate::tls;
use tap::{Tap, Tapped};

/// A connection opened within the connect timeout, or the error naming `addr`.
async fn opened<S>(
    addr: &str,
    config: &ClientConfig,
    connecting: impl std::future::Future<Output = std::io::Result<S>>,
) -> Result<S, TransportError> {
    timeout(config.timeouts.connect, connecting)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
        .map_err(|source| TransportError::Connect {
            addr: addr.to_string(),
            source,
        })
}

/// The byte stream under a [`Client`]: TCP, a Unix socket, an in-memory
/// pipe, a stream behind a proxy: anything that reads and writes.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// An open SMTP session with one server.
///
/// One type for every transport: the stream is boxed, so a `Client` over
/// TCP and one over a Unix socket can share a `Vec` and a function
/// signature, at the price of one indirect call per read or write (next to
/// a system call each).
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
    stream: MaybeTls<Box<dyn Transport>>,
    tls: Option<TlsConnector>,
    connection: Connection,
    /// Until the implicit-TLS handshake is over: what the server sent
    /// during it, for the core to recognise a plain-SMTP port.
    tap: Option<Tap>,
    /// (event index, lines of it) of the transcript already logged.
    logged: (usize, usize),
    /// The last write of a transaction run by `run_until_written`, not
    /// written yet, with the deadline the connection gave it.
    held: Option<(Vec<u8>, Option<Instant>)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("tls", &self.is_tls())
            .field("closed", &self.is_closed())
            .field("server", self.server_info())
            .finish_non_exhaustive()
    }
}

/// What is checked before the first byte is sent: the EHLO name (when
/// given) and the TLS configuration.
struct Checked {
    ehlo_name: Option<Domain>,
    tls: Option<TlsConnector>,
}

impl Checked {
    fn new(config: &ClientConfig) -> Result<Checked, SendError> {
        let ehlo_name = config
            .ehlo_name
            .as_deref()
            .map(parse_ehlo_name)
            .transpose()?;
        let tls = tls::connector(config)?;
        Ok(Checked { ehlo_name, tls })
    }
}

impl Client {
    /// Connects, reads the greeting, says EHLO (or HELO), upgrades to TLS
    /// as configured, authenticates when credentials are given.
    ///
    /// The EHLO name and the TLS settings are checked before the connection
    /// is opened.
    pub async fn connect(config: ClientConfig) -> Result<Client, SendError> {
        let checked = Checked::new(&config)?;
        if let Some(path) = config.unix_socket.clone() {
            let addr = format!("unix:{}", path.display());
            let stream = opened(&addr, &config, tokio::net::UnixStream::connect(&path)).await?;
            let note = format!("connected to {addr} (TLS: {})", config.tls);
            // A Unix socket has no address to offer as a literal: the
            // host's name, else [127.0.0.1] (RFC 5321 §4.1.4).
            let ehlo_name = smtp_io::host::ehlo_name(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
            return Client::open(Box::new(stream), config, checked, ehlo_name, note).await;
        }
        let addr = format!("{}:{}", config.host, config.port);
        let host = config.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = opened(&addr, &config, TcpStream::connect((host, config.port))).await?;
        // Small commands must leave at once, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map_err(TransportError::Io)?;
        let note = format!("connected to {addr} (TLS: {})", config.tls);
        // RFC 5321 §4.1.4: the FQDN, else the local address as a literal.
        let ehlo_name = smtp_io::host::ehlo_name(local);
        Client::open(Box::new(tcp), config, checked, ehlo_name, note).await
    }

    /// Like [`Client::connect`], over a stream the caller opened: a Unix
    /// socket, an in-memory [`tokio::io::duplex`] pipe in a test, a stream
    /// through a proxy. `config.host` is still the name TLS checks.
    ///
    /// Without [`ClientConfig::ehlo_name`], EHLO gives the machine's fully
    /// qualified name, else `[127.0.0.1]` (a stream has no local address to
    /// offer as a literal).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use smtp_sender::{Client, ClientConfig, TlsMode};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let (ours, mut theirs) = tokio::io::duplex(4096);
    /// let server = tokio::spawn(async move {
    ///     theirs.write_all(b"220 mx ESMTP\r\n").await?;
    ///     let mut ehlo = [0u8; 21];
    ///     theirs.read_exact(&mut ehlo).await?;
    ///     assert_eq!(&ehlo, b"EHLO client.example\r\n");
    ///     theirs.write_all(b"250 mx\r\n").await
    /// });
    /// let config = ClientConfig::builder("mx.example", 25)
    ///     .tls(TlsMode::None)
    ///     .ehlo_name("client.example")
    ///     .build();
    /// let client = Client::from_stream(ours, config).await.unwrap();
    /// assert!(client.server_info().esmtp);
    /// server.await.unwrap().unwrap();
    /// # }
    /// ```
    pub async fn from_stream<S>(stream: S, config: ClientConfig) -> Result<Client, SendError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let checked = Checked::new(&config)?;
        let note = format!(
            "stream to {}:{} (TLS: {})",
            config.host, config.port, config.tls
        );
        let ehlo_name = smtp_io::host::ehlo_name(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        Client::open(Box::new(stream), config, checked, ehlo_name, note).await
    }

    /// The handshake on a fresh stream.
    async fn open(
        transport: Box<dyn Transport>,
        config: ClientConfig,
        checked: Checked,
        default_ehlo_name: Domain,
        note: String,
    ) -> Result<Client, SendError> {
        let settings = HandshakeSettings {
            ehlo_name: checked.ehlo_name.unwrap_or(default_ehlo_name),
            tls: config.tls,
            tls_active: false,
            classic: config.classic,
            lmtp: config.lmtp,
            credentials: config.credentials.clone(),
            allow_plaintext_auth: config.allow_plaintext_auth,
        };
        let mut handshake = Handshake::new(settings)?;
        let (transport, tap): (Box<dyn Transport>, _) = if config.tls == TlsMode::Implicit {
            let tap = Tap::on();
            let tapped = Tapped {
                inner: transport,
                tap: tap.clone(),
            };
            (Box::new(tapped), Some(tap))
        } else {
            (transport, None)
        };
        let mut connection = Connection::new(config.timeouts, config.transcript_limits);
        connection.set_silence_limit(config.silence_limit);
        connection.note(&note);
        let mut client = Client {
            stream: MaybeTls::plain(transport),
            tls: checked.tls,
            connection,
            tap,
            logged: (0, 0),
            held: None,
            config,
        };
        if let Err(error) = client.run(&mut handshake).await {
            client.abandon(&error).await;
            return Err(error);
        }
        client.connection.handshake_done(&handshake);
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
    ///
    /// The message is sent from the caller's buffer when its line ends are
    /// already CRLF (the usual case), else from a canonical copy
    /// ([`Message`]).
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Report, SendError> {
        let mut outcome = None;
        let sent = self
            .send_each([(envelope, message)], |_, report| outcome = Some(report))
            .await;
        // No report: the client was closed before anything was sent.
        outcome.unwrap_or_else(|| sent.and(Err(TransportError::Closed.into())))
    }

    /// Sends each message of `messages` in turn over this session, and
    /// hands `on_report` each one's outcome with its position in
    /// `messages` (0 for the first): what [`Client::send`] would have
    /// returned for it.
    ///
    /// When the server offers PIPELINING (and [`ClientConfig::pipelining`]
    /// is on), the next message's commands are written right after the
    /// previous message's final dot, before its reply is read (RFC 2920
    /// §3.1, see
    /// [`Handover`](smtp_sender_core::Handover)): one round trip per
    /// message instead of two. A message is taken from `messages` only
    /// when it is about to be sent, and every message taken gets exactly
    /// one report, as soon as it is decided: in the order taken, except
    /// that a message refused locally (too large, say) is reported at once,
    /// possibly before the message still awaiting its final reply, and the
    /// next one is taken.
    ///
    /// `Err` when the session broke
    /// ([`TransportError::SessionBroken`], temporary): the client is
    /// closed, the messages taken so far have their reports (the cause is
    /// in the report of the message that was being answered; a message
    /// taken to follow it gets `SessionBroken`), and the rest of
    /// `messages` is left untouched. `Closed` when the client was closed
    /// before the call.
    ///
    /// The next message is taken before the previous message's final
    /// block of content is written: the two leave in one write (its end
    /// waits for the iterator), and a write that fails takes both.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), smtp_sender::SendError> {
    /// use smtp_sender::{Client, ClientConfig, Envelope};
    /// let mut client = Client::connect(ClientConfig::new("mail.example.com", 587)).await?;
    /// let envelope = Envelope::new("alice@example.com", &["bob@example.org"])?;
    /// let messages = [&b"Subject: one\r\n\r\n1\r\n"[..], b"Subject: two\r\n\r\n2\r\n"];
    /// client
    ///     .send_each(messages.iter().map(|m| (&envelope, *m)), |i, report| match report {
    ///         Ok(report) => print!("message {i}:\n{report}"),
    ///         Err(error) => eprintln!("message {i}: {error}"),
    ///     })
    ///     .await?;
    /// client.quit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_each<'m>(
        &mut self,
        messages: impl IntoIterator<Item = (&'m Envelope, &'m [u8])>,
        mut on_report: impl FnMut(usize, Result<Report, SendError>),
    ) -> Result<(), SendError> {
        let prefs = Preferences {
            pipelining: self.config.pipelining,
            chunking: self.config.chunking,
        };
        let mut messages = messages.into_iter().enumerate();
        // The transaction whose commands already left (after a handover).
        let mut started: Option<(usize, Transaction<'m>)> = None;
        loop {
            if self.is_closed() {
                return Err(TransportError::Closed.into());
            }
            let connection = &mut self.connection;
            let next = started.take().or_else(|| {
                next_prepared(&mut messages, &mut on_report, |envelope, message| {
                    connection.transaction(envelope, message, prefs)
                })
            });
            let Some((index, mut transaction)) = next else {
                return Ok(());
            };
            // The final dot stays held, to leave in one write with the next
            // message's group (or before this message's reply is read).
            let mut run = self.run_until_written(&mut transaction).await;
            if run.is_ok() {
                if transaction.is_pipelined() && transaction.awaits_only_final_reply() {
                    // The next message, prepared now so that its commands
                    // can follow this one's final dot.
                    let (connection, ending) = (&mut self.connection, &transaction);
                    started = next_prepared(&mut messages, &mut on_report, |envelope, message| {
                        connection.transaction_after(ending, envelope, message, prefs)
                    });
                }
                run = match &mut started {
                    Some((_, starting)) => {
                        self.run(&mut Handover::new(&mut transaction, starting))
                            .await
                    }
                    None => self.run(&mut transaction).await,
                };
            }
            let broke = run.is_err();
            if let Err(error) = &run {
                self.abandon(error).await;
            }
            on_report(index, self.connection.transaction_done(transaction, run));
            if broke {
                if let Some((next, starting)) = started.take() {
                    let broken = Err(TransportError::SessionBroken.into());
                    on_report(next, self.connection.transaction_done(starting, broken));
                }
                return Err(TransportError::SessionBroken.into());
            }
        }
    }

    /// Ends the session politely (QUIT, RFC 5321 §4.1.1.10) and closes the
    /// connection. Closing an already closed client does nothing.
    pub async fn quit(&mut self) -> Result<(), SendError> {
        if self.is_closed() {
            return Ok(());
        }
        let result = self.run(&mut Quit::new()).await;
        self.close().await;
        result
    }

    /// Everything that crossed the wire so far (AUTH secrets redacted, the
    /// TLS switch marked).
    pub fn transcript(&self) -> &Transcript {
        self.connection.transcript()
    }

    /// What the handshake learned: greeting, capabilities, TLS, AUTH.
    pub fn server_info(&self) -> &ServerInfo {
        self.connection.server_info()
    }

    /// The EHLO capabilities in force (learned after TLS when TLS is used).
    pub fn capabilities(&self) -> &Capabilities {
        &self.server_info().capabilities
    }

    /// True when the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// True once QUIT was sent or a fatal error closed the connection.
    pub fn is_closed(&self) -> bool {
        matches!(self.stream, MaybeTls::Closed)
    }

    /// After an error: a courtesy QUIT when the connection says the
    /// conversation is still in step (a refusal), then close.
    async fn abandon(&mut self, error: &SendError) {
        tracing::debug!("abandoning the session: {error}");
        if !self.is_closed()
            && let Some(mut quit) = self.connection.courtesy_quit(error)
        {
            let _ = self.run(&mut quit).await;
        }
        self.close().await;
    }
}

/// The next message of `messages` that can be sent, with its position and
/// its transaction from `prepare`; each one refused on the way (locally:
/// nothing was sent) is reported at once. `None` when none is left.
fn next_prepared<'m>(
    messages: &mut impl Iterator<Item = (usize, (&'m Envelope, &'m [u8]))>,
    on_report: &mut impl FnMut(usize, Result<Report, SendError>),
    mut prepare: impl FnMut(&Envelope, Message<'m>) -> Result<Transaction<'m>, ProtocolError>,
) -> Option<(usize, Transaction<'m>)> {
    for (index, (envelope, message)) in messages {
        match prepare(envelope, Message::new(message)) {
            Ok(transaction) => return Some((index, transaction)),
            Err(refused) => on_report(index, Err(refused.into())),
        }
    }
    None
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
