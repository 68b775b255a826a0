//! What one applied or deleted object touched: the render units of desired state that must be rendered
//! again.
//!
//! [`Unit`] is the one list of render units: the model reports them ([`Changes`]), the renderers render one
//! at a time (`holt_render::render_unit`), and the operator applies, retries and reports on each alone.

use std::collections::BTreeSet;

use crate::facts::ObjectKey;
use crate::identity::Identity;

/// A piece of desired state that is rendered, applied, retried and reported on as one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// The access policies of an identity: ingress as a server, egress as a client, the mesh policies
    /// admitting its clients.
    Identity(Identity),
    /// The external-traffic policies of a Service.
    Service(ObjectKey),
    /// The default-deny policy of a ProtectedService.
    ProtectedService(ObjectKey),
    /// The Holt-owned labels of a pod.
    Pod(ObjectKey),
    /// The ACLs Holt wants on a Kafka broker.
    Broker(Identity),
}

impl Unit {
    /// The namespace the unit's objects are written in (a broker's ACLs: the broker's namespace).
    pub fn namespace(&self) -> &str {
        match self {
            Unit::Identity(identity) | Unit::Broker(identity) => &identity.namespace,
            Unit::Service(key) | Unit::ProtectedService(key) | Unit::Pod(key) => &key.namespace,
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unit::Identity(identity) => write!(f, "the policies of {}.{}", identity.name, identity.namespace),
            Unit::Service(key) => write!(f, "the external-traffic policies of Service {key}"),
            Unit::ProtectedService(key) => write!(f, "the default-deny policy of ProtectedService {key}"),
            Unit::Pod(key) => write!(f, "the labels of Pod {key}"),
            Unit::Broker(broker) => write!(f, "the Kafka ACLs of {}.{}", broker.name, broker.namespace),
        }
    }
}

/// The render units a change touched. Everything not listed is unchanged, so an applier re-renders and
/// re-applies only these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    units: BTreeSet<Unit>,
}

impl Changes {
    pub fn insert(&mut self, unit: Unit) {
        self.units.insert(unit);
    }

    pub fn contains(&self, unit: &Unit) -> bool {
        self.units.contains(unit)
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The number of units touched (a measure of a change's cost).
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn merge(&mut self, other: Changes) {
        self.units.extend(other.units);
    }

    /// Keeps the units `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&Unit) -> bool) {
        self.units.retain(keep);
    }

    /// Every unit touched, in a fixed order.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.iter()
    }

    /// The identities whose access policies were touched.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        self.units.iter().filter_map(|unit| match unit {
            Unit::Identity(identity) => Some(identity),
            _ => None,
        })
    }

    /// The brokers whose ACLs were touched.
    pub fn brokers(&self) -> impl Iterator<Item = &Identity> {
        self.units.iter().filter_map(|unit| match unit {
            Unit::Broker(broker) => Some(broker),
            _ => None,
        })
    }

    /// The pods whose labels were touched.
    pub fn pods(&self) -> impl Iterator<Item = &ObjectKey> {
        self.units.iter().filter_map(|unit| match unit {
            Unit::Pod(key) => Some(key),
            _ => None,
        })
    }
}

impl Extend<Unit> for Changes {
    fn extend<T: IntoIterator<Item = Unit>>(&mut self, units: T) {
        self.units.extend(units);
    }
}

impl FromIterator<Unit> for Changes {
    fn from_iter<T: IntoIterator<Item = Unit>>(units: T) -> Self {
        Changes {
            units: units.into_iter().collect(),
        }
    }
}

impl IntoIterator for Changes {
    type Item = Unit;
    type IntoIter = std::collections::btree_set::IntoIter<Unit>;

    fn into_iter(self) -> Self::IntoIter {
        self.units.into_iter()
    }
}
