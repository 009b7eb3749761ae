//! The one TLS client configuration that checks nothing: **dangerous**.
//!
//! [`AcceptAnyServerCertificate`] accepts any certificate for any name.
//! The handshake signatures are still verified, so the peer must hold the
//! key of the certificate it shows; but nothing says that certificate is
//! the server's, so anyone on the path can read and change the session.
//! It exists for conformance runs against a server with a throw-away
//! certificate, where nothing secret is sent, and for `--insecure` flags
//! that say so loudly. Every use is named `dangerous` at the call site.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::provider;

/// A verifier that accepts every server certificate (signatures checked).
#[derive(Debug)]
pub struct AcceptAnyServerCertificate(Arc<CryptoProvider>);

impl AcceptAnyServerCertificate {
    /// The verifier, with the workspace's ring provider.
    pub fn new() -> Self {
        AcceptAnyServerCertificate(provider())
    }
}

impl Default for AcceptAnyServerCertificate {
    fn default() -> Self {
        AcceptAnyServerCertificate::new()
    }
}

impl ServerCertVerifier for AcceptAnyServerCertificate {
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

/// A client configuration (TLS 1.2 and 1.3, no client certificate) that
/// accepts any server certificate. **Dangerous**: see the module.
pub fn client_config_accepting_any_certificate() -> Result<Arc<rustls::ClientConfig>, rustls::Error>
{
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate::new()))
        .with_no_client_auth();
    Ok(Arc::new(config))
}
