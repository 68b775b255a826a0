//! The pods a policy for an identity applies to (its `podSelector`,
//! docs/reference-behaviour.md#network-policy-selector): legacy identities by the `service` label, Service
//! identities by the Service's own selector, other kinds by `owner-kind` and `service`.

use std::collections::BTreeMap;

use holt_model::labels::{OWNER_KIND, SERVICE};
use holt_model::{Identity, Index, IndexedPod, ObjectKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::notice::{Notice, Reason, Subject};

/// Why no selector can be built for an identity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("Service {0} does not exist, so its pods cannot be selected")]
    ServiceNotFound(ObjectKey),
    #[error("Service {0} has no selector, so its pods cannot be selected")]
    ServiceWithoutSelector(ObjectKey),
}

impl SelectorError {
    /// The notice reporting this error on `subject`.
    pub fn notice(&self, subject: Subject) -> Notice {
        let reason = match self {
            SelectorError::ServiceNotFound(_) => Reason::KubernetesServiceNotFound,
            SelectorError::ServiceWithoutSelector(_) => Reason::ServiceWithoutSelector,
        };
        Notice::new(subject, reason, self.to_string())
    }
}

/// The labels selecting the pods of `identity`.
pub fn workload_labels(
    index: &Index,
    identity: &Identity,
) -> Result<BTreeMap<String, String>, SelectorError> {
    match identity.kind.as_deref() {
        None => Ok([(SERVICE.to_owned(), identity.label_value())].into()),
        Some(_) if identity.is_service() => {
            let key = ObjectKey::new(&identity.namespace, &identity.name);
            let service = index
                .service(&key)
                .ok_or_else(|| SelectorError::ServiceNotFound(key.clone()))?;
            service
                .selector
                .clone()
                .ok_or(SelectorError::ServiceWithoutSelector(key))
        }
        Some(kind) => Ok([
            (OWNER_KIND.to_owned(), kind.to_owned()),
            (SERVICE.to_owned(), identity.label_value()),
        ]
        .into()),
    }
}

/// A `matchLabels` selector.
pub fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}

/// Whether the selector of `identity` selects `pod` once Holt has labelled it (the labels of
/// docs/reference-behaviour.md#pod-labels are computed from the pod's resolved identity, so this does not
/// depend on the labels the pod carries right now).
pub fn selects(index: &Index, identity: &Identity, pod: &IndexedPod) -> bool {
    let resolved = &pod.identity.identity;
    if pod.facts.key.namespace != identity.namespace {
        return false;
    }
    match identity.kind.as_deref() {
        None => resolved.name == identity.name,
        Some(_) if identity.is_service() => index
            .service(&ObjectKey::new(&identity.namespace, &identity.name))
            .is_some_and(|service| service.selects(&pod.facts.labels)),
        Some(kind) => resolved.name == identity.name && pod.identity.owner_kind == kind,
    }
}
