//! A CA and a server certificate made at run time with rcgen, for a tool
//! that must offer TLS before anyone gave it a certificate (a test inbox,
//! a conformance run). rustls refuses a self-signed leaf used as its own
//! CA, so there is always a separate CA; its certificate is what a client
//! adds to its trust roots.
//!
//! ```
//! let made = smtp_io::tls::self_signed::SelfMade::generate("smtp test CA", &["localhost", "127.0.0.1"])?;
//! assert!(made.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! let _server = made.server_config()?;
//! # Ok::<(), smtp_io::TlsError>(())
//! ```

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::{TlsError, server_config_from_pem};

/// A CA and one server certificate signed by it, all PEM.
#[derive(Clone)]
pub struct SelfMade {
    /// The CA certificate: what clients must trust.
    pub ca_pem: String,
    /// The server certificate, for the names asked for.
    pub cert_pem: String,
    /// The server's private key.
    pub key_pem: String,
}

impl std::fmt::Debug for SelfMade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfMade").finish_non_exhaustive()
    }
}

fn generate_error(error: rcgen::Error) -> TlsError {
    TlsError::Generate(error.to_string())
}

impl SelfMade {
    /// A CA called `ca_name`, and a server certificate for `names` (DNS
    /// names or IP addresses; the first is also the common name).
    pub fn generate(ca_name: &str, names: &[&str]) -> Result<SelfMade, TlsError> {
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(generate_error)?;
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(generate_error)?;
        let ca_cert = ca.self_signed(&ca_key).map_err(generate_error)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf = CertificateParams::new(Vec::<String>::new()).map_err(generate_error)?;
        if let Some(first) = names.first() {
            leaf.distinguished_name.push(DnType::CommonName, *first);
        }
        for name in names {
            leaf.subject_alt_names.push(match name.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().map_err(generate_error)?),
            });
        }
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(generate_error)?;
        let cert = leaf.signed_by(&key, &issuer).map_err(generate_error)?;
        Ok(SelfMade {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A server configuration presenting the server certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        server_config_from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }
}
