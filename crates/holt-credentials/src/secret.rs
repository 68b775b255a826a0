//! The Secret that holds a workload's certificate: what Holt writes into it, and what Holt reads back from
//! one already there.
//!
//! In: the [`CertificateRequest`], the [`IssuedCertificate`], the [`TrustBundle`], when to renew. Out: the
//! desired `Secret` (labels, annotations, owners, files in the pod's format); and from a Secret found in the
//! cluster, its [`SecretState`]: someone else's, or Holt's with what it was written for.
//!
//! Holt's Secrets carry `app.kubernetes.io/managed-by: holt` and the reference's
//! `credentials-operator.otterize.com/secret-type: TLS`; the reference's annotations `registered-service-name`,
//! `svid-expires-at` and `cert-type`; and Holt's own: a digest of the settings the certificate was issued
//! for (`holt.otterize.com/certificate-settings`: workload, subject, lifetime, format, file names, password,
//! provider), of the trust bundle it carries (`holt.otterize.com/trust-bundle`), and when it is due for
//! renewal (`holt.otterize.com/renew-at`). From these alone Holt decides, also after a restart, whether the
//! content must change: a Secret is rewritten only then.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use ring::digest;

use crate::ca::{TrustBundle, hex};
use crate::jks::{self, JksError};
use crate::provider::{IssuedCertificate, ProviderKind};
use crate::request::CertificateRequest;
use crate::settings::Format;

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "holt";
pub const SECRET_TYPE_LABEL: &str = "credentials-operator.otterize.com/secret-type";
pub const SECRET_TYPE: &str = "TLS";
pub const SERVICE_NAME_ANNOTATION: &str = "credentials-operator.otterize.com/registered-service-name";
pub const EXPIRES_AT_ANNOTATION: &str = "credentials-operator.otterize.com/svid-expires-at";
pub const CERT_TYPE_ANNOTATION: &str = "credentials-operator.otterize.com/cert-type";
pub const SETTINGS_ANNOTATION: &str = "holt.otterize.com/certificate-settings";
pub const BUNDLE_ANNOTATION: &str = "holt.otterize.com/trust-bundle";
pub const RENEW_AT_ANNOTATION: &str = "holt.otterize.com/renew-at";

/// The alias of the key entry in a keystore and the prefix of the truststore's entries (the reference's).
pub const KEY_ALIAS: &str = "pkey";
pub const CA_ALIAS_PREFIX: &str = "ca-";

/// A digest of everything a certificate's content depends on, besides the trust bundle and the time.
pub fn settings_digest(request: &CertificateRequest, provider: ProviderKind) -> String {
    let mut fields: Vec<String> = vec![
        provider.name().to_owned(),
        request.namespace.clone(),
        request.secret_name.clone(),
        request.workload.clone(),
        request.subject.common_name.clone(),
        request.subject.spiffe_id.clone(),
        request.subject.dns_names.join(","),
        request
            .ttl
            .map_or_else(String::new, |ttl| ttl.as_secs().to_string()),
        request.format.cert_type().to_owned(),
    ];
    fields.extend(request.format.files().into_iter().map(str::to_owned));
    if let Format::Jks { password, .. } = &request.format {
        fields.push(password.clone());
    }
    let mut context = digest::Context::new(&digest::SHA256);
    for field in &fields {
        context.update(&(field.len() as u64).to_be_bytes());
        context.update(field.as_bytes());
    }
    hex(&context.finish().as_ref()[..16])
}

/// The files of the Secret, in the request's format.
pub fn files(
    format: &Format,
    issued: &IssuedCertificate,
    bundle: &TrustBundle,
    created: Timestamp,
    salt: [u8; jks::SALT_LEN],
) -> Result<BTreeMap<String, Vec<u8>>, JksError> {
    let mut files = BTreeMap::new();
    match format {
        Format::Pem {
            cert_file,
            ca_file,
            key_file,
        } => {
            files.insert(cert_file.clone(), issued.cert_pem.clone().into_bytes());
            files.insert(ca_file.clone(), bundle.pem.clone().into_bytes());
            files.insert(key_file.clone(), issued.key_pem.clone().into_bytes());
        }
        Format::Jks {
            keystore_file,
            truststore_file,
            password,
        } => {
            let mut chain: Vec<&[u8]> = vec![&issued.cert_der];
            chain.extend(issued.chain_der.iter().map(Vec::as_slice));
            let keystore = jks::keystore(KEY_ALIAS, &issued.key_der, &chain, password, created, salt)?;
            let trusted: Vec<(String, &[u8])> = bundle
                .der
                .iter()
                .enumerate()
                .map(|(i, der)| (format!("{CA_ALIAS_PREFIX}{i}"), der.as_slice()))
                .collect();
            let truststore = jks::truststore(&trusted, password, created)?;
            files.insert(keystore_file.clone(), keystore);
            files.insert(truststore_file.clone(), truststore);
        }
    }
    Ok(files)
}

