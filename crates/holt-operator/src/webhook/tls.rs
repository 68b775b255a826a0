//! The TLS side of the webhook server: a rustls configuration (ring provider) whose certificate can be
//! swapped while the server runs, so a rotated certificate is served from the next handshake on.

use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::CertificateBundle;

/// Why a certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the serving certificate is not PEM: {source}")]
    CertificatePem { source: rustls_pki_types::pem::Error },
    #[error("the serving certificate PEM holds no certificate")]
    NoCertificate,
    #[error("the serving key is not a PEM private key: {source}")]
    KeyPem { source: rustls_pki_types::pem::Error },
    #[error("the serving key does not fit the certificate or is not supported: {source}")]
    Key { source: rustls::Error },
    #[error("cannot build the TLS configuration: {source}")]
    Config { source: rustls::Error },
}

/// The certificate the server presents, replaceable at any time ([`ReloadableCert::set`]).
#[derive(Debug)]
pub struct ReloadableCert {
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Serves the serving certificate of `bundle`.
    pub fn new(bundle: &CertificateBundle) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(bundle, &provider)?;
        Ok(ReloadableCert {
            provider,
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Serves the serving certificate of `bundle` from the next handshake on.
    pub fn set(&self, bundle: &CertificateBundle) -> Result<(), TlsError> {
        let key = Arc::new(certified_key(bundle, &self.provider)?);
        match self.current.write() {
            Ok(mut current) => *current = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
        Ok(())
    }

    fn get(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The server's TLS configuration: TLS 1.2 and 1.3 with the ring provider, HTTP/2 or HTTP/1.1 by ALPN, no
/// client certificates, the certificate from `cert`.
pub fn server_config(cert: Arc<ReloadableCert>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(cert.provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Config { source })?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    // HTTP/2 first: the API server then sends every review over one multiplexed connection instead of
    // opening (and TLS-handshaking) a connection per concurrent review beyond its idle pool.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn certified_key(bundle: &CertificateBundle, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(bundle.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::CertificatePem { source })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(bundle.key_pem.as_bytes())
        .map_err(|source| TlsError::KeyPem { source })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Key { source })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::webhook::CertificateOptions;

    #[test]
    fn serves_a_generated_certificate_and_swaps_it() {
        let options = CertificateOptions::for_service("holt-webhook", "holt-system");
        let bundle = CertificateBundle::generate(&options, SystemTime::now()).expect("generate");
        let cert = Arc::new(ReloadableCert::new(&bundle).expect("load"));
        server_config(cert.clone()).expect("config");
        let before = cert.get();
        let next = bundle.reissue(&options, SystemTime::now()).expect("reissue");
        cert.set(&next).expect("swap");
        assert_ne!(before.cert, cert.get().cert);
    }

    #[test]
    fn a_key_that_is_not_pem_is_refused() {
        let options = CertificateOptions::for_service("holt-webhook", "holt-system");
        let mut bundle = CertificateBundle::generate(&options, SystemTime::now()).expect("generate");
        bundle.key_pem = "not a key".to_owned();
        assert!(matches!(
            ReloadableCert::new(&bundle),
            Err(TlsError::KeyPem { .. })
        ));
    }
}
