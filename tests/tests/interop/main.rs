//! Interoperability: this workspace's halves against SMTP software nobody
//! here wrote (issue 7). `cargo test` runs these cases; `cargo xtask
//! interop` runs them and prints the table of docs/interop.md.
//!
//! - [`receiver`]: `smtp-receive` driven by Python's smtplib, curl, swaks,
//!   msmtp and Postfix's smtp-source; each message is checked in the Maildir.
//! - [`sender`]: `smtp-send` talking to aiosmtpd, a private Postfix smtpd
//!   (TLS, SASL, Maildir), Postfix's smtp-sink and Python's smtpd; each
//!   message is checked where the peer stored it.
//!
//! Every peer runs on loopback (smtp-peers), on a port the kernel chose
//! or a free high port, and is stopped by PID when its case ends, also on
//! failure or panic. A case whose peer is missing prints
//! `skipped: <peer> not installed (run .ci/install-peers)` and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod messages;
mod ours;
mod receiver;
mod sender;

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use smtp_e2e::interop::{Outcome, Record, WORK_ENV};
use smtp_peers::{Peer, Postfix, PostfixConfig, postfix_sasl_installed};
use smtp_testkit::bins::Bins;
use smtp_testkit::certs::{PkiFiles, TestPki};

/// How long to wait for peers that deliver after their reply.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

/// How the session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text.
    None,
    /// STARTTLS (RFC 3207).
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
    /// STARTTLS when offered.
    Opportunistic,
}

impl TlsMode {
    fn label(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "STARTTLS",
            TlsMode::Implicit => "implicit",
            TlsMode::Opportunistic => "opportunistic",
        }
    }
}

/// What a case is about: the columns of the table.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Unique; its folder's name. The test function has the same name
    /// with `_` for `-`.
    name: &'static str,
    peer: Peer,
    tls: TlsMode,
    /// AUTH mechanism, or `-`.
    auth: &'static str,
    /// Also needs Cyrus SASL (Postfix AUTH users).
    sasl: bool,
}

impl Case {
    /// A case against `peer`.
    pub const fn new(name: &'static str, peer: Peer, tls: TlsMode, auth: &'static str) -> Case {
        Case {
            name,
            peer,
            tls,
            auth,
            sasl: false,
        }
    }

    /// The peer's AUTH users need Cyrus SASL's `saslpasswd2` too.
    pub const fn with_sasl(mut self) -> Case {
        self.sasl = true;
        self
    }

    /// Runs `body` in a fresh folder, unless the peer is missing or cannot
    /// run here (then it says so on stderr and returns). `Ok` carries a
    /// short note of what was checked; an error or a panic fails the test,
    /// with the folder kept and named. With [`WORK_ENV`] set, the result is
    /// recorded.
    pub fn run(self, body: impl FnOnce(&Ctx, &Path) -> Result<String>) {
        smtp_peers::stop_peers_on_signal();
        let work = std::env::var_os(WORK_ENV).map(PathBuf::from);
        if let Some(work) = &work {
            // Peers' folders (configuration, logs, stored mail) go beside
            // the cases' and stay for `cargo xtask interop --keep`.
            smtp_peers::set_temp_parent(work, true).expect("opening the work folder");
        }
        let started = Instant::now();
        let version = self.peer.usable().and_then(|v| {
            if self.sasl && !postfix_sasl_installed() {
                return Err(smtp_peers::PeerError::NotInstalled {
                    peer: "Cyrus SASL (saslpasswd2)",
                    hint: "run .ci/install-peers",
                });
            }
            Ok(v)
        });
        let version = match version {
            Ok(version) => version,
            Err(missing) => {
                // Straight to the process's stderr: libtest captures
                // `eprintln!`, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "skipped: {missing}");
                let dir = PathBuf::new();
                self.record(
                    &work,
                    "missing",
                    Outcome::Skip(missing.to_string()),
                    started,
                    dir,
                );
                return;
            }
        };
        let (dir, temp) = self.folder(work.as_deref());
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let ctx = Ctx::new()?;
            body(&ctx, &dir)
        }));
        let outcome = match &ran {
            Ok(Ok(note)) => Outcome::Pass(note.clone()),
            Ok(Err(e)) => Outcome::Fail(format!("{e:#}")),
            Err(panic) => Outcome::Fail(format!("panicked: {}", panic_text(panic.as_ref()))),
        };
        self.record(&work, &version, outcome.clone(), started, dir.clone());
        if let Some(mut temp) = temp {
            // Kept when the case failed, for its logs and transcripts.
            temp.disable_cleanup(!outcome.passed());
        }
        match (ran, outcome) {
            (Err(panic), _) => {
                eprintln!(
                    "{} failed; its folder is kept: {}",
                    self.name,
                    dir.display()
                );
                resume_unwind(panic)
            }
            (_, Outcome::Fail(why)) => panic!(
                "{} failed: {why}\n(its folder is kept: {})",
                self.name,
                dir.display()
            ),
            _ => {}
        }
    }

    /// `WORK/NAME` when a work folder is set, else a temporary folder.
    fn folder(&self, work: Option<&Path>) -> (PathBuf, Option<tempfile::TempDir>) {
        let result = match work {
            Some(work) => {
                let dir = work.join(self.name);
                std::fs::create_dir_all(&dir).map(|()| (dir, None))
            }
            None => tempfile::Builder::new()
                .prefix(&format!("interop-{}-", self.name))
                .tempdir()
                .map(|temp| (temp.path().to_path_buf(), Some(temp))),
        };
        result.expect("creating the case's folder")
    }

    fn record(
        &self,
        work: &Option<PathBuf>,
        version: &str,
        outcome: Outcome,
        started: Instant,
        dir: PathBuf,
    ) {
        let Some(work) = work else { return };
        let record = Record {
            case: self.name.to_string(),
            peer: self.peer,
            version: version.to_string(),
            tls: self.tls.label().to_string(),
            auth: self.auth.to_string(),
            outcome,
            elapsed: started.elapsed(),
            dir,
        };
        record.write_in(work).expect("writing the case's record");
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// What every case can use.
pub struct Ctx {
    /// The binaries under test.
    pub bins: Bins,
    pki: Arc<Pki>,
}

impl Ctx {
    fn new() -> Result<Ctx> {
        Ok(Ctx {
            bins: Bins::for_tests().context("building smtp-receive and smtp-send")?,
            pki: shared(&PKI, Pki::generate)?,
        })
    }

    /// The test PKI: a CA and a leaf for localhost, as files.
    pub fn pki(&self) -> &PkiFiles {
        &self.pki.files
    }

    /// The Postfix instance the Postfix cases share while any of them runs
    /// (TLS on both ports, the AUTH user when Cyrus SASL is installed,
    /// Maildir for example.test); it stops when the last one ends.
    pub fn postfix(&self) -> Result<Arc<SharedPostfix>> {
        shared(&POSTFIX, || {
            let pki = self.pki.clone();
            let mut config = PostfixConfig::new(&pki.files.server_cert, &pki.files.server_key);
            if postfix_sasl_installed() {
                config
                    .users
                    .push((ours::USER.into(), ours::PASSWORD.into()));
            }
            let postfix = Postfix::start(&config).context("starting Postfix")?;
            Ok(SharedPostfix { postfix, _pki: pki })
        })
    }
}

/// The PKI while any case uses it; its folder goes with the last user.
struct Pki {
    files: PkiFiles,
    _dir: tempfile::TempDir,
}

impl Pki {
    fn generate() -> Result<Pki> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::Builder::new().prefix("interop-pki-").tempdir()?;
        // Postfix's smtpd (user postfix) reads the certificate.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let files = TestPki::generate()?.write(dir.path())?;
        Ok(Pki { files, _dir: dir })
    }
}

