//! This workspace's programs (`smtp-receive`, `smtp-send`, `smtp-conform`)
//! built once and found, and `smtp-receive` started as a guarded process
//! whose `listening on ADDR (KIND)` lines are read.
//!
//! Tests in another package cannot use `CARGO_BIN_EXE_*` for these, so
//! [`Bins::build`] runs the cargo that runs the caller (`$CARGO`) and asks
//! it where the executables are (`--message-format=json`), which honours
//! every way of moving the target folder. The interop tests, `cargo xtask
//! interop / conformance` and the bench (release) all come through here.
//!
//! ```no_run
//! # fn main() -> Result<(), smtp_testkit::bins::BinsError> {
//! use smtp_testkit::bins::{Bins, Profile, RunningReceiver};
//! let bins = Bins::build(Profile::Debug)?;
//! let logs = tempfile::tempdir().unwrap();
//! let receiver = RunningReceiver::start(
//!     &bins.receive,
//!     ["--listen", "127.0.0.1:0", "--sink"],
//!     logs.path(),
//! )?;
//! let addr = receiver.plain().expect("a plain listener");
//! // ... connect to addr; dropping `receiver` stops it by PID ...
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use smtp_peers::{PeerError, PeerProcess};

/// The environment variable that points the interop tests at binaries
/// built elsewhere (a folder holding all three), instead of building them.
pub const BIN_DIR_ENV: &str = "SMTP_BIN_DIR";

/// How long `smtp-receive` may take to print its listeners.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The binaries and the packages that make them.
const PROGRAMS: [(&str, &str); 3] = [
    ("smtp-receive", "smtp-receiver"),
    ("smtp-send", "smtp-sender"),
    ("smtp-conform", "smtp-conformance"),
];

/// Why the binaries could not be built, found or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BinsError {
    /// cargo could not be run.
    #[error("running {cargo}: {source}")]
    Cargo {
        /// The cargo program.
        cargo: String,
        /// Why.
        source: std::io::Error,
    },
    /// cargo ran and failed (its messages went to stderr).
    #[error("cargo build of smtp-receive, smtp-send and smtp-conform failed ({0})")]
    Build(ExitStatus),
    /// A binary is not where it should be.
    #[error("{} not found", .0.display())]
    Missing(PathBuf),
    /// The receiver process could not be started or did not say where it listens.
    #[error(transparent)]
    Process(#[from] PeerError),
}

/// How the binaries are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `cargo build`: quick to build, for tests.
    Debug,
    /// `cargo build --release`: for measurements.
    Release,
}

impl std::fmt::Display for Profile {
    /// `debug` or `release`, as cargo names the folders.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        })
    }
}

/// Paths of this workspace's three programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bins {
    /// `smtp-receive` (package smtp-receiver).
    pub receive: PathBuf,
    /// `smtp-send` (package smtp-sender).
    pub send: PathBuf,
    /// `smtp-conform` (package smtp-conformance).
    pub conform: PathBuf,
}

/// What was built in this process, by profile: built once, then reused.
static BUILT: Mutex<Option<HashMap<Profile, Bins>>> = Mutex::new(None);

impl Bins {
    /// Builds the three binaries with the cargo running this process
    /// (`$CARGO`, else `cargo`), once per process and profile; callers in
    /// other threads wait for the first build.
    pub fn build(profile: Profile) -> Result<Bins, BinsError> {
        // Held during the build: a second caller waits, then reuses it.
        let mut built = BUILT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bins) = built.as_ref().and_then(|b| b.get(&profile)) {
            return Ok(bins.clone());
        }
        let bins = cargo_build(profile)?;
        built
            .get_or_insert_with(HashMap::new)
            .insert(profile, bins.clone());
        Ok(bins)
    }

    /// The binaries in `dir`, as they are: an error names the first of
    /// `smtp-receive` and `smtp-send` that is missing. `smtp-conform` is not
    /// checked: a folder built by an older `cargo xtask bench` (a baseline)
    /// holds only the other two.
    pub fn in_dir(dir: &Path) -> Result<Bins, BinsError> {
        let bins = Bins {
            receive: dir.join("smtp-receive"),
            send: dir.join("smtp-send"),
            conform: dir.join("smtp-conform"),
        };
        for bin in [&bins.receive, &bins.send] {
            if !bin.is_file() {
                return Err(BinsError::Missing(bin.clone()));
            }
        }
        Ok(bins)
    }

    /// For tests: the folder named by [`BIN_DIR_ENV`] when set, else a
    /// debug [`build`](Self::build).
    pub fn for_tests() -> Result<Bins, BinsError> {
        match std::env::var_os(BIN_DIR_ENV) {
            Some(dir) => Bins::in_dir(Path::new(&dir)),
            None => Bins::build(Profile::Debug),
        }
    }
}

