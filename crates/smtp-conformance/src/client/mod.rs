//! The client suite: `smtp-conform client --listen ADDR`.
//!
//! A judging Receiver-SMTP. Point the client under test at it and send a
//! message; every session is judged against the [`Check`] rules, and in a
//! [`Scenario`] the judge misbehaves on purpose and judges the client's
//! reaction. One [`Report`] per session.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smtp_conformance::client::ClientError> {
//! use smtp_conformance::client::{ClientOptions, Listener};
//! let listener = Listener::bind(ClientOptions::new("127.0.0.1:0")).await?;
//! println!("listening on {}", listener.local_addr());
//! let report = listener.accept().await?.judge().await;
//! println!("{}", smtp_conformance::output::text(&report, false));
//! # Ok(()) }
//! ```

pub(crate) mod body;
mod checks;
mod driver;
mod judge;
pub(crate) mod rules;
mod scenario;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use smtp_wire::Transcript;
use tokio::net::{TcpListener, TcpStream};

pub use checks::Check;
pub use scenario::{Scenario, UnknownScenario};

use crate::model::{CaseInfo, Report};
use crate::tls::{self, TestPki, TlsSetupError};
use judge::JudgeConfig;

/// How the judge offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientTls {
    /// No TLS at all (STARTTLS not offered, AUTH not offered).
    None,
    /// STARTTLS offered (RFC 3207).
    #[default]
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

/// How the judging receiver runs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// TLS mode.
    pub tls: ClientTls,
    /// Certificate chain and key (PEM files); `None`: generated with rcgen.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// How the judge misbehaves.
    pub scenario: Scenario,
    /// The judge's name in the greeting and EHLO reply.
    pub domain: String,
    /// The SIZE limit advertised (except in `size-too-small`).
    pub size_limit: u64,
    /// Delay before every reply, so that commands sent without waiting show.
    pub reply_delay: Duration,
    /// Delay before the greeting, so that early talkers show.
    pub greeting_delay: Duration,
    /// How long the judge watches for a reaction (late greeting line, EHLO
    /// reply after the injection, lines after a 421).
    pub reaction_window: Duration,
    /// A session silent for this long ends.
    pub idle_timeout: Duration,
}

impl ClientOptions {
    /// Defaults: STARTTLS with a generated certificate, the `normal` scenario.
    pub fn new(listen: &str) -> ClientOptions {
        ClientOptions {
            listen: listen.to_string(),
            tls: ClientTls::StartTls,
            cert: None,
            scenario: Scenario::Normal,
            domain: "localhost".into(),
            size_limit: 10 * 1024 * 1024,
            reply_delay: Duration::from_millis(50),
            greeting_delay: Duration::from_millis(150),
            reaction_window: Duration::from_millis(1000),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Why the judge could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The listening socket.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// Accepting a connection.
    #[error("accepting a connection: {0}")]
    Accept(std::io::Error),
    /// TLS set-up.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The scenario needs TLS but `--tls none` was given.
    #[error("scenario {0} needs --tls starttls or --tls implicit")]
    NeedsTls(Scenario),
}

/// The rules every session is judged by.
pub fn catalogue() -> Vec<CaseInfo> {
    Check::ALL.iter().map(|c| c.info()).collect()
}

/// The scenario reaction rules.
pub fn reactions() -> Vec<(Scenario, CaseInfo)> {
    Scenario::ALL
        .iter()
        .filter_map(|s| s.reaction().map(|info| (*s, info)))
        .collect()
}

/// The TLS configurations a listener may present.
#[derive(Clone)]
struct TlsSet {
    good: Arc<ServerConfig>,
    wrong_name: Arc<ServerConfig>,
    untrusted: Arc<ServerConfig>,
}

/// A bound judging receiver.
pub struct Listener {
    listener: TcpListener,
    options: ClientOptions,
    tls: Option<TlsSet>,
    ca_pem: Option<String>,
}

impl Listener {
    /// Binds the socket and prepares TLS (generating certificates when no
    /// `cert` was given).
    pub async fn bind(options: ClientOptions) -> Result<Listener, ClientError> {
        if options.tls == ClientTls::None && options.scenario.needs_tls() {
            return Err(ClientError::NeedsTls(options.scenario));
        }
        let (tls, ca_pem) = if options.tls == ClientTls::None {
            (None, None)
        } else {
            let pki = TestPki::generate()?;
            let good = match &options.cert {
                Some((cert, key)) => tls::server_config_from_files(cert, key)?,
                None => pki.server.server_config().map_err(TlsSetupError::from)?,
            };
            let set = TlsSet {
                good,
                wrong_name: pki
                    .wrong_name
                    .server_config()
                    .map_err(TlsSetupError::from)?,
                untrusted: pki.untrusted.server_config().map_err(TlsSetupError::from)?,
            };
            (Some(set), Some(pki.ca_cert))
        };
        let listener =
            TcpListener::bind(&options.listen)
                .await
                .map_err(|source| ClientError::Listen {
                    addr: options.listen.clone(),
                    source,
                })?;
        Ok(Listener {
            listener,
            options,
            tls,
            ca_pem,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The generated CA certificate (PEM) the client under test should
    /// trust; `None` without TLS. With `cert` given, only the bad-certificate
    /// scenarios use it.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Waits for the next client.
    pub async fn accept(&self) -> Result<Session, ClientError> {
        let (tcp, _) = self.listener.accept().await.map_err(ClientError::Accept)?;
        let o = &self.options;
        let tls = self.tls.as_ref().map(|set| match o.scenario {
            Scenario::BadCertName => set.wrong_name.clone(),
            Scenario::UntrustedCert => set.untrusted.clone(),
            _ => set.good.clone(),
        });
        Ok(Session {
            tcp,
            tls,
            implicit: o.tls == ClientTls::Implicit,
            idle: o.idle_timeout,
            cfg: JudgeConfig {
                scenario: o.scenario,
                domain: o.domain.clone(),
                tls: o.tls,
                size_limit: o.size_limit,
                reply_delay: o.reply_delay,
                greeting_delay: o.greeting_delay,
                reaction_window: o.reaction_window,
            },
        })
    }
}

/// An accepted connection, ready to be judged (may be moved to a task).
pub struct Session {
    tcp: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    implicit: bool,
    idle: Duration,
    cfg: JudgeConfig,
}

impl Session {
    /// Runs the session to its end and returns the verdicts.
    pub async fn judge(self) -> Report {
        self.judge_recorded().await.0
    }

    /// Runs the session to its end and returns the verdicts and the
    /// judge's recording of the session (which [`crate::observe::judge`]
    /// reads the same way).
    pub async fn judge_recorded(self) -> (Report, Transcript) {
        driver::judge_session(self.tcp, self.cfg, self.tls, self.implicit, self.idle).await
    }
}
