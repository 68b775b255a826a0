//! Render units ([`Unit`], the model's) are what the controller renders, applies, retries and reports on
//! separately, so that one failing unit never holds up another. Here: which units a ClientIntents' status
//! reports on, and which ClientIntents report on a unit.

use std::collections::BTreeSet;

pub use holt_model::Unit;
use holt_model::{Call, Identity, Index, ObjectKey};

/// The units whose state the status of ClientIntents `key` reports: its client's policies and pod labels,
/// and the policies of every in-cluster server it calls.
pub fn units_reported_by(index: &Index, key: &ObjectKey) -> Vec<Unit> {
    let Some(intents) = index.intents(key) else {
        return Vec::new();
    };
    let mut units = vec![Unit::Identity(intents.client.clone())];
    units.extend(
        index
            .pods_of(&intents.client)
            .into_iter()
            .map(|pod| Unit::Pod(pod.facts.key.clone())),
    );
    for call in &intents.calls {
        if let Call::Workload { server, .. } | Call::Kafka { broker: server, .. } = call {
            units.push(Unit::Identity(server.clone()));
        }
    }
    units
}

/// The ClientIntents whose status reports on `unit`.
pub fn intents_reporting(index: &Index, unit: &Unit) -> BTreeSet<ObjectKey> {
    let mut keys = BTreeSet::new();
    match unit {
        Unit::Identity(identity) => {
            keys.extend(index.intents_of(identity).map(|(key, _)| key));
            keys.extend(index.intents_calling(identity).cloned());
        }
        Unit::Pod(key) => {
            if let Some(pod) = index.pod(key) {
                keys.extend(index.intents_of_pod(pod));
            }
        }
        Unit::Broker(broker) => keys.extend(intents_calling(index, broker)),
        Unit::Service(_) | Unit::ProtectedService(_) => {}
    }
    keys
}

/// The ClientIntents declaring a Kafka target on `broker`.
pub fn intents_calling(index: &Index, broker: &Identity) -> Vec<ObjectKey> {
    index.kafka_intents(broker).map(|(key, _)| key.clone()).collect()
}
