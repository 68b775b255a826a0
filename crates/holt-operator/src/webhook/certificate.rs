//! The webhook's certificates, without I/O: a CA of its own and a serving certificate it signs, for the
//! webhook Service's DNS names (and loopback when asked), when they need re-issuing, and reading a
//! user-supplied certificate.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

/// Why a certificate could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("cannot create {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("{what} is not a valid name for a certificate: {source}")]
    Name { what: String, source: rcgen::Error },
    #[error("{what}: not a PEM X.509 certificate: {problem}")]
    Parse { what: &'static str, problem: String },
    #[error(
        "cannot issue a serving certificate: the CA's private key is not available (user-supplied certificate)"
    )]
    NoCaKey,
    #[error("{what}: {when:?} is not representable as a certificate date")]
    Time { what: &'static str, when: SystemTime },
}

/// What the certificates are for, and how long they live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateOptions {
    /// Name of the Service in front of the webhook.
    pub service: String,
    /// Namespace of that Service (the operator's).
    pub namespace: String,
    /// Also valid for `127.0.0.1` and `localhost` (the webhook reached by URL, as in tests).
    pub loopback: bool,
    /// More DNS names to include.
    pub extra_dns_names: Vec<String>,
    /// Lifetime of the CA (ten years, as the reference's).
    pub ca_validity: Duration,
    /// Lifetime of a serving certificate.
    pub serving_validity: Duration,
    /// A serving certificate is re-issued when it expires within this time.
    pub renew_before: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl CertificateOptions {
    /// Defaults for the Service `service` in `namespace`: CA for ten years, serving certificates for a year,
    /// renewed 30 days before they expire.
    pub fn for_service(service: impl Into<String>, namespace: impl Into<String>) -> Self {
        CertificateOptions {
            service: service.into(),
            namespace: namespace.into(),
            loopback: false,
            extra_dns_names: Vec::new(),
            ca_validity: 3650 * DAY,
            serving_validity: 365 * DAY,
            renew_before: 30 * DAY,
        }
    }

    /// The DNS names the serving certificate is valid for: `<service>`, `<service>.<ns>`, `<service>.<ns>.svc`,
    /// `<service>.<ns>.svc.cluster.local`, `localhost` when [`Self::loopback`], then the extra names.
    pub fn dns_names(&self) -> Vec<String> {
        let (service, namespace) = (&self.service, &self.namespace);
        let mut names = vec![
            service.clone(),
            format!("{service}.{namespace}"),
            format!("{service}.{namespace}.svc"),
            format!("{service}.{namespace}.svc.cluster.local"),
        ];
        if self.loopback {
            names.push("localhost".to_owned());
        }
        names.extend(self.extra_dns_names.iter().cloned());
        names
    }

    /// The IP addresses the serving certificate is valid for: `127.0.0.1` when [`Self::loopback`].
    pub fn ip_addresses(&self) -> Vec<IpAddr> {
        if self.loopback {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        } else {
            Vec::new()
        }
    }
}

/// A CA certificate and a serving certificate it signed, PEM. The CA key is there when Holt created the CA
/// (it can issue the next serving certificate), absent for a user-supplied certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateBundle {
    /// The CA certificate: what the API server is told to trust (`caBundle`).
    pub ca_cert_pem: String,
    /// The CA's private key (PKCS#8 PEM), when Holt owns the CA.
    pub ca_key_pem: Option<String>,
    /// The serving certificate (chain), PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

