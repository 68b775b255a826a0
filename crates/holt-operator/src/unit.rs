//! Render units: the pieces of desired state the controller renders, applies, retries and reports on
//! separately, so that one failing unit never holds up another. Also which units a ClientIntents' status
//! reports on, and which ClientIntents report on a unit.

use std::collections::BTreeSet;

use holt_model::{Call, Changes, Identity, Index, ObjectKey};

/// A render unit (see [`holt_model::Changes`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// The access policies of an identity: ingress as a server, egress as a client, Istio.
    Identity(Identity),
    /// The external-traffic policies of a Service.
    Service(ObjectKey),
    /// The default-deny policy of a ProtectedService.
    ProtectedService(ObjectKey),
    /// The Holt-owned labels of a pod.
    Pod(ObjectKey),
    /// Objects found in the cluster at start-up, before any unit claimed them.
    Found,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unit::Identity(identity) => write!(f, "the policies of {}.{}", identity.name, identity.namespace),
            Unit::Service(key) => write!(f, "the external-traffic policies of Service {key}"),
            Unit::ProtectedService(key) => write!(f, "the default-deny policy of ProtectedService {key}"),
            Unit::Pod(key) => write!(f, "the labels of Pod {key}"),
            Unit::Found => f.write_str("objects left by an earlier run"),
        }
    }
}

/// The units a set of model changes touched.
pub fn units_of(changes: &Changes) -> BTreeSet<Unit> {
    let mut units = BTreeSet::new();
    units.extend(changes.identities.iter().cloned().map(Unit::Identity));
    units.extend(changes.services.iter().cloned().map(Unit::Service));
    units.extend(
        changes
            .protected_services
            .iter()
            .cloned()
            .map(Unit::ProtectedService),
    );
    units.extend(changes.pods.iter().cloned().map(Unit::Pod));
    units
}

/// Adds a unit back to a set of changes (to render it again).
pub fn add_to(changes: &mut Changes, unit: Unit) {
    match unit {
        Unit::Identity(identity) => {
            changes.identities.insert(identity);
        }
        Unit::Service(key) => {
            changes.services.insert(key);
        }
        Unit::ProtectedService(key) => {
            changes.protected_services.insert(key);
        }
        Unit::Pod(key) => {
            changes.pods.insert(key);
        }
        Unit::Found => {}
    }
}

/// Whether `unit` is among `changes` (to be rendered in the next pass).
pub fn is_pending(changes: &Changes, unit: &Unit) -> bool {
    match unit {
        Unit::Identity(identity) => changes.identities.contains(identity),
        Unit::Service(key) => changes.services.contains(key),
        Unit::ProtectedService(key) => changes.protected_services.contains(key),
        Unit::Pod(key) => changes.pods.contains(key),
        Unit::Found => false,
    }
}

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
        Unit::Service(_) | Unit::ProtectedService(_) | Unit::Found => {}
    }
    keys
}
