//! The client suite: each client program sends one message to the judging
//! receiver, once per TLS mode and scenario.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result};
use smtp_conformance::Report;
use smtp_conformance::client::{ClientOptions, ClientTls, Listener, Scenario};

use super::{PASSWORD, USER};
use smtp_peers::{CommandOutput, Peer, first_line_of, node_modules_dir, run_with_timeout};

/// The nodemailer client: one message, in the mode its first argument names.
const NODEMAILER_SEND: &str = include_str!("nodemailer_send.js");

/// How long a client may take for one session.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(40);

/// The clients under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Client {
    Curl,
    Swaks,
    Msmtp,
    Smtplib,
    SmtpSend,
    Nodemailer,
}

impl Client {
    pub(super) const ALL: [Client; 6] = [
        Client::Curl,
        Client::Swaks,
        Client::Msmtp,
        Client::Smtplib,
        Client::Nodemailer,
        Client::SmtpSend,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::Swaks => "swaks",
            Client::Msmtp => "msmtp",
            Client::Smtplib => "Python smtplib",
            Client::SmtpSend => "smtp-send",
            Client::Nodemailer => "nodemailer",
        }
    }

    pub(super) fn version(self, send: &Path) -> Option<String> {
        match self {
            Client::Curl => Peer::Curl.version().ok(),
            Client::Swaks => Peer::Swaks.version().ok(),
            Client::Msmtp => Peer::Msmtp.version().ok(),
            Client::Smtplib => Peer::Smtplib.version().ok(),
            Client::Nodemailer => Peer::Nodemailer.version().ok(),
            Client::SmtpSend => first_line_of(send, &["--version"])
                .map(|v| v.trim_start_matches("smtp-send ").to_string()),
        }
    }
}

/// The message every client sends: a line starting with a dot, a lone dot
/// (both must be stuffed), 8-bit text (needs BODY=8BITMIME), more than 64
/// octets (size-too-small).
pub(super) const MESSAGE: &str = "From: <a@example.test>\r\nTo: <b@example.test>\r\nSubject: smtp-conform client test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHello.\r\n.a line starting with a dot\r\n.\r\nGrüße aus dem Test.\r\n";

const FROM: &str = "a@example.test";
const TO: [&str; 2] = ["b@example.test", "c@example.test"];

/// Files a client needs.
pub(super) struct Files {
    pub(super) message: PathBuf,
    pub(super) swaks_message: PathBuf,
    pub(super) password: PathBuf,
    pub(super) send: PathBuf,
    pub(super) nodemailer_script: PathBuf,
}

impl Files {
    pub(super) fn write(dir: &Path, send: &Path) -> Result<Files> {
        std::fs::create_dir_all(dir)?;
        let files = Files {
            message: dir.join("message.eml"),
            swaks_message: dir.join("message-swaks.eml"),
            password: dir.join("password"),
            send: send.to_path_buf(),
            nodemailer_script: dir.join("nodemailer_send.js"),
        };
        std::fs::write(&files.nodemailer_script, NODEMAILER_SEND)?;
        std::fs::write(&files.message, MESSAGE)?;
        // swaks adds CRLF.CRLF itself: no final CRLF in its file.
        std::fs::write(&files.swaks_message, MESSAGE.trim_end_matches("\r\n"))?;
        std::fs::write(&files.password, PASSWORD)?;
        Ok(files)
    }
}

/// The TLS modes the client suite runs in, in the matrix's order.
pub(super) const MODES: [ClientTls; 3] =
    [ClientTls::StartTls, ClientTls::Implicit, ClientTls::None];

/// How a mode is named in the matrix and in report file names.
pub(super) fn mode_name(mode: ClientTls) -> &'static str {
    match mode {
        ClientTls::StartTls => "STARTTLS",
        ClientTls::Implicit => "implicit TLS",
        ClientTls::None => "no TLS",
    }
}

/// The mode in a file name.
pub(super) fn mode_slug(mode: ClientTls) -> &'static str {
    match mode {
        ClientTls::StartTls => "starttls",
        ClientTls::Implicit => "implicit",
        ClientTls::None => "none",
    }
}

