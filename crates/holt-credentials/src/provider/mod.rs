//! Certificate providers: who signs a workload's certificate and which CAs its peers trust.
//!
//! In: a [`Subject`], the requested lifetime and the time. Out: an [`IssuedCertificate`] (key, certificate,
//! chain, validity) and the [`TrustBundle`] clients are given.
//!
//! The providers are the reference's (`global.certificateProvider`): Holt's built-in CA (the default:
//! [`built_in`]); [`spire`] (the SPIRE server's API: entries, SVIDs, bundle); [`cert_manager`] (Certificate
//! resources, which cert-manager issues into the Secrets itself: the controller writes the Certificate
//! instead of a Secret). For the first two, everything else (which Secrets, when to renew, what they hold)
//! is the same.

pub mod built_in;
pub mod cert_manager;
pub mod spire;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use crate::ca::TrustBundle;
use crate::subject::Subject;

pub use built_in::BuiltInCa;

/// The `--certificate-provider` choices (the reference's names; `builtin` is Holt's CA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    BuiltIn,
    Spire,
    CertManager,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::BuiltIn => "builtin",
            ProviderKind::Spire => "spire",
            ProviderKind::CertManager => "cert-manager",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "builtin" => Ok(ProviderKind::BuiltIn),
            "spire" => Ok(ProviderKind::Spire),
            "cert-manager" => Ok(ProviderKind::CertManager),
            "otterize-cloud" => Err(
                "`otterize-cloud` issues through Otterize Cloud, which Holt does not use: \
                                     choose `builtin`"
                    .to_owned(),
            ),
            other => Err(format!(
                "`{other}` is not a certificate provider: choose `builtin`, `spire` or `cert-manager`"
            )),
        }
    }
}

/// A certificate and its key, as issued.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// PKCS#8.
    pub key_pem: String,
    pub key_der: Vec<u8>,
    /// The issuers' certificates after this one, DER (the issuing CA).
    pub chain_der: Vec<Vec<u8>>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Why a certificate was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no CA is valid now: the CA Secret is missing, expired or not yet read")]
    NoCa,
    #[error("`{name}` cannot be written into a certificate: {source}")]
    Name { name: String, source: rcgen::Error },
    #[error("cannot create {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("{0}")]
    Date(#[from] crate::ca::CaError),
    #[error("{0}")]
    Spire(#[from] spire::SpireError),
    #[error("`{0}` is not `<workload>.<namespace>`")]
    CommonName(String),
    #[error("cert-manager issues the certificates itself: Holt writes Certificates for it")]
    ByCertManager,
}

/// The provider certificates come from.
#[derive(Clone, Debug)]
pub enum Provider {
    BuiltIn(BuiltInCa),
    Spire(SpireProvider),
    /// Certificates written for cert-manager (it issues and fills the Secrets).
    CertManager(cert_manager::CertManager),
}

/// The SPIRE server at one moment: the connection, its bundle as last read, the default lifetime.
#[derive(Clone, Debug)]
pub struct SpireProvider {
    pub spire: spire::Spire,
    pub bundle: TrustBundle,
    pub default_ttl: Duration,
}

impl Provider {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Provider::BuiltIn(_) => ProviderKind::BuiltIn,
            Provider::Spire(_) => ProviderKind::Spire,
            Provider::CertManager(_) => ProviderKind::CertManager,
        }
    }

    /// A certificate for `subject` living `ttl` (the provider's default when `None`), from `now`.
    pub async fn issue(
        &self,
        subject: &Subject,
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<IssuedCertificate, IssueError> {
        match self {
            Provider::BuiltIn(ca) => ca.issue(subject, ttl, now),
            Provider::Spire(provider) => {
                // Namespaces hold no dots; workload names may.
                let (workload, namespace) = subject
                    .common_name
                    .rsplit_once('.')
                    .ok_or_else(|| IssueError::CommonName(subject.common_name.clone()))?;
                let ttl = ttl.unwrap_or(provider.default_ttl);
                let entry =
                    spire::WorkloadEntry::new(subject, workload, namespace, provider.spire.parent_id(), ttl)
                        .map_err(spire::SpireError::from)?;
                provider.spire.register(&entry).await?;
                Ok(provider.spire.mint(subject, ttl).await?)
            }
            Provider::CertManager(_) => Err(IssueError::ByCertManager),
        }
    }

    /// The CAs clients are given to trust at `now`.
    pub fn trust_bundle(&self, now: Timestamp) -> TrustBundle {
        match self {
            Provider::BuiltIn(ca) => ca.trust_bundle(now),
            Provider::Spire(provider) => provider.bundle.clone(),
            Provider::CertManager(_) => TrustBundle::new(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_the_references_and_unknown_ones_are_refused() {
        for kind in [
            ProviderKind::BuiltIn,
            ProviderKind::Spire,
            ProviderKind::CertManager,
        ] {
            assert_eq!(kind.name().parse::<ProviderKind>(), Ok(kind));
        }
        let error = "vault".parse::<ProviderKind>().expect_err("unknown");
        assert!(error.contains("`vault` is not a certificate provider"), "{error}");
        assert!("otterize-cloud".parse::<ProviderKind>().is_err());
    }
}
