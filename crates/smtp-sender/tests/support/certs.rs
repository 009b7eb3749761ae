//! Certificates generated at test time with rcgen: a CA and leaves signed by
//! it (good, wrong name, expired), plus strangers (unknown CA, self-signed).
//! Nothing is written into the repository: the CA file lives in a tempdir.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names a good leaf is valid for.
pub const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// A private CA whose certificate is in `ca_file`.
pub struct Pki {
    _dir: tempfile::TempDir,
    /// The CA certificate, PEM: pass it as `ClientConfig::ca_file`.
    pub ca_file: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

fn named(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn server_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: &KeyPair,
) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
    Arc::new(config)
}

impl Pki {
    /// A fresh CA called `name`.
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = named(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        Pki {
            _dir: dir,
            ca_file,
            ca,
        }
    }

    /// A server certificate for `names`, signed by this CA; `tweak` may
    /// change the parameters (e.g. make it expired).
    pub fn leaf_with(
        &self,
        names: &[&str],
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Arc<ServerConfig> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name = named(&names[0]);
        tweak(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        server_config(cert.der().clone(), &key)
    }

    /// A good server certificate for localhost / 127.0.0.1 / ::1.
    pub fn leaf(&self) -> Arc<ServerConfig> {
        self.leaf_with(LOCAL_NAMES, |_| {})
    }

    /// A server certificate that expired in 2020.
    pub fn expired_leaf(&self) -> Arc<ServerConfig> {
        self.leaf_with(LOCAL_NAMES, |p| {
            p.not_before = date_time_ymd(2019, 1, 1);
            p.not_after = date_time_ymd(2020, 1, 1);
        })
    }
}

/// A certificate that signs itself, for localhost.
pub fn self_signed_leaf() -> Arc<ServerConfig> {
    let mut params = CertificateParams::new(
        LOCAL_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.distinguished_name = named("localhost");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    server_config(cert.der().clone(), &key)
}
