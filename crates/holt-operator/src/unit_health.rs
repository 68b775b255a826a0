//! Where each render unit stands after its last attempt, kept per unit so that a problem stays with the
//! unit it belongs to: a failed write (retried with back-off; at the longest interval from the start when
//! the API server refused the object as invalid, which mostly only a change can help), objects waiting for a namespace that does not exist yet
//! (rendered again when it appears), names taken by objects Holt did not create (rendered again when that
//! object changes or goes). Units without a problem are not kept. Pure: the caller passes the time.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use holt_runtime::{Backoff, RetrySchedule};

use crate::apply::ObjectId;
use crate::unit::Unit;

/// A failed write of a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The category: an Event reason and metric label.
    pub reason: &'static str,
    pub message: String,
    /// Whether the failure is likely to pass by itself (false when the API server refused the object as
    /// invalid: then it is retried only at the longest back-off interval).
    pub transient: bool,
}

/// What one attempt at a unit left undone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitOutcome {
    pub failure: Option<Failure>,
    /// Namespaces that objects of the unit wait for.
    pub waiting: BTreeSet<String>,
    /// Objects the unit wants whose names are taken by objects Holt did not create.
    pub taken: BTreeSet<ObjectId>,
}

impl UnitOutcome {
    pub fn is_clean(&self) -> bool {
        self.failure.is_none() && self.waiting.is_empty() && self.taken.is_empty()
    }
}

#[derive(Clone, Debug)]
struct UnitState {
    outcome: UnitOutcome,
    /// The waits after failed attempts in a row.
    retries: RetrySchedule,
    retry_at: Option<Instant>,
}

/// The units with a problem.
#[derive(Debug)]
pub struct UnitHealth {
    backoff: Backoff,
    states: HashMap<Unit, UnitState>,
    by_namespace: HashMap<String, BTreeSet<Unit>>,
}

impl UnitHealth {
    pub fn new(backoff: Backoff) -> Self {
        UnitHealth {
            backoff,
            states: HashMap::new(),
            by_namespace: HashMap::new(),
        }
    }

    /// Records the outcome of an attempt at `unit`; returns whether what is reported about it changed.
    pub fn record(&mut self, unit: &Unit, outcome: UnitOutcome, now: Instant) -> bool {
        let previous = self.states.remove(unit);
        for namespace in previous.iter().flat_map(|s| &s.outcome.waiting) {
            if let Some(units) = self.by_namespace.get_mut(namespace) {
                units.remove(unit);
                if units.is_empty() {
                    self.by_namespace.remove(namespace);
                }
            }
        }
        let changed = previous.as_ref().map(|s| &s.outcome) != Some(&outcome);
        if outcome.is_clean() {
            return previous.is_some();
        }
        for namespace in &outcome.waiting {
            self.by_namespace
                .entry(namespace.clone())
                .or_default()
                .insert(unit.clone());
        }
        let mut retries = previous.map_or_else(|| self.backoff.schedule(), |s| s.retries);
        let retry_at = match &outcome.failure {
            Some(failure) => {
                let wait = retries.next_wait();
                Some(
                    now + match failure.transient {
                        true => wait,
                        false => self.backoff.max(),
                    },
                )
            }
            None => {
                retries.reset();
                None
            }
        };
        self.states.insert(
            unit.clone(),
            UnitState {
                outcome,
                retries,
                retry_at,
            },
        );
        changed
    }

    /// Forgets a unit nothing renders any more.
    pub fn forget(&mut self, unit: &Unit, now: Instant) -> bool {
        self.record(unit, UnitOutcome::default(), now)
    }

    /// What the last attempt at `unit` left undone, if anything.
    pub fn outcome(&self, unit: &Unit) -> Option<&UnitOutcome> {
        self.states.get(unit).map(|s| &s.outcome)
    }

    /// The failing units whose retry is due.
    pub fn due(&self, now: Instant) -> Vec<Unit> {
        self.states
            .iter()
            .filter(|(_, s)| s.retry_at.is_some_and(|at| at <= now))
            .map(|(unit, _)| unit.clone())
            .collect()
    }

    /// When the next retry is due.
    pub fn next_retry(&self) -> Option<Instant> {
        self.states.values().filter_map(|s| s.retry_at).min()
    }

    /// The units waiting for `namespace` (to render again now that it exists).
    pub fn waiting_for(&self, namespace: &str) -> BTreeSet<Unit> {
        self.by_namespace.get(namespace).cloned().unwrap_or_default()
    }

