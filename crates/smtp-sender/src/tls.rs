//! TLS for the client: rustls (ring), the system's trust roots, an optional
//! extra CA file, SNI and hostname verification, and errors that say what
//! was wrong with the certificate.
//!
//! The defaults follow Python's `ssl.create_default_context()`: the
//! operating system's trust store, the server's name checked against the
//! certificate. [`ClientConfig::insecure_skip_verify`] turns verification off
//! and logs a warning every time.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::config::ClientConfig;

/// Why TLS could not be set up or the server's certificate was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate's validity period is over.
    #[error("certificate of {name} has expired")]
    Expired {
        /// The name that was checked.
        name: String,
    },
    /// The certificate's validity period has not begun.
    #[error("certificate of {name} is not valid yet")]
    NotYetValid {
        /// The name that was checked.
        name: String,
    },
    /// The certificate signs itself instead of being issued by a trusted CA.
    #[error(
        "certificate of {name} is self-signed (issued by itself, not by a trusted \
         certificate authority; a test set-up needs a CA certificate and --ca FILE)"
    )]
    SelfSigned {
        /// The name that was checked.
        name: String,
    },
    /// The certificate chains to no trusted authority.
    #[error(
        "certificate of {name} is issued by an unknown certificate authority \
         (for a private CA, pass its certificate with --ca FILE)"
    )]
    UnknownIssuer {
        /// The name that was checked.
        name: String,
    },
    /// The certificate is valid but for other names.
    #[error("certificate is not valid for {name} (it is for: {})", if presented.is_empty() { "no names listed".to_string() } else { presented.join(", ") })]
    WrongName {
        /// The name that was checked (`servername`, else the host).
        name: String,
        /// The names in the certificate, when known.
        presented: Vec<String>,
    },
    /// The certificate was revoked.
    #[error("certificate of {name} has been revoked")]
    Revoked {
        /// The name that was checked.
        name: String,
    },
    /// Any other certificate problem.
    #[error("certificate of {name} was rejected: {detail}")]
    Certificate {
        /// The name that was checked.
        name: String,
        /// rustls's description.
        detail: String,
    },
    /// The handshake failed for a reason other than the certificate.
    #[error("handshake with {name} failed: {detail}")]
    Handshake {
        /// The name that was checked.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// The name to verify is neither a DNS name nor an IP address.
    #[error("{0:?} is not a valid TLS server name")]
    InvalidServerName(String),
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Neither the system nor a CA file supplied a trust anchor.
    #[error("no trust roots: the system trust store is empty and no --ca FILE was given")]
    NoTrustRoots,
}

/// The ring provider, as the workspace agreed.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trust anchors, loaded once per process (like
/// `ssl.create_default_context()` reading the OS store).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!("system trust store: {error}");
        }
        found.certs
    })
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(fail("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// The name for SNI and verification (`servername`, else the host).
pub(crate) fn server_name(config: &ClientConfig) -> Result<ServerName<'static>, TlsError> {
    let name = config.tls_name();
    // An IPv6 literal may come in brackets ("[::1]").
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsError::InvalidServerName(name.into()))
}

/// Builds the rustls connector for this configuration.
pub(crate) fn connector(config: &ClientConfig) -> Result<TlsConnector, TlsError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = if config.insecure_skip_verify {
        tracing::warn!(
            "TLS certificate verification is OFF (insecure_skip_verify): \
             anyone on the path to {} can read and alter this session",
            config.host
        );
        Arc::new(NoVerification(provider.clone()))
    } else {
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
        let mut total = added;
        if let Some(path) = &config.ca_file {
            let (added, _) = roots.add_parsable_certificates(read_ca_file(path)?);
            if added == 0 {
                return Err(TlsError::CaFile {
                    path: path.display().to_string(),
                    reason: "no usable CA certificate".into(),
                });
            }
            total += added;
        }
        if total == 0 {
            return Err(TlsError::NoTrustRoots);
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsError::Handshake {
                name: config.tls_name().into(),
                detail: e.to_string(),
            })?;
        Arc::new(ExplainingVerifier { inner: webpki })
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Handshake {
            name: config.tls_name().into(),
            detail: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(tls)))
}

/// Turns a failed handshake into an error that names the problem.
pub(crate) fn explain_handshake_error(error: io::Error, name: &str) -> TlsError {
    let name = name.to_string();
    let Some(rustls_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        let detail = match error.kind() {
            io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
            _ => error.to_string(),
        };
        return TlsError::Handshake { name, detail };
    };
    match rustls_error {
        rustls::Error::InvalidCertificate(cert) => explain_certificate_error(cert, name),
        other => TlsError::Handshake {
            name,
            detail: other.to_string(),
        },
    }
}

