//! What one applied or deleted object touched: the units of desired state that must be rendered again.

use std::collections::BTreeSet;

use crate::facts::ObjectKey;
use crate::identity::Identity;

/// The render units a change touched. Everything not listed is unchanged, so an applier re-renders and
/// re-applies only these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Identities whose access policies (ingress as a server, egress as a client, Istio) may have changed.
    pub identities: BTreeSet<Identity>,
    /// Pods whose labels may have changed.
    pub pods: BTreeSet<ObjectKey>,
    /// Services whose external-traffic policies may have changed.
    pub services: BTreeSet<ObjectKey>,
    /// ProtectedServices whose default-deny policies may have changed.
    pub protected_services: BTreeSet<ObjectKey>,
    /// Kafka brokers whose ACLs may have changed.
    pub brokers: BTreeSet<Identity>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
            && self.pods.is_empty()
            && self.services.is_empty()
            && self.protected_services.is_empty()
            && self.brokers.is_empty()
    }

    pub fn merge(&mut self, other: Changes) {
        self.identities.extend(other.identities);
        self.pods.extend(other.pods);
        self.services.extend(other.services);
        self.protected_services.extend(other.protected_services);
        self.brokers.extend(other.brokers);
    }

    /// The number of units touched (a measure of a change's cost).
    pub fn len(&self) -> usize {
        self.identities.len()
            + self.pods.len()
            + self.services.len()
            + self.protected_services.len()
            + self.brokers.len()
    }
}
