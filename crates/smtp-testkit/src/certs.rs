//! A test PKI made with rcgen: one CA and the leaves it signs.
//!
//! rustls refuses a self-signed certificate used as its own CA
//! (`CaUsedAsEndEntity`), so a server certificate is always a leaf signed
//! by a separate CA, as in a real deployment; clients trust the CA. For the
//! tests of certificate errors the PKI also makes the bad ones: expired,
//! for the wrong name, self-signed, and signed by a CA nobody trusts.
//!
//! ```
//! let pki = smtp_testkit::certs::TestPki::generate()?;
//! let _server = pki.server_config();            // for a receiver under test
//! let _client = pki.client_config();            // trusts only this CA
//! # Ok::<(), smtp_testkit::certs::CertError>(())
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use smtp_io::tls::self_signed::{CertificateAuthority, Issued};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The names a good server leaf is valid for.
pub const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];
/// Files that expire within this margin are regenerated rather than reused.
const RENEW_MARGIN: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Why the PKI could not be made, written or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A certificate could not be made, or rustls refused it.
    #[error("{0}")]
    Tls(#[from] smtp_io::TlsError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// A certificate and its key, PEM.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

impl From<Issued> for Leaf {
    fn from(issued: Issued) -> Leaf {
        Leaf {
            cert: issued.cert_pem,
            key: issued.key_pem,
        }
    }
}

impl Leaf {
    /// A server configuration presenting this certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        smtp_io::tls::server_config_from_pem(self.cert.as_bytes(), self.key.as_bytes())
            .unwrap_or_else(|e| panic!("test leaf refused by rustls: {e}"))
    }

    /// An acceptor presenting this certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.server_config())
    }
}

/// A CA and the leaves it signs, all PEM.
pub struct TestPki {
    /// The CA certificate: what clients trust.
    pub ca_cert: String,
    /// The server leaf (SAN `localhost`, `127.0.0.1`, `::1`).
    pub server: Leaf,
    /// A client leaf (client authentication).
    pub client: Leaf,
    ca: CertificateAuthority,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// Where the PEM files of a [`TestPki`] live in a folder.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// `ca.pem`
    pub ca_cert: PathBuf,
    /// `server.pem`
    pub server_cert: PathBuf,
    /// `server.key`
    pub server_key: PathBuf,
    /// `client.pem`
    pub client_cert: PathBuf,
    /// `client.key`
    pub client_key: PathBuf,
}

impl PkiFiles {
    /// The file names used inside `dir`.
    pub fn in_dir(dir: &Path) -> PkiFiles {
        PkiFiles {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        }
    }

    fn all(&self) -> [&Path; 5] {
        [
            &self.ca_cert,
            &self.server_cert,
            &self.server_key,
            &self.client_cert,
            &self.client_key,
        ]
    }
}

/// What [`TestPki::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// Valid files were already there and were kept.
    Reused,
    /// Files were missing, unreadable, expired or about to expire: new ones were written.
    Generated,
}

impl TestPki {
    /// A fresh CA ("smtp workspace test CA") with a server and a client leaf.
    pub fn generate() -> Result<TestPki, CertError> {
        TestPki::named("smtp workspace test CA")
    }

    /// A fresh CA called `name`, with a server and a client leaf.
    pub fn named(name: &str) -> Result<TestPki, CertError> {
        let ca = CertificateAuthority::generate(name)?;
        let server = ca.issue(LOCAL_NAMES)?.into();
        let client = ca
            .issue_with(&["smtp test client"], |params| {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            })?
            .into();
        Ok(TestPki {
            ca_cert: ca.cert_pem.clone(),
            server,
            client,
            ca,
        })
    }

    /// Another server leaf signed by this CA, for `names`; `tweak` may change
    /// its parameters (validity dates, key usages, ...).
    pub fn leaf_with(
        &self,
        names: &[&str],
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Result<Leaf, CertError> {
        Ok(self.ca.issue_with(names, tweak)?.into())
    }

    /// A server leaf for the local names that expired in 2020.
    pub fn expired_leaf(&self) -> Result<Leaf, CertError> {
        self.leaf_with(LOCAL_NAMES, |p| {
            p.not_before = rcgen::date_time_ymd(2019, 1, 1);
            p.not_after = rcgen::date_time_ymd(2020, 1, 1);
        })
    }

    /// The server's configuration (the good leaf).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.server_config()
    }

