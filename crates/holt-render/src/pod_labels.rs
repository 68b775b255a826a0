//! Pod labels (docs/reference-behaviour.md#pod-labels): what selectors in Holt's policies match. Every pod
//! gets its identity (`service`) and owner kind (`owner-kind`); a client's pods also get one `access-…` /
//! `svc-access-…` label per in-cluster target (workloads, Services, Kafka brokers, the API server), so the
//! targets' ingress rules admit them, and `client` exactly when they carry at least one access label (as the
//! reference sets it: a client whose calls all leave the cluster gets neither). Rendered only while
//! network-policy or Istio creation is enabled.

use std::collections::{BTreeMap, BTreeSet};

use holt_model::labels::{
    ACCESS_PREFIX, CLIENT, DEPRECATED_SERVER, OWNER_KIND, SERVICE, SVC_ACCESS_PREFIX, access_label,
};
use holt_model::sorted_map::SortedMap;
use holt_model::{Call, Index, IndexedPod, ObjectKey};
use serde::{Serialize, Serializer};

use crate::desired::Rendered;
use crate::notice::{Notice, Reason, Subject};

/// Every Holt-owned label a pod should carry. Holt-owned labels the pod carries but this does not list (stale
/// access labels, the deprecated `server` label) are to be removed: see [`PodLabels::patch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodLabels {
    pub pod: ObjectKey,
    pub labels: BTreeMap<String, String>,
}

/// The label changes that bring a pod to its desired Holt-owned labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelPatch {
    pub set: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

impl LabelPatch {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

impl PodLabels {
    /// Whether Holt owns a label key (and so may remove it).
    pub fn is_owned(key: &str) -> bool {
        [SERVICE, OWNER_KIND, CLIENT, DEPRECATED_SERVER].contains(&key)
            || key.starts_with(ACCESS_PREFIX)
            || key.starts_with(SVC_ACCESS_PREFIX)
    }

    /// What to change in `current` (the pod's labels now): missing or different labels to set, and owned
    /// labels to remove.
    pub fn patch(&self, current: &SortedMap<String, String>) -> LabelPatch {
        LabelPatch {
            set: self
                .labels
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            remove: current
                .keys()
                .filter(|k| PodLabels::is_owned(k) && !self.labels.contains_key(*k))
                .cloned()
                .collect(),
        }
    }
}

impl Serialize for PodLabels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            pod: String,
            labels: &'a BTreeMap<String, String>,
        }
        View {
            pod: self.pod.to_string(),
            labels: &self.labels,
        }
        .serialize(serializer)
    }
}

/// The Holt-owned labels of the pod `key`, or `None` when Holt does not manage its labels (unknown pod,
/// namespace not watched, or neither network-policy nor Istio creation enabled). A malformed `called-by`
/// annotation is reported whatever the configuration.
pub fn render_pod(index: &Index, key: &ObjectKey) -> Rendered<Option<PodLabels>> {
    let mut notices = Vec::new();
    let Some(pod) = index.pod(key) else {
        return Rendered::new(None, notices);
    };
    if let Err(error) = &pod.called_by {
        notices.push(Notice::new(
            Subject::pod(key),
            Reason::FailedParsingAccessAnnotation,
            format!("intents.otterize.com/called-by: {error}"),
        ));
    }
    let config = index.config();
    if !(config.enable_network_policy_creation
        || config.enable_istio_policy_creation
        || config.enable_linkerd_policy_creation)
        || !config.watches(&key.namespace)
    {
        return Rendered::new(None, notices);
    }
    Rendered::new(Some(labels(index, pod)), notices)
}

fn labels(index: &Index, pod: &IndexedPod) -> PodLabels {
    let identity = &pod.identity.identity;
    let mut labels = BTreeMap::from([
        (SERVICE.to_owned(), identity.label_value()),
        (OWNER_KIND.to_owned(), pod.identity.owner_kind.clone()),
    ]);
    let mut is_client = false;
    for (_, call) in index.calls_of_pod(pod) {
        let server = match call {
            Call::Workload { server, .. } | Call::ApiServer { server } => server,
            Call::Kafka { broker, .. } => broker,
            Call::Internet(_) | Call::Unsupported { .. } => continue,
        };
        labels.insert(access_label(&server), "true".to_owned());
        is_client = true;
    }
    // The reference writes `client` together with the access labels, so a pod whose calls all leave the
    // cluster (internet, databases, clouds) carries neither.
    if is_client {
        labels.insert(CLIENT.to_owned(), identity.label_value());
    }
    PodLabels {
        pod: pod.facts.key.clone(),
        labels,
    }
}
