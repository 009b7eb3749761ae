//! Python's smtplib (the system python3) sending to `smtp-receive`: the
//! `sendmail()` and `send_message()` APIs, plain, STARTTLS and implicit TLS.

use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use smtp_peers::{Peer, script_command};

use super::{Expect, FROM, check_content, check_mechanism, delivered, message_file, run_client};
use crate::ours::{PASSWORD, Receiver, USER};
use crate::{Case, Ctx, TlsMode};

/// The client script, written into the case's folder.
const SMTPLIB_CLIENT: &str = include_str!("../smtplib_client.py");

enum Api<'a> {
    Sendmail(&'a Path),
    SendMessage,
}

/// One run of smtplib_client.py.
struct Smtplib<'a> {
    port: u16,
    /// `plain`, `starttls` or `ssl`.
    mode: &'a str,
    auth: bool,
    api: Api<'a>,
    to: &'a [&'a str],
    /// Recipients the receiver must refuse (sendmail's refused dict).
    refused: &'a [&'a str],
    count: usize,
}

impl Smtplib<'_> {
    fn run(&self, ctx: &Ctx, dir: &Path) -> Result<()> {
        let mut cmd = script_command("python3", dir, "smtplib_client.py", SMTPLIB_CLIENT)?;
        cmd.args([
            "--host",
            "localhost",
            "--port",
            &self.port.to_string(),
            "--mode",
            self.mode,
        ])
        .arg("--ca")
        .arg(&ctx.pki().ca_cert)
        .args(["--from", FROM, "--count", &self.count.to_string()])
        .arg("--out")
        .arg(dir.join("sent"));
        for r in self.to {
            cmd.args(["--to", r]);
        }
        for r in self.refused {
            cmd.args(["--to", r, "--refused", r]);
        }
        match self.api {
            Api::Sendmail(file) => cmd.args(["--api", "sendmail", "--message"]).arg(file),
            Api::SendMessage => cmd.args(["--api", "send_message"]),
        };
        if self.auth {
            cmd.args(["--user", USER]).env("SMTP_PASSWORD", PASSWORD);
        }
        run_client(dir, "smtplib", &mut cmd, None)?;
        Ok(())
    }
}

/// The message smtplib wrote as sent number `n`.
fn sent(dir: &Path, n: usize) -> Result<Vec<u8>> {
    let path = dir.join(format!("sent/sent-{n}.eml"));
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

#[test]
fn smtplib_plain_sendmail() {
    Case::new("smtplib-plain-sendmail", Peer::Smtplib, TlsMode::None, "-")
        .run(|ctx, dir| sendmail(ctx, dir, false));
}

#[test]
fn smtplib_starttls_login_send_message() {
    Case::new(
        "smtplib-starttls-login-send_message",
        Peer::Smtplib,
        TlsMode::StartTls,
        "PLAIN",
    )
    .run(|ctx, dir| send_message(ctx, dir, |r| r.smtp.port(), "starttls"));
}

#[test]
fn smtplib_ssl_login_sendmail() {
    Case::new(
        "smtplib-ssl-login-sendmail",
        Peer::Smtplib,
        TlsMode::Implicit,
        "PLAIN",
    )
    .run(|ctx, dir| sendmail(ctx, dir, true));
}

#[test]
fn smtplib_ssl_login_send_message() {
    Case::new(
        "smtplib-ssl-login-send_message",
        Peer::Smtplib,
        TlsMode::Implicit,
        "PLAIN",
    )
    .run(|ctx, dir| send_message(ctx, dir, |r| r.smtps.port(), "ssl"));
}

/// `sendmail()` of a file: in plain text with one recipient outside
/// example.test, refused by RCPT (550), reported by sendmail() in its dict
/// while the others still get the message; or over implicit TLS with AUTH.
fn sendmail(ctx: &Ctx, dir: &Path, tls: bool) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, tls)?;
    let (to, refused, count): (&[&str], &[&str], usize) = if tls {
        (&["alice@example.test"], &[], 2)
    } else {
        (
            &["alice@example.test", "bob@example.test"],
            &["carol@elsewhere.invalid"],
            3,
        )
    };
    let subject = if tls {
        "smtplib SMTP_SSL sendmail"
    } else {
        "smtplib sendmail, plain"
    };
    let (bytes, file) = message_file(dir, to, subject)?;
    Smtplib {
        port: if tls {
            receiver.smtps.port()
        } else {
            receiver.smtp.port()
        },
        mode: if tls { "ssl" } else { "plain" },
        auth: tls,
        api: Api::Sendmail(&file),
        to,
        refused,
        count,
    }
    .run(ctx, dir)?;
    let protocol = if tls { "ESMTPSA" } else { "ESMTP" };
    let expect = Expect {
        from: FROM,
        rcpts: to,
        protocol,
    };
    for stored in delivered(&mut receiver, count)? {
        expect.check_trace(&stored)?;
        check_content(&stored, &bytes)?;
    }
    if tls {
        check_mechanism(&mut receiver, "PLAIN")?;
        Ok("2 msgs, ESMTPSA".into())
    } else {
        Ok("3 msgs in 1 session, 1 rcpt refused (550)".into())
    }
}

fn send_message(
    ctx: &Ctx,
    dir: &Path,
    port: impl Fn(&Receiver) -> u16,
    mode: &str,
) -> Result<String> {
    let mut receiver = Receiver::start(ctx, dir, true)?;
    let to = ["alice@example.test"];
    Smtplib {
        port: port(&receiver),
        mode,
        auth: true,
        api: Api::SendMessage,
        to: &to,
        refused: &[],
        count: 2,
    }
    .run(ctx, dir)?;
    let expect = Expect {
        from: FROM,
        rcpts: &to,
        protocol: "ESMTPSA",
    };
    for (i, stored) in delivered(&mut receiver, 2)?.iter().enumerate() {
        expect.check_trace(stored)?;
        check_content(stored, &sent(dir, i + 1)?)?;
        ensure!(stored.header("Bcc").is_none(), "Bcc was transmitted");
    }
    check_mechanism(&mut receiver, "PLAIN")?;
    Ok("2 msgs (email pkg, RFC 2047 subject, attachment), ESMTPSA".into())
}
