//! A server certificate that can be read again while the server runs
//! (`smtp-receive` does it at SIGHUP): renewed certificates take effect
//! for the next handshake; sessions already under TLS keep theirs, and
//! nobody is disconnected.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TlsError, parse_key, provider, read, read_certs};

/// The certificate chain and key of two PEM files, served to every
/// handshake, replaced by [`reload`](Self::reload).
///
/// ```no_run
/// use smtp_io::tls::CertificateFiles;
/// let files = CertificateFiles::load("cert.pem".as_ref(), "key.pem".as_ref())?;
/// let config = files.server_config()?; // give this to the server
/// // ... later, after certbot renewed the files:
/// files.reload()?;
/// # Ok::<(), smtp_io::TlsError>(())
/// ```
#[derive(Debug)]
pub struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertificateFiles {
    /// Reads both files; fails as [`server_config_from_pem_files`](super::server_config_from_pem_files) does.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertificateFiles>, TlsError> {
        let current = RwLock::new(Arc::new(certified(cert, key)?));
        Ok(Arc::new(CertificateFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current,
        }))
    }

    /// Reads the files again. On error the certificate in use stays: a
    /// half-written renewal never leaves the server without one.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(certified(&self.cert, &self.key)?);
        match self.current.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    /// A server configuration (TLS 1.2 and 1.3, as [`server_config`](super::server_config))
    /// that asks this value for the certificate at each handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        Ok(Arc::new(config))
    }

    /// The chain in use (leaf first).
    pub fn chain(&self) -> Vec<rustls_pki_types::CertificateDer<'static>> {
        let current = match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        current.cert.clone()
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }
}

/// The chain and key of the files, checked to belong together.
fn certified(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain = read_certs(cert)?;
    let key = parse_key(&read(key)?, &key.display().to_string())?;
    Ok(CertifiedKey::from_der(chain, key, &provider())?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reload_swaps_the_certificate_and_keeps_it_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let write = |name: &str| {
            let made = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
            std::fs::write(&cert, made.cert.pem()).unwrap();
            std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
            made.cert.der().clone()
        };
        let first = write("one.test");
        let files = CertificateFiles::load(&cert, &key).unwrap();
        assert_eq!(files.chain(), vec![first]);
        let second = write("two.test");
        files.reload().unwrap();
        assert_eq!(files.chain(), vec![second.clone()]);
        std::fs::write(&key, b"half written").unwrap();
        assert!(files.reload().is_err());
        assert_eq!(files.chain(), vec![second], "the one in use stays");
        assert!(files.server_config().is_ok());
    }
}
