//! Shared test helpers: Python's smtpd (smtp-peers) as an independent
//! peer, with what it makes of a message, and the
//! test PKI with its CA written to a file (what `--ca FILE` and
//! `ClientConfig::ca_file` take). The scripted server and the sink are
//! `smtp_testkit::server`; the certificates are `smtp_testkit::certs`.
#![allow(dead_code)]

pub mod cli;
pub mod python;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use smtp_testkit::certs::{PkiFiles, TestPki};

/// A fresh PKI whose CA certificate is in `ca_file` and whose files are
/// all in `files` (in a folder removed when this is dropped).
pub struct Pki {
    /// The CA and its leaves.
    pub pki: TestPki,
    /// The CA certificate, PEM.
    pub ca_file: PathBuf,
    /// Every file: the server's certificate and key for peer programs.
    pub files: PkiFiles,
    _dir: tempfile::TempDir,
}

impl Pki {
    /// A new CA called `name`, its certificate written to a file.
    pub fn new(name: &str) -> Pki {
        let pki = TestPki::named(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Postfix's smtpd (user postfix) reads the certificate.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let files = pki.write(dir.path()).unwrap();
        Pki {
            pki,
            ca_file: files.ca_cert.clone(),
            files,
            _dir: dir,
        }
    }

    /// The server configuration of its good leaf (localhost, 127.0.0.1, ::1).
    pub fn leaf(&self) -> std::sync::Arc<rustls::ServerConfig> {
        self.pki.server_config()
    }
}
