//! One render unit in, its desired state out: the function every front end calls per unit of
//! [`Changes`](holt_model::Changes) (the operator for what a change touched, [`render_all`](crate::render_all)
//! for everything).

use holt_model::{Index, Unit};
use serde::Serialize;

use crate::default_deny::render_protected_service;
use crate::desired::{Desired, Rendered};
use crate::external_traffic::render_service;
use crate::identity::render_identity;
use crate::kafka::{KafkaAcls, render_broker};
use crate::pod_labels::{PodLabels, render_pod};
use crate::state::RenderOptions;

/// The desired state of one unit: Kubernetes objects (identities, Services, ProtectedServices), a pod's
/// labels, or a broker's ACLs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnitState {
    pub objects: Vec<Desired>,
    pub pod_labels: Option<PodLabels>,
    pub kafka_acls: Option<KafkaAcls>,
}

/// Renders `unit`: every policy kind whose objects follow from it.
pub fn render_unit(index: &Index, unit: &Unit, options: &RenderOptions) -> Rendered<UnitState> {
    let mut state = UnitState::default();
    let notices = match unit {
        Unit::Identity(identity) => {
            let rendered = render_identity(index, identity);
            state.objects = rendered.value;
            rendered.notices
        }
        Unit::Service(key) => {
            let rendered = render_service(index, key);
            state.objects.extend(rendered.value);
            rendered.notices
        }
        Unit::ProtectedService(key) => {
            let rendered = render_protected_service(index, key);
            state.objects.extend(rendered.value);
            rendered.notices
        }
        Unit::Pod(key) => {
            let rendered = render_pod(index, key);
            state.pod_labels = rendered.value;
            rendered.notices
        }
        Unit::Broker(broker) => {
            let rendered = render_broker(index, broker, &options.kafka);
            state.kafka_acls = rendered.value;
            rendered.notices
        }
    };
    Rendered::new(state, notices)
}
