//! Which independent SMTP programs are on this machine, and their
//! versions: what a test asks before it starts a peer, so that it can skip
//! visibly instead of failing when a peer is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{IoContext as _, PeerError, Result};
use crate::procfs::running_as_root;
use crate::sink::{SMTP_SINK, SMTP_SOURCE};

/// Where Debian installs Postfix's configuration tool.
pub(crate) const POSTCONF: &str = "/usr/sbin/postconf";
/// Cyrus SASL's password tool (Debian: sasl2-bin).
pub(crate) const SASLPASSWD2: &str = "/usr/sbin/saslpasswd2";
/// Where Debian installs dnsmasq (package dnsmasq-base).
pub(crate) const DNSMASQ: &str = "/usr/sbin/dnsmasq";
/// Where Debian installs HAProxy.
pub(crate) const HAPROXY: &str = "/usr/sbin/haproxy";
/// Where Debian installs Dovecot (package dovecot-core; LMTP is
/// dovecot-lmtpd).
pub(crate) const DOVECOT: &str = "/usr/sbin/dovecot";
/// Dovecot's administration tool.
pub(crate) const DOVEADM: &str = "/usr/bin/doveadm";
/// Where dovecot-lmtpd installs the LMTP service.
const DOVECOT_LMTP: &str = "/usr/lib/dovecot/lmtp";
/// What to do about a missing peer.
const INSTALL_HINT: &str = "run .ci/install-peers";

/// An independent SMTP program that a test drives or talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    /// Python's smtplib (client; the system `python3`).
    Smtplib,
    /// curl's SMTP support (client).
    Curl,
    /// swaks (client).
    Swaks,
    /// msmtp (client).
    Msmtp,
    /// Postfix's smtp-source (client).
    SmtpSource,
    /// aiosmtpd (server; in the venv `.ci/install-peers` makes).
    Aiosmtpd,
    /// Postfix's smtpd (server).
    PostfixSmtpd,
    /// Postfix's smtp-sink (server).
    SmtpSink,
    /// Python's stdlib smtpd (server; gone since Python 3.12).
    PythonSmtpd,
    /// dnsmasq, a DNS server for the outbound tests (not an SMTP program,
    /// so not in [`Peer::ALL`]).
    Dnsmasq,
    /// HAProxy, the load balancer in front of receivers (not in [`Peer::ALL`]).
    Haproxy,
    /// Dovecot's LMTP server, the mailbox server behind receivers (not in
    /// [`Peer::ALL`]).
    Dovecot,
    /// nodemailer (npm; client; in [`node_modules_dir`], not in [`Peer::ALL`]).
    Nodemailer,
    /// nodemailer's smtp-server (npm; server; in [`node_modules_dir`], not
    /// in [`Peer::ALL`]).
    NodeSmtpServer,
    /// Exim (server): Debian's exim4-daemon-light unpacked into
    /// [`exim_dir`], not installed (installing it would remove Postfix);
    /// not in [`Peer::ALL`].
    Exim,
}

impl Peer {
    /// Every peer, clients first (the order of the interop table).
    pub const ALL: [Peer; 9] = [
        Peer::Smtplib,
        Peer::Curl,
        Peer::Swaks,
        Peer::Msmtp,
        Peer::SmtpSource,
        Peer::Aiosmtpd,
        Peer::PostfixSmtpd,
        Peer::SmtpSink,
        Peer::PythonSmtpd,
    ];

