//! Holt's built-in CA as a provider: leaf certificates signed by the issuing CA of a [`CaSet`], with a fresh
//! ECDSA P-256 key each, trusted through every valid CA of the set.
//!
//! In: the CA set (kept by [`crate::ca_store`]), the rotation policy, the default lifetime; per call a
//! subject, a lifetime and the time. Out: [`IssuedCertificate`]s and [`TrustBundle`]s. No I/O.
//!
//! A leaf is valid from 10 seconds before `now` (clocks of peers differ; SPIRE does the same) for its
//! lifetime, and never past its CA's end. It names the subject's CN, its DNS names and its SPIFFE ID (URI),
//! for client and server authentication.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

use crate::ca::{CaSet, RotationPolicy, TrustBundle, certificate_date};
use crate::provider::{IssueError, IssuedCertificate};
use crate::subject::Subject;

/// How far before "now" a leaf's validity starts.
pub const BACKDATE: Duration = Duration::from_secs(10);

/// The built-in CA at one moment: the CAs and how they are used.
#[derive(Clone, Debug)]
pub struct BuiltInCa {
    pub cas: Arc<CaSet>,
    pub policy: RotationPolicy,
    /// A leaf's lifetime when the pod asks for none.
    pub default_ttl: Duration,
}

impl BuiltInCa {
    pub fn issue(
        &self,
        subject: &Subject,
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<IssuedCertificate, IssueError> {
        let ca = self
            .cas
            .issuing(now, self.policy.propagation)
            .ok_or(IssueError::NoCa)?;
        let not_before = (now - BACKDATE).max(ca.not_before);
        let not_after = (now + ttl.unwrap_or(self.default_ttl)).min(ca.not_after);
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, subject.common_name.as_str());
        params.distinguished_name = name;
        let mut sans = Vec::with_capacity(subject.dns_names.len() + 1);
        for dns in &subject.dns_names {
            sans.push(SanType::DnsName(ia5(dns)?));
        }
        sans.push(SanType::URI(ia5(&subject.spiffe_id)?));
        params.subject_alt_names = sans;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = certificate_date("the certificate's notBefore", not_before)?;
        params.not_after = certificate_date("the certificate's notAfter", not_after)?;
        let key = KeyPair::generate().map_err(|source| IssueError::Generate {
            what: "the certificate's key",
            source,
        })?;
        let cert = params
            .signed_by(&key, ca.issuer())
            .map_err(|source| IssueError::Generate {
                what: "the certificate",
                source,
            })?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
            chain_der: vec![ca.cert_der.clone()],
            // Certificates hold whole seconds.
            not_before: crate::ca::timestamp(not_before.as_second()),
            not_after: crate::ca::timestamp(not_after.as_second()),
        })
    }

    pub fn trust_bundle(&self, now: Timestamp) -> TrustBundle {
        self.cas.trust_bundle(now)
    }
}

fn ia5(name: &str) -> Result<rcgen::string::Ia5String, IssueError> {
    rcgen::string::Ia5String::try_from(name).map_err(|source| IssueError::Name {
        name: name.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::CaCertificate;
    use crate::subject::TrustDomain;
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::{FromDer, X509Certificate};

    const DAY: Duration = Duration::from_secs(86_400);

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("time")
    }

    fn provider(ca_validity: Duration) -> BuiltInCa {
        let ca = CaCertificate::generate(now(), ca_validity).expect("CA");
        BuiltInCa {
            cas: Arc::new(CaSet::new(vec![ca])),
            policy: RotationPolicy::default(),
            default_ttl: DAY,
        }
    }

    fn subject() -> Subject {
        Subject::new(
            "cart",
            "shop",
            &["cart.example.com".to_owned()],
            &TrustDomain::new("example.org").expect("domain"),
        )
    }

    #[test]
    fn a_leaf_names_the_workload_and_verifies_against_the_bundle() {
        let ca = provider(365 * DAY);
        let issued = ca
            .issue(&subject(), Some(Duration::from_secs(600)), now())
            .expect("issued");
        let (_, cert) = X509Certificate::from_der(&issued.cert_der).expect("DER");
        assert_eq!(cert.subject().to_string(), "CN=cart.shop");
        let san = cert.subject_alternative_name().expect("SAN").expect("present");
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(dns) => format!("DNS:{dns}"),
                GeneralName::URI(uri) => format!("URI:{uri}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "DNS:cart.shop",
                "DNS:cart.example.com",
                "URI:spiffe://example.org/otterize/namespace/shop/service/cart"
            ]
        );
        assert!(!cert.is_ca());
        assert_eq!(issued.not_before, now() - BACKDATE);
        assert_eq!(issued.not_after, now() + Duration::from_secs(600));
        let bundle = ca.trust_bundle(now());
        let (_, root) = X509Certificate::from_der(&bundle.der[0]).expect("CA DER");
        cert.verify_signature(Some(root.public_key()))
            .expect("signed by the CA");
        assert_eq!(issued.chain_der, bundle.der);
        assert!(issued.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn the_default_lifetime_applies_and_a_leaf_ends_with_its_ca() {
        let ca = provider(365 * DAY);
        let issued = ca.issue(&subject(), None, now()).expect("issued");
        assert_eq!(issued.not_after, now() + DAY);
        let short = provider(DAY / 2);
        let issued = short.issue(&subject(), Some(DAY), now()).expect("issued");
        assert_eq!(issued.not_after, now() + DAY / 2, "clamped to the CA's end");
        let error = short
            .issue(&subject(), None, now() + DAY)
            .expect_err("expired CA");
        assert!(matches!(error, IssueError::NoCa), "{error}");
    }

    #[test]
    fn each_leaf_has_its_own_key() {
        let ca = provider(365 * DAY);
        let a = ca.issue(&subject(), None, now()).expect("issued");
        let b = ca.issue(&subject(), None, now()).expect("issued");
        assert_ne!(a.key_der, b.key_der);
        assert_ne!(a.cert_der, b.cert_der);
    }
}
