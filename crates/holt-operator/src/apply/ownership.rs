//! Which render unit wants which object: pure bookkeeping, so that an object is deleted only when no unit
//! wants it any more (two ProtectedServices naming one server render the same default-deny policy).

use std::collections::{BTreeMap, BTreeSet};

use holt_model::ObjectKey;
use holt_render::ObjectKind;

use crate::unit::Unit;

/// An object Holt writes: its group-qualified kind and key.
pub type ObjectId = (ObjectKind, ObjectKey);

#[derive(Debug, Default)]
pub struct Ownership {
    by_unit: BTreeMap<Unit, BTreeSet<ObjectId>>,
    wanted_by: BTreeMap<ObjectId, BTreeSet<Unit>>,
    /// Holt's objects the watches listed at start-up, until the first full pass has pruned those no unit
    /// wants.
    found: BTreeSet<ObjectId>,
    /// The reference operator's objects the watches listed at start-up, until a pass without failures has
    /// deleted those no unit wants (those a unit wants are adopted by its write).
    reference_found: BTreeSet<ObjectId>,
}

impl Ownership {
    /// Records that `unit` now wants exactly `objects`; returns the objects no unit wants any more.
    pub fn set(&mut self, unit: Unit, objects: BTreeSet<ObjectId>) -> Vec<ObjectId> {
        let previous = self.by_unit.remove(&unit).unwrap_or_default();
        let mut orphans = Vec::new();
        for gone in previous.difference(&objects) {
            if let Some(units) = self.wanted_by.get_mut(gone) {
                units.remove(&unit);
                if units.is_empty() {
                    self.wanted_by.remove(gone);
                    orphans.push(gone.clone());
                }
            }
        }
        for object in &objects {
            self.wanted_by
                .entry(object.clone())
                .or_default()
                .insert(unit.clone());
        }
        if !objects.is_empty() {
            self.by_unit.insert(unit, objects);
        }
        orphans
    }

    /// The units that want `object`.
    pub fn units_wanting(&self, object: &ObjectId) -> Vec<Unit> {
        self.wanted_by
            .get(object)
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    pub fn is_wanted(&self, object: &ObjectId) -> bool {
        self.wanted_by.contains_key(object)
    }

    /// Records Holt's objects listed at start-up.
    pub fn set_found(&mut self, found: BTreeSet<ObjectId>) {
        self.found = found;
    }

    /// Objects found at start-up that no unit claimed: Holt's leftovers, to delete.
    pub fn unclaimed_found(&self) -> Vec<ObjectId> {
        self.found
            .iter()
            .filter(|o| !self.is_wanted(o))
            .cloned()
            .collect()
    }

    /// Forgets the start-up listing once it has been pruned.
    pub fn clear_found(&mut self) {
        self.found.clear();
    }

    /// Records the reference operator's objects listed at start-up.
    pub fn set_reference_found(&mut self, found: BTreeSet<ObjectId>) {
        self.reference_found = found;
    }

    pub fn has_reference_found(&self) -> bool {
        !self.reference_found.is_empty()
    }

    /// The reference's objects found at start-up that no unit wants (to delete), forgetting them all: the
    /// others were adopted.
    pub fn take_unclaimed_reference(&mut self) -> Vec<ObjectId> {
        let found = std::mem::take(&mut self.reference_found);
        found.into_iter().filter(|o| !self.is_wanted(o)).collect()
    }

    /// Keeps one of the reference's objects whose deletion failed, to delete it after the next clean pass.
    pub fn retry_reference(&mut self, object: ObjectId) {
        self.reference_found.insert(object);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn np(name: &str) -> ObjectId {
        (ObjectKind::NetworkPolicy, ObjectKey::new("ns", name))
    }

    #[test]
    fn an_object_is_orphaned_only_when_no_unit_wants_it() {
        let mut ownership = Ownership::default();
        let a = Unit::ProtectedService(ObjectKey::new("ns", "a"));
        let b = Unit::ProtectedService(ObjectKey::new("ns", "b"));
        assert!(ownership.set(a.clone(), [np("default-deny-x")].into()).is_empty());
        assert!(ownership.set(b.clone(), [np("default-deny-x")].into()).is_empty());
        assert!(ownership.set(a, BTreeSet::new()).is_empty(), "b still wants it");
        assert_eq!(ownership.set(b, BTreeSet::new()), vec![np("default-deny-x")]);
    }

    #[test]
    fn the_references_objects_are_deleted_unless_a_unit_wants_them() {
        let mut ownership = Ownership::default();
        ownership.set_reference_found([np("server-deployment-access"), np("gone-deployment-access")].into());
        ownership.set(
            Unit::Service(ObjectKey::new("ns", "s")),
            [np("server-deployment-access")].into(),
        );
        assert!(ownership.has_reference_found());
        assert_eq!(
            ownership.take_unclaimed_reference(),
            vec![np("gone-deployment-access")]
        );
        assert!(!ownership.has_reference_found());
        ownership.retry_reference(np("gone-deployment-access"));
        assert_eq!(
            ownership.take_unclaimed_reference(),
            vec![np("gone-deployment-access")]
        );
    }

    #[test]
    fn objects_found_at_start_up_are_pruned_unless_claimed() {
        let mut ownership = Ownership::default();
        ownership.set_found([np("kept"), np("stale")].into());
        ownership.set(Unit::Service(ObjectKey::new("ns", "s")), [np("kept")].into());
        assert_eq!(ownership.unclaimed_found(), vec![np("stale")]);
        ownership.clear_found();
        assert!(ownership.unclaimed_found().is_empty());
        assert!(ownership.is_wanted(&np("kept")));
    }
}
