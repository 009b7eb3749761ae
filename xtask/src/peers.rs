//! Independent SMTP peers on loopback, for `cargo xtask interop` and
//! `cargo xtask conformance`: check they are installed, start them on free
//! high ports, read what they stored, stop them.
//!
//! `bash .ci/install-peers` installs them (Postfix with smtp-sink and
//! smtp-source, swaks, curl, msmtp from Debian; aiosmtpd in `.peers/venv`).
//! Every server here is a guard: dropping it (also while a panic unwinds)
//! stops its process by PID, SIGTERM then SIGKILL, and removes its
//! temporary folder; [`stop_peers_on_signal`] does the same on Ctrl-C.
//! Nothing here uses port 25 or a system mail service.
//!
//! ```no_run
//! # fn demo(pki: &smtp_testkit::certs::PkiFiles) -> anyhow::Result<()> {
//! use crate::peers::{Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, Postfix, PostfixConfig};
//! // A private Postfix instance: STARTTLS on smtp_addr(), implicit TLS on
//! // smtps_addr(), mail for example.test into a Maildir.
//! let postfix = Postfix::start(&PostfixConfig::new(&pki.server_cert, &pki.server_key))?;
//! // ... send to postfix.smtp_addr() ...
//! let delivered = postfix.wait_for_messages(1, std::time::Duration::from_secs(10), |_| true)?;
//!
//! // aiosmtpd with STARTTLS required and one AUTH user.
//! let aio = Aiosmtpd::start(
//!     &AiosmtpdConfig::tls(AiosmtpdTls::StartTls { required: true }, &pki.server_cert, &pki.server_key)
//!         .user("alice", "secret"),
//! )?;
//! let stored = aio.wait_for_messages(1, std::time::Duration::from_secs(5))?;
//! # Ok(()) }
//! ```

// A toolbox shared by two tasks: not every item is used by both.
#![allow(dead_code)]

mod maildir;
mod postfix;
mod process;
mod python;
mod sink;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// Re-exported for both tasks; each uses a part.
#[allow(unused_imports)]
pub use maildir::{
    PeerEnvelope, PeerMessage, StoredFile, normalize_newlines, read_maildir, read_store,
};
pub use postfix::{Postfix, PostfixConfig};
#[allow(unused_imports)]
pub use process::{
    CommandOutput, PeerProcess, free_port, interrupted, is_listening, poll_until, read_lossy,
    run_with_timeout, running_as_root, stop_peers_on_signal, tail,
};
#[allow(unused_imports)]
pub use python::{
    Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, PythonSmtpd, python_version, venv_dir, venv_python,
};
pub use sink::{SmtpSink, SourceOptions, smtp_source};

/// Where peers make their temporary folders, and whether to keep them.
static TEMP_PARENT: OnceLock<(PathBuf, bool)> = OnceLock::new();

/// Makes every peer started afterwards create its folder (config, logs,
/// stored mail) inside `dir`, and keep it after stopping when `keep` is
/// true. `dir` must be traversable by Postfix's users (`postfix`, `nobody`):
/// it is given mode 0755. Without this, folders go to the system temp
/// folder and are removed. Only the first call counts.
pub fn set_temp_parent(dir: &Path, keep: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    let _ = TEMP_PARENT.set((dir.to_path_buf(), keep));
    Ok(())
}

/// A new temporary folder for a peer (see [`set_temp_parent`]).
fn peer_temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let (parent, keep) = TEMP_PARENT
        .get()
        .cloned()
        .unwrap_or_else(|| (std::env::temp_dir(), false));
    let mut dir = tempfile::Builder::new().prefix(prefix).tempdir_in(parent)?;
    dir.disable_cleanup(keep);
    Ok(dir)
}

/// The workspace root (xtask lives one level below it).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The first line of `PROGRAM ARGS...` (stdout, else stderr), or `None`
/// when the program is missing: for the version column of result tables.
pub fn first_line_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Versions of the client programs, parsed from their `--version` output.
pub mod versions {
    use super::first_line_of;

    /// `curl 7.88.1 (x86_64-pc-linux-gnu) ...` -> `7.88.1`.
    pub fn curl() -> Option<String> {
        word_after(&first_line_of("curl", &["--version"])?, "curl")
    }

    /// `swaks version 20201014.0` -> `20201014.0`.
    pub fn swaks() -> Option<String> {
        word_after(&first_line_of("swaks", &["--version"])?, "version")
    }

    /// `msmtp version 1.8.23` -> `1.8.23`.
    pub fn msmtp() -> Option<String> {
        word_after(&first_line_of("msmtp", &["--version"])?, "version")
    }

    fn word_after(line: &str, marker: &str) -> Option<String> {
        let mut words = line.split_whitespace();
        words.find(|w| *w == marker)?;
        words.next().map(str::to_string)
    }
}
