//! The complete desired state of a cluster, for `holt plan` and full resyncs.

use holt_model::Index;
use serde::Serialize;

use crate::desired::Desired;
use crate::kafka::{KafkaAcls, KafkaOptions};
use crate::notice::Notice;
use crate::pod_labels::PodLabels;
use crate::unit::render_unit;

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
    for unit in index.all_units().units() {
        let mut rendered = render_unit(index, unit, options);
        state.objects.append(&mut rendered.value.objects);
        state.pod_labels.extend(rendered.value.pod_labels);
        state.kafka_acls.extend(rendered.value.kafka_acls);
        state.notices.append(&mut rendered.notices);
    }
    // Two ProtectedServices naming the same server render the same default-deny: keep one.
    state.objects.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    state.objects.dedup_by(|a, b| a.sort_key() == b.sort_key());
    state.notices.sort();
    state.notices.dedup();
    state
}