    /// The name people know it by.
    ///
    /// ```
    /// assert_eq!(smtp_peers::Peer::SmtpSink.name(), "Postfix smtp-sink");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Peer::Smtplib => "Python smtplib",
            Peer::Curl => "curl",
            Peer::Swaks => "swaks",
            Peer::Msmtp => "msmtp",
            Peer::SmtpSource => "Postfix smtp-source",
            Peer::Aiosmtpd => "aiosmtpd",
            Peer::PostfixSmtpd => "Postfix smtpd",
            Peer::SmtpSink => "Postfix smtp-sink",
            Peer::PythonSmtpd => "Python smtpd",
            Peer::Dnsmasq => "dnsmasq",
            Peer::Haproxy => "HAProxy",
            Peer::Dovecot => "Dovecot LMTP",
            Peer::Nodemailer => "nodemailer",
            Peer::NodeSmtpServer => "smtp-server",
            Peer::Exim => "Exim",
        }
    }

    /// True for the clients (they drive a server under test).
    pub fn is_client(self) -> bool {
        matches!(
            self,
            Peer::Smtplib
                | Peer::Curl
                | Peer::Swaks
                | Peer::Msmtp
                | Peer::SmtpSource
                | Peer::Nodemailer
        )
    }

    /// Its version, or [`PeerError::NotInstalled`] saying how to get it.
    ///
    /// ```no_run
    /// match smtp_peers::Peer::Swaks.version() {
    ///     Ok(version) => println!("swaks {version}"),
    ///     Err(why) => eprintln!("skipped: {why}"), // "swaks not installed (run .ci/install-peers)"
    /// }
    /// ```
    pub fn version(self) -> Result<String> {
        let found = match self {
            Peer::Smtplib => python_version(),
            Peer::PythonSmtpd => {
                let has_smtpd = Command::new("python3")
                    .args(["-W", "ignore", "-c", "import smtpd"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                if !has_smtpd {
                    return Err(PeerError::NotInstalled {
                        peer: self.name(),
                        hint: "python3 has no smtpd module since 3.12; nothing to install",
                    });
                }
                python_version()
            }
            Peer::Curl => word_after(first_line_of("curl", &["--version"]), "curl"),
            Peer::Swaks => word_after(first_line_of("swaks", &["--version"]), "version"),
            Peer::Msmtp => word_after(first_line_of("msmtp", &["--version"]), "version"),
            Peer::Aiosmtpd => Command::new(venv_python())
                .args(["-c", "import aiosmtpd; print(aiosmtpd.__version__)"])
                .output()
                .ok()
                .filter(|out| out.status.success())
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string()),
            Peer::PostfixSmtpd => postfix_version(),
            Peer::SmtpSink => postfix_version().filter(|_| Path::new(SMTP_SINK).exists()),
            Peer::SmtpSource => postfix_version().filter(|_| Path::new(SMTP_SOURCE).exists()),
            Peer::Dnsmasq => word_after(first_line_of(DNSMASQ, &["--version"]), "version"),
            Peer::Haproxy => word_after(first_line_of(HAPROXY, &["-v"]), "version"),
            Peer::Dovecot => first_line_of(DOVECOT, &["--version"])
                .filter(|_| Path::new(DOVECOT_LMTP).exists())
                .and_then(|v| v.split_whitespace().next().map(str::to_string)),
            Peer::Nodemailer => node_package_version("nodemailer"),
            Peer::NodeSmtpServer => node_package_version("smtp-server"),
            Peer::Exim => exim_version(),
        };
        found
            .filter(|v| !v.is_empty())
            .ok_or(PeerError::NotInstalled {
                peer: self.name(),
                hint: INSTALL_HINT,
            })
    }

    /// Its version when it is installed *and* can run here:
    /// [`PeerError::NeedsRoot`] for Postfix's smtpd when this process is
    /// not root (the private instance hands its folders to Postfix's users).
    /// What a test asks before it starts the peer.
    pub fn usable(self) -> Result<String> {
        let version = self.version()?;
        if self == Peer::PostfixSmtpd && !running_as_root() {
            return Err(PeerError::NeedsRoot {
                peer: self.name(),
                why: "the private instance chowns its folders to postfix and nobody",
            });
        }
        if self == Peer::Exim && !running_as_root() {
            return Err(PeerError::NeedsRoot {
                peer: self.name(),
                why: "Exim runs in a mount namespace of its own that names its user",
            });
        }
        if self == Peer::Dovecot && !running_as_root() {
            return Err(PeerError::NeedsRoot {
                peer: self.name(),
                why: "Dovecot's services switch users and store mail as nobody",
            });
        }
        Ok(version)
    }

    /// True when [`version`](Self::version) finds it.
    pub fn is_installed(self) -> bool {
        self.version().is_ok()
    }
}

/// True when Cyrus SASL's `saslpasswd2` is installed, so that a Postfix
/// peer can have AUTH users ([`crate::PostfixConfig::users`]).
pub fn postfix_sasl_installed() -> bool {
    Path::new(SASLPASSWD2).exists()
}

/// The venv holding aiosmtpd: `$SMTP_PEERS_VENV`, else `.peers/venv` at the
/// repository root (where .ci/install-peers puts it).
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("SMTP_PEERS_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join(".peers/venv"),
    }
}

/// The npm packages (nodemailer, smtp-server, ...): `$SMTP_PEERS_NODE_MODULES`,
/// else `.peers/node/node_modules` at the repository root (where
/// .ci/install-peers puts them). Node finds them through `NODE_PATH`.
pub fn node_modules_dir() -> PathBuf {
    match std::env::var_os("SMTP_PEERS_NODE_MODULES") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join(".peers/node/node_modules"),
    }
}

