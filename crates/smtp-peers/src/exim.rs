//! Exim 4 as a private instance on a loopback port.
//!
//! Debian's exim4 packages cannot be installed beside Postfix (both
//! provide `mail-transport-agent`; `apt-get install exim4-daemon-light`
//! removes Postfix), so .ci/install-peers unpacks Debian's
//! exim4-daemon-light into [`crate::exim_dir`] instead (`apt-get download`,
//! `dpkg-deb -x`): the same binary, not installed. Two things tie that
//! binary to an installed system, and both are met privately:
//! - it looks up its user, `Debian-exim`, before it reads any
//!   configuration. When the system has no such user, Exim runs in a
//!   mount namespace of its own (`unshare --mount`) where copies of
//!   /etc/passwd and /etc/group name it, mapped to `nobody`/`nogroup`;
//!   the system's files are not touched.
//! - it re-executes itself from its compiled-in path: `exim_path` in the
//!   configuration points at the unpacked binary.
//!
//! The configuration (`-C`, readable by root only) is Exim's built-in
//! defaults plus what a test needs: one loopback port, STARTTLS with the
//! given certificate, AUTH PLAIN and LOGIN for the given users offered only
//! under TLS, recipients accepted for the local domains only (not an open
//! relay), and `queue_only`: accepted messages stay in the spool of the
//! run's folder, nothing is delivered. Needs root.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext as _, PeerError, Result};
use crate::installed::{Peer, exim_dir};
use crate::output::read_lossy;
use crate::peer_temp_dir;
use crate::process::PeerProcess;
use crate::procfs::free_port;

/// The user Debian's build of Exim runs as (its `EXIM_USER`).
const EXIM_USER: &str = "Debian-exim";
/// `nobody` and `nogroup` on Debian: what `Debian-exim` maps to when the
/// system has no such user.
const NOBODY_ID: u32 = 65534;

/// Options of an Exim peer.
#[derive(Debug, Clone)]
pub struct EximConfig {
    /// Certificate chain and key (PEM) for STARTTLS.
    pub cert: PathBuf,
    /// The key.
    pub key: PathBuf,
    /// AUTH PLAIN/LOGIN users as (name, password): letters, digits and
    /// `._@+-` only (they are written into Exim's expansion strings).
    pub users: Vec<(String, String)>,
    /// The domains whose recipients are accepted (`local_domains`).
    pub domains: Vec<String>,
}

impl EximConfig {
    /// STARTTLS with this certificate and key, recipients in example.test.
    pub fn new(cert: &Path, key: &Path) -> EximConfig {
        EximConfig {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            users: Vec::new(),
            domains: vec!["example.test".into()],
        }
    }
}