/// What Holt records about a certificate it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub settings_digest: String,
    pub bundle_digest: String,
    pub renew_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The desired Secret, whole.
pub fn desired_secret(
    request: &CertificateRequest,
    written: &Written,
    files: BTreeMap<String, Vec<u8>>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(request.secret_name.clone()),
            namespace: Some(request.namespace.clone()),
            labels: Some(labels()),
            annotations: Some(BTreeMap::from([
                (SERVICE_NAME_ANNOTATION.to_owned(), request.workload.clone()),
                (EXPIRES_AT_ANNOTATION.to_owned(), written.expires_at.to_string()),
                (
                    CERT_TYPE_ANNOTATION.to_owned(),
                    request.format.cert_type().to_owned(),
                ),
                (SETTINGS_ANNOTATION.to_owned(), written.settings_digest.clone()),
                (BUNDLE_ANNOTATION.to_owned(), written.bundle_digest.clone()),
                (RENEW_AT_ANNOTATION.to_owned(), written.renew_at.to_string()),
            ])),
            owner_references: Some(request.owners.clone()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(files.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
        ..Secret::default()
    }
}

/// The labels of Holt's certificate Secrets.
pub fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        (SECRET_TYPE_LABEL.to_owned(), SECRET_TYPE.to_owned()),
    ])
}

/// `existing` with the request's owners and Holt's labels, content unchanged (labels and annotations of
/// others are kept).
pub fn with_owners(existing: &Secret, request: &CertificateRequest) -> Secret {
    let mut secret = existing.clone();
    secret.metadata.owner_references = Some(request.owners.clone());
    secret
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(labels());
    secret.metadata.managed_fields = None;
    secret
}

/// A Secret found under the requested name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretState {
    Absent,
    /// Not Holt's (no managed-by label): never written.
    Foreign,
    Holts(HoltsSecret),
}

/// What a Secret of Holt's says about its certificate; `None` where an annotation is missing or unreadable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoltsSecret {
    pub settings_digest: Option<String>,
    pub bundle_digest: Option<String>,
    pub renew_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// Every file of the format is there.
    pub complete: bool,
    /// Its owners and labels are the ones Holt wants.
    pub owners_and_labels_current: bool,
    /// Being deleted (the garbage collector, or someone, is removing it).
    pub terminating: bool,
}

pub fn state_of(secret: Option<&Secret>, request: &CertificateRequest) -> SecretState {
    let Some(secret) = secret else {
        return SecretState::Absent;
    };
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    if labels.get(MANAGED_BY_LABEL).map(String::as_str) != Some(MANAGED_BY) {
        return SecretState::Foreign;
    }
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    let time = |name: &str| annotations.get(name).and_then(|t| t.parse::<Timestamp>().ok());
    let data = secret.data.clone().unwrap_or_default();
    let complete = request
        .format
        .files()
        .iter()
        .all(|file| data.get(*file).is_some_and(|bytes| !bytes.0.is_empty()));
    let owners = secret.metadata.owner_references.clone().unwrap_or_default();
    let owners_and_labels_current = same_owners(&owners, &request.owners)
        && labels.get(SECRET_TYPE_LABEL).map(String::as_str) == Some(SECRET_TYPE);
    SecretState::Holts(HoltsSecret {
        settings_digest: annotations.get(SETTINGS_ANNOTATION).cloned(),
        bundle_digest: annotations.get(BUNDLE_ANNOTATION).cloned(),
        renew_at: time(RENEW_AT_ANNOTATION),
        expires_at: time(EXPIRES_AT_ANNOTATION),
        complete,
        owners_and_labels_current,
        terminating: secret.metadata.deletion_timestamp.is_some(),
    })
}