/// Where .ci/install-peers unpacks Debian's exim4-daemon-light (the
/// binary is `usr/sbin/exim4` below it, the package version in `version`):
/// `$SMTP_PEERS_EXIM`, else `.peers/exim` at the repository root.
pub fn exim_dir() -> PathBuf {
    match std::env::var_os("SMTP_PEERS_EXIM") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join(".peers/exim"),
    }
}

/// The version of npm package `name` in [`node_modules_dir`], when `node`
/// runs and can load it (nodemailer 10 needs Node 20: an older Node fails
/// here, and the peer counts as missing).
fn node_package_version(name: &str) -> Option<String> {
    let dir = node_modules_dir().join(name);
    let script = "const d = process.argv[1]; require(d); \
                  process.stdout.write(require(d + '/package.json').version)";
    let out = Command::new("node")
        .args(["-e", script])
        .arg(&dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The upstream part of the unpacked Exim's Debian version
/// (`4.96-15+deb12u11` -> `4.96`), when its binary is there.
fn exim_version() -> Option<String> {
    let dir = exim_dir();
    if !dir.join("usr/sbin/exim4").exists() {
        return None;
    }
    let version = std::fs::read_to_string(dir.join("version")).ok()?;
    version.trim().split('-').next().map(str::to_string)
}

/// The venv's interpreter.
pub fn venv_python() -> PathBuf {
    venv_dir().join("bin/python")
}

/// The workspace root (this crate lives two levels below it).
fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// Writes `source` to `DIR/NAME` and returns the command that runs it
/// with `interpreter` (`python3`, or [`venv_python`]): how the Python peers
/// and clients, kept as `.py` files beside the Rust code that drives them,
/// are started from a folder of the run.
///
/// ```
/// # fn main() -> smtp_peers::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let out = smtp_peers::script_command("sh", dir.path(), "hello.sh", "echo hello")?.output().unwrap();
/// assert_eq!(out.stdout, b"hello\n");
/// # Ok(()) }
/// ```
pub fn script_command(
    interpreter: impl AsRef<std::ffi::OsStr>,
    dir: &Path,
    name: &str,
    source: &str,
) -> Result<Command> {
    let script = dir.join(name);
    std::fs::create_dir_all(dir).context_with(|| format!("creating {}", dir.display()))?;
    std::fs::write(&script, source).context_with(|| format!("writing {}", script.display()))?;
    let mut cmd = Command::new(interpreter);
    cmd.arg(script);
    Ok(cmd)
}

/// The first line of `PROGRAM ARGS...` (stdout, else stderr), or `None`
/// when the program is missing: how versions are read.
///
/// ```
/// assert!(smtp_peers::first_line_of("sh", &["-c", "echo; echo hello"]).is_some_and(|l| l == "hello"));
/// assert_eq!(smtp_peers::first_line_of("/nonexistent/program", &[]), None);
/// ```
pub fn first_line_of(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Option<String> {
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

/// `python3 --version` of the system interpreter, e.g. `3.11.7`.
fn python_version() -> Option<String> {
    first_line_of("python3", &["--version"])
        .map(|line| line.trim_start_matches("Python ").to_string())
}

/// `postconf -h mail_version`, e.g. `3.7.11`.
fn postfix_version() -> Option<String> {
    let out = Command::new(POSTCONF)
        .args(["-h", "mail_version"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `swaks version 20201014.0` and `version` -> `20201014.0`.
fn word_after(line: Option<String>, marker: &str) -> Option<String> {
    let line = line?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == marker)?;
    words.next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_the_word_after_the_marker() {
        let curl = Some("curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1".to_string());
        assert_eq!(word_after(curl, "curl").as_deref(), Some("7.88.1"));
        let swaks = Some("swaks version 20201014.0".to_string());
        assert_eq!(word_after(swaks, "version").as_deref(), Some("20201014.0"));
        assert_eq!(word_after(Some("nothing".into()), "version"), None);
        assert_eq!(word_after(None, "version"), None);
    }

    #[test]
    fn a_missing_peer_says_how_to_get_it() {
        let err = PeerError::NotInstalled {
            peer: Peer::Msmtp.name(),
            hint: INSTALL_HINT,
        };
        assert_eq!(
            err.to_string(),
            "msmtp not installed (run .ci/install-peers)"
        );
        assert!(Peer::ALL.iter().filter(|p| p.is_client()).count() == 5);
    }
}
