//! The server suite against smtp-receive, Postfix, aiosmtpd, nodemailer's
//! smtp-server and Exim.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use smtp_conformance::Report;
use smtp_conformance::server::{self, ServerOptions, TlsMode};
use smtp_conformance::tls::Trust;
use smtp_peers::{
    Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, Dovecot, Exim, EximConfig, NodeSmtpServer,
    NodeSmtpServerConfig, NodeSmtpTls, Peer, Postfix, PostfixConfig, first_line_of,
    postfix_sasl_installed,
};
use smtp_testkit::bins::RunningReceiver;
use smtp_testkit::certs::PkiFiles;

use super::{PASSWORD, USER};

/// The idle cases, run on their own with a long `--idle-wait`.
const IDLE_CASES: [&str; 2] = ["limit.idle-timeout", "limit.slow-command"];

/// Where a server under test listens.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    pub(super) name: &'static str,
    pub(super) addr: SocketAddr,
    /// The AUTH user exists there.
    pub(super) auth: bool,
    /// It speaks LMTP (RFC 2033): the suite greets with LHLO and runs the
    /// LMTP cases, without TLS or AUTH (a local delivery service).
    pub(super) lmtp: bool,
}

/// One server under test, running.
pub(super) struct Target {
    pub(super) endpoint: Endpoint,
    pub(super) version: String,
    /// Keeps the peer running while held; dropping it stops the peer.
    _guard: Box<dyn std::any::Any + Send>,
}

/// smtp-receive with STARTTLS, AUTH and a sink, and `--strict`: the
/// content policy for conformance labs (the liberal default accepts a
/// UTF-8 address without SMTPUTF8 as Postfix does, so it fails
/// `syntax.non-ascii-address` by design; docs/conformance.md).
pub(super) fn start_receive(bin: &Path, pki: &PkiFiles, dir: &Path) -> Result<Target> {
    let user = format!("{USER}:{PASSWORD}");
    let args = [
        "--strict",
        "--listen",
        "127.0.0.1:0",
        "--sink",
        "--domain",
        "example.test",
        "--hostname",
        "localhost",
        "--user",
        &user,
    ]
    .map(std::ffi::OsStr::new)
    .into_iter()
    .chain([
        "--cert".as_ref(),
        pki.server_cert.as_os_str(),
        "--key".as_ref(),
        pki.server_key.as_os_str(),
    ]);
    let running = RunningReceiver::start(bin, args, dir)?;
    let addr = running
        .plain()
        .context("smtp-receive printed no listener")?;
    let version = first_line_of(bin, &["--version"]).unwrap_or_else(|| "?".into());
    Ok(Target {
        endpoint: Endpoint {
            name: "smtp-receive",
            addr,
            auth: true,
            lmtp: false,
        },
        version: version.trim_start_matches("smtp-receive ").to_string(),
        _guard: Box::new(running),
    })
}

/// A private Postfix with its Debian defaults, plus TLS, a Maildir for
/// example.test and (when Cyrus SASL is there) an AUTH user.
pub(super) fn start_postfix(pki: &PkiFiles) -> Result<Target> {
    let version = Peer::PostfixSmtpd.version()?;
    let mut config = PostfixConfig::new(&pki.server_cert, &pki.server_key);
    let auth = postfix_sasl_installed();
    if auth {
        config.users.push((USER.into(), PASSWORD.into()));
    }
    let postfix = Postfix::start(&config).context("starting Postfix")?;
    Ok(Target {
        endpoint: Endpoint {
            name: "Postfix",
            addr: postfix.smtp_addr(),
            auth,
            lmtp: false,
        },
        version,
        _guard: Box::new(postfix),
    })
}

/// aiosmtpd with STARTTLS (not required) and an AUTH user.
pub(super) fn start_aiosmtpd(pki: &PkiFiles) -> Result<Target> {
    let version = Peer::Aiosmtpd.version()?;
    let config = AiosmtpdConfig::tls(
        AiosmtpdTls::StartTls { required: false },
        &pki.server_cert,
        &pki.server_key,
    )
    .user(USER, PASSWORD);
    let aio = Aiosmtpd::start(&config).context("starting aiosmtpd")?;
    Ok(Target {
        endpoint: Endpoint {
            name: "aiosmtpd",
            addr: aio.addr(),
            auth: true,
            lmtp: false,
        },
        version,
        _guard: Box::new(aio),
    })
}

/// nodemailer's smtp-server with STARTTLS (not required), an AUTH user
/// (offered under TLS only), mail without AUTH accepted, recipients in
/// example.test only.
pub(super) fn start_node_smtp_server(pki: &PkiFiles) -> Result<Target> {
    let version = Peer::NodeSmtpServer.version()?;
    let config =
        NodeSmtpServerConfig::tls(NodeSmtpTls::StartTls, &pki.server_cert, &pki.server_key)
            .user(USER, PASSWORD)
            .domain("example.test");
    let server = NodeSmtpServer::start(&config).context("starting smtp-server")?;
    Ok(Target {
        endpoint: Endpoint {
            name: "smtp-server",
            addr: server.addr(),
            auth: true,
            lmtp: false,
        },
        version,
        _guard: Box::new(server),
    })
}

