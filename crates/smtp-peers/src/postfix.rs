//! Postfix's smtpd as an independent Receiver-SMTP: a private instance per
//! [`Postfix::start`], in a temporary folder with its own `main.cf`,
//! `master.cf`, queue, data folder, log and Maildir, listening on two free
//! loopback ports (STARTTLS offered on one, implicit TLS on the other).
//!
//! The system configuration in /etc/postfix is not used (only read by
//! `postfix check` for the list of Postfix's own files), no system service is
//! involved, and nothing listens on port 25. `master` runs as our child in
//! the foreground, so it is stopped by PID like every other peer.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext as _, PeerError, Result};
use crate::installed::{POSTCONF, SASLPASSWD2};
use crate::output::{poll_until, read_lossy, run_with_timeout, tail};
use crate::process::PeerProcess;
use crate::procfs::free_ports;
use crate::store::{StoredFile, read_maildir};
use crate::{Peer, peer_temp_dir};

/// Where Debian installs Postfix's command.
const POSTFIX: &str = "/usr/sbin/postfix";
/// Postfix's unprivileged delivery user for the virtual(8) Maildir.
const NOBODY: u32 = 65534;

/// What the private Postfix instance looks like. The defaults are what the
/// interop suite uses; the conformance suite adds `main.cf` settings rather
/// than writing a configuration of its own.
#[derive(Debug, Clone)]
pub struct PostfixConfig {
    /// Server certificate chain (PEM, leaf first).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// `myhostname`: the greeting and Received: name.
    pub hostname: String,
    /// Domains whose every recipient is delivered to the one Maildir
    /// (`virtual_mailbox_domains`); other domains are refused (no relay).
    pub domains: Vec<String>,
    /// Users for SMTP AUTH (PLAIN, LOGIN) through Cyrus SASL's sasldb, as
    /// (name, password). Empty: no AUTH. Needs `saslpasswd2` (sasl2-bin,
    /// see [`crate::postfix_sasl_installed`]).
    pub users: Vec<(String, String)>,
    /// Extra `main.cf` settings, written last (so they win).
    pub main_cf: Vec<(String, String)>,
}

impl PostfixConfig {
    /// STARTTLS and implicit TLS with this certificate, mail for
    /// `example.test` delivered, no AUTH.
    pub fn new(cert: &Path, key: &Path) -> PostfixConfig {
        PostfixConfig {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            hostname: "localhost".into(),
            domains: vec!["example.test".into()],
            users: Vec::new(),
            main_cf: Vec::new(),
        }
    }
}

/// A running private Postfix instance; dropping it stops `master` and its
/// children and removes the folder.
#[derive(Debug)]
pub struct Postfix {
    // Declared first: stopped before the folder goes.
    master: PeerProcess,
    root: tempfile::TempDir,
    smtp: SocketAddr,
    smtps: SocketAddr,
    version: String,
}

impl Postfix {
    /// Creates the instance, checks it with `postfix check`, starts `master`
    /// and waits until both ports listen.
    pub fn start(config: &PostfixConfig) -> Result<Postfix> {
        let version = Peer::PostfixSmtpd.version()?;
        let daemon_dir = postconf_default("daemon_directory")?;
        let root = peer_temp_dir("postfix-")?;
        let base = root.path();
        // Postfix's daemons (user postfix) and virtual(8) (user nobody) walk it.
        fs::set_permissions(base, fs::Permissions::from_mode(0o755))
            .context("opening the Postfix folder")?;
        for sub in [
            "etc",
            "spool",
            "data",
            "log",
            "vmail/inbox/new",
            "vmail/inbox/cur",
            "vmail/inbox/tmp",
        ] {
            fs::create_dir_all(base.join(sub))
                .context_with(|| format!("creating the Postfix folder {sub}"))?;
        }
        chown("postfix", &base.join("data"), false)?;
        chown(&format!("{NOBODY}:{NOBODY}"), &base.join("vmail"), true)?;

        let [smtp, smtps] = free_ports()?.map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
        fs::write(base.join("etc/main.cf"), main_cf(config, base)).context("writing main.cf")?;
        fs::write(base.join("etc/master.cf"), master_cf(smtp, smtps))
            .context("writing master.cf")?;
        if !config.users.is_empty() {
            write_sasl(config, base)?;
        }

        // Creates the queue folders with Postfix's ownership and checks the
        // configuration (what `postfix start` would do before starting master).
        let etc = base.join("etc");
        run_with_timeout(
            "postfix-check",
            Command::new(POSTFIX).arg("-c").arg(&etc).arg("check"),
            None,
            &base.join("log"),
            Duration::from_secs(60),
        )?
        .success("postfix check")?;

        let mut master = PeerProcess::spawn(
            "postfix-master",
            Command::new(Path::new(&daemon_dir).join("master"))
                .arg("-c")
                .arg(&etc),
            &base.join("log"),
        )?
        .reap_descendants();
        for addr in [smtp, smtps] {
            if let Err(e) = master.wait_for_listen(addr, Duration::from_secs(20)) {
                let log = read_lossy(&base.join("log/postfix.log"));
                return Err(e.with_log("postfix.log", &tail(&log, 6)));
            }
        }
        Ok(Postfix {
            master,
            root,
            smtp,
            smtps,
            version,
        })
    }