impl fmt::Debug for CertificateBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateBundle")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl CertificateBundle {
    /// A new CA and a serving certificate signed by it, valid from `now`.
    pub fn generate(options: &CertificateOptions, now: SystemTime) -> Result<Self, CertificateError> {
        let ca_key = KeyPair::generate().map_err(|source| CertificateError::Generate {
            what: "the CA key",
            source,
        })?;
        let mut params = ca_params();
        params.not_before = date("the CA's notBefore", now - Duration::from_secs(60))?;
        params.not_after = date("the CA's notAfter", now + options.ca_validity)?;
        let ca_cert = params
            .self_signed(&ca_key)
            .map_err(|source| CertificateError::Generate {
                what: "the CA certificate",
                source,
            })?;
        let ca = CertificateBundle {
            ca_cert_pem: ca_cert.pem(),
            ca_key_pem: Some(ca_key.serialize_pem()),
            cert_pem: String::new(),
            key_pem: String::new(),
        };
        ca.reissue(options, now)
    }

    /// The same CA with a new serving certificate valid from `now` (the CA bundle does not change).
    pub fn reissue(&self, options: &CertificateOptions, now: SystemTime) -> Result<Self, CertificateError> {
        let ca_key_pem = self.ca_key_pem.as_deref().ok_or(CertificateError::NoCaKey)?;
        let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|source| CertificateError::Generate {
            what: "the CA key (from PEM)",
            source,
        })?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert_pem, ca_key).map_err(|source| {
            CertificateError::Generate {
                what: "the CA (from PEM)",
                source,
            }
        })?;
        let mut params = CertificateParams::default();
        let mut sans = Vec::new();
        for name in options.dns_names() {
            let ia5 = name.clone().try_into().map_err(|source| CertificateError::Name {
                what: name.clone(),
                source,
            })?;
            sans.push(SanType::DnsName(ia5));
        }
        sans.extend(options.ip_addresses().into_iter().map(SanType::IpAddress));
        params.subject_alt_names = sans;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("{}.{}.svc", options.service, options.namespace),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date(
            "the serving certificate's notBefore",
            now - Duration::from_secs(60),
        )?;
        params.not_after = date(
            "the serving certificate's notAfter",
            now + options.serving_validity,
        )?;
        let key = KeyPair::generate().map_err(|source| CertificateError::Generate {
            what: "the serving key",
            source,
        })?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|source| CertificateError::Generate {
                what: "the serving certificate",
                source,
            })?;
        Ok(CertificateBundle {
            ca_cert_pem: self.ca_cert_pem.clone(),
            ca_key_pem: self.ca_key_pem.clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// What the API server is told to trust: the CA certificate, PEM.
    pub fn ca_bundle(&self) -> &[u8] {
        self.ca_cert_pem.as_bytes()
    }

    /// The serving certificate's validity period.
    pub fn serving_validity(&self) -> Result<(SystemTime, SystemTime), CertificateError> {
        validity(&self.cert_pem, "the serving certificate")
    }

    /// The DNS names and IP addresses the serving certificate is valid for.
    pub fn serving_names(&self) -> Result<Vec<String>, CertificateError> {
        let what = "the serving certificate";
        with_first_cert(&self.cert_pem, what, |cert| {
            let mut names = Vec::new();
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    match name {
                        x509_parser::extensions::GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                        x509_parser::extensions::GeneralName::IPAddress(ip) => {
                            if let Ok(v4) = <[u8; 4]>::try_from(*ip) {
                                names.push(IpAddr::from(v4).to_string());
                            } else if let Ok(v6) = <[u8; 16]>::try_from(*ip) {
                                names.push(IpAddr::from(v6).to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            Ok(names)
        })
    }

    /// True when the serving certificate must be re-issued at `now`: it expires within
    /// `options.renew_before`, cannot be read, or does not cover a name `options` asks for. A certificate
    /// that is not valid yet by our clock is not re-issued: another replica whose clock runs ahead wrote it,
    /// and replacing it would make the replicas take turns.
    pub fn needs_rotation(&self, now: SystemTime, options: &CertificateOptions) -> bool {
        match self.serving_validity() {
            Ok((_, not_after)) => {
                if now + options.renew_before >= not_after {
                    return true;
                }
            }
            Err(_) => return true,
        }
        let Ok(names) = self.serving_names() else {
            return true;
        };
        let wanted = options
            .dns_names()
            .into_iter()
            .chain(options.ip_addresses().into_iter().map(|ip| ip.to_string()));
        wanted.into_iter().any(|name| !names.contains(&name))
    }

    /// True when the CA itself expires within `renew_before` of `now` (Holt does not rotate its CA; the
    /// operator logs it so someone deletes the Secret).
    pub fn ca_expires_within(&self, now: SystemTime, renew_before: Duration) -> bool {
        validity(&self.ca_cert_pem, "the CA certificate")
            .map_or(true, |(_, not_after)| now + renew_before >= not_after)
    }
}

/// The CA's subject and usages; the same every time, so an `Issuer` can be rebuilt from the stored PEM.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Holt");
    dn.push(DnType::CommonName, "holt-webhook-ca");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn date(what: &'static str, when: SystemTime) -> Result<OffsetDateTime, CertificateError> {
    let seconds = when
        .duration_since(UNIX_EPOCH)
        .map_err(|_| CertificateError::Time { what, when })?
        .as_secs();
    let seconds = i64::try_from(seconds).map_err(|_| CertificateError::Time { what, when })?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| CertificateError::Time { what, when })
}

fn with_first_cert<T>(
    pem: &str,
    what: &'static str,
    read: impl FnOnce(&x509_parser::certificate::X509Certificate<'_>) -> Result<T, CertificateError>,
) -> Result<T, CertificateError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| CertificateError::Parse {
        what,
        problem: e.to_string(),
    })?;
    let cert = pem.parse_x509().map_err(|e| CertificateError::Parse {
        what,
        problem: e.to_string(),
    })?;
    read(&cert)
}

fn validity(pem: &str, what: &'static str) -> Result<(SystemTime, SystemTime), CertificateError> {
    with_first_cert(pem, what, |cert| {
        let to_system = |t: i64| {
            u64::try_from(t)
                .map(|s| UNIX_EPOCH + Duration::from_secs(s))
                .unwrap_or(UNIX_EPOCH)
        };
        let v = cert.validity();
        Ok((
            to_system(v.not_before.timestamp()),
            to_system(v.not_after.timestamp()),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> CertificateOptions {
        let mut options = CertificateOptions::for_service("holt-webhook", "holt-system");
        options.loopback = true;
        options
    }

    #[test]
    fn generated_certificate_covers_the_service_names_and_loopback() {
        let bundle = CertificateBundle::generate(&options(), SystemTime::now()).expect("generate");
        let names = bundle.serving_names().expect("names");
        for name in [
            "holt-webhook",
            "holt-webhook.holt-system",
            "holt-webhook.holt-system.svc",
            "holt-webhook.holt-system.svc.cluster.local",
            "localhost",
            "127.0.0.1",
        ] {
            assert!(names.contains(&name.to_owned()), "{name} missing from {names:?}");
        }
        assert!(bundle.ca_key_pem.is_some());
        assert!(!bundle.needs_rotation(SystemTime::now(), &options()));
    }

    #[test]
    fn rotation_is_due_before_expiry_and_keeps_the_ca() {
        let now = SystemTime::now();
        let options = options();
        let bundle = CertificateBundle::generate(&options, now).expect("generate");
        let (_, not_after) = bundle.serving_validity().expect("validity");
        assert!(!bundle.needs_rotation(not_after - options.renew_before - DAY, &options));
        assert!(bundle.needs_rotation(not_after - options.renew_before + DAY, &options));
        assert!(bundle.needs_rotation(not_after + DAY, &options));

        let later = not_after - DAY;
        let next = bundle.reissue(&options, later).expect("reissue");
        assert_eq!(next.ca_cert_pem, bundle.ca_cert_pem, "same CA, same caBundle");
        assert_ne!(next.cert_pem, bundle.cert_pem);
        assert!(!next.needs_rotation(later, &options));
    }

    #[test]
    fn rotation_is_due_when_a_name_is_missing() {
        let bundle = CertificateBundle::generate(&options(), SystemTime::now()).expect("generate");
        let moved = CertificateOptions {
            namespace: "elsewhere".to_owned(),
            ..options()
        };
        assert!(bundle.needs_rotation(SystemTime::now(), &moved));
    }

    #[test]
    fn a_user_supplied_certificate_cannot_be_reissued() {
        let mut bundle = CertificateBundle::generate(&options(), SystemTime::now()).expect("generate");
        bundle.ca_key_pem = None;
        let err = bundle
            .reissue(&options(), SystemTime::now())
            .expect_err("no CA key");
        assert!(matches!(err, CertificateError::NoCaKey), "{err}");
    }
}
