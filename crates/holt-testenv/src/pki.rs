//! A throw-away certificate authority: serving certificates for the components and client certificates
//! (`CN=<user>`, `O=<group>`) for the people and programs that call them.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};

/// A failure to create a key or certificate.
#[derive(Debug, thiserror::Error)]
#[error("could not create {what}: {source}")]
pub struct PkiError {
    what: String,
    #[source]
    source: rcgen::Error,
}

/// A certificate and its private key, both PEM (the key is unencrypted PKCS#8).
#[derive(Clone)]
pub struct IssuedCert {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert").finish_non_exhaustive()
    }
}

/// A self-signed CA that issues certificates for one test environment.
pub struct CertificateAuthority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority").finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new CA whose subject is `CN=<common_name>`.
    pub fn new(common_name: &str) -> Result<Self, PkiError> {
        let what = || format!("the CA {common_name}");
        let key = KeyPair::generate().map_err(|source| PkiError { what: what(), source })?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError { what: what(), source })?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's private key, PEM (PKCS#8), e.g. to mint certificates with openssl outside a test.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A server certificate for 127.0.0.1 and localhost (plus `extra_names`), usable as a client
    /// certificate too (Kafka's broker presents it on both sides).
    pub fn issue_server(&self, common_name: &str, extra_names: &[&str]) -> Result<IssuedCert, PkiError> {
        let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        names.extend(extra_names.iter().map(|n| (*n).to_owned()));
        let mut params = CertificateParams::new(names).map_err(|source| PkiError {
            what: format!("the server certificate {common_name}"),
            source,
        })?;
        params.distinguished_name = name(common_name, None);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.issue(params, format!("the server certificate {common_name}"))
    }

    /// A client certificate with subject `O=<group>, CN=<common_name>` (Kubernetes reads the user from
    /// CN and the group from O; Kafka's principal is `User:CN=<common_name>` when there is no group).
    /// One group at most: rcgen keeps one value per attribute type.
    pub fn issue_client(&self, common_name: &str, group: Option<&str>) -> Result<IssuedCert, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, group);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, format!("the client certificate {common_name}"))
    }

    fn issue(&self, params: CertificateParams, what: String) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate().map_err(|source| PkiError {
            what: what.clone(),
            source,
        })?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| PkiError { what, source })?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A fresh key pair, PEM: (PKCS#8 private key, SubjectPublicKeyInfo public key).
pub(crate) fn key_pair_pem(what: &str) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate().map_err(|source| PkiError {
        what: what.to_owned(),
        source,
    })?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

fn name(common_name: &str, group: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(group) = group {
        dn.push(DnType::OrganizationName, group);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}
