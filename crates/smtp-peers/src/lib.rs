//! # smtp-peers: independent SMTP programs on loopback
//!
//! Not published. The interop tests (`tests/tests/interop/`), the
//! conformance matrix (`cargo xtask conformance`) and the benchmarks
//! (`smtp-bench`) use it to run software nobody here wrote: check that it
//! is installed ([`Peer::version`]), start it on a free loopback port, read
//! what it stored, stop it.
//!
//! `bash .ci/install-peers` installs the peers (Postfix with smtp-sink and
//! smtp-source, swaks, curl, msmtp from Debian; aiosmtpd in `.peers/venv`;
//! nodemailer and smtp-server in `.peers/node`; Debian's Exim unpacked,
//! not installed, in `.peers/exim`).
//! Every server here is a guard: dropping it (also while a panic unwinds)
//! stops its process by PID, SIGTERM then SIGKILL, and removes its
//! temporary folder; [`stop_peers_on_signal`] does the same on Ctrl-C.
//! Nothing here uses port 25 or a system mail service.
//!
//! ```no_run
//! # fn main() -> smtp_peers::Result<()> {
//! use smtp_peers::{Peer, Postfix, PostfixConfig};
//! # let (cert, key) = (std::path::Path::new("server.pem"), std::path::Path::new("server.key"));
//! if let Err(missing) = Peer::PostfixSmtpd.version() {
//!     eprintln!("skipped: {missing}"); // "Postfix smtpd not installed (run .ci/install-peers)"
//!     return Ok(());
//! }
//! // A private Postfix instance: STARTTLS on smtp_addr(), implicit TLS on
//! // smtps_addr(), mail for example.test into a Maildir.
//! let postfix = Postfix::start(&PostfixConfig::new(cert, key))?;
//! // ... send to postfix.smtp_addr() ...
//! let delivered = postfix.wait_for_messages(1, std::time::Duration::from_secs(10), |_| true)?;
//! # Ok(()) }
//! ```
//!
//! ## Invariants
//! - No process started here outlives its guard, and no guard hides a
//!   failure: a peer that exits early is an error naming its last output.
//! - Loopback only, ports 1024 and up; the system Postfix is never used.

mod dns;
mod dovecot;
mod error;
mod exim;
mod haproxy;
mod installed;
mod node;
mod output;
mod postfix;
mod process;
mod procfs;
mod python;
mod sink;
mod store;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use dns::{DnsRecord, Dnsmasq};
pub use dovecot::Dovecot;
pub use error::{PeerError, Result};
pub use exim::{Exim, EximConfig};
pub use haproxy::{Haproxy, ProxyVersion};
pub use installed::{
    Peer, exim_dir, first_line_of, node_modules_dir, postfix_sasl_installed, script_command,
    venv_dir, venv_python,
};
pub use node::{NodeSmtpServer, NodeSmtpServerConfig, NodeSmtpTls};
pub use output::{CommandOutput, poll_until, read_lossy, run_with_timeout, tail};
pub use postfix::{Postfix, PostfixConfig};
pub use process::{PeerProcess, interrupted, stop_peers_on_signal};
pub use procfs::{free_port, free_ports, is_listening, running_as_root};
pub use python::{Aiosmtpd, AiosmtpdConfig, AiosmtpdTls, PythonSmtpd};
pub use sink::{SinkMode, SmtpSink, SourceOptions, smtp_source};
pub use store::{
    PeerEnvelope, PeerMessage, StoredFile, StoringPeer, normalize_newlines, read_maildir,
    read_store,
};

use error::IoContext as _;

/// Where peers make their temporary folders, and whether to keep them.
static TEMP_PARENT: OnceLock<(PathBuf, bool)> = OnceLock::new();

/// Makes every peer started afterwards create its folder (config, logs,
/// stored mail) inside `dir`, and keep it after stopping when `keep` is
/// true. `dir` must be traversable by Postfix's users (`postfix`, `nobody`):
/// it is given mode 0755. Without this, folders go to the system temp
/// folder and are removed. Only the first call counts.
pub fn set_temp_parent(dir: &Path, keep: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .context_with(|| format!("opening {} to the peers' users", dir.display()))?;
    let _ = TEMP_PARENT.set((dir.to_path_buf(), keep));
    Ok(())
}

/// A new temporary folder for a peer (see [`set_temp_parent`]).
fn peer_temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let (parent, keep) = TEMP_PARENT
        .get()
        .cloned()
        .unwrap_or_else(|| (std::env::temp_dir(), false));
    let mut dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .context_with(|| format!("creating a {prefix} folder in {}", parent.display()))?;
    dir.disable_cleanup(keep);
    Ok(dir)
}
