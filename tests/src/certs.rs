//! A test PKI made with rcgen: one CA and the leaves it signs.
//!
//! rustls refuses a self-signed certificate used as its own CA
//! (`CaUsedAsEndEntity`), so the server certificate is always a leaf signed by
//! a separate CA, as in a real deployment; clients trust the CA file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

/// How long generated certificates stay valid.
const VALIDITY: Duration = Duration::days(90);
/// Files that expire within this margin are regenerated rather than reused.
const RENEW_MARGIN: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Why the PKI could not be made, written or read.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The PEM texts of a CA, a server leaf and a client leaf.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate: what clients trust.
    pub ca_cert: String,
    /// The server certificate (SAN `localhost`, `127.0.0.1`, `::1`).
    pub server_cert: String,
    /// The server's private key (PKCS#8).
    pub server_key: String,
    /// A client certificate (for later use: client authentication).
    pub client_cert: String,
    /// The client's private key (PKCS#8).
    pub client_key: String,
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
    /// Generates a fresh CA and the server and client leaves it signs.
    pub fn generate() -> Result<TestPki, CertError> {
        let now = OffsetDateTime::now_utc();
        let (not_before, not_after) = (now - Duration::days(1), now + VALIDITY);

        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "smtp workspace test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = not_before;
        ca.not_after = not_after;
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |name: &str, purpose: ExtendedKeyUsagePurpose| -> Result<_, CertError> {
            let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params
                .subject_alt_names
                .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::ExplicitNoCa;
            params.use_authority_key_identifier_extension = true;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![purpose];
            params.not_before = not_before;
            params.not_after = not_after;
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &issuer)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth)?;
        let (client_cert, client_key) =
            leaf("smtp test client", ExtendedKeyUsagePurpose::ClientAuth)?;

        Ok(TestPki {
            ca_cert: ca_cert.pem(),
            server_cert,
            server_key,
            client_cert,
            client_key,
        })
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
            &self.server_cert,
            &self.server_key,
            &self.client_cert,
            &self.client_key,
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

/// True when the server certificate chains to the CA and is valid for
/// `localhost` now and for [`RENEW_MARGIN`] to come.
fn still_valid(files: &PkiFiles) -> bool {
    let (Some(ca), Some(leaf)) = (
        read_first_cert(&files.ca_cert),
        read_first_cert(&files.server_cert),
    ) else {
        return false;
    };
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca).is_err() {
        return false;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()
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

fn read_first_cert(path: &Path) -> Option<CertificateDer<'static>> {
    let pem = fs::read(path).ok()?;
    rustls_pemfile::certs(&mut pem.as_slice()).next()?.ok()
}

#[cfg(test)]
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
}