    /// Counts for metrics: units with a failed write, units waiting for a namespace, names taken.
    pub fn counts(&self) -> HealthCounts {
        let mut counts = HealthCounts::default();
        for state in self.states.values() {
            counts.failing += usize::from(state.outcome.failure.is_some());
            counts.waiting += usize::from(!state.outcome.waiting.is_empty());
            counts.names_taken += state.outcome.taken.len();
        }
        counts
    }
}

pub fn name_taken_message(unit: &Unit, (kind, key): &ObjectId) -> String {
    format!(
        "{kind} {key}, needed for {unit}, exists and was not created by Holt: Holt leaves it alone, and \
         this access is not enforced as declared until that object is renamed or deleted"
    )
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub failing: usize,
    pub waiting: usize,
    pub names_taken: usize,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use holt_model::ObjectKey;

    fn health() -> UnitHealth {
        UnitHealth::new(Backoff::exponential(
            Duration::from_millis(500),
            Duration::from_secs(30),
        ))
    }

    fn failed(transient: bool) -> UnitOutcome {
        UnitOutcome {
            failure: Some(Failure {
                reason: "CreatingNetworkPoliciesFailed",
                message: "boom".into(),
                transient,
            }),
            ..UnitOutcome::default()
        }
    }

    fn unit(name: &str) -> Unit {
        Unit::Service(ObjectKey::new("ns", name))
    }

    #[test]
    fn back_off_doubles_up_to_its_maximum() {
        let mut health = health();
        let t0 = Instant::now();
        let mut waits = Vec::new();
        for _ in 1..=9 {
            health.record(&unit("a"), failed(true), t0);
            waits.push((health.next_retry().expect("a retry is due") - t0).as_millis());
        }
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn jittered_back_off_stays_within_its_bounds() {
        let mut health = UnitHealth::new(
            Backoff::exponential(Duration::from_millis(500), Duration::from_secs(30)).with_jitter(),
        );
        let t0 = Instant::now();
        for full in [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000] {
            health.record(&unit("a"), failed(true), t0);
            let wait = (health.next_retry().expect("a retry is due") - t0).as_millis();
            assert!(full / 2 <= wait && wait <= full, "{wait} ms for {full} ms");
        }
        health.record(&unit("b"), failed(false), t0);
        assert_eq!(
            health.due(t0 + Duration::from_secs(30)).len(),
            2,
            "an invalid object waits the longest interval, unjittered"
        );
    }

    #[test]
    fn a_failing_unit_is_retried_on_its_own_schedule_and_healed_by_success() {
        let mut health = health();
        let t0 = Instant::now();
        assert!(health.record(&unit("a"), failed(true), t0));
        assert!(
            !health.record(&unit("a"), failed(true), t0),
            "the same failure again"
        );
        assert_eq!(health.next_retry(), Some(t0 + Duration::from_secs(1)));
        assert!(health.due(t0).is_empty());
        assert_eq!(health.due(t0 + Duration::from_secs(1)), vec![unit("a")]);
        assert_eq!(health.counts().failing, 1);
        assert!(health.record(&unit("a"), UnitOutcome::default(), t0));
        assert_eq!(health.counts(), HealthCounts::default());
        assert_eq!(health.next_retry(), None);
    }

    #[test]
    fn an_invalid_object_is_retried_only_at_the_longest_interval() {
        let mut health = health();
        let t0 = Instant::now();
        health.record(&unit("a"), failed(false), t0);
        assert_eq!(health.next_retry(), Some(t0 + Duration::from_secs(30)));
        assert_eq!(health.counts().failing, 1, "still reported");
    }

    #[test]
    fn units_waiting_for_a_namespace_are_found_by_it_and_not_retried() {
        let mut health = health();
        let t0 = Instant::now();
        let waiting = UnitOutcome {
            waiting: ["later".to_owned()].into(),
            ..UnitOutcome::default()
        };
        health.record(&unit("a"), waiting.clone(), t0);
        health.record(&unit("b"), waiting, t0);
        assert_eq!(health.waiting_for("later"), [unit("a"), unit("b")].into());
        assert_eq!(health.next_retry(), None);
        health.forget(&unit("a"), t0);
        assert_eq!(health.waiting_for("later"), [unit("b")].into());
        health.forget(&unit("b"), t0);
        assert!(health.waiting_for("later").is_empty());
        assert!(health.by_namespace.is_empty(), "no empty sets kept");
    }
}
