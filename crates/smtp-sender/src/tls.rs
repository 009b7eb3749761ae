//! TLS for the client: the rustls configuration (the caller's own, or one
//! built from the system's trust roots and an optional extra CA file, or
//! the dangerous accept-any one), the name for SNI and verification, and
//! errors that say what was wrong with the certificate.
//!
//! The defaults follow Python's `ssl.create_default_context()`: the
//! operating system's trust store, the server's name checked against the
//! certificate. [`ClientConfig::insecure_skip_verify`] turns verification off
//! and logs a warning every time.

mod explain;

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName};
use smtp_io::MaybeTls;
use smtp_io::tls::dangerous::client_config_accepting_any_certificate;
use smtp_io::tls::{provider, read_certs, system_roots};
use smtp_sender_core::{ProtocolError, SendError, TlsError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use crate::config::ClientConfig;
use explain::ExplainingVerifier;
pub(crate) use explain::explain_handshake_error;

/// The rustls connector for this configuration (`None` with TLS off),
/// built before the first byte is sent so that a bad CA file or
/// conflicting options stop the session before it starts.
pub(crate) fn connector(config: &ClientConfig) -> Result<Option<TlsConnector>, SendError> {
    if config.tls == smtp_sender_core::TlsMode::None {
        return Ok(None);
    }
    Ok(Some(TlsConnector::from(client_config(config)?)))
}

/// The name for SNI and verification (`servername`, else the host).
pub(crate) fn server_name(config: &ClientConfig) -> Result<ServerName<'static>, TlsError> {
    let name = config.tls_name();
    // An IPv6 literal may come in brackets ("[::1]").
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|_| TlsError::InvalidServerName(name.into()))
}

/// TLS for a session the caller drives itself, command by command (the
/// `smtp-send shell` does): the rustls configuration, the name for SNI and
/// the certificate check, and the certificate errors in words, exactly as
/// [`Client`](crate::Client) has them for the same [`ClientConfig`]
/// (`tls_config`, or the system's roots plus `ca_file`, or the dangerous
/// accept-any one with `insecure_skip_verify`). The TLS mode of the
/// configuration is not looked at: the caller decides when to shake hands.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use smtp_sender::{ClientConfig, TlsUpgrade};
/// let mut config = ClientConfig::new("localhost", 465);
/// config.ca_file = Some("ca.pem".into());
/// let tls = TlsUpgrade::new(&config)?;
/// let tcp = tokio::net::TcpStream::connect(("localhost", 465)).await?;
/// let mut stream = smtp_io::MaybeTls::plain(tcp);
/// tls.handshake(&mut stream, std::time::Duration::from_secs(30)).await?;
/// assert!(stream.is_tls());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsUpgrade {
    connector: TlsConnector,
    server: ServerName<'static>,
    name: String,
}

impl std::fmt::Debug for TlsUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsUpgrade")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsUpgrade {
    /// The TLS set-up for `config`; a CA file that cannot be used, no trust
    /// roots or a name that cannot be a server name are errors here, before
    /// any byte is sent.
    pub fn new(config: &ClientConfig) -> Result<TlsUpgrade, SendError> {
        Ok(TlsUpgrade {
            connector: TlsConnector::from(client_config(config)?),
            server: server_name(config)?,
            name: config.tls_name().to_string(),
        })
    }

    /// The name the certificate is checked against (and sent as SNI).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client's side of the handshake on `stream` (after the `220` to
    /// STARTTLS, RFC 3207 §4, or before the greeting with implicit TLS,
    /// RFC 8314 §3.3), within `limit`. A failure leaves the stream closed,
    /// never back in plain text, and says what was wrong with the
    /// certificate when that was the reason.
    pub async fn handshake<S>(
        &self,
        stream: &mut MaybeTls<S>,
        limit: Duration,
    ) -> Result<(), TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        stream
            .connect(&self.connector, self.server.clone(), limit)
            .await
            .map_err(|error| explain_handshake_error(error, &self.name))
    }
}

/// The caller's rustls configuration as it is, the dangerous one, or one
/// that trusts the system's roots and `ca_file`.
pub(crate) fn client_config(config: &ClientConfig) -> Result<Arc<rustls::ClientConfig>, SendError> {
    let handshake_error = |detail: String| TlsError::Handshake {
        name: config.tls_name().into(),
        detail,
    };
    if let Some(given) = &config.tls_config {
        if config.ca_file.is_some() || config.insecure_skip_verify {
            return Err(ProtocolError::Config(
                "a rustls configuration is used as it is: leave ca_file and \
                 insecure_skip_verify unset (put the trust anchors into it)"
                    .into(),
            )
            .into());
        }
        return Ok(given.clone());
    }
    if config.insecure_skip_verify {
        tracing::warn!(
            "TLS certificate verification is OFF (insecure_skip_verify): \
             anyone on the path to {} can read and alter this session",
            config.host
        );
        return Ok(client_config_accepting_any_certificate()
            .map_err(|e| handshake_error(e.to_string()))?);
    }
    let mut roots = RootCertStore::empty();
    let (mut total, _ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(path) = &config.ca_file {
        let (added, _) = roots.add_parsable_certificates(read_ca_file(path)?);
        if added == 0 {
            return Err(TlsError::CaFile {
                path: path.display().to_string(),
                reason: "no usable CA certificate".into(),
            }
            .into());
        }
        total += added;
    }
    if total == 0 {
        return Err(TlsError::NoTrustRoots.into());
    }
    let provider = provider();
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| handshake_error(e.to_string()))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| handshake_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ExplainingVerifier { inner: webpki }))
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// The certificates of a private CA, with the file's problem in words.
fn read_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    read_certs(path).map_err(|error| TlsError::CaFile {
        path: path.display().to_string(),
        reason: match error {
            smtp_io::TlsError::Read { source, .. } => source.to_string(),
            smtp_io::TlsError::Pem { source, .. } => format!("not PEM: {source}"),
            smtp_io::TlsError::NoCertificate(_) => "no CERTIFICATE block found".into(),
            other => other.to_string(),
        },
    })
}
