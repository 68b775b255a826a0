//! The built-in CA's certificates, without I/O: creating one, reading one back from PEM, and the set of CAs
//! that rotation keeps — which one issues, which ones are trusted, and when a new one is due.
//!
//! In: the time, the CA's lifetime and rotation settings ([`RotationPolicy`]), PEM from the CA Secret. Out:
//! [`CaCertificate`]s (each able to sign), a [`CaSet`] (newest first) and its [`TrustBundle`].
//!
//! Rotation with overlap: a new CA is made when the newest has less than `rotate_before` left; both stay in
//! the trust bundle until the old one expires (at least `rotate_before`). Leaf certificates are issued by
//! the new CA once it has been in the bundle for `propagation` (time for the bundle to reach the pods:
//! Secret volumes are refreshed about once a minute), by the old one until then. A leaf never outlives the
//! CA that signed it, so nothing issued by a CA is still in use once that CA leaves the bundle.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use ring::digest;

/// Why a CA could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot create {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("{what}: not a PEM X.509 certificate: {problem}")]
    Certificate { what: String, problem: String },
    #[error("{what}: not a PEM private key: {source}")]
    Key { what: String, source: rcgen::Error },
    #[error("{what}: the certificate is not a CA (basicConstraints CA:TRUE is missing)")]
    NotCa { what: String },
    #[error("{what}: the private key does not belong to the certificate")]
    KeyMismatch { what: String },
    #[error("{what}: {when} is not representable as a certificate date")]
    Time { what: &'static str, when: Timestamp },
}

/// How long CAs live and when they are replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationPolicy {
    /// A new CA's lifetime.
    pub validity: Duration,
    /// A new CA is made when the newest one has less than this left; the old one stays trusted until it
    /// expires, so this is also the overlap.
    pub rotate_before: Duration,
    /// How long a new CA is in the trust bundle before it issues.
    pub propagation: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// How far before its creation a CA's validity starts (clocks of peers differ).
pub const CA_BACKDATE: Duration = Duration::from_secs(60);

impl Default for RotationPolicy {
    /// A year, replaced 30 days before its end, issuing an hour after it appears.
    fn default() -> Self {
        RotationPolicy {
            validity: 365 * DAY,
            rotate_before: 30 * DAY,
            propagation: Duration::from_secs(60 * 60),
        }
    }
}

impl RotationPolicy {
    /// At most two CAs are ever valid at once when a CA is replaced before half its life has passed, and the
    /// new one is issuing before the old one ends.
    pub fn check(&self) -> Result<(), String> {
        if self.rotate_before.is_zero() || self.rotate_before.saturating_mul(2) > self.validity {
            return Err(format!(
                "the CA rotation time ({}s) must be more than zero and at most half the CA lifetime ({}s)",
                self.rotate_before.as_secs(),
                self.validity.as_secs()
            ));
        }
        if self.propagation >= self.rotate_before {
            return Err(format!(
                "the CA propagation delay ({}s) must be shorter than the rotation time ({}s)",
                self.propagation.as_secs(),
                self.rotate_before.as_secs()
            ));
        }
        Ok(())
    }
}

/// A CA certificate with its key, ready to sign.
#[derive(Clone)]
pub struct CaCertificate {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    key_pem: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// The subject, as written by x509-parser (`CN=...`).
    pub subject: String,
    issuer: Arc<Issuer<'static, KeyPair>>,
}

impl std::fmt::Debug for CaCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaCertificate")
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CaCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.cert_der == other.cert_der && self.key_pem == other.key_pem
    }
}

impl CaCertificate {
    /// A new self-signed CA (ECDSA P-256) valid from `now` ([`CA_BACKDATE`] earlier, for clock skew) for
    /// `validity`.
    pub fn generate(now: Timestamp, validity: Duration) -> Result<CaCertificate, CaError> {
        let key = KeyPair::generate().map_err(|source| CaError::Generate {
            what: "the CA key",
            source,
        })?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Holt");
        name.push(
            DnType::CommonName,
            format!("holt-credentials-ca-{}", now.as_second()),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = certificate_date("the CA's notBefore", now - CA_BACKDATE)?;
        params.not_after = certificate_date("the CA's notAfter", now + validity)?;
        let cert = params.self_signed(&key).map_err(|source| CaError::Generate {
            what: "the CA certificate",
            source,
        })?;
        CaCertificate::from_pem(&cert.pem(), &key.serialize_pem(), "the new CA")
    }

    /// A CA from its certificate and PKCS#8 key, PEM; `what` names them in errors (e.g. the Secret and its
    /// keys). The certificate must be a CA and the key its own.
    pub fn from_pem(cert_pem: &str, key_pem: &str, what: &str) -> Result<CaCertificate, CaError> {
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).map_err(|e| CaError::Certificate {
                what: what.to_owned(),
                problem: e.to_string(),
            })?;
        let cert = pem.parse_x509().map_err(|e| CaError::Certificate {
            what: what.to_owned(),
            problem: e.to_string(),
        })?;
        if !cert.is_ca() {
            return Err(CaError::NotCa {
                what: what.to_owned(),
            });
        }
        let key = KeyPair::from_pem(key_pem).map_err(|source| CaError::Key {
            what: what.to_owned(),
            source,
        })?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(CaError::KeyMismatch {
                what: what.to_owned(),
            });
        }
        let validity = cert.validity();
        let not_before = timestamp(validity.not_before.timestamp());
        let not_after = timestamp(validity.not_after.timestamp());
        let subject = cert.subject().to_string();
        let cert_der = pem.contents.clone();
        let issuer =
            Issuer::from_ca_cert_der(&cert_der.clone().into(), key).map_err(|source| CaError::Generate {
                what: "the CA's issuer",
                source,
            })?;
        Ok(CaCertificate {
            cert_pem: pem_of("CERTIFICATE", &cert_der),
            cert_der,
            key_pem: key_pem.to_owned(),
            not_before,
            not_after,
            subject,
            issuer: Arc::new(issuer),
        })
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    pub fn is_valid_at(&self, now: Timestamp) -> bool {
        self.not_before <= now && now < self.not_after
    }