/// A running Exim daemon; dropping it stops it (and the processes it forked
/// for sessions) and removes its folder.
#[derive(Debug)]
pub struct Exim {
    // Declared first: stopped before the folder goes.
    process: PeerProcess,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Exim {
    /// Starts `exim4 -bdf` (a daemon in the foreground) on a free
    /// 127.0.0.1 port.
    pub fn start(config: &EximConfig) -> Result<Exim> {
        Peer::Exim.usable()?;
        let safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c))
        };
        if !config
            .users
            .iter()
            .all(|(name, password)| safe(name) && safe(password))
            || !config.domains.iter().all(|d| safe(d))
        {
            return Err(PeerError::Config(
                "Exim users, passwords and domains: letters, digits and ._@+- only",
            ));
        }
        let binary = exim_dir().join("usr/sbin/exim4");
        let dir = peer_temp_dir("exim-")?;
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .context("opening the Exim folder")?;
        let system_user = system_exim_ids();
        let (uid, gid) = system_user.unwrap_or((NOBODY_ID, NOBODY_ID));
        // Exim's session processes run as its user: they write the spool
        // and the logs and read the certificate's key.
        for sub in ["spool", "log", "tls"] {
            let path = root.join(sub);
            std::fs::create_dir_all(&path).context("creating Exim's folders")?;
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .context_with(|| format!("handing {} to Exim's user", path.display()))?;
        }
        let (cert, key) = (root.join("tls/server.pem"), root.join("tls/server.key"));
        for (from, to) in [(&config.cert, &cert), (&config.key, &key)] {
            std::fs::copy(from, to).context_with(|| format!("copying {}", from.display()))?;
            std::os::unix::fs::chown(to, Some(uid), Some(gid)).context("handing the TLS files")?;
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
                .context("closing the TLS files")?;
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let conf = root.join("exim.conf");
        std::fs::write(
            &conf,
            configuration(config, root, &binary, &cert, &key, addr),
        )
        .context("writing exim.conf")?;
        // Exim insists that its configuration is not writable by others.
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600))
            .context("closing exim.conf")?;

        let mut cmd = match system_user {
            Some(_) => Command::new(&binary),
            None => {
                let (passwd, group) = (root.join("passwd"), root.join("group"));
                write_with_exim_user(Path::new("/etc/passwd"), &passwd, &passwd_line())?;
                write_with_exim_user(Path::new("/etc/group"), &group, &group_line())?;
                let mut cmd = Command::new("unshare");
                // A mount namespace of its own (propagation private: the
                // bind mounts are seen by Exim and its children only).
                cmd.args([
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    "mount --bind \"$1\" /etc/passwd && mount --bind \"$2\" /etc/group \
                     && shift 2 && exec \"$@\"",
                    "exim-namespace",
                ])
                .arg(passwd)
                .arg(group)
                .arg(&binary);
                cmd
            }
        };
        cmd.arg("-C").arg(&conf).arg("-bdf");
        let mut process = PeerProcess::spawn("exim", &mut cmd, root)?.reap_descendants();
        let log = |root: &Path| {
            let text = format!(
                "{}{}",
                read_lossy(&root.join("log/mainlog")),
                read_lossy(&root.join("log/paniclog"))
            );
            crate::output::tail(&text, 6)
        };
        if let Err(e) = process.wait_for_listen(addr, Duration::from_secs(15)) {
            return Err(e.with_log("exim log", &log(root)));
        }
        Ok(Exim { process, dir, addr })
    }

    /// Where it listens (STARTTLS offered).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Exim's main log (one line per message accepted, refusals, errors).
    pub fn log(&self) -> String {
        read_lossy(&self.dir.path().join("log/mainlog"))
    }

    /// The process (to stop it early).
    pub fn process(&mut self) -> &mut PeerProcess {
        &mut self.process
    }
}

/// `Debian-exim`'s uid and gid when the system has that user (Exim
/// installed for real): then no namespace is needed.
fn system_exim_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == EXIM_USER)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

fn passwd_line() -> String {
    format!(
        "{EXIM_USER}:x:{NOBODY_ID}:{NOBODY_ID}:Exim (smtp-peers):/nonexistent:/usr/sbin/nologin"
    )
}

fn group_line() -> String {
    format!("{EXIM_USER}:x:{NOBODY_ID}:")
}