    /// An acceptor for the good leaf.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.server.acceptor()
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        match smtp_io::tls::parse_certs(self.ca_cert.as_bytes(), "the test CA") {
            Ok(mut certs) => certs.remove(0),
            Err(e) => panic!("test CA unreadable: {e}"),
        }
    }

    /// A client configuration that trusts this CA only.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca_der())
            .unwrap_or_else(|e| panic!("test CA refused: {e}"));
        let config = rustls::ClientConfig::builder_with_provider(smtp_io::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A connector that trusts this CA only.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.client_config())
    }

    /// Writes the PEM files into `dir` (created if needed) and returns their paths.
    pub fn write(&self, dir: &Path) -> Result<PkiFiles, CertError> {
        let files = PkiFiles::in_dir(dir);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CertError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let contents = [
            &self.ca_cert,
            &self.server.cert,
            &self.server.key,
            &self.client.cert,
            &self.client.key,
        ];
        for (path, pem) in files.all().into_iter().zip(contents) {
            fs::write(path, pem).map_err(io(path))?;
        }
        Ok(files)
    }

    /// Reuses the PKI in `dir` when its server certificate still verifies
    /// against its CA for `localhost` a week from now; otherwise generates
    /// and writes a new one. Idempotent: `cargo xtask certs` calls this.
    pub fn ensure(dir: &Path) -> Result<(PkiFiles, Ensured), CertError> {
        let files = PkiFiles::in_dir(dir);
        if files.all().iter().all(|p| p.is_file()) && still_valid(&files) {
            return Ok((files, Ensured::Reused));
        }
        let files = TestPki::generate()?.write(dir)?;
        Ok((files, Ensured::Generated))
    }
}

/// A server leaf for the local names that signs itself.
pub fn self_signed_leaf() -> Result<Leaf, CertError> {
    Ok(smtp_io::tls::self_signed::self_signed_leaf(LOCAL_NAMES)?.into())
}

/// True when the server certificate chains to the CA and is valid for
/// `localhost` now and for [`RENEW_MARGIN`] to come.
fn still_valid(files: &PkiFiles) -> bool {
    let first = |path: &Path| {
        smtp_io::tls::read_certs(path)
            .ok()
            .and_then(|mut certs| (!certs.is_empty()).then(|| certs.remove(0)))
    };
    let (Some(ca), Some(leaf)) = (first(&files.ca_cert), first(&files.server_cert)) else {
        return false;
    };
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca).is_err() {
        return false;
    }
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), smtp_io::tls::provider())
            .build()
    else {
        return false;
    };
    let Ok(name) = ServerName::try_from("localhost") else {
        return false;
    };
    let check_at = std::time::SystemTime::now() + RENEW_MARGIN;
    let Ok(at) = check_at.duration_since(std::time::UNIX_EPOCH) else {
        return false;
    };
    verifier
        .verify_server_cert(&leaf, &[], &name, &[], UnixTime::since_unix_epoch(at))
        .is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_pki_verifies_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (files, first) = TestPki::ensure(dir.path()).unwrap();
        assert_eq!(first, Ensured::Generated);
        assert!(still_valid(&files));
        let before = fs::read_to_string(&files.server_cert).unwrap();
        let (_, second) = TestPki::ensure(dir.path()).unwrap();
        assert_eq!(second, Ensured::Reused);
        assert_eq!(before, fs::read_to_string(&files.server_cert).unwrap());
    }

    #[test]
    fn a_missing_or_foreign_file_forces_regeneration() {
        let dir = tempfile::tempdir().unwrap();
        let (files, _) = TestPki::ensure(dir.path()).unwrap();
        // A CA from another PKI: the server certificate no longer chains to it.
        fs::write(&files.ca_cert, TestPki::generate().unwrap().ca_cert).unwrap();
        assert_eq!(TestPki::ensure(dir.path()).unwrap().1, Ensured::Generated);
        fs::remove_file(&files.client_key).unwrap();
        assert_eq!(TestPki::ensure(dir.path()).unwrap().1, Ensured::Generated);
    }

    #[test]
    fn every_leaf_is_usable_by_rustls() {
        let pki = TestPki::generate().unwrap();
        let _ = pki.server_config();
        let _ = pki.client_config();
        let _ = pki.expired_leaf().unwrap().server_config();
        let _ = pki
            .leaf_with(&["wrong.example"], |_| {})
            .unwrap()
            .server_config();
        let _ = self_signed_leaf().unwrap().server_config();
    }
}