    /// The version of the running Postfix.
    pub fn running_version(&self) -> &str {
        &self.version
    }

    /// The plain listener (STARTTLS offered, `smtpd_tls_security_level=may`).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp
    }

    /// The implicit-TLS listener (`smtpd_tls_wrappermode=yes`, RFC 8314).
    pub fn smtps_addr(&self) -> SocketAddr {
        self.smtps
    }

    /// The Maildir every accepted recipient is delivered to.
    pub fn maildir(&self) -> PathBuf {
        self.root.path().join("vmail/inbox")
    }

    /// The configuration folder (`postqueue -c`, `postsuper -c`).
    pub fn config_dir(&self) -> PathBuf {
        self.root.path().join("etc")
    }

    /// The queue folder (`queue_directory`): `hold/`, `deferred/`, ...
    pub fn queue_dir(&self) -> PathBuf {
        self.root.path().join("spool")
    }

    /// Postfix's log (`maillog_file`).
    pub fn log(&self) -> String {
        read_lossy(&self.root.path().join("log/postfix.log"))
    }

    /// The delivered messages (in `new/`) for which `keep` is true, waiting
    /// up to `timeout` for `count` of them: Postfix says 250 when the message
    /// is queued, and delivers it a moment later.
    pub fn wait_for_messages(
        &self,
        count: usize,
        timeout: Duration,
        keep: impl Fn(&StoredFile) -> bool,
    ) -> Result<Vec<StoredFile>> {
        let dir = self.maildir();
        let found = poll_until(timeout, || {
            let files: Vec<StoredFile> =
                read_maildir(&dir).ok()?.into_iter().filter(&keep).collect();
            (files.len() >= count).then_some(files)
        });
        match found {
            Some(files) => Ok(files),
            None => {
                let seen = read_maildir(&dir)?.into_iter().filter(&keep).count();
                Err(PeerError::TimedOut {
                    what: format!(
                        "Postfix delivered {seen} of {count} expected message(s); log: {}",
                        tail(&self.log(), 6)
                    ),
                    waited: timeout,
                })
            }
        }
    }

    /// Stops the instance now (dropping it does the same).
    pub fn stop(mut self) {
        self.master.stop();
    }
}

