//! TLS set-up for both suites, over smtp-io (rustls with the ring provider).
//!
//! * The server suite is a TLS *client*: [`client_config`] trusts a CA file,
//!   CA certificates given as text, the system roots, or (explicitly,
//!   `--insecure`) anything, through smtp-io's `dangerous` verifier.
//! * The client suite is a TLS *server*: its certificate comes from PEM
//!   files, or [`TestPki::generate`] makes a CA and leaves at run time. The
//!   PKI also has the two bad certificates the client-suite scenarios need:
//!   one for the wrong name and one signed by a CA nobody trusts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, ServerName};
use smtp_io::tls::self_signed::{CertificateAuthority, Issued};
use smtp_io::tls::{self as io_tls, dangerous};

pub use smtp_io::TlsError;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A certificate or key could not be read, made or used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// No trust anchors: no `--ca` and no system roots found.
    #[error("no trusted CA: give --ca FILE (or --insecure)")]
    NoRoots,
}

/// Whom the TLS client (server suite) trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The CA certificates in this PEM file.
    CaFile(PathBuf),
    /// These CA certificates (PEM text), e.g. from an in-process PKI.
    CaPem(String),
    /// The system's trust roots.
    System,
    /// Any certificate: only for conformance runs where nothing secret is sent.
    Insecure,
}

/// A TLS client configuration for [`Trust`]; the server name is checked
/// against the certificate unless the trust is [`Trust::Insecure`].
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let anchors: Vec<CertificateDer<'static>> = match trust {
        Trust::Insecure => return Ok(dangerous::client_config_accepting_any_certificate()?),
        Trust::CaFile(path) => io_tls::read_certs(path)?,
        Trust::CaPem(pem) => io_tls::parse_certs(pem.as_bytes(), "the CA certificates")?,
        Trust::System => io_tls::system_roots().to_vec(),
    };
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(anchors);
    if roots.is_empty() {
        return Err(TlsSetupError::NoRoots);
    }
    let config = ClientConfig::builder_with_provider(io_tls::provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS server configuration from a certificate chain and a key, both PEM files.
pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    Ok(io_tls::server_config_from_pem_files(cert, key)?)
}

/// Parses a server name (DNS name or IP address) for SNI and verification.
pub fn server_name(name: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(name.to_string()).ok()
}

/// A PKI made at run time: a CA the user's client can trust and three
/// leaves: a good one for `localhost` / `127.0.0.1` / `::1`, one for a name
/// nobody connects to (`wrong-name.invalid`, issued by the same CA), and one
/// issued by a second CA that is never published.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (PEM): what the client under test should trust.
    pub ca_cert: String,
    /// The good server leaf.
    pub server: Issued,
    /// A leaf issued by the CA but for the wrong name.
    pub wrong_name: Issued,
    /// A leaf for the right names issued by an unknown CA.
    pub untrusted: Issued,
}

impl TestPki {
    /// Makes the CAs and the leaves.
    pub fn generate() -> Result<TestPki, TlsSetupError> {
        let ca = CertificateAuthority::generate("smtp-conform test CA")?;
        let other_ca = CertificateAuthority::generate("smtp-conform unpublished CA")?;
        let good = ["localhost", "127.0.0.1", "::1"];
        Ok(TestPki {
            server: ca.issue(&good)?,
            wrong_name: ca.issue(&["wrong-name.invalid"])?,
            untrusted: other_ca.issue(&good)?,
            ca_cert: ca.cert_pem,
        })
    }

    /// Writes the CA certificate to `path` (so a client can be pointed at it).
    pub fn write_ca(&self, path: &Path) -> Result<(), TlsSetupError> {
        std::fs::write(path, &self.ca_cert).map_err(|source| {
            TlsSetupError::Tls(TlsError::Read {
                path: path.to_path_buf(),
                source,
            })
        })
    }
}
