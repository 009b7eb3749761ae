//! Shared test set-up: one generated PKI, suite options tuned for speed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::ServerConfig;
use smtp_conformance::server::{ServerOptions, TlsMode};
use smtp_conformance::tls::Trust;
use smtp_testkit::bins::{Bins, RunningReceiver};
use smtp_testkit::certs::TestPki;

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().unwrap())
}

pub fn server_tls() -> Arc<ServerConfig> {
    pki().server_config()
}

/// Server-suite options for an in-process server: short waits.
pub fn options(addr: SocketAddr, mode: TlsMode) -> ServerOptions {
    let mut o = ServerOptions::new(&addr.to_string(), "inbox@example.test");
    o.tls = mode;
    o.trust = Trust::CaPem(pki().ca_cert.clone());
    o.server_name = Some("localhost".into());
    o.auth = Some(("alice".into(), "secret".into()));
    o.timeout = Duration::from_secs(2);
    o.grace = Duration::from_millis(300);
    o.idle_wait = Some(Duration::from_secs(4));
    // The reference server's idle timeout is 1.5 s: judge against 3 s
    // instead of RFC 5321's 5 minutes.
    o.idle_floor = Duration::from_secs(3);
    o.sessions = 5;
    o.rcpt_probe = 300;
    o
}

/// The same for an LMTP server on TCP (`lmtp:HOST:PORT`), with the
/// reference server's two further recipients.
pub fn lmtp_options(addr: SocketAddr, mode: TlsMode) -> ServerOptions {
    let mut o = options(addr, mode);
    o.addr = format!("lmtp:{addr}");
    o.more_rcpts = vec!["second@example.test".into(), "third@example.test".into()];
    o
}

/// smtp-receive on a loopback port (`listen`: `--listen` or
/// `--listen-lmtp`), for `example.test`, storing into `dir/maildir`, with
/// `more` arguments (`--strict`).
pub fn maildir_receiver(dir: &Path, listen: &str, more: &[&str]) -> RunningReceiver {
    let bins = Bins::for_tests().unwrap();
    let maildir = dir.join("maildir");
    let first = [listen, "127.0.0.1:0", "--domain", "example.test"];
    let args = first
        .iter()
        .chain(more)
        .map(std::ffi::OsStr::new)
        .chain([std::ffi::OsStr::new("--maildir"), maildir.as_os_str()]);
    RunningReceiver::start(&bins.receive, args, dir).unwrap()
}
