//! TLS set-up for both suites (rustls with the ring provider).
//!
//! * The server suite is a TLS *client*: [`client_config`] trusts a CA file,
//!   the system roots, or (explicitly) anything.
//! * The client suite is a TLS *server*: [`server_config`] loads a
//!   certificate and key from PEM files, or [`TestPki::generate`] makes a CA
//!   plus leaves on the fly with rcgen (rustls refuses a self-signed leaf
//!   used as its own CA, so there is always a separate CA). The PKI also has
//!   the two bad certificates the client-suite scenarios need: one for the
//!   wrong name and one signed by a CA nobody trusts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A PEM file held no certificate or no key.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was missing.
        what: &'static str,
    },
    /// rustls refused the configuration (bad key, no usable roots...).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Generating a certificate failed.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// No trust anchors: no `--ca` and no system roots found.
    #[error("no trusted CA: give --ca FILE (or --insecure)")]
    NoRoots,
}

/// The ring provider, shared by every config this crate builds.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
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
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth(),
        other => {
            let mut roots = RootCertStore::empty();
            match other {
                Trust::CaFile(path) => {
                    for cert in read_certs(path)? {
                        roots.add(cert)?;
                    }
                }
                Trust::CaPem(pem) => {
                    for cert in parse_certs(pem.as_bytes()) {
                        roots.add(cert)?;
                    }
                }
                _ => {
                    let found = rustls_native_certs::load_native_certs();
                    roots.add_parsable_certificates(found.certs);
                }
            }
            if roots.is_empty() {
                return Err(TlsSetupError::NoRoots);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// A TLS server configuration from a certificate chain and a key, both PEM.
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let certs = parse_certs(cert_pem.as_bytes());
    if certs.is_empty() {
        return Err(TlsSetupError::Pem {
            path: PathBuf::from("<certificate>"),
            what: "no certificate found",
        });
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .ok()
        .flatten()
        .ok_or(TlsSetupError::Pem {
            path: PathBuf::from("<key>"),
            what: "no private key found",
        })?;
    server_config_der(certs, key)
}

/// A TLS server configuration from PEM files.
pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|source| TlsSetupError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    server_config(&cert_pem, &key_pem).map_err(|e| match e {
        TlsSetupError::Pem { what, path } if path == Path::new("<certificate>") => {
            TlsSetupError::Pem {
                path: cert.to_path_buf(),
                what,
            }
        }
        TlsSetupError::Pem { what, .. } => TlsSetupError::Pem {
            path: key.to_path_buf(),
            what,
        },
        other => other,
    })
}

fn server_config_der(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = fs::read(path).map_err(|source| TlsSetupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = parse_certs(&pem);
    if certs.is_empty() {
        return Err(TlsSetupError::Pem {
            path: path.to_path_buf(),
            what: "no certificate found",
        });
    }
    Ok(certs)
}

fn parse_certs(mut pem: &[u8]) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem)
        .filter_map(Result::ok)
        .collect()
}

/// Parses a server name (DNS name or IP address) for SNI and verification.
pub fn server_name(name: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(name.to_string()).ok()
}

/// A certificate verifier that accepts everything (`--insecure`). The
/// handshake signatures are still checked, so the session is at least
/// bound to the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
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

/// A certificate and its key, PEM.
#[derive(Debug, Clone)]
pub struct CertKey {
    /// The certificate (PEM).
    pub cert: String,
    /// The private key (PKCS#8 PEM).
    pub key: String,
}

/// A PKI generated on the fly: a CA the user's client can trust and three
/// leaves: a good one for `localhost` / `127.0.0.1` / `::1`, one for a name
/// nobody connects to (`wrong-name.invalid`, signed by the same CA), and one
/// signed by a second CA that is never published.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (PEM): what the client under test should trust.
    pub ca_cert: String,
    /// The good server leaf.
    pub server: CertKey,
    /// A leaf signed by the CA but for the wrong name.
    pub wrong_name: CertKey,
    /// A leaf for the right names signed by an unknown CA.
    pub untrusted: CertKey,
}

impl TestPki {
    /// Generates the CA and the leaves (ECDSA P-256, fast).
    pub fn generate() -> Result<TestPki, TlsSetupError> {
        let (ca_cert, ca) = make_ca("smtp-conform test CA")?;
        let (_, other_ca) = make_ca("smtp-conform unpublished CA")?;
        let good = ["localhost", "127.0.0.1", "::1"];
        Ok(TestPki {
            ca_cert,
            server: make_leaf(&ca, &good)?,
            wrong_name: make_leaf(&ca, &["wrong-name.invalid"])?,
            untrusted: make_leaf(&other_ca, &good)?,
        })
    }

    /// Writes the CA certificate to `path` (so a client can be pointed at it).
    pub fn write_ca(&self, path: &Path) -> Result<(), TlsSetupError> {
        fs::write(path, &self.ca_cert).map_err(|source| TlsSetupError::Read {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn make_ca(name: &str) -> Result<(String, Issuer<'static, KeyPair>), TlsSetupError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

fn make_leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> Result<CertKey, TlsSetupError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    for name in names {
        params
            .subject_alt_names
            .push(match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into()?),
            });
    }
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertKey {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}
