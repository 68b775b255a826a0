//! The complete desired state of a cluster, for `holt plan` and full resyncs.

use std::collections::BTreeSet;

use holt_model::{Identity, Index, ObjectKey};
use serde::Serialize;

use crate::default_deny::render_protected_service;
use crate::desired::Desired;
use crate::external_traffic::render_service;
use crate::identity::render_identity;
use crate::kafka::{KafkaAcls, KafkaOptions, render_broker};
use crate::notice::Notice;
use crate::pod_labels::{PodLabels, render_pod};

/// Options that do not come from the model's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    pub kafka: KafkaOptions,
}

/// Everything Holt wants, in a deterministic order: objects by (kind, namespace, name), pod labels by pod,
/// ACL sets by broker, notices sorted and without repeats.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredState {
    pub objects: Vec<Desired>,
    pub pod_labels: Vec<PodLabels>,
    pub kafka_acls: Vec<KafkaAcls>,
    pub notices: Vec<Notice>,
}

/// Renders every unit the index knows.
pub fn render_all(index: &Index, options: &RenderOptions) -> DesiredState {
    let mut state = DesiredState::default();
    let mut identities: BTreeSet<Identity> = index.servers().map(|s| s.server.clone()).collect();
    identities.extend(index.clients());
    for identity in &identities {
        let rendered = render_identity(index, identity);
        state.objects.extend(rendered.value);
        state.notices.extend(rendered.notices);
    }
    let mut protected: Vec<&ObjectKey> = index.protected_services().map(|(key, _)| key).collect();
    protected.sort();
    for key in protected {
        let rendered = render_protected_service(index, key);
        state.objects.extend(rendered.value);
        state.notices.extend(rendered.notices);
    }
    let mut services: Vec<&ObjectKey> = index.services().map(|s| &s.key).collect();
    services.sort();
    for key in services {
        let rendered = render_service(index, key);
        state.objects.extend(rendered.value);
        state.notices.extend(rendered.notices);
    }
    let mut pods: Vec<&ObjectKey> = index.pods().map(|p| &p.facts.key).collect();
    pods.sort();
    for key in pods {
        let rendered = render_pod(index, key);
        state.pod_labels.extend(rendered.value);
        state.notices.extend(rendered.notices);
    }
    let brokers: BTreeSet<&Identity> = index.brokers().map(|b| &b.broker).collect();
    for broker in brokers {
        let rendered = render_broker(index, broker, &options.kafka);
        state.kafka_acls.extend(rendered.value);
        state.notices.extend(rendered.notices);
    }
    // Two ProtectedServices naming the same server render the same default-deny: keep one.
    state.objects.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    state.objects.dedup_by(|a, b| a.sort_key() == b.sort_key());
    state.notices.sort();
    state.notices.dedup();
    state
}