    /// When it starts issuing: `propagation` after it was created (its `notBefore` is backdated).
    pub fn issues_from(&self, propagation: Duration) -> Timestamp {
        self.not_before + CA_BACKDATE + propagation
    }
}

/// The CAs kept: newest first. Holt's own set has at most two valid ones (the current and, during the
/// overlap, the previous); a user's has what the user put in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaSet {
    pub cas: Vec<CaCertificate>,
}

/// The CA certificates clients trust, PEM and DER, with a digest that changes when the set does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustBundle {
    pub pem: String,
    pub der: Vec<Vec<u8>>,
    /// SHA-256 of the DER certificates, hex (first 16 bytes).
    pub digest: String,
}

impl TrustBundle {
    pub fn new(der: Vec<Vec<u8>>) -> TrustBundle {
        let mut context = digest::Context::new(&digest::SHA256);
        let mut pem = String::new();
        for cert in &der {
            context.update(&(cert.len() as u64).to_be_bytes());
            context.update(cert);
            pem.push_str(&pem_of("CERTIFICATE", cert));
        }
        TrustBundle {
            pem,
            der,
            digest: hex(&context.finish().as_ref()[..16]),
        }
    }
}

impl CaSet {
    pub fn new(mut cas: Vec<CaCertificate>) -> CaSet {
        cas.sort_by_key(|ca| std::cmp::Reverse(ca.not_before));
        CaSet { cas }
    }

    /// The CAs valid at `now`, newest first.
    pub fn valid_at(&self, now: Timestamp) -> impl Iterator<Item = &CaCertificate> {
        self.cas.iter().filter(move |ca| ca.is_valid_at(now))
    }

    /// The CA that issues at `now`: the newest valid one that has been in the bundle for `propagation`;
    /// when none has, the oldest valid one (at first start, the only one).
    pub fn issuing(&self, now: Timestamp, propagation: Duration) -> Option<&CaCertificate> {
        let mut valid = self.valid_at(now).peekable();
        valid.peek()?;
        let valid: Vec<&CaCertificate> = valid.collect();
        valid
            .iter()
            .find(|ca| ca.issues_from(propagation) <= now)
            .or_else(|| valid.last())
            .copied()
    }

    /// Every CA valid at `now`.
    pub fn trust_bundle(&self, now: Timestamp) -> TrustBundle {
        TrustBundle::new(self.valid_at(now).map(|ca| ca.cert_der.clone()).collect())
    }

    /// True when a new CA must be made at `now`: none is valid, or the newest ends within `rotate_before`.
    pub fn rotation_due(&self, now: Timestamp, policy: &RotationPolicy) -> bool {
        match self.valid_at(now).next() {
            None => true,
            Some(newest) => newest.not_after <= now + policy.rotate_before,
        }
    }

    /// The set after adding `new` at `now`: the new CA, then the previous newest if still valid; expired
    /// ones are dropped.
    pub fn rotated(&self, new: CaCertificate, now: Timestamp) -> CaSet {
        let mut cas = vec![new];
        cas.extend(self.valid_at(now).next().cloned());
        CaSet::new(cas)
    }

    /// When something about this set changes by itself: the next CA start, end, or issuing switch, or
    /// when rotation becomes due. `None` when nothing is valid.
    pub fn next_change(&self, now: Timestamp, policy: &RotationPolicy) -> Option<Timestamp> {
        let mut times: Vec<Timestamp> = Vec::new();
        for ca in &self.cas {
            times.push(ca.issues_from(policy.propagation));
            times.push(ca.not_after);
            times.push(ca.not_after - policy.rotate_before);
        }
        times.into_iter().filter(|t| *t > now).min()
    }
}