fn explain_certificate_error(error: &CertificateError, name: String) -> TlsError {
    match error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            TlsError::Expired { name }
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            TlsError::NotYetValid { name }
        }
        CertificateError::UnknownIssuer => TlsError::UnknownIssuer { name },
        CertificateError::NotValidForName => TlsError::WrongName {
            name,
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext { presented, .. } => TlsError::WrongName {
            name,
            presented: presented.iter().map(|p| plain_name(p)).collect(),
        },
        CertificateError::Revoked => TlsError::Revoked { name },
        CertificateError::Other(other) if other.0.downcast_ref::<SelfSigned>().is_some() => {
            TlsError::SelfSigned { name }
        }
        other => TlsError::Certificate {
            name,
            detail: format!("{other:?}"),
        },
    }
}

/// Marker carried inside `CertificateError::Other` when the unknown issuer
/// is the certificate itself.
#[derive(Debug)]
struct SelfSigned;

impl fmt::Display for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("self-signed certificate")
    }
}

impl std::error::Error for SelfSigned {}

/// The standard WebPKI verifier, with one refinement: a chain that fails
/// because the certificate is its own issuer is reported as "self-signed".
#[derive(Debug)]
struct ExplainingVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ExplainingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match result {
            // Path building failed on a certificate that names itself as its
            // issuer: whatever webpki tripped over (no anchor, or a
            // same-named anchor with another key), the real story is
            // "self-signed".
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. },
            )) if intermediates.is_empty() && is_self_signed(end_entity) => {
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(SelfSigned)),
                )))
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate, any name. The handshake
/// signatures are still checked, so the peer must hold the key of the
/// certificate it shows; but nothing says that certificate is the server's.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// True when the certificate's issuer name equals its subject name.
fn is_self_signed(cert: &CertificateDer<'_>) -> bool {
    matches!(der::issuer_and_subject(cert.as_ref()), Some((issuer, subject)) if issuer == subject)
}

/// Just enough DER (X.690) to find a certificate's issuer and subject
/// (RFC 5280 §4.1). Never panics: every length is checked.
mod der {
    /// One tag-length-value at the start of `input`: (tag, value, rest).
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
    /// OPTIONAL, serialNumber, signature, issuer, validity, subject, ... } ... }
    pub(super) fn issuer_and_subject(cert: &[u8]) -> Option<(&[u8], &[u8])> {
        let (_, certificate, _) = tlv(cert)?;
        let (_, tbs, _) = tlv(certificate)?;
        let (tag, _, after_first) = tlv(tbs)?;
        // The explicit [0] version is optional; when present, skip it.
        let serial_onwards = if tag == 0xa0 { after_first } else { tbs };
        let (_, _, rest) = tlv(serial_onwards)?; // serialNumber
        let (_, _, rest) = tlv(rest)?; // signature AlgorithmIdentifier
        let (_, issuer, rest) = tlv(rest)?;
        let (_, _, rest) = tlv(rest)?; // validity
        let (_, subject, _) = tlv(rest)?;
        Some((issuer, subject))
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    mod tests {
        use super::*;

        #[test]
        fn garbage_never_panics() {
            for input in [
                &b""[..],
                b"\x30",
                b"\x30\x84\xff\xff\xff\xff",
                b"\x30\x02\x30\x00",
            ] {
                assert_eq!(issuer_and_subject(input), None);
            }
        }
    }
}

/// rustls lists the certificate's names in their Debug form
/// (`DnsName("localhost")`, `IpAddress(0::1)`); a person wants `localhost`
/// and `::1`.
fn plain_name(presented: &str) -> String {
    let inner = |prefix: &str| {
        presented
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
    };
    if let Some(dns) = inner("DnsName(") {
        return dns.trim_matches('"').to_string();
    }
    if let Some(ip) = inner("IpAddress(") {
        return ip
            .parse::<std::net::IpAddr>()
            .map_or_else(|_| ip.to_string(), |ip| ip.to_string());
    }
    presented.to_string()
}

#[cfg(test)]
mod plain_name_tests {
    use super::plain_name;

    #[test]
    fn debug_forms_become_plain_names() {
        assert_eq!(plain_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(plain_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(plain_name("IpAddress(0::1)"), "::1");
        assert_eq!(plain_name("something else"), "something else");
    }
}
