//! The client suite: each client program sends one message to the judging
//! receiver, once per scenario.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result};
use smtp_conformance::Report;
use smtp_conformance::client::{ClientOptions, ClientTls, Listener, Scenario};

use super::{PASSWORD, USER};
use smtp_peers::{CommandOutput, Peer, first_line_of, run_with_timeout};

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
}

impl Client {
    pub(super) const ALL: [Client; 5] = [
        Client::Curl,
        Client::Swaks,
        Client::Msmtp,
        Client::Smtplib,
        Client::SmtpSend,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::Swaks => "swaks",
            Client::Msmtp => "msmtp",
            Client::Smtplib => "Python smtplib",
            Client::SmtpSend => "smtp-send",
        }
    }

    pub(super) fn version(self, send: &Path) -> Option<String> {
        match self {
            Client::Curl => Peer::Curl.version().ok(),
            Client::Swaks => Peer::Swaks.version().ok(),
            Client::Msmtp => Peer::Msmtp.version().ok(),
            Client::Smtplib => Peer::Smtplib.version().ok(),
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
}

impl Files {
    pub(super) fn write(dir: &Path, send: &Path) -> Result<Files> {
        std::fs::create_dir_all(dir)?;
        let files = Files {
            message: dir.join("message.eml"),
            swaks_message: dir.join("message-swaks.eml"),
            password: dir.join("password"),
            send: send.to_path_buf(),
        };
        std::fs::write(&files.message, MESSAGE)?;
        // swaks adds CRLF.CRLF itself: no final CRLF in its file.
        std::fs::write(&files.swaks_message, MESSAGE.trim_end_matches("\r\n"))?;
        std::fs::write(&files.password, PASSWORD)?;
        Ok(files)
    }
}

/// The command that makes `client` send the message to `port` over
/// STARTTLS, requiring TLS and verifying the certificate against `ca`.
fn command(client: Client, port: u16, ca: &Path, f: &Files) -> (Command, Option<PathBuf>) {
    let port_s = port.to_string();
    match client {
        Client::Curl => {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--max-time", "30", "--ssl-reqd", "--cacert"])
                .arg(ca)
                .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
                // The URL path is the EHLO domain (else curl uses the file name).
                .arg(format!("smtp://localhost:{port}/curl.client.test"))
                .args(["--user", &format!("{USER}:{PASSWORD}"), "--mail-from", FROM])
                .args(["--mail-rcpt", TO[0], "--mail-rcpt", TO[1], "-T"])
                .arg(&f.message);
            (cmd, None)
        }
        Client::Swaks => {
            let mut cmd = Command::new("swaks");
            cmd.args([
                "--server",
                "127.0.0.1",
                "--port",
                &port_s,
                "--tls",
                "--tls-verify",
            ])
            .arg("--tls-ca-path")
            .arg(ca)
            .args([
                "--tls-sni",
                "localhost",
                "--from",
                FROM,
                "--to",
                &TO.join(","),
            ])
            .args([
                "--auth",
                "PLAIN",
                "--auth-user",
                USER,
                "--auth-password",
                PASSWORD,
            ])
            .args(["--helo", "swaks.client.test", "--timeout", "30", "--data"])
            .arg(&f.swaks_message);
            (cmd, None)
        }
        Client::Msmtp => {
            let mut cmd = Command::new("msmtp");
            cmd.args([
                "--host=127.0.0.1",
                &format!("--port={port}"),
                "--tls=on",
                "--tls-starttls=on",
            ])
            .arg(format!("--tls-trust-file={}", ca.display()))
            .args([
                "--tls-host-override=localhost",
                "--auth=plain",
                &format!("--user={USER}"),
            ])
            .arg(format!("--passwordeval=cat {}", f.password.display()))
            .args([
                "--domain=msmtp.client.test",
                &format!("--from={FROM}"),
                "--",
            ])
            .args(TO);
            (cmd, Some(f.message.clone()))
        }
        Client::Smtplib => {
            let script = format!(
                "import smtplib, ssl, sys\n\
                 msg = open({msg:?}, 'rb').read()\n\
                 with smtplib.SMTP('localhost', {port}, timeout=30) as s:\n\
                 \x20   s.starttls(context=ssl.create_default_context(cafile={ca:?}))\n\
                 \x20   s.login({USER:?}, {PASSWORD:?})\n\
                 \x20   s.sendmail({FROM:?}, {to:?}, msg)\n",
                msg = f.message.display().to_string(),
                ca = ca.display().to_string(),
                to = TO,
            );
            let mut cmd = Command::new("python3");
            cmd.args(["-c", &script]);
            (cmd, None)
        }
        Client::SmtpSend => {
            let mut cmd = Command::new(&f.send);
            cmd.args([
                "--server",
                &format!("localhost:{port}"),
                "--tls",
                "starttls",
                "--ca",
            ])
            .arg(ca)
            .args(["--user", USER, "--password-file"])
            .arg(&f.password)
            .args(["--from", FROM, "--to", TO[0], "--to", TO[1], "--message"])
            .arg(&f.message);
            (cmd, None)
        }
    }
}

/// One judged session: the report (None when the client never connected)
/// and how the client exited.
pub(super) struct Judged {
    pub(super) report: Option<Report>,
    pub(super) exit: String,
}

/// Runs `client` against a judging receiver in `scenario`.
pub(super) async fn judge(
    client: Client,
    scenario: Scenario,
    dir: &Path,
    f: &Files,
) -> Result<Judged> {
    let mut o = ClientOptions::new("127.0.0.1:0");
    o.scenario = scenario;
    o.tls = ClientTls::StartTls;
    o.idle_timeout = Duration::from_secs(20);
    let listener = Listener::bind(o).await?;
    let ca = dir.join(format!(
        "ca-{}-{}.pem",
        client.name().replace(' ', "-"),
        scenario
    ));
    std::fs::write(&ca, listener.ca_pem().unwrap_or_default()).context("writing the CA")?;
    let (mut cmd, stdin) = command(client, listener.local_addr().port(), &ca, f);
    let log_dir = dir.to_path_buf();
    let name = format!("{}-{}", client.name().replace(' ', "-"), scenario);
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
    Ok(Judged { report, exit })
}
