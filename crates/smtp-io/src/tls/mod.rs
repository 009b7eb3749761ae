//! rustls with the ring provider, configured the way both halves need it.
//!
//! * Servers: [`server_config`] from DER, [`server_config_from_pem`] and
//!   [`server_config_from_pem_files`] from PEM (RFC 3207 STARTTLS and
//!   RFC 8314 implicit TLS use the same configuration).
//! * Clients: [`system_roots`] (loaded once, like Python's
//!   `ssl.create_default_context()`), [`read_certs`] for a private CA, and
//!   [`dangerous`] for the one configuration that checks nothing.
//! * [`CertificateFiles`]: a server certificate read again on demand
//!   (SIGHUP), for the next handshakes.
//! * [`self_signed`] (feature `self-signed`): a CA and a server
//!   certificate made at run time.

pub mod dangerous;
mod reload;
#[cfg(feature = "self-signed")]
pub mod self_signed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub use reload::CertificateFiles;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// PEM text that is not PEM.
    #[error("{what} is not valid PEM: {source}")]
    Pem {
        /// The file, or what the text was meant to be.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No `CERTIFICATE` block.
    #[error("no certificate found in {0}")]
    NoCertificate(String),
    /// No private key block (PKCS#8, PKCS#1 or SEC1).
    #[error("no private key found in {0}")]
    NoKey(String),
    /// rustls refused the certificate or key.
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
    /// A certificate could not be made (feature `self-signed`).
    #[error("cannot make a certificate: {0}")]
    Generate(String),
}

/// The ring provider, as the workspace agreed (no cmake, fast builds).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in PEM text; `what` names the text in errors. Fails
/// when there is none.
pub fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            what: what.to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(what.to_string()));
    }
    Ok(certs)
}

/// The private key in PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn parse_key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|source| TlsError::Pem {
            what: what.to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(what.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The certificates in a PEM file (a chain, leaf first, or CA certificates).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certs(&read(path)?, &path.display().to_string())
}

/// A server configuration from DER certificates (leaf first) and key:
/// TLS 1.2 and 1.3 only, rustls's safe defaults (AEAD suites only).
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// [`server_config`] from PEM text.
pub fn server_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config(
        parse_certs(cert_pem, "the certificate")?,
        parse_key(key_pem, "the key")?,
    )
}

/// [`server_config`] from PEM files.
pub fn server_config_from_pem_files(
    cert: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config(
        read_certs(cert)?,
        parse_key(&read(key)?, &key.display().to_string())?,
    )
}

/// The system's trust anchors, loaded once per process. Certificates the
/// system store holds but cannot be parsed are skipped.
pub fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors_name_what_is_missing() {
        let err = parse_certs(b"nothing here", "x.pem").unwrap_err();
        assert_eq!(err.to_string(), "no certificate found in x.pem");
        let err = parse_key(b"", "x.key").unwrap_err();
        assert_eq!(err.to_string(), "no private key found in x.key");
        let err = read_certs(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read /nonexistent/ca.pem")
        );
    }
}
