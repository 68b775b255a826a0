//! The uniqueness rules' view of the other objects, indexed: ClientIntents by namespace, workload name and
//! kind, ProtectedServices by namespace, server name and kind. Built once from [`Neighbours`] (any number of
//! objects, of any namespaces), it answers "which others declare the same workload / protect the same
//! server" in time proportional to the answer, so validating n objects against each other takes O(n), not
//! O(n²) comparisons.
//!
//! Each answer lists the others in the order they were given in, so reports are the same as comparing with
//! every other object in turn. An unset and an empty kind are the same key (the legacy "any kind").

use std::collections::HashMap;

use crate::v2beta1::{ClientIntents, ProtectedService};
use crate::validate::{Neighbours, no_kind};

/// What two objects must share to clash: the namespace, a name, and the kind (`None` for unset or empty).
type Key<'a> = (Option<&'a str>, &'a str, Option<&'a str>);

fn key<'a>(namespace: Option<&'a str>, name: &'a str, kind: Option<&'a str>) -> Key<'a> {
    (namespace, name, if no_kind(kind) { None } else { kind })
}

/// The other objects, by what the uniqueness rules compare.
#[derive(Clone, Debug, Default)]
pub struct NeighbourIndex<'a> {
    client_intents: HashMap<Key<'a>, Vec<&'a ClientIntents>>,
    protected_services: HashMap<Key<'a>, Vec<&'a ProtectedService>>,
}

impl<'a> NeighbourIndex<'a> {
    /// Indexes every object of `neighbours` (one pass over each list).
    pub fn new(neighbours: &Neighbours<'a>) -> NeighbourIndex<'a> {
        let mut client_intents: HashMap<Key<'a>, Vec<&'a ClientIntents>> = HashMap::new();
        for other in neighbours.client_intents {
            let workload = &other.spec.workload;
            let key = key(
                other.metadata.namespace.as_deref(),
                &workload.name,
                workload.kind.as_deref(),
            );
            client_intents.entry(key).or_default().push(other);
        }
        let mut protected_services: HashMap<Key<'a>, Vec<&'a ProtectedService>> = HashMap::new();
        for other in neighbours.protected_services {
            let spec = &other.spec;
            let key = key(
                other.metadata.namespace.as_deref(),
                &spec.name,
                spec.kind.as_deref(),
            );
            protected_services.entry(key).or_default().push(other);
        }
        NeighbourIndex {
            client_intents,
            protected_services,
        }
    }

    /// The ClientIntents in `namespace`, other than the one named `name`, for the workload `workload` of
    /// `kind`, in the order given.
    pub(super) fn client_intents_for<'s>(
        &'s self,
        namespace: Option<&'s str>,
        name: Option<&'s str>,
        workload: &'s str,
        kind: Option<&'s str>,
    ) -> impl Iterator<Item = &'a ClientIntents> + 's {
        let found = self.client_intents.get(&key(namespace, workload, kind));
        found
            .into_iter()
            .flatten()
            .copied()
            .filter(move |other| other.metadata.name.as_deref() != name)
    }

    /// The ProtectedServices in `namespace`, other than the one named `name`, protecting the server
    /// `server` of `kind`, in the order given.
    pub(super) fn protected_services_for<'s>(
        &'s self,
        namespace: Option<&'s str>,
        name: Option<&'s str>,
        server: &'s str,
        kind: Option<&'s str>,
    ) -> impl Iterator<Item = &'a ProtectedService> + 's {
        let found = self.protected_services.get(&key(namespace, server, kind));
        found
            .into_iter()
            .flatten()
            .copied()
            .filter(move |other| other.metadata.name.as_deref() != name)
    }
}
