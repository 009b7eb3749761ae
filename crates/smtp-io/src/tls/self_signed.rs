//! Certificates made at run time with rcgen, for tools that must offer TLS
//! before anyone gave them a certificate (a test inbox, a conformance run)
//! and for the workspace's test PKI.
//!
//! rustls refuses a self-signed leaf used as its own CA
//! (`CaUsedAsEndEntity`), so a server certificate is a leaf issued by a
//! separate [`CertificateAuthority`], as in a real deployment; a client
//! trusts the CA's certificate. [`SelfMade`] is the usual pair: a CA and one
//! server certificate.
//!
//! ```
//! use smtp_io::tls::self_signed::{CertificateAuthority, SelfMade};
//!
//! let made = SelfMade::generate("smtp test CA", &["localhost", "127.0.0.1"])?;
//! assert!(made.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! let _server = made.server.server_config()?;
//!
//! // More leaves from one CA: here one for a name nobody connects to.
//! let ca = CertificateAuthority::generate("another CA")?;
//! let _wrong = ca.issue(&["wrong-name.invalid"])?;
//! # Ok::<(), smtp_io::TlsError>(())
//! ```

use std::net::IpAddr;
use std::sync::Arc;

pub use rcgen::CertificateParams;
use rcgen::{
    BasicConstraints, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

use super::{TlsError, server_config_from_pem};

/// How long made certificates are valid (from a day before they are made,
/// so a clock a little behind still accepts them).
const VALIDITY_DAYS: i64 = 365;

fn generate_error(error: rcgen::Error) -> TlsError {
    TlsError::Generate(error.to_string())
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").finish_non_exhaustive()
    }
}

impl Issued {
    /// A server configuration presenting this certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        server_config_from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }
}

/// A certificate authority made at run time.
pub struct CertificateAuthority {
    /// The CA certificate: what clients must trust.
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new CA whose common name is `name`.
    pub fn generate(name: &str) -> Result<CertificateAuthority, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate_error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params);
        let key = KeyPair::generate().map_err(generate_error)?;
        let cert = params.self_signed(&key).map_err(generate_error)?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A server certificate for `names` (DNS names or IP addresses; the
    /// first is also the common name).
    pub fn issue(&self, names: &[&str]) -> Result<Issued, TlsError> {
        self.issue_with(names, |_| {})
    }

    /// [`issue`](Self::issue), with `tweak` applied to the parameters last
    /// (other validity dates, a client-authentication purpose, ...).
    pub fn issue_with(
        &self,
        names: &[&str],
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Result<Issued, TlsError> {
        let mut params = leaf_params(names)?;
        tweak(&mut params);
        let key = KeyPair::generate().map_err(generate_error)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(generate_error)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Leaf parameters: names as subject alternative names, server
/// authentication, valid for a year.
fn leaf_params(names: &[&str]) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate_error)?;
    for name in names {
        params.subject_alt_names.push(match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into().map_err(generate_error)?),
        });
    }
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params);
    Ok(params)
}

/// A certificate for `names` that signs itself (no CA): what rustls and
/// every careful client refuse, for tests of that refusal.
pub fn self_signed_leaf(names: &[&str]) -> Result<Issued, TlsError> {
    let params = leaf_params(names)?;
    let key = KeyPair::generate().map_err(generate_error)?;
    let cert = params.self_signed(&key).map_err(generate_error)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A CA and one server certificate it issued.
#[derive(Debug, Clone)]
pub struct SelfMade {
    /// The CA certificate: what clients must trust.
    pub ca_pem: String,
    /// The server certificate and key.
    pub server: Issued,
}

impl SelfMade {
    /// A CA called `ca_name` and a server certificate for `names`.
    pub fn generate(ca_name: &str, names: &[&str]) -> Result<SelfMade, TlsError> {
        let ca = CertificateAuthority::generate(ca_name)?;
        Ok(SelfMade {
            server: ca.issue(names)?,
            ca_pem: ca.cert_pem,
        })
    }

    /// A server configuration presenting the server certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        self.server.server_config()
    }
}
