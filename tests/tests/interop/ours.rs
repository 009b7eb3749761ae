//! This workspace's two programs as the cases use them: the receiver as a
//! guarded process with a fresh Maildir, and the sender run once.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result};
use smtp_peers::{CommandOutput, StoredFile, read_maildir, run_with_timeout};
use smtp_testkit::bins::RunningReceiver;

use super::Ctx;

/// The AUTH user every case uses, on both sides.
pub const USER: &str = "alice";
/// Its password (test-only; handed to clients through files or the environment).
pub const PASSWORD: &str = "interop-s3cret";

/// `smtp-receive` with STARTTLS and implicit TLS listeners on free ports,
/// delivering to a fresh Maildir, mail accepted for `example.test`, user
/// [`USER`] known; stopped when dropped.
pub struct Receiver {
    running: RunningReceiver,
    /// Plain listener (STARTTLS offered).
    pub smtp: SocketAddr,
    /// Implicit-TLS listener.
    pub smtps: SocketAddr,
    /// Where accepted mail goes.
    pub maildir: PathBuf,
}

impl Receiver {
    /// Starts it; `require_auth` refuses MAIL before AUTH.
    pub fn start(ctx: &Ctx, dir: &Path, require_auth: bool) -> Result<Receiver> {
        let maildir = dir.join("maildir");
        let mut args = args(["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"]);
        args.extend(args_of_paths([
            ("--cert", &ctx.pki().server_cert),
            ("--key", &ctx.pki().server_key),
            ("--maildir", &maildir),
        ]));
        args.extend(self::args([
            "--hostname",
            "localhost",
            "--domain",
            "example.test",
            "--user",
            &format!("{USER}:{PASSWORD}"),
            "-v",
        ]));
        if require_auth {
            args.push("--require-auth".into());
        }
        let running = RunningReceiver::start(&ctx.bins.receive, &args, dir)?;
        let smtp = running
            .plain()
            .context("smtp-receive printed no plain listener")?;
        let smtps = running
            .implicit_tls()
            .context("smtp-receive printed no implicit-TLS listener")?;
        Ok(Receiver {
            running,
            smtp,
            smtps,
            maildir,
        })
    }

    /// Messages delivered so far.
    pub fn messages(&self) -> Result<Vec<StoredFile>> {
        Ok(read_maildir(&self.maildir)?)
    }

    /// Stops the receiver and returns every session's transcript (`-v`, on
    /// stderr). A transcript is written when its session ends, which may be
    /// after the client has exited: stopping first (graceful shutdown waits
    /// for the sessions) makes the text complete.
    pub fn stop_and_transcript(&mut self) -> String {
        let process = self.running.process();
        process.stop();
        process.stderr()
    }

    /// Fails when the receiver died during the case.
    pub fn check_running(&mut self) -> Result<()> {
        Ok(self.running.process().check_running()?)
    }
}

/// Runs `smtp-send -v --ca CA --servername localhost ARGS...` with
/// [`PASSWORD`] in `SMTP_PASSWORD` when `auth` is true; the transcript is in
/// the output's stderr.
pub fn smtp_send(
    ctx: &Ctx,
    dir: &Path,
    name: &str,
    args: &[OsString],
    auth: bool,
) -> Result<CommandOutput> {
    let mut cmd = Command::new(&ctx.bins.send);
    cmd.arg("-v")
        .arg("--ca")
        .arg(&ctx.pki().ca_cert)
        .args(["--servername", "localhost", "--timeout", "30"])
        .args(args)
        .env_remove("SMTP_PASSWORD");
    if auth {
        cmd.args(["--user", USER]).env("SMTP_PASSWORD", PASSWORD);
    }
    Ok(run_with_timeout(
        name,
        &mut cmd,
        None,
        dir,
        Duration::from_secs(60),
    )?)
}

/// `OsString` arguments from anything string-like.
pub fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}

/// `--flag PATH` pairs as arguments.
fn args_of_paths<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a PathBuf)>) -> Vec<OsString> {
    pairs
        .into_iter()
        .flat_map(|(flag, path)| [OsString::from(flag), path.clone().into_os_string()])
        .collect()
}