/// True when `scenario` means something in `mode`: STARTTLS injection and
/// a missing STARTTLS only with STARTTLS, the certificate scenarios only
/// with TLS.
pub(super) fn applies(scenario: Scenario, mode: ClientTls) -> bool {
    match mode {
        ClientTls::StartTls => true,
        ClientTls::Implicit => {
            !matches!(scenario, Scenario::StartTlsInjection | Scenario::NoStartTls)
        }
        ClientTls::None => !scenario.needs_tls() && scenario != Scenario::NoStartTls,
    }
}

/// The scenarios `--quick` runs outside STARTTLS: `normal` (the 16 checks)
/// in both, the HELO fallback where it can be judged (without TLS: a client
/// that requires TLS is right to give up), and the certificate checks
/// over implicit TLS (a code path of its own in most clients).
pub(super) fn in_quick(scenario: Scenario, mode: ClientTls) -> bool {
    match mode {
        ClientTls::StartTls => true,
        ClientTls::Implicit => matches!(
            scenario,
            Scenario::Normal | Scenario::BadCertName | Scenario::UntrustedCert
        ),
        ClientTls::None => matches!(scenario, Scenario::Normal | Scenario::EhloRefused),
    }
}

/// The command that makes `client` send the message to `port` in `mode`:
/// with TLS (STARTTLS or implicit), TLS required, the certificate verified
/// against `ca` and AUTH as the suite's user; without TLS, no AUTH (the
/// judge offers none in the clear). `None`: the client cannot do `mode`.
fn command(
    client: Client,
    mode: ClientTls,
    port: u16,
    ca: &Path,
    f: &Files,
) -> Option<(Command, Option<PathBuf>)> {
    let port_s = port.to_string();
    let tls = mode != ClientTls::None;
    Some(match client {
        Client::Curl => {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--max-time", "30"]);
            let scheme = match mode {
                ClientTls::StartTls => {
                    cmd.arg("--ssl-reqd");
                    "smtp"
                }
                ClientTls::Implicit => "smtps",
                ClientTls::None => "smtp",
            };
            if tls {
                cmd.arg("--cacert")
                    .arg(ca)
                    .args(["--user", &format!("{USER}:{PASSWORD}")]);
            }
            cmd.args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
                // The URL path is the EHLO domain (else curl uses the file name).
                .arg(format!("{scheme}://localhost:{port}/curl.client.test"))
                .args(["--mail-from", FROM])
                .args(["--mail-rcpt", TO[0], "--mail-rcpt", TO[1], "-T"])
                .arg(&f.message);
            (cmd, None)
        }
        Client::Swaks => {
            let mut cmd = Command::new("swaks");
            cmd.args(["--server", "127.0.0.1", "--port", &port_s]);
            match mode {
                ClientTls::StartTls => {
                    cmd.arg("--tls");
                }
                ClientTls::Implicit => {
                    cmd.arg("--tls-on-connect");
                }
                ClientTls::None => {}
            }
            if tls {
                cmd.args(["--tls-verify", "--tls-ca-path"])
                    .arg(ca)
                    .args(["--tls-sni", "localhost"])
                    .args(["--auth", "PLAIN", "--auth-user", USER])
                    .args(["--auth-password", PASSWORD]);
            }
            cmd.args(["--from", FROM, "--to", &TO.join(",")])
                .args(["--helo", "swaks.client.test", "--timeout", "30", "--data"])
                .arg(&f.swaks_message);
            (cmd, None)
        }
        Client::Msmtp => {
            let mut cmd = Command::new("msmtp");
            cmd.args(["--host=127.0.0.1", &format!("--port={port}")]);
            match mode {
                ClientTls::StartTls => cmd.args(["--tls=on", "--tls-starttls=on"]),
                ClientTls::Implicit => cmd.args(["--tls=on", "--tls-starttls=off"]),
                ClientTls::None => cmd.args(["--tls=off", "--auth=off"]),
            };
            if tls {
                cmd.arg(format!("--tls-trust-file={}", ca.display()))
                    .args([
                        "--tls-host-override=localhost",
                        "--auth=plain",
                        &format!("--user={USER}"),
                    ])
                    .arg(format!("--passwordeval=cat {}", f.password.display()));
            }
            cmd.args([
                "--domain=msmtp.client.test",
                &format!("--from={FROM}"),
                "--",
            ])
            .args(TO);
            (cmd, Some(f.message.clone()))
        }
        Client::Smtplib => {
            let (connect, starttls, login) = match mode {
                ClientTls::StartTls => (
                    format!("smtplib.SMTP('localhost', {port}, timeout=30)"),
                    "\x20   s.starttls(context=ctx)\n",
                    true,
                ),
                ClientTls::Implicit => (
                    format!("smtplib.SMTP_SSL('localhost', {port}, timeout=30, context=ctx)"),
                    "",
                    true,
                ),
                ClientTls::None => (
                    format!("smtplib.SMTP('localhost', {port}, timeout=30)"),
                    "",
                    false,
                ),
            };
            let context = if tls {
                format!(
                    "ctx = ssl.create_default_context(cafile={:?})\n",
                    ca.display().to_string()
                )
            } else {
                String::new()
            };
            let login = if login {
                format!("\x20   s.login({USER:?}, {PASSWORD:?})\n")
            } else {
                String::new()
            };
            let script = format!(
                "import smtplib, ssl, sys\n\
                 msg = open({msg:?}, 'rb').read()\n\
                 {context}\
                 with {connect} as s:\n\
                 {starttls}\
                 {login}\
                 \x20   s.sendmail({FROM:?}, {to:?}, msg)\n",
                msg = f.message.display().to_string(),
                to = TO,
            );
            let mut cmd = Command::new("python3");
            cmd.args(["-c", &script]);
            (cmd, None)
        }
        Client::SmtpSend => {
            let mut cmd = Command::new(&f.send);
            cmd.args(["--server", &format!("localhost:{port}"), "--tls"])
                .arg(match mode {
                    ClientTls::StartTls => "starttls",
                    ClientTls::Implicit => "implicit",
                    ClientTls::None => "none",
                });
            if tls {
                cmd.arg("--ca")
                    .arg(ca)
                    .args(["--user", USER, "--password-file"])
                    .arg(&f.password);
            }
            cmd.args(["--from", FROM, "--to", TO[0], "--to", TO[1], "--message"])
                .arg(&f.message);
            (cmd, None)
        }
        Client::Nodemailer => {
            let mut cmd = Command::new("node");
            cmd.arg(&f.nodemailer_script)
                .arg(mode_slug(mode))
                .arg(&port_s)
                .arg(ca)
                .arg(&f.message)
                .arg(FROM)
                .args(TO)
                .env("NODE_PATH", node_modules_dir())
                .env("SMTP_USER", USER)
                .env("SMTP_PASSWORD", PASSWORD);
            (cmd, None)
        }
    })
}

