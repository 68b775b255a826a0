//! How the operator reaches a broker and which principals it writes: the bootstrap address and TLS files
//! from the broker's KafkaServerConfig (or the operator's defaults), and the principal format derived from
//! the operator's own certificate.

use std::path::PathBuf;

use holt_model::{Identity, Index, ObjectKey};
use holt_render::KafkaOptions;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The certificate, key and CA files (PEM) of an mTLS connection to a broker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// Where a broker is and how to authenticate to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerTarget {
    /// `host:port` from `spec.addr`.
    pub address: String,
    pub tls: TlsFiles,
}

/// The target of `broker` from its KafkaServerConfigs (the first, by name, that sets `addr`), with TLS files
/// from that config's `spec.tls` or else `defaults`. `Ok(None)` when no KafkaServerConfig describes the
/// broker; `Err` says what is missing.
pub fn broker_target(
    index: &Index,
    configs: &[ObjectKey],
    defaults: Option<&TlsFiles>,
) -> Result<Option<BrokerTarget>, String> {
    let Some((key, spec)) = configs
        .iter()
        .filter_map(|key| index.kafka_config(key).map(|spec| (key, spec)))
        .find(|(_, spec)| spec.addr.as_deref().is_some_and(|a| !a.is_empty()))
    else {
        return match configs.first() {
            None => Ok(None),
            Some(key) => Err(format!(
                "KafkaServerConfig {}/{} sets no spec.addr: the broker cannot be reached",
                key.namespace, key.name
            )),
        };
    };
    let tls = match spec.tls.as_ref().filter(|tls| !tls.is_empty()) {
        Some(tls) => TlsFiles {
            cert: tls.cert_file.clone().into(),
            key: tls.key_file.clone().into(),
            ca: tls.root_ca_file.clone().into(),
        },
        None => defaults.cloned().ok_or_else(|| {
            format!(
                "KafkaServerConfig {}/{} sets no spec.tls and the operator has no \
                 --kafka-server-tls-cert/--kafka-server-tls-key/--kafka-server-tls-ca: Kafka is reached \
                 over mTLS only",
                key.namespace, key.name
            )
        })?,
    };
    Ok(Some(BrokerTarget {
        address: spec.addr.clone().unwrap_or_default(),
        tls,
    }))
}

/// The principal format for a broker reached with `cert_pem` (the operator's certificate): clients are
/// `User:CN=<name>.<namespace>` followed by the RDNs of the operator's subject after its CN, in the order
/// OU, O, L, ST, C (the first value of each), as the reference maps them; the operator's own identity is
/// its CN read as `<name>.<namespace>`.
pub fn principal_options(cert_pem: &[u8]) -> Result<KafkaOptions, String> {
    let pem = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem)
        .map_err(|e| format!("reading the certificate: {e}"))?;
    let (_, cert) =
        X509Certificate::from_der(pem.as_ref()).map_err(|e| format!("parsing the certificate: {e}"))?;
    let subject = cert.subject();
    let mut suffix = String::new();
    let parts = [
        (
            "OU",
            subject.iter_organizational_unit().find_map(|a| a.as_str().ok()),
        ),
        ("O", subject.iter_organization().find_map(|a| a.as_str().ok())),
        ("L", subject.iter_locality().find_map(|a| a.as_str().ok())),
        (
            "ST",
            subject.iter_state_or_province().find_map(|a| a.as_str().ok()),
        ),
        ("C", subject.iter_country().find_map(|a| a.as_str().ok())),
    ];
    for (name, value) in parts {
        if let Some(value) = value {
            suffix.push_str(&format!(",{name}={value}"));
        }
    }
    let operator = subject
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .next()
        .and_then(|cn| cn.rsplit_once('.'))
        .map(|(name, namespace)| Identity::new(namespace, name, None));
    Ok(KafkaOptions {
        principal_rdn_suffix: suffix,
        operator,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject: &[(rcgen::DnType, &str)]) -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.self_signed(&key).expect("cert").pem()
    }

    #[test]
    fn principals_carry_the_operator_subject_after_its_common_name() {
        use rcgen::DnType;
        let pem = cert(&[
            (DnType::CommonName, "intents-operator.otterize-system"),
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "SPIRE"),
        ]);
        let options = principal_options(pem.as_bytes()).expect("options");
        assert_eq!(options.principal_rdn_suffix, ",O=SPIRE,C=US");
        let client = Identity::new("shop", "checkout", None);
        assert_eq!(options.principal(&client), "User:CN=checkout.shop,O=SPIRE,C=US");
        assert_eq!(
            options.operator,
            Some(Identity::new("otterize-system", "intents-operator", None))
        );
    }

    #[test]
    fn a_plain_common_name_gives_plain_principals() {
        let pem = cert(&[(rcgen::DnType::CommonName, "admin")]);
        let options = principal_options(pem.as_bytes()).expect("options");
        assert_eq!(options.principal_rdn_suffix, "");
        assert_eq!(
            options.operator, None,
            "a CN without a namespace names no workload"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(principal_options(b"not a certificate").is_err());
    }
}
