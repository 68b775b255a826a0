//! The client side of the broker's mutual TLS: our certificate chain and key, the CA we trust for the
//! broker, and the name we verify the broker's certificate against. rustls with the ring provider;
//! verification is never switched off.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::error::Error;

/// Our identity and trust anchors for the broker's mTLS listener, parsed from PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// From PEM text: our certificate (optionally followed by intermediates), our private key (PKCS#8,
    /// PKCS#1 or SEC1) and the CA certificate(s) that sign the broker's certificate.
    pub fn from_pem(cert_chain_pem: &str, key_pem: &str, ca_pem: &str) -> Result<Self, Error> {
        let chain = certificates("the client certificate", cert_chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| config_error("the client private key", e))?;
        let mut roots = RootCertStore::empty();
        for ca in certificates("the CA certificate", ca_pem)? {
            roots.add(ca).map_err(|e| config_error("the CA certificate", e))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error("the TLS protocol versions", e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| config_error("the client certificate and key", e))?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// From PEM files (as mounted from a Secret: `cert.pem`, `key.pem`, `ca.pem`).
    pub fn from_files(cert_chain: &Path, key: &Path, ca: &Path) -> Result<Self, Error> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| Error::Config {
                what: format!("read {}", path.display()),
                reason: e.to_string(),
            })
        };
        Self::from_pem(&read(cert_chain)?, &read(key)?, &read(ca)?)
    }

    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(Arc::clone(&self.config))
    }
}

/// The name the broker's certificate must carry: an IP address SAN when `host` is an address, a DNS name
/// SAN otherwise.
pub fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(bare.to_owned()).map_err(|e| Error::Config {
        what: format!("the TLS server name {host:?}"),
        reason: e.to_string(),
    })
}

fn certificates(what: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_error(what, e))?;
    if certs.is_empty() {
        return Err(Error::Config {
            what: what.to_owned(),
            reason: "no PEM CERTIFICATE block".to_owned(),
        });
    }
    Ok(certs)
}

fn config_error(what: &str, error: impl fmt::Display) -> Error {
    Error::Config {
        what: what.to_owned(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_become_the_right_kind_of_server_name() {
        assert!(matches!(server_name("127.0.0.1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(
            server_name("kafka.kafka.svc"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(server_name("bad name!"), Err(Error::Config { .. })));
    }

    #[test]
    fn garbage_pem_is_a_config_error() {
        let error = TlsIdentity::from_pem("not pem", "not pem", "not pem");
        assert!(matches!(error, Err(Error::Config { .. })), "{error:?}");
    }
}