/// `postconf -d -h NAME`: a built-in default such as `daemon_directory`.
fn postconf_default(name: &str) -> Result<String> {
    let out = Command::new(POSTCONF)
        .args(["-d", "-h", name])
        .output()
        .context_with(|| format!("running postconf -d -h {name}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn chown(owner: &str, path: &Path, recursive: bool) -> Result<()> {
    let mut cmd = Command::new("chown");
    if recursive {
        cmd.arg("-R");
    }
    let status = cmd.arg(owner).arg(path).status().context("running chown")?;
    if !status.success() {
        return Err(PeerError::Failed {
            what: format!("chown {owner} {}", path.display()),
            status,
            output: "Postfix needs root".into(),
        });
    }
    Ok(())
}

/// The instance's `main.cf`: everything under `base`, loopback only.
fn main_cf(config: &PostfixConfig, base: &Path) -> String {
    let b = base.display();
    let mut settings: Vec<(String, String)> = [
        ("compatibility_level", "3.6".to_string()),
        ("queue_directory", format!("{b}/spool")),
        ("data_directory", format!("{b}/data")),
        // Postfix refuses a maillog_file outside maillog_file_prefixes.
        ("maillog_file_prefixes", format!("{b}/log")),
        ("maillog_file", format!("{b}/log/postfix.log")),
        ("myhostname", config.hostname.clone()),
        ("mydomain", "localhost".into()),
        ("myorigin", "$myhostname".into()),
        ("mydestination", String::new()),
        ("inet_interfaces", "127.0.0.1".into()),
        ("inet_protocols", "ipv4".into()),
        ("mynetworks", "127.0.0.0/8".into()),
        // Not an open relay, even for loopback: mail for other domains gets
        // 554 5.7.1 (what the mixed-recipients case expects).
        (
            "smtpd_relay_restrictions",
            "reject_unauth_destination".into(),
        ),
        // Leave the message headers exactly as the client sent them.
        ("local_header_rewrite_clients", String::new()),
        ("virtual_mailbox_domains", config.domains.join(", ")),
        ("virtual_mailbox_base", format!("{b}/vmail")),
        ("virtual_mailbox_maps", "static:inbox/".into()),
        ("virtual_uid_maps", format!("static:{NOBODY}")),
        ("virtual_gid_maps", format!("static:{NOBODY}")),
        ("alias_maps", String::new()),
        ("alias_database", String::new()),
        ("local_recipient_maps", String::new()),
        ("default_transport", "error".into()),
        ("relay_transport", "error".into()),
        ("biff", "no".into()),
        ("smtpd_banner", "$myhostname ESMTP Postfix".into()),
        ("smtpd_tls_cert_file", config.cert.display().to_string()),
        ("smtpd_tls_key_file", config.key.display().to_string()),
        ("smtpd_tls_security_level", "may".into()),
        // "(using TLSv1.3 with cipher ...)" in Received: shows TLS was used.
        ("smtpd_tls_received_header", "yes".into()),
        ("smtpd_tls_loglevel", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if !config.users.is_empty() {
        settings.extend(
            [
                ("smtpd_sasl_auth_enable", "yes".to_string()),
                ("smtpd_sasl_type", "cyrus".into()),
                ("smtpd_sasl_path", "smtpd".into()),
                // Debian's Postfix reads $config_directory/sasl/smtpd.conf
                // whatever this says; keep both pointing at the same file.
                ("cyrus_sasl_config_path", format!("{b}/etc/sasl")),
                ("smtpd_sasl_local_domain", config.hostname.clone()),
                // RFC 4954 §4: plaintext mechanisms only under TLS.
                ("smtpd_tls_auth_only", "yes".into()),
                // "(Authenticated sender: NAME)" in Received:.
                ("smtpd_sasl_authenticated_header", "yes".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
        );
    }
    // A setting given in `config.main_cf` replaces the default (Postfix
    // would take the last one too, with a warning on every command).
    settings.retain(|(key, _)| !config.main_cf.iter().any(|(k, _)| k == key));
    settings.extend(config.main_cf.iter().cloned());
    let mut text = String::from("# Written by smtp-peers (postfix.rs) for one run.\n");
    for (key, value) in settings {
        let _ = writeln!(text, "{key} = {value}");
    }
    text
}

/// The instance's `master.cf`: two smtpd listeners on loopback and the
/// internal services delivery needs; no chroot (the folder is private).
fn master_cf(smtp: SocketAddr, smtps: SocketAddr) -> String {
    format!(
        "# Written by smtp-peers (postfix.rs) for one run.\n\
         {smtp} inet n - n - - smtpd\n\
         {smtps} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt\n\
         cleanup unix n - n - 0 cleanup\n\
         qmgr unix n - n 300 1 qmgr\n\
         tlsmgr unix - - n 1000? 1 tlsmgr\n\
         rewrite unix - - n - - trivial-rewrite\n\
         bounce unix - - n - 0 bounce\n\
         defer unix - - n - 0 bounce\n\
         trace unix - - n - 0 bounce\n\
         verify unix - - n - 1 verify\n\
         flush unix n - n 1000? 0 flush\n\
         proxymap unix - - n - - proxymap\n\
         showq unix n - n - - showq\n\
         error unix - - n - - error\n\
         retry unix - - n - - error\n\
         discard unix - - n - - discard\n\
         virtual unix - n n - - virtual\n\
         smtp unix - - n - - smtp\n\
         lmtp unix - - n - - lmtp\n\
         pickup unix n - n 60 1 pickup\n\
         anvil unix - - n - 1 anvil\n\
         scache unix - - n - 1 scache\n\
         postlog unix-dgram n - n - 1 postlogd\n"
    )
}

/// Cyrus SASL for smtpd: PLAIN and LOGIN checked against a private sasldb.
fn write_sasl(config: &PostfixConfig, base: &Path) -> Result<()> {
    let dir = base.join("etc/sasl");
    fs::create_dir_all(&dir).context("creating the SASL folder")?;
    let db = dir.join("sasldb2");
    fs::write(
        dir.join("smtpd.conf"),
        format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {}\n",
            db.display()
        ),
    )
    .context("writing smtpd.conf")?;
    for (name, password) in &config.users {
        let pw_file = dir.join("pw.tmp");
        fs::write(&pw_file, password).context("writing a password file")?;
        run_with_timeout(
            "saslpasswd2",
            Command::new(SASLPASSWD2)
                .args(["-p", "-c", "-f"])
                .arg(&db)
                .args(["-u", &config.hostname, name]),
            Some(&pw_file),
            &base.join("log"),
            Duration::from_secs(20),
        )?
        .success("saslpasswd2 (is sasl2-bin installed?)")?;
        fs::remove_file(&pw_file).context("removing a password file")?;
    }
    // smtpd reads it after dropping to the postfix user.
    chown("postfix", &db, false)
}
