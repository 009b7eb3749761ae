//! This workspace's two programs as the cases use them: building and
//! finding `smtp-receive` / `smtp-send`, running the receiver as a guarded
//! peer, and running the sender once.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::peers::{
    CommandOutput, PeerProcess, StoredFile, read_maildir, repo_root, run_with_timeout,
};

use super::Ctx;

/// The AUTH user every case uses, on both sides.
pub const USER: &str = "alice";
/// Its password (test-only; handed to clients through files or the environment).
pub const PASSWORD: &str = "interop-s3cret";

/// Paths of the two binaries under test.
#[derive(Debug, Clone)]
pub struct Bins {
    /// `smtp-receive`.
    pub receive: PathBuf,
    /// `smtp-send`.
    pub send: PathBuf,
}

impl Bins {
    /// Builds both binaries with cargo (debug, or release), unless `dir`
    /// names a folder that already holds them.
    pub fn locate(dir: Option<&Path>, release: bool) -> Result<Bins> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let mut cmd = Command::new(cargo);
                cmd.current_dir(repo_root()).args([
                    "build",
                    "--quiet",
                    "-p",
                    "smtp-receiver",
                    "-p",
                    "smtp-sender",
                    "--bins",
                ]);
                if release {
                    cmd.arg("--release");
                }
                println!(
                    "building smtp-receive and smtp-send ({})",
                    if release { "release" } else { "debug" }
                );
                let status = cmd.status().context("running cargo build")?;
                if !status.success() {
                    bail!("cargo build of smtp-receiver / smtp-sender failed ({status})");
                }
                target_dir().join(if release { "release" } else { "debug" })
            }
        };
        let bins = Bins {
            receive: dir.join("smtp-receive"),
            send: dir.join("smtp-send"),
        };
        for bin in [&bins.receive, &bins.send] {
            if !bin.is_file() {
                bail!("{} not found", bin.display());
            }
        }
        Ok(bins)
    }
}

/// `$CARGO_TARGET_DIR` (relative to the workspace root when relative), else `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join("target"),
    }
}

/// `smtp-receive` with STARTTLS and implicit TLS listeners on free ports,
/// delivering to a fresh Maildir, mail accepted for `example.test`, user
/// [`USER`] known; stopped when dropped.
pub struct Receiver {
    process: PeerProcess,
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
        let mut cmd = Command::new(&ctx.bins.receive);
        cmd.args(["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0"])
            .arg("--cert")
            .arg(&ctx.pki.server_cert)
            .arg("--key")
            .arg(&ctx.pki.server_key)
            .arg("--maildir")
            .arg(&maildir)
            .args(["--hostname", "localhost", "--domain", "example.test"])
            .args(["--user", &format!("{USER}:{PASSWORD}")])
            .arg("-v");
        if require_auth {
            cmd.arg("--require-auth");
        }
        let mut process = PeerProcess::spawn("smtp-receive", &mut cmd, dir)?;
        // `listening on 127.0.0.1:PORT (smtp, starttls)` / `(smtps)`.
        let mut smtp = None;
        let mut smtps = None;
        process.wait_for_stdout(Duration::from_secs(20), |line| {
            let rest = line.strip_prefix("listening on ")?;
            let (addr, kind) = rest.split_once(' ')?;
            let addr: SocketAddr = addr.parse().ok()?;
            if kind.contains("smtps") {
                smtps = Some(addr);
            } else {
                smtp = Some(addr);
            }
            (smtp.is_some() && smtps.is_some()).then_some(())
        })?;
        let (Some(smtp), Some(smtps)) = (smtp, smtps) else {
            bail!(
                "smtp-receive did not print both listeners: {}",
                process.stdout()
            );
        };
        Ok(Receiver {
            process,
            smtp,
            smtps,
            maildir,
        })
    }

    /// Messages delivered so far.
    pub fn messages(&self) -> Result<Vec<StoredFile>> {
        read_maildir(&self.maildir)
    }

    /// Stops the receiver and returns every session's transcript (`-v`, on
    /// stderr). A transcript is written when its session ends, which may be
    /// after the client has exited: stopping first (graceful shutdown waits
    /// for the sessions) makes the text complete.
    pub fn stop_and_transcript(&mut self) -> String {
        self.process.stop();
        self.process.stderr()
    }

    /// Fails when the receiver died during the case.
    pub fn check_running(&mut self) -> Result<()> {
        self.process.check_running()
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
        .arg(&ctx.pki.ca_cert)
        .args(["--servername", "localhost", "--timeout", "30"])
        .args(args)
        .env_remove("SMTP_PASSWORD");
    if auth {
        cmd.args(["--user", USER]).env("SMTP_PASSWORD", PASSWORD);
    }
    run_with_timeout(name, &mut cmd, None, dir, Duration::from_secs(60))
}

/// `OsString` arguments from anything string-like.
pub fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}