/// A command running the cargo that runs this process (`$CARGO`, else
/// `cargo`) at the workspace root, without the variables cargo sets for
/// the crate it runs (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `OUT_DIR` ...).
///
/// Build scripts watch some of those (ring's does, through
/// `rerun-if-env-changed`): a nested cargo that inherited them would
/// rebuild ring and all above it, and the next plain `cargo` would rebuild
/// them back.
///
/// ```no_run
/// let status = smtp_testkit::bins::cargo_command().args(["fmt", "--check"]).status()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn cargo_command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_a_crate) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The variables cargo sets when it runs a crate's binary, test or build
/// script (the Cargo book, "Environment variables Cargo sets for crates"),
/// as opposed to those a person sets to configure cargo.
fn set_by_cargo_for_a_crate(name: &str) -> bool {
    const EXACT: [&str; 9] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_EXE_")
}

/// `cargo build -p smtp-receiver -p smtp-sender -p smtp-conformance --bins`
/// and the executables it reports.
fn cargo_build(profile: Profile) -> Result<Bins, BinsError> {
    let mut cmd = cargo_command();
    cmd.args([
        "build",
        "--quiet",
        "--bins",
        "--message-format=json-render-diagnostics",
    ])
    .stderr(Stdio::inherit());
    for (_, package) in PROGRAMS {
        cmd.args(["-p", package]);
    }
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    let out = cmd.output().map_err(|source| BinsError::Cargo {
        cargo: format!("{:?}", cmd.get_program()),
        source,
    })?;
    if !out.status.success() {
        return Err(BinsError::Build(out.status));
    }
    let executables: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(executable)
        .collect();
    let find = |name: &str| {
        executables
            .iter()
            .find(|path| path.file_name() == Some(OsStr::new(name)) && path.is_file())
            .cloned()
            .ok_or_else(|| BinsError::Missing(PathBuf::from(name)))
    };
    Ok(Bins {
        receive: find("smtp-receive")?,
        send: find("smtp-send")?,
        conform: find("smtp-conform")?,
    })
}

/// The `"executable":"PATH"` of one line of cargo's JSON messages
/// (`compiler-artifact` of a binary), without a JSON parser: the value
/// is a plain string in which only `\\` and `\"` can be escaped.
fn executable(line: &str) -> Option<PathBuf> {
    const KEY: &str = "\"executable\":\"";
    let start = line.find(KEY)? + KEY.len();
    let mut path = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(PathBuf::from(path)),
            '\\' => path.push(chars.next()?),
            c => path.push(c),
        }
    }
    None
}

/// The workspace root: this crate lives two levels below it.
pub(crate) fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).unwrap_or(here).to_path_buf()
}

/// One listener as `smtp-receive` reports it on stdout:
/// `listening on 127.0.0.1:2525 (smtp, starttls)` or `... (smtps)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// Where it listens (the kernel's port when asked for port 0).
    pub addr: SocketAddr,
    /// TLS from the first byte (RFC 8314), else plain text.
    pub implicit_tls: bool,
    /// The HTTP API of the test inbox (`(http)` or `(https)`), not SMTP.
    pub http: bool,
}

impl Listener {
    /// Parses one stdout line; `None` for any other line.
    ///
    /// ```
    /// use smtp_testkit::bins::Listener;
    /// let l = Listener::parse("listening on 127.0.0.1:4650 (smtps)").unwrap();
    /// assert!(l.implicit_tls && l.addr.port() == 4650);
    /// assert!(Listener::parse("listening on [::1]:25 (smtp, starttls)").is_some_and(|l| !l.implicit_tls));
    /// assert_eq!(Listener::parse("smtp-receive: shutting down"), None);
    /// ```
    pub fn parse(line: &str) -> Option<Listener> {
        let (addr, kind) = line.strip_prefix("listening on ")?.split_once(' ')?;
        let kind = kind.strip_prefix('(')?.strip_suffix(')')?;
        Some(Listener {
            addr: addr.parse().ok()?,
            implicit_tls: kind == "smtps" || kind == "https",
            http: kind.starts_with("http"),
        })
    }
}

