//! `smtp-send` talking to independent servers: aiosmtpd, a private Postfix
//! smtpd, Postfix's smtp-sink and Python's smtpd. Each case checks the
//! sender's exit code and per-recipient report, and what the server stored:
//! the content byte for byte (LF-normalised), the envelope, and whether the
//! session used TLS and AUTH as the server saw it.

mod aiosmtpd;
mod postfix;
mod python_smtpd;
mod smtp_sink;

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Result, ensure};
use smtp_peers::{CommandOutput, PeerMessage, StoredFile};

use super::Ctx;
use super::messages::MessageSpec;
use super::ours::{args, smtp_send};

/// The envelope sender of every message.
const FROM: &str = "sender@example.test";

/// Writes the case's test message (`MessageSpec`) to `DIR/message.eml`.
pub fn message(dir: &Path, spec: MessageSpec<'_>) -> Result<(Vec<u8>, OsString)> {
    let bytes = spec.build();
    let path = dir.join("message.eml");
    std::fs::write(&path, &bytes)?;
    Ok((bytes, path.into_os_string()))
}

/// One `smtp-send --message FILE` run.
pub struct Send<'a> {
    /// The server's port on 127.0.0.1.
    pub port: u16,
    /// `--tls` mode.
    pub tls: &'a str,
    /// `--to`, in order.
    pub to: &'a [&'a str],
    extra: &'a [&'a str],
    auth: bool,
}

impl<'a> Send<'a> {
    pub fn new(port: u16, tls: &'a str, to: &'a [&'a str]) -> Send<'a> {
        Send {
            port,
            tls,
            to,
            extra: &[],
            auth: false,
        }
    }

    pub fn extra(mut self, extra: &'a [&'a str]) -> Send<'a> {
        self.extra = extra;
        self
    }

    pub fn auth(mut self, auth: bool) -> Send<'a> {
        self.auth = auth;
        self
    }

    /// `--server 127.0.0.1:PORT --tls MODE --from FROM --to R... [extra] --message FILE`.
    pub fn run(&self, ctx: &Ctx, dir: &Path, file: &OsString) -> Result<CommandOutput> {
        let mut a = args([
            "--server".to_string(),
            format!("127.0.0.1:{}", self.port),
            "--tls".into(),
            self.tls.into(),
            "--from".into(),
            FROM.into(),
        ]);
        for r in self.to {
            a.extend(args(["--to", r]));
        }
        a.extend(args(self.extra.iter().copied()));
        a.extend([OsString::from("--message"), file.clone()]);
        smtp_send(ctx, dir, "smtp-send", &a, self.auth)
    }
}

/// Exit 0 and one `accepted <rcpt>` line per recipient.
pub fn check_accepted(out: CommandOutput, to: &[&str]) -> Result<CommandOutput> {
    let out = out.success("smtp-send")?;
    for r in to {
        ensure!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("accepted") && l.contains(&format!("<{r}>"))),
            "no `accepted <{r}>` line in: {}",
            out.stdout
        );
    }
    Ok(out)
}

/// The stored file is the message, modulo line ends (the peer added nothing
/// or only trace fields before it).
pub fn check_same(file: &StoredFile, expected: &[u8]) -> Result<()> {
    ensure!(
        file.ends_with_message(expected),
        "{}: stored {} octets that do not end with the {} sent",
        file.path.display(),
        file.bytes.len(),
        expected.len()
    );
    Ok(())
}

/// Envelope and session as the Python peer recorded them.
pub fn check_envelope(m: &PeerMessage, to: &[&str], tls: bool, login: Option<&str>) -> Result<()> {
    let e = &m.envelope;
    ensure!(e.mail_from == FROM, "MAIL FROM {:?}", e.mail_from);
    ensure!(e.rcpt_to == to, "RCPT TO {:?}, expected {to:?}", e.rcpt_to);
    ensure!(
        e.tls.is_some() == tls,
        "the peer saw TLS {:?}, expected {}",
        e.tls,
        if tls { "TLS" } else { "none" }
    );
    ensure!(
        e.login.as_deref() == login,
        "the peer saw login {:?}, expected {login:?}",
        e.login
    );
    Ok(())
}
