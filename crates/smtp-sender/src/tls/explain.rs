//! Errors that say what was wrong with the server's certificate: rustls's
//! verdict turned into a [`TlsError`] a person can act on, with
//! "self-signed" told apart from "unknown issuer" and the certificate's
//! names written plainly.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use smtp_sender_core::TlsError;

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
pub(crate) struct ExplainingVerifier {
    pub(crate) inner: Arc<WebPkiServerVerifier>,
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