/// A running `smtp-receive`, stopped (SIGTERM, by PID) when dropped.
#[derive(Debug)]
pub struct RunningReceiver {
    process: PeerProcess,
    listeners: Vec<Listener>,
}

impl RunningReceiver {
    /// Starts `bin` with `args` (stdout and stderr to
    /// `LOG_DIR/smtp-receive.out|.err`) and waits until it has printed
    /// one `listening on` line per `--listen` / `--listen-tls` argument.
    pub fn start<I, S>(bin: &Path, args: I, log_dir: &Path) -> Result<RunningReceiver, BinsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(bin);
        let mut expected = 0;
        for arg in args {
            let arg = arg.as_ref();
            let flag = arg.to_string_lossy();
            let flag = flag.split('=').next().unwrap_or_default();
            if flag == "--listen" || flag == "--listen-tls" || flag == "--http" {
                expected += 1;
            }
            cmd.arg(arg);
        }
        let mut process = PeerProcess::spawn("smtp-receive", &mut cmd, log_dir)?;
        let listeners = process.wait_for_stdout_lines(START_TIMEOUT, Listener::parse, |seen| {
            seen.len() >= expected.max(1)
        })?;
        Ok(RunningReceiver { process, listeners })
    }

    /// Every listener, in the order printed.
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// The first plain-text SMTP listener (STARTTLS may be offered there).
    pub fn plain(&self) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| !l.implicit_tls && !l.http)
            .map(|l| l.addr)
    }

    /// The first implicit-TLS SMTP listener.
    pub fn implicit_tls(&self) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.implicit_tls && !l.http)
            .map(|l| l.addr)
    }

    /// The first HTTP listener of the test inbox (`--http`).
    pub fn http(&self) -> Option<SocketAddr> {
        self.listeners.iter().find(|l| l.http).map(|l| l.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The process (its output, its state; stopping it).
    pub fn process(&mut self) -> &mut PeerProcess {
        &mut self.process
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_read_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"smtp-send"},"executable":"/w/target/debug/smtp-send","fresh":true}"#;
        assert_eq!(
            executable(line),
            Some(PathBuf::from("/w/target/debug/smtp-send"))
        );
        let escaped = r#"{"executable":"/odd \"dir\\/smtp-send"}"#;
        assert_eq!(
            executable(escaped),
            Some(PathBuf::from(r#"/odd "dir\/smtp-send"#))
        );
        assert_eq!(executable(r#"{"executable":null}"#), None);
        assert_eq!(executable(r#"{"executable":"/cut"#), None);
    }

    #[test]
    fn only_the_variables_cargo_sets_for_a_crate_are_removed() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_BIN_EXE_smtp-send",
            "OUT_DIR",
        ] {
            assert!(set_by_cargo_for_a_crate(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "PATH",
        ] {
            assert!(!set_by_cargo_for_a_crate(name), "{name}");
        }
    }

    #[test]
    fn listener_lines_parse() {
        let plain = Listener::parse("listening on 127.0.0.1:2525 (smtp, starttls)");
        assert_eq!(
            plain,
            Some(Listener {
                addr: SocketAddr::from(([127, 0, 0, 1], 2525)),
                implicit_tls: false,
                http: false,
            })
        );
        let http = Listener::parse("listening on 127.0.0.1:8025 (http)").unwrap();
        assert!(http.http && !http.implicit_tls);
        assert_eq!(Listener::parse("listening on 127.0.0.1:2525"), None);
        assert_eq!(Listener::parse("listening on nowhere (smtp)"), None);
    }

    #[test]
    fn a_folder_without_the_binaries_is_refused() {
        let dir = std::env::temp_dir().join("smtp-testkit-no-bins-here");
        let err = Bins::in_dir(&dir).unwrap_err();
        assert!(matches!(err, BinsError::Missing(path) if path.ends_with("smtp-receive")));
    }
}
