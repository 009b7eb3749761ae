//! Dovecot as the mailbox server behind the receivers: its LMTP service
//! (RFC 2033) on a loopback port and on a Unix socket, delivering into one
//! Maildir per user (the full address: `bob@example.test`), read back with
//! `doveadm`. A private instance: its own base, state and log folders,
//! nothing of the system's configuration. Needs root (Dovecot's services
//! switch to their own users; mail is stored as `nobody`).

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext as _, PeerError, Result};
use crate::installed::{DOVEADM, DOVECOT, Peer};
use crate::output::run_with_timeout;
use crate::peer_temp_dir;
use crate::process::PeerProcess;
use crate::procfs::free_port;

/// A running Dovecot LMTP server; dropping it stops it.
#[derive(Debug)]
pub struct Dovecot {
    process: PeerProcess,
    lmtp: SocketAddr,
    socket: PathBuf,
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl Dovecot {
    /// Starts Dovecot in the foreground with LMTP on a free 127.0.0.1
    /// port and on `run/lmtp` in its folder; any recipient is a user.
    pub fn start() -> Result<Dovecot> {
        Peer::Dovecot.usable()?;
        let dir = peer_temp_dir("dovecot-")?;
        let root = dir.path();
        // Dovecot's lmtp process stores as nobody: it must reach mail/.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))
            .context("opening the Dovecot folder")?;
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(sub)).context("creating Dovecot's folders")?;
        }
        std::fs::set_permissions(root.join("mail"), std::fs::Permissions::from_mode(0o1777))
            .context("opening the mail folder")?;
        let lmtp = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let socket = root.join("run").join("lmtp");
        let d = root.display();
        let config = format!(
            "# Written by smtp-peers (dovecot.rs) for one run.\n\
             protocols = lmtp\n\
             base_dir = {d}/run\n\
             state_dir = {d}/state\n\
             log_path = {d}/dovecot.log\n\
             ssl = no\n\
             mail_location = maildir:{d}/mail/%u\n\
             mail_uid = nobody\n\
             mail_gid = nogroup\n\
             first_valid_uid = 0\n\
             passdb {{\n  driver = static\n  args = nopassword=y\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
             service lmtp {{\n\
               inet_listener lmtp {{\n    address = {ip}\n    port = {port}\n  }}\n\
               unix_listener lmtp {{\n    path = {socket}\n    mode = 0666\n  }}\n\
             }}\n",
            ip = lmtp.ip(),
            port = lmtp.port(),
            socket = socket.display(),
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config).context("writing dovecot.conf")?;
        let mut process = PeerProcess::spawn(
            "dovecot",
            Command::new(DOVECOT).arg("-F").arg("-c").arg(&config_path),
            root,
        )?
        .reap_descendants();
        process.wait_for_listen(lmtp, Duration::from_secs(15))?;
        Ok(Dovecot {
            process,
            lmtp,
            socket,
            config: config_path,
            dir,
        })
    }

    /// The LMTP service on TCP.
    pub fn lmtp_addr(&self) -> SocketAddr {
        self.lmtp
    }

    /// The LMTP service's Unix socket.
    pub fn lmtp_socket(&self) -> &Path {
        &self.socket
    }

    /// Runs `doveadm ARGS` against this instance and returns its output.
    pub fn doveadm(&self, args: &[&str]) -> Result<String> {
        let out = run_with_timeout(
            "doveadm",
            Command::new(DOVEADM).arg("-c").arg(&self.config).args(args),
            None,
            self.dir.path(),
            Duration::from_secs(60),
        )?
        .success("doveadm")?;
        Ok(out.stdout)
    }

    /// The messages in `user`'s INBOX, each as its header section (what
    /// `doveadm fetch hdr` prints, one message after another).
    pub fn headers(&self, user: &str) -> Result<Vec<String>> {
        let text = self.doveadm(&["fetch", "-u", user, "hdr", "mailbox", "INBOX"])?;
        // Each message starts with a line "hdr:" (the field's name), and
        // no header line can be that.
        let mut messages: Vec<String> = Vec::new();
        for line in text.lines() {
            if line == "hdr:" {
                messages.push(String::new());
            } else if let Some(message) = messages.last_mut() {
                message.push_str(line);
                message.push('\n');
            }
        }
        Ok(messages)
    }

    /// How many messages `user`'s INBOX holds (0 for a user never seen).
    pub fn count(&self, user: &str) -> Result<usize> {
        match self.doveadm(&["search", "-u", user, "mailbox", "INBOX", "ALL"]) {
            Ok(text) => Ok(text.lines().filter(|l| !l.trim().is_empty()).count()),
            Err(PeerError::Failed { output, .. }) if output.contains("Mailbox doesn't exist") => {
                Ok(0)
            }
            Err(error) => Err(error),
        }
    }

    /// Dovecot's log.
    pub fn log(&self) -> String {
        crate::output::read_lossy(&self.dir.path().join("dovecot.log"))
    }

    /// The process (to stop it early).
    pub fn process(&mut self) -> &mut PeerProcess {
        &mut self.process
    }
}