/// A Postfix instance and the PKI it was configured with.
pub struct SharedPostfix {
    postfix: Postfix,
    _pki: Arc<Pki>,
}

impl std::ops::Deref for SharedPostfix {
    type Target = Postfix;

    fn deref(&self) -> &Postfix {
        &self.postfix
    }
}

static PKI: Mutex<Weak<Pki>> = Mutex::new(Weak::new());
static POSTFIX: Mutex<Weak<SharedPostfix>> = Mutex::new(Weak::new());

/// The value in `slot` while anyone holds it, else a new one from `make`.
/// Nothing lives in a static beyond its last user, so nothing outlives
/// the test process (statics are never dropped).
fn shared<T>(slot: &Mutex<Weak<T>>, make: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
    // A case that panicked while starting a peer left an empty slot: fine.
    let mut weak = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(alive) = weak.upgrade() {
        return Ok(alive);
    }
    let made = Arc::new(make()?);
    *weak = Arc::downgrade(&made);
    Ok(made)
}

/// True when a client transcript shows `commands` written one after the
/// other with no reply between them: a PIPELINING group (RFC 2920 §3.1).
/// Lines are client lines when they start with one of `client_marks`
/// (`C: ` for smtp-send, `-> `/`~> ` for swaks, plain/TLS).
pub fn pipelined(transcript: &str, client_marks: &[&str], commands: &[&str]) -> bool {
    let sent: Vec<Option<&str>> = transcript
        .lines()
        .map(|l| {
            let l = l.trim_start();
            client_marks.iter().find_map(|m| l.strip_prefix(m))
        })
        .collect();
    let Some(first) = commands.first() else {
        return false;
    };
    sent.iter()
        .enumerate()
        .filter(|(_, l)| l.is_some_and(|l| l.starts_with(first)))
        .any(|(i, _)| {
            commands.iter().enumerate().all(|(k, c)| {
                sent.get(i + k)
                    .copied()
                    .flatten()
                    .is_some_and(|l| l.starts_with(c))
            })
        })
}

#[test]
fn pipelining_is_seen_only_when_no_reply_comes_between() {
    let grouped = "C: MAIL FROM:<a@b>\nC: RCPT TO:<c@d>\nC: DATA\nS: 250 ok\n";
    let lockstep = "C: MAIL FROM:<a@b>\nS: 250 ok\nC: RCPT TO:<c@d>\nS: 250 ok\nC: DATA\n";
    let cmds = ["MAIL FROM", "RCPT TO", "DATA"];
    assert!(pipelined(grouped, &["C: "], &cmds));
    assert!(!pipelined(lockstep, &["C: "], &cmds));
    assert!(pipelined(
        " ~> MAIL FROM:<a@b>\n ~> RCPT TO:<c@d>\n ~> DATA\n",
        &["-> ", "~> "],
        &cmds
    ));
    assert!(!pipelined("", &["C: "], &cmds));
}