/// Exim with its built-in defaults, plus STARTTLS, an AUTH user (under TLS
/// only) and example.test as its local domain (smtp-peers' exim.rs).
pub(super) fn start_exim(pki: &PkiFiles) -> Result<Target> {
    let version = Peer::Exim.usable()?;
    let mut config = EximConfig::new(&pki.server_cert, &pki.server_key);
    config.users.push((USER.into(), PASSWORD.into()));
    let exim = Exim::start(&config).context("starting Exim")?;
    Ok(Target {
        endpoint: Endpoint {
            name: "Exim",
            addr: exim.addr(),
            auth: true,
            lmtp: false,
        },
        version,
        _guard: Box::new(exim),
    })
}

/// smtp-receive's LMTP listener (`--listen-lmtp`), `--strict`, into a sink.
pub(super) fn start_receive_lmtp(bin: &Path, dir: &Path) -> Result<Target> {
    let args = [
        "--strict",
        "--listen-lmtp",
        "127.0.0.1:0",
        "--sink",
        "--domain",
        "example.test",
        "--hostname",
        "localhost",
    ];
    let running = RunningReceiver::start(bin, args, dir)?;
    let addr = running
        .listeners()
        .first()
        .map(|l| l.addr)
        .context("smtp-receive printed no listener")?;
    let version = first_line_of(bin, &["--version"]).unwrap_or_else(|| "?".into());
    Ok(Target {
        endpoint: Endpoint {
            name: "smtp-receive LMTP",
            addr,
            auth: false,
            lmtp: true,
        },
        version: version.trim_start_matches("smtp-receive ").to_string(),
        _guard: Box::new(running),
    })
}

/// Dovecot's LMTP service (any recipient is a user; smtp-peers' dovecot.rs).
pub(super) fn start_dovecot_lmtp() -> Result<Target> {
    let version = Peer::Dovecot.usable()?;
    let dovecot = Dovecot::start().context("starting Dovecot")?;
    Ok(Target {
        endpoint: Endpoint {
            name: "Dovecot LMTP",
            addr: dovecot.lmtp_addr(),
            auth: false,
            lmtp: true,
        },
        version,
        _guard: Box::new(dovecot),
    })
}

/// Recipients of the LMTP rows: a reply per recipient is what the LMTP
/// cases check, so they send to three.
const LMTP_RCPTS: [&str; 3] = [
    "alice@example.test",
    "bob@example.test",
    "carol@example.test",
];

fn options(t: &Endpoint, pki: &PkiFiles) -> ServerOptions {
    if t.lmtp {
        let mut o = ServerOptions::new(&format!("lmtp:{}", t.addr), LMTP_RCPTS[0]);
        o.more_rcpts = LMTP_RCPTS[1..].iter().map(|r| r.to_string()).collect();
        return o;
    }
    let mut o = ServerOptions::new(&t.addr.to_string(), "inbox@example.test");
    o.tls = TlsMode::StartTls;
    o.trust = Trust::CaFile(pki.ca_cert.clone());
    o.server_name = Some("localhost".into());
    o.auth = t.auth.then(|| (USER.to_string(), PASSWORD.to_string()));
    o
}

/// The suite without the idle cases.
pub(super) async fn run_main(t: &Endpoint, pki: &PkiFiles) -> Result<Report> {
    let mut o = options(t, pki);
    o.skip = IDLE_CASES.iter().map(|s| s.to_string()).collect();
    server::run(&o)
        .await
        .with_context(|| format!("the server suite against {}", t.name))
}

/// The idle cases alone, side by side, each waiting up to `wait` (longer
/// than RFC 5321's 5 minutes, for a verdict either way).
pub(super) async fn run_idle(t: &Endpoint, pki: &PkiFiles, wait: Duration) -> Result<Report> {
    let runs = IDLE_CASES.map(|id| {
        let mut o = options(t, pki);
        o.only = vec![id.to_string()];
        o.idle_wait = Some(wait);
        tokio::spawn(async move { server::run(&o).await })
    });
    let mut merged: Option<Report> = None;
    for run in runs {
        let report = run
            .await?
            .with_context(|| format!("the idle cases against {}", t.name))?;
        match merged.as_mut() {
            None => merged = Some(report),
            Some(m) => {
                m.results.extend(report.results);
                m.duration = m.duration.max(report.duration);
            }
        }
    }
    merged.context("no idle case ran")
}

/// Replaces the idle cases' results in `main` by those of `idle`.
pub(super) fn merge(main: &mut Report, idle: Report) {
    main.results.retain(|r| !IDLE_CASES.contains(&r.info.id));
    main.results.extend(idle.results);
    main.duration = main.duration.max(idle.duration);
}