/// A Unix time in seconds as a timestamp (clamped to what `jiff` represents).
pub(crate) fn timestamp(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A timestamp as a certificate's date (whole seconds).
pub(crate) fn certificate_date(what: &'static str, when: Timestamp) -> Result<time::OffsetDateTime, CaError> {
    time::OffsetDateTime::from_unix_timestamp(when.as_second()).map_err(|_| CaError::Time { what, when })
}

/// DER in a PEM block of `label`, lines of 64 characters.
pub(crate) fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_new_ca_reads_back_from_its_pem() {
        let ca = CaCertificate::generate(at(0), 10 * DAY).expect("CA");
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let again = CaCertificate::from_pem(&ca.cert_pem, ca.key_pem(), "test").expect("read back");
        assert_eq!(again, ca);
        assert_eq!(ca.not_before, at(-60));
        assert_eq!(ca.not_after, at(0) + 10 * DAY);
        assert!(ca.subject.contains("CN=holt-credentials-ca-"), "{}", ca.subject);
    }

    #[test]
    fn a_key_that_is_not_the_cas_or_a_leaf_is_refused() {
        let ca = CaCertificate::generate(at(0), DAY).expect("CA");
        let other = CaCertificate::generate(at(0), DAY).expect("CA");
        let error =
            CaCertificate::from_pem(&ca.cert_pem, other.key_pem(), "Secret x/y").expect_err("mismatch");
        assert_eq!(
            error.to_string(),
            "Secret x/y: the private key does not belong to the certificate"
        );
        let error = CaCertificate::from_pem("junk", ca.key_pem(), "Secret x/y").expect_err("junk");
        assert!(
            error
                .to_string()
                .starts_with("Secret x/y: not a PEM X.509 certificate"),
            "{error}"
        );
        let leaf_key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::ExplicitNoCa;
        let leaf = params.self_signed(&leaf_key).expect("leaf");
        let error = CaCertificate::from_pem(&leaf.pem(), &leaf_key.serialize_pem(), "Secret x/y")
            .expect_err("not a CA");
        assert!(matches!(error, CaError::NotCa { .. }), "{error}");
    }

    #[test]
    fn rotation_overlaps_and_the_new_ca_issues_after_propagation() {
        let policy = RotationPolicy {
            validity: 10 * DAY,
            rotate_before: 3 * DAY,
            propagation: HOUR,
        };
        policy.check().expect("valid policy");
        let first = CaCertificate::generate(at(0), policy.validity).expect("CA");
        let set = CaSet::new(vec![first.clone()]);
        assert_eq!(
            set.issuing(at(0), policy.propagation),
            Some(&first),
            "a lone CA issues at once"
        );
        assert!(!set.rotation_due(at(0) + 6 * DAY, &policy));
        let rotation_time = at(0) + 7 * DAY;
        assert!(set.rotation_due(rotation_time, &policy));
        assert_eq!(set.next_change(at(0), &policy), Some(at(0) + HOUR));
        assert_eq!(set.next_change(at(0) + HOUR, &policy), Some(rotation_time));

        let second = CaCertificate::generate(rotation_time, policy.validity).expect("CA");
        let set = set.rotated(second.clone(), rotation_time);
        assert_eq!(set.cas, [second.clone(), first.clone()]);
        // Both trusted; the old one issues until the new one has propagated.
        assert_eq!(set.trust_bundle(rotation_time).der.len(), 2);
        assert_eq!(set.issuing(rotation_time, policy.propagation), Some(&first));
        assert_eq!(
            set.issuing(rotation_time + HOUR, policy.propagation),
            Some(&second)
        );
        assert!(!set.rotation_due(rotation_time, &policy));
        // The old one leaves the bundle when it expires.
        let after = first.not_after;
        assert_eq!(
            set.trust_bundle(after).der,
            std::slice::from_ref(&second.cert_der)
        );
        assert_ne!(
            set.trust_bundle(after).digest,
            set.trust_bundle(rotation_time).digest
        );
        // The next rotation drops the expired one.
        let third_time = second.not_after - policy.rotate_before;
        let third = CaCertificate::generate(third_time, policy.validity).expect("CA");
        assert_eq!(set.rotated(third.clone(), third_time).cas, [third, second]);
    }

    #[test]
    fn nothing_valid_is_due_for_rotation_and_issues_nothing() {
        let policy = RotationPolicy::default();
        let empty = CaSet::default();
        assert!(empty.rotation_due(at(0), &policy));
        assert_eq!(empty.issuing(at(0), policy.propagation), None);
        let old = CaCertificate::generate(at(0), DAY).expect("CA");
        let expired = CaSet::new(vec![old]);
        assert!(expired.rotation_due(at(0) + 2 * DAY, &policy));
        assert_eq!(expired.trust_bundle(at(0) + 2 * DAY).der.len(), 0);
    }

    #[test]
    fn rotation_settings_are_checked() {
        assert!(RotationPolicy::default().check().is_ok());
        let bad = RotationPolicy {
            rotate_before: 200 * DAY,
            ..RotationPolicy::default()
        };
        assert!(bad.check().expect_err("more than half").contains("at most half"));
        let bad = RotationPolicy {
            propagation: 40 * DAY,
            ..RotationPolicy::default()
        };
        assert!(
            bad.check()
                .expect_err("propagation")
                .contains("propagation delay")
        );
    }
}