/// Copies `system` to `copy` with `line` added.
fn write_with_exim_user(system: &Path, copy: &Path, line: &str) -> Result<()> {
    let mut text =
        std::fs::read_to_string(system).context_with(|| format!("reading {}", system.display()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    std::fs::write(copy, text).context_with(|| format!("writing {}", copy.display()))?;
    std::fs::set_permissions(copy, std::fs::Permissions::from_mode(0o644))
        .context("opening the passwd copy")
}

/// The run's configuration: Exim's defaults plus the listed settings.
fn configuration(
    config: &EximConfig,
    root: &Path,
    binary: &Path,
    cert: &Path,
    key: &Path,
    addr: SocketAddr,
) -> String {
    let d = root.display();
    let mut c = String::new();
    let _ = writeln!(c, "# Written by smtp-peers (exim.rs) for one run.");
    let _ = writeln!(c, "exim_path = {}", binary.display());
    let _ = writeln!(c, "keep_environment =");
    let _ = writeln!(c, "primary_hostname = localhost");
    let _ = writeln!(
        c,
        "domainlist local_domains = {}",
        config.domains.join(" : ")
    );
    let _ = writeln!(c, "qualify_domain = {}", config.domains[0]);
    let _ = writeln!(c, "spool_directory = {d}/spool");
    let _ = writeln!(c, "log_file_path = {d}/log/%slog");
    let _ = writeln!(c, "pid_file_path = {d}/exim.pid");
    let _ = writeln!(c, "local_interfaces = {}", addr.ip());
    let _ = writeln!(c, "daemon_smtp_ports = {}", addr.port());
    let _ = writeln!(c, "tls_advertise_hosts = *");
    let _ = writeln!(c, "tls_certificate = {}", cert.display());
    let _ = writeln!(c, "tls_privatekey = {}", key.display());
    // Accepted messages stay in the spool: nothing is delivered.
    let _ = writeln!(c, "queue_only = true");
    let _ = writeln!(c, "acl_smtp_rcpt = acl_check_rcpt");
    let _ = writeln!(c, "\nbegin acl\n");
    let _ = writeln!(c, "acl_check_rcpt:");
    let _ = writeln!(c, "  accept domains = +local_domains");
    let _ = writeln!(c, "  deny message = Relay access denied");
    let _ = writeln!(c, "\nbegin routers\n");
    let _ = writeln!(c, "discard:");
    let _ = writeln!(c, "  driver = redirect");
    let _ = writeln!(c, "  domains = +local_domains");
    let _ = writeln!(c, "  data = :blackhole:");
    let _ = writeln!(c, "\nbegin authenticators");
    if !config.users.is_empty() {
        // $auth2/$auth3 (PLAIN) and $auth1/$auth2 (LOGIN): user, password.
        let check = |u: &str, p: &str| {
            let pairs: Vec<String> = config
                .users
                .iter()
                .map(|(name, pw)| format!("and {{{{eq{{{u}}}{{{name}}}}}{{eq{{{p}}}{{{pw}}}}}}}"))
                .collect();
            format!("${{if or {{{{{}}}}}}}", pairs.join("}{"))
        };
        for (section, mechanism, prompts, user, password) in [
            ("plain", "PLAIN", ":", "$auth2", "$auth3"),
            (
                "login",
                "LOGIN",
                "Username:: : Password::",
                "$auth1",
                "$auth2",
            ),
        ] {
            let _ = writeln!(c, "\n{section}:");
            let _ = writeln!(c, "  driver = plaintext");
            let _ = writeln!(c, "  public_name = {mechanism}");
            let _ = writeln!(c, "  server_prompts = {prompts}");
            let _ = writeln!(c, "  server_condition = {}", check(user, password));
            let _ = writeln!(c, "  server_set_id = {user}");
            // RFC 4954 §4: plaintext mechanisms only under TLS.
            let _ = writeln!(
                c,
                "  server_advertise_condition = ${{if def:tls_in_cipher}}"
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_condition_names_every_user() {
        let mut config = EximConfig::new(Path::new("c.pem"), Path::new("k.pem"));
        config.users.push(("alice".into(), "s3cret".into()));
        config.users.push(("bob".into(), "pw".into()));
        let text = configuration(
            &config,
            Path::new("/run"),
            Path::new("/x/exim4"),
            Path::new("/run/tls/server.pem"),
            Path::new("/run/tls/server.key"),
            SocketAddr::from(([127, 0, 0, 1], 2525)),
        );
        assert!(
            text.contains(
                "server_condition = ${if or {{and {{eq{$auth2}{alice}}{eq{$auth3}{s3cret}}}}{and {{eq{$auth2}{bob}}{eq{$auth3}{pw}}}}}}"
            ),
            "{text}"
        );
        assert!(text.contains("daemon_smtp_ports = 2525"), "{text}");
        assert!(
            text.contains("domainlist local_domains = example.test"),
            "{text}"
        );
    }
}
