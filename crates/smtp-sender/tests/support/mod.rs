//! Shared test helpers: Python's smtpd as an independent peer, and the
//! test PKI with its CA written to a file (what `--ca FILE` and
//! `ClientConfig::ca_file` take). The scripted server and the sink are
//! `smtp_testkit::server`; the certificates are `smtp_testkit::certs`.
#![allow(dead_code)]

pub mod python;

use std::path::PathBuf;

use smtp_testkit::certs::TestPki;

/// A fresh PKI whose CA certificate is in `ca_file` (in a folder removed
/// when this is dropped).
pub struct Pki {
    /// The CA and its leaves.
    pub pki: TestPki,
    /// The CA certificate, PEM.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Pki {
    /// A new CA called `name`, its certificate written to a file.
    pub fn new(name: &str) -> Pki {
        let pki = TestPki::named(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = pki.write(dir.path()).unwrap().ca_cert;
        Pki {
            pki,
            ca_file,
            _dir: dir,
        }
    }

    /// The server configuration of its good leaf (localhost, 127.0.0.1, ::1).
    pub fn leaf(&self) -> std::sync::Arc<rustls::ServerConfig> {
        self.pki.server_config()
    }
}
