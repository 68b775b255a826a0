//! What the controller keeps of a pod: only pods that carry a credentials annotation, and of those only
//! what resolving their identity and reading their settings needs (name, UID, creation time, owners, the
//! credentials annotations, the workload name override and, for SPIRE, the registered-service-name label Holt
//! writes). Everything else of the pod is dropped as it
//! arrives, so memory follows the pods that ask for certificates, not the cluster's.

use std::collections::BTreeMap;

use holt_model::ObjectKey;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::annotations::{self, AnnotationError};
use crate::events::PodRef;
use crate::provider::spire::REGISTERED_SERVICE_NAME_LABEL;
use crate::settings::CertificateSettings;

/// The Secret a pod names: its namespace and the Secret's name.
pub type SecretKey = ObjectKey;

/// A pod that carries at least one credentials annotation.
#[derive(Clone, Debug, PartialEq)]
pub struct PodRecord {
    /// Just what owner resolution reads: name, namespace, UID, owner references, the annotations kept.
    pub metadata: ObjectMeta,
    pub created: Timestamp,
    /// `Ok(None)`: credentials annotations but no Secret name.
    pub settings: Result<Option<CertificateSettings>, AnnotationError>,
}

impl PodRecord {
    /// The record of a pod from its metadata; `None` when the pod carries no credentials annotation or is
    /// being deleted (a terminating pod asks for nothing more).
    pub fn from_metadata(metadata: &ObjectMeta, override_annotations: &[&str]) -> Option<PodRecord> {
        let all = metadata.annotations.as_ref()?;
        if metadata.deletion_timestamp.is_some() {
            return None;
        }
        let kept: BTreeMap<String, String> = all
            .iter()
            .filter(|(name, _)| {
                annotations::is_credentials_annotation(name) || override_annotations.contains(&name.as_str())
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if !kept
            .keys()
            .any(|name| annotations::is_credentials_annotation(name))
        {
            return None;
        }
        let settings = annotations::settings_of(&kept);
        Some(PodRecord {
            metadata: ObjectMeta {
                name: metadata.name.clone(),
                namespace: metadata.namespace.clone(),
                uid: metadata.uid.clone(),
                owner_references: metadata.owner_references.clone(),
                annotations: Some(kept),
                labels: registered_label(metadata),
                ..ObjectMeta::default()
            },
            created: metadata
                .creation_timestamp
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            settings,
        })
    }

    /// The value of the pod's registered-service-name label (SPIRE's selector), when it has one.
    pub fn registered_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(REGISTERED_SERVICE_NAME_LABEL)
            .map(String::as_str)
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(&self.metadata)
    }

    pub fn pod_ref(&self) -> PodRef {
        PodRef {
            key: self.key(),
            uid: self.metadata.uid.clone().unwrap_or_default(),
        }
    }

    /// The Secret the pod asks for, when its annotations are valid.
    pub fn secret(&self) -> Option<SecretKey> {
        match &self.settings {
            Ok(Some(settings)) => Some(ObjectKey::new(
                self.metadata.namespace.clone().unwrap_or_default(),
                settings.secret_name.clone(),
            )),
            _ => None,
        }
    }
}

/// Only the registered-service-name label of the pod's labels.
fn registered_label(metadata: &ObjectMeta) -> Option<BTreeMap<String, String>> {
    let value = metadata.labels.as_ref()?.get(REGISTERED_SERVICE_NAME_LABEL)?;
    Some(BTreeMap::from([(
        REGISTERED_SERVICE_NAME_LABEL.to_owned(),
        value.clone(),
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(annotations: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some("cart-1".into()),
            namespace: Some("shop".into()),
            uid: Some("u1".into()),
            creation_timestamp: Some(Time(Timestamp::from_second(5).expect("time"))),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            labels: Some(BTreeMap::from([("app".to_owned(), "cart".to_owned())])),
            ..ObjectMeta::default()
        }
    }

    const OVERRIDE: &[&str] = &["intents.otterize.com/workload-name"];

    #[test]
    fn only_pods_with_credentials_annotations_are_kept_and_only_those_annotations() {
        assert_eq!(PodRecord::from_metadata(&meta(&[("other", "x")]), OVERRIDE), None);
        let record = PodRecord::from_metadata(
            &meta(&[
                ("credentials-operator.otterize.com/tls-secret-name", "cart-tls"),
                ("intents.otterize.com/workload-name", "cart"),
                ("kubectl.kubernetes.io/last-applied-configuration", "{...}"),
            ]),
            OVERRIDE,
        )
        .expect("kept");
        let kept: Vec<&String> = record
            .metadata
            .annotations
            .iter()
            .flatten()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            kept,
            [
                "credentials-operator.otterize.com/tls-secret-name",
                "intents.otterize.com/workload-name"
            ]
        );
        assert_eq!(record.metadata.labels, None, "labels are not kept");
        assert_eq!(record.registered_name(), None);
        let mut labelled = meta(&[("credentials-operator.otterize.com/tls-secret-name", "cart-tls")]);
        labelled
            .labels
            .get_or_insert_default()
            .insert(REGISTERED_SERVICE_NAME_LABEL.to_owned(), "cart".to_owned());
        let record = PodRecord::from_metadata(&labelled, OVERRIDE).expect("kept");
        assert_eq!(record.registered_name(), Some("cart"));
        assert_eq!(record.metadata.labels.as_ref().map(BTreeMap::len), Some(1));
        assert_eq!(record.secret(), Some(ObjectKey::new("shop", "cart-tls")));
        assert_eq!(record.created, Timestamp::from_second(5).expect("time"));
    }

    #[test]
    fn a_malformed_pod_is_kept_with_its_error_and_names_no_secret() {
        let record = PodRecord::from_metadata(
            &meta(&[
                ("credentials-operator.otterize.com/tls-secret-name", "cart-tls"),
                ("credentials-operator.otterize.com/cert-type", "pkcs12"),
            ]),
            OVERRIDE,
        )
        .expect("kept");
        assert!(record.settings.is_err());
        assert_eq!(record.secret(), None);
    }

    #[test]
    fn a_terminating_pod_asks_for_nothing() {
        let mut terminating = meta(&[("credentials-operator.otterize.com/tls-secret-name", "cart-tls")]);
        terminating.deletion_timestamp = Some(Time(Timestamp::from_second(9).expect("time")));
        assert_eq!(PodRecord::from_metadata(&terminating, OVERRIDE), None);
    }
}