/// The same owners by UID, whatever the order.
fn same_owners(found: &[OwnerReference], wanted: &[OwnerReference]) -> bool {
    let uids = |owners: &[OwnerReference]| {
        let mut uids: Vec<String> = owners.iter().map(|o| o.uid.clone()).collect();
        uids.sort();
        uids
    };
    uids(found) == uids(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::request_for_secret;
    use crate::request::tests::{owner, pem_settings, pod};
    use crate::subject::TrustDomain;

    fn request(secret: &str) -> CertificateRequest {
        let domain = TrustDomain::new("example.org").expect("domain");
        request_for_secret(&[pod("cart-a", "cart", 1, pem_settings(secret))], &domain)
            .expect("request")
            .request
    }

    fn written() -> Written {
        Written {
            settings_digest: "s".into(),
            bundle_digest: "b".into(),
            renew_at: Timestamp::from_second(1_000).expect("time"),
            expires_at: Timestamp::from_second(2_000).expect("time"),
        }
    }

    #[test]
    fn the_digest_changes_with_every_setting_that_changes_the_content() {
        let base = request("cart-tls");
        let digest = settings_digest(&base, ProviderKind::BuiltIn);
        assert_eq!(digest.len(), 32);
        assert_eq!(
            digest,
            settings_digest(&base.clone(), ProviderKind::BuiltIn),
            "stable"
        );
        let mut changed = Vec::new();
        let mut ttl = base.clone();
        ttl.ttl = Some(std::time::Duration::from_secs(60));
        changed.push(ttl);
        let mut dns = base.clone();
        dns.subject.dns_names.push("cart.example.com".into());
        changed.push(dns);
        let mut jks = base.clone();
        jks.format = Format::Jks {
            keystore_file: "keystore.jks".into(),
            truststore_file: "truststore.jks".into(),
            password: "password".into(),
        };
        changed.push(jks.clone());
        if let Format::Jks { password, .. } = &mut jks.format {
            *password = "other".into();
        }
        changed.push(jks);
        for other in changed {
            assert_ne!(
                settings_digest(&other, ProviderKind::BuiltIn),
                digest,
                "{other:?}"
            );
        }
        assert_ne!(settings_digest(&base, ProviderKind::Spire), digest);
        // Owners and the restart flag change no content.
        let mut owners = base.clone();
        owners.owners.push(owner("Pod", "x", "uid-x"));
        owners.restart_on_renewal = true;
        assert_eq!(settings_digest(&owners, ProviderKind::BuiltIn), digest);
    }

    #[test]
    fn the_desired_secret_is_labelled_annotated_and_owned() {
        let request = request("cart-tls");
        let files = BTreeMap::from([("cert.pem".to_owned(), b"c".to_vec())]);
        let secret = desired_secret(&request, &written(), files);
        let labels = secret.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("app.kubernetes.io/managed-by").map(String::as_str),
            Some("holt")
        );
        assert_eq!(
            labels
                .get("credentials-operator.otterize.com/secret-type")
                .map(String::as_str),
            Some("TLS")
        );
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(annotations[SERVICE_NAME_ANNOTATION], "cart");
        assert_eq!(annotations[EXPIRES_AT_ANNOTATION], "1970-01-01T00:33:20Z");
        assert_eq!(annotations[CERT_TYPE_ANNOTATION], "pem");
        assert_eq!(
            secret.metadata.owner_references,
            Some(vec![owner("Deployment", "cart", "uid-cart")])
        );
        assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    }

    #[test]
    fn a_secret_is_read_back_as_written_and_a_foreign_one_is_foreign() {
        let request = request("cart-tls");
        let files: BTreeMap<String, Vec<u8>> = request
            .format
            .files()
            .into_iter()
            .map(|f| (f.to_owned(), b"x".to_vec()))
            .collect();
        let secret = desired_secret(&request, &written(), files);
        let state = state_of(Some(&secret), &request);
        assert_eq!(
            state,
            SecretState::Holts(HoltsSecret {
                settings_digest: Some("s".into()),
                bundle_digest: Some("b".into()),
                renew_at: Some(written().renew_at),
                expires_at: Some(written().expires_at),
                complete: true,
                owners_and_labels_current: true,
                terminating: false,
            })
        );
        let mut incomplete = secret.clone();
        incomplete
            .data
            .get_or_insert_with(BTreeMap::new)
            .remove("key.pem");
        let SecretState::Holts(read) = state_of(Some(&incomplete), &request) else {
            panic!("Holt's");
        };
        assert!(!read.complete);
        let mut other_owner = request.clone();
        other_owner.owners = vec![owner("Pod", "p", "uid-p")];
        let SecretState::Holts(read) = state_of(Some(&secret), &other_owner) else {
            panic!("Holt's");
        };
        assert!(!read.owners_and_labels_current);
        let repaired = with_owners(&secret, &other_owner);
        let SecretState::Holts(read) = state_of(Some(&repaired), &other_owner) else {
            panic!("Holt's");
        };
        assert!(read.owners_and_labels_current);
        assert_eq!(repaired.data, secret.data, "content kept");

        let mut foreign = secret;
        foreign.metadata.labels = Some(BTreeMap::from([("app".to_owned(), "mine".to_owned())]));
        assert_eq!(state_of(Some(&foreign), &request), SecretState::Foreign);
        assert_eq!(state_of(None, &request), SecretState::Absent);
    }
}