/// One judged session: the report (None when the client never connected)
/// and how the client exited.
pub(super) struct Judged {
    pub(super) report: Option<Report>,
    pub(super) exit: String,
}

/// Runs `client` against a judging receiver in `mode` and `scenario`;
/// `None` when the client cannot be set up for `mode`.
pub(super) async fn judge(
    client: Client,
    mode: ClientTls,
    scenario: Scenario,
    dir: &Path,
    f: &Files,
) -> Result<Option<Judged>> {
    let mut o = ClientOptions::new("127.0.0.1:0");
    o.scenario = scenario;
    o.tls = mode;
    o.idle_timeout = Duration::from_secs(20);
    let listener = Listener::bind(o).await?;
    let name = format!(
        "{}-{}-{}",
        client.name().replace(' ', "-"),
        mode_slug(mode),
        scenario
    );
    let ca = dir.join(format!("ca-{name}.pem"));
    std::fs::write(&ca, listener.ca_pem().unwrap_or_default()).context("writing the CA")?;
    let Some((mut cmd, stdin)) = command(client, mode, listener.local_addr().port(), &ca, f) else {
        return Ok(None);
    };
    let log_dir = dir.to_path_buf();
    let child = tokio::task::spawn_blocking(move || -> Result<CommandOutput> {
        Ok(run_with_timeout(
            &name,
            &mut cmd,
            stdin.as_deref(),
            &log_dir,
            CLIENT_TIMEOUT,
        )?)
    });
    let session = tokio::time::timeout(CLIENT_TIMEOUT + Duration::from_secs(5), async {
        match listener.accept().await {
            Ok(s) => Some(s.judge().await),
            Err(_) => None,
        }
    });
    let report = session.await.ok().flatten();
    let exit = match child.await {
        Ok(Ok(out)) => match out.status.code() {
            Some(code) => format!("exit {code}"),
            None => "killed".to_string(),
        },
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => e.to_string(),
    };
    Ok(Some(Judged { report, exit }))
}
