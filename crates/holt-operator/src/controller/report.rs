//! After a pass: each unit's outcome recorded, problems and successes reported as Events, ClientIntents
//! statuses written (only when they differ, at most once per `status_interval` per object), finalizers
//! added and removed (one guarded patch per change seen), Kafka outcomes folded in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

// Finalizers are patched in the stored version (same schema as the hub): no call to the conversion webhook.
use holt_api::v2alpha1::{ClientIntents, ProtectedService};
use holt_model::{Index, ObjectKey};
use holt_render::ObjectKind;
use kube::api::ApiResource;
use serde_json::Value;
use tracing::{info, warn};

use super::pass::Applied;
use super::{CLIENT_INTENTS_FINALIZER, Controller, PROTECTED_SERVICE_FINALIZER};
use crate::apply::live::is_newer;
use crate::apply::{Applier, Patched, Write};
use crate::kafka::{BrokerState, KafkaOutcome};
use crate::status::{self, Outcome};
use crate::unit::{self, Unit};
use crate::unit_health::{UnitHealth, UnitOutcome};
use crate::watch::WatchedKind;

/// The reason reported on a ClientIntents that breaks validation rules.
pub const INVALID_INTENTS: &str = "InvalidIntents";

/// How soon a failed status or finalizer write is tried again.
const WRITE_RETRY: Duration = Duration::from_secs(1);

impl Controller {
    pub(super) async fn report(&mut self, applied: Applied) {
        let now = Instant::now();
        for (unit, outcome) in applied.outcomes {
            if self.health.record(&unit, outcome, now) {
                self.pending_status
                    .extend(unit::intents_reporting(&self.index, &unit));
                self.events
                    .unit_outcome(&self.index, &unit, self.health.outcome(&unit))
                    .await;
            }
        }
        self.announce(&applied.written).await;
        for (key, message) in std::mem::take(&mut self.invalid_reports) {
            self.events
                .on_client_intents(&key, true, INVALID_INTENTS, &message)
                .await;
        }
        // Finalizers before statuses: a ClientIntents reported up to date already holds its finalizer, so
        // its deletion waits for its access to be removed.
        let mut due = Vec::new();
        due.extend(self.write_finalizers(now).await);
        due.extend(self.write_statuses(now).await);
        self.writes_due = due.into_iter().min();
        if !self.started {
            info!("first pass done: ready");
            self.started = true;
        }
    }

    /// Normal Events on the ClientIntents whose declarations changed since the last pass, for the policies
    /// created or rewritten for them (`CreatedNetworkPolicies`, `CreatedIstioPolicy`, as the reference).
    async fn announce(&mut self, written: &BTreeMap<Unit, Vec<ObjectKind>>) {
        let changed = std::mem::take(&mut self.changed_intents);
        if !changed.is_empty() {
            // The reference's `clientintents_applied` adds, per ClientIntents applied, every declared call (of
            // the ClientIntents this operator serves: those in its watched namespaces).
            let config = self.index.config();
            let declared: u64 = self
                .index
                .all_intents()
                .filter(|(key, _)| config.watches(&key.namespace))
                .map(|(_, i)| i.calls.len() as u64)
                .sum();
            let applied = declared * changed.len() as u64;
            self.progress.send_modify(|p| p.intents_applied += applied);
        }
        for key in changed {
            let mut servers: BTreeMap<ObjectKind, BTreeSet<String>> = BTreeMap::new();
            for unit in unit::units_reported_by(&self.index, &key) {
                let (Unit::Identity(identity), Some(kinds)) = (&unit, written.get(&unit)) else {
                    continue;
                };
                for kind in kinds {
                    servers
                        .entry(*kind)
                        .or_default()
                        .insert(format!("{}.{}", identity.name, identity.namespace));
                }
            }
            for (kind, names) in servers {
                let reason = kind.reasons().created;
                let names: Vec<String> = names.into_iter().collect();
                let note = format!(
                    "{} created or updated for {}",
                    kind.plural_label(),
                    names.join(", ")
                );
                self.events.on_client_intents(&key, false, reason, &note).await;
            }
        }
    }

    /// Writes the statuses that differ from what they should be; returns when deferred ones are due.
    async fn write_statuses(&mut self, now: Instant) -> Option<Instant> {
        let timestamp = k8s_openapi::jiff::Timestamp::now();
        let interval = self.options.status_interval;
        let mut plan = Vec::new();
        let mut later = Vec::new();
        let mut due = None;
        for key in std::mem::take(&mut self.pending_status) {
            let Some(tracked) = self.tracked.get(&(WatchedKind::ClientIntents, key.clone())) else {
                continue;
            };
            if tracked.deleting || !self.index.config().watches(&key.namespace) {
                continue;
            }
            let current = tracked.status.as_ref();
            let outcome = match self.invalid.get(&key) {
                Some(message) => Outcome::Failed {
                    reason: INVALID_INTENTS,
                    message: message.clone(),
                },
                None => outcome_of(&self.index, &self.health, &key),
            };
            let desired = status::desired(
                &self.index,
                &key,
                tracked.generation,
                current,
                &outcome,
                &self.brokers,
                timestamp,
            );
            if current == Some(&desired) {
                continue;
            }
            if let Some(last) = self.status_written.get(&key)
                && now < *last + interval
            {
                due = earliest(due, *last + interval);
                later.push(key);
                continue;
            }
            plan.push((key, desired));
        }
        let mut writes = Vec::new();
        for (key, desired) in &plan {
            self.status_written.insert(key.clone(), now);
            writes.push(Write::Status {
                key: key.clone(),
                status: status_patch(desired),
            });
        }
        let count = writes.len() as u64;
        let executed = self.applier.execute(writes).await;
        self.patched(executed.patched);
        let failed: BTreeSet<ObjectKey> = executed
            .failures
            .into_iter()
            .filter_map(|(write, error)| {
                warn!(%error, "status update failed; will retry");
                match write {
                    Write::Status { key, .. } => Some(key),
                    _ => None,
                }
            })
            .collect();
        for (key, desired) in plan {
            if failed.contains(&key) {
                due = earliest(due, now + WRITE_RETRY);
                later.push(key);
            } else if let Some(tracked) = self.tracked.get_mut(&(WatchedKind::ClientIntents, key)) {
                tracked.status = Some(desired); // as written; the watch event will say the same
            }
        }
        self.pending_status.extend(later);
        self.progress.send_modify(|p| p.status_writes += count);
        due
    }

    /// Adds Holt's finalizer to its objects and removes it from deleting ones once the units their
    /// deletion touched are applied; returns when failed patches are due again.
    async fn write_finalizers(&mut self, now: Instant) -> Option<Instant> {
        let mut plan = Vec::new();
        let mut kept = Vec::new();
        for (kind, key) in std::mem::take(&mut self.pending_finalizers) {
            let id = (kind, key.clone());
            let Some(tracked) = self.tracked.get(&id) else {
                continue;
            };
            if !self.index.config().watches(&key.namespace) || self.finalizer_sent.contains_key(&id) {
                continue; // not ours to handle, or a patch is on its way (the next event decides)
            }
            if tracked.deleting && !self.released(&id) {
                kept.push(id);
                continue;
            }
            let (resource, finalizer) = match kind {
                WatchedKind::ClientIntents => {
                    (ApiResource::erase::<ClientIntents>(&()), CLIENT_INTENTS_FINALIZER)
                }
                _ => (
                    ApiResource::erase::<ProtectedService>(&()),
                    PROTECTED_SERVICE_FINALIZER,
                ),
            };
            let before = plan.len();
            Applier::plan_finalizer(
                resource,
                &key,
                &tracked.finalizers,
                finalizer,
                !tracked.deleting,
                &mut plan,
            );
            if plan.len() > before {
                self.finalizer_sent.insert(id, tracked.finalizers.clone());
            }
        }
        let count = plan.len() as u64;
        let mut due = None;
        let executed = self.applier.execute(plan).await;
        self.patched(executed.patched);
        for (write, error) in executed.failures {
            warn!(%error, "finalizer update failed; will retry");
            if let Write::Finalizer { resource, key, .. } = write {
                let kind = if resource.kind == "ClientIntents" {
                    WatchedKind::ClientIntents
                } else {
                    WatchedKind::ProtectedService
                };
                self.finalizer_sent.remove(&(kind, key.clone()));
                kept.push((kind, key));
                due = Some(now + WRITE_RETRY);
            }
        }
        self.pending_finalizers.extend(kept);
        self.progress.send_modify(|p| p.finalizer_writes += count);
        due
    }

    /// Takes in the metadata Holt's own patches left: newer than watch events still on their way, which
    /// must not make Holt patch again from an older view.
    fn patched(&mut self, patched: Vec<Patched>) {
        for answer in patched {
            let kind = match answer.kind {
                "ClientIntents" => WatchedKind::ClientIntents,
                _ => WatchedKind::ProtectedService,
            };
            let id = (kind, answer.key);
            if let Some(tracked) = self.tracked.get_mut(&id)
                && is_newer(&answer.resource_version, &tracked.resource_version)
            {
                tracked.resource_version = answer.resource_version;
                tracked.finalizers = answer.finalizers;
                self.finalizer_sent.remove(&id);
            }
        }
    }

    /// Whether the access of a deleting object is gone: every unit its deletion touched was applied (or
    /// only waits for a namespace, where nothing of it exists).
    fn released(&self, id: &(WatchedKind, ObjectKey)) -> bool {
        self.deleting.get(id).is_none_or(|units| {
            units.iter().all(|unit| {
                !self.pending.contains(unit)
                    && self
                        .health
                        .outcome(unit)
                        .is_none_or(|o| o.failure.is_none() && o.taken.is_empty())
            })
        })
    }

    /// A broker task finished a job: its state feeds the status of the intents calling the broker, and
    /// changes are reported as Events on the broker's KafkaServerConfigs.
    pub(super) async fn kafka_outcome(&mut self, outcome: KafkaOutcome) {
        if !self.kafka.is_latest(&outcome) {
            return; // a newer job is on its way; its outcome decides
        }
        let state = match &outcome.result {
            Ok(_) => BrokerState::Applied,
            Err(failure) => BrokerState::Failed(failure.clone()),
        };
        let previous = self.brokers.insert(outcome.broker.clone(), state.clone());
        let failing = self
            .brokers
            .values()
            .filter(|s| matches!(s, BrokerState::Failed(_)))
            .count();
        let failed = u64::from(outcome.result.is_err());
        self.kafka.settle(&outcome);
        let tasks = self.kafka.tasks();
        self.progress.send_modify(|p| {
            p.kafka_reconciles += 1;
            p.kafka_failures += failed;
            p.kafka_brokers_failing = failing;
            p.kafka_broker_tasks = tasks;
        });
        if previous.as_ref() != Some(&state) {
            self.pending_status
                .extend(unit::intents_calling(&self.index, &outcome.broker));
        }
        let event = match (&outcome.result, &previous) {
            (Ok(changes), _) if !changes.is_empty() => Some((
                false,
                "AppliedKafkaACLs",
                format!(
                    "broker {}: {} ACLs created, {} deleted ({} unchanged, {} not Holt's left alone)",
                    crate::kafka::broker_name(&outcome.broker),
                    changes.created.len(),
                    changes.deleted.len(),
                    changes.unchanged,
                    changes.foreign
                ),
            )),
            (Err(failure), previous) if previous.as_ref() != Some(&state) => {
                Some((true, failure.reason, failure.message.clone()))
            }
            _ => None,
        };
        if let Some((warning, reason, message)) = event {
            self.events
                .kafka_server_configs(&outcome.configs, warning, reason, &message)
                .await;
        }
    }
}

/// What the status of ClientIntents `key` reports about the units it depends on: the first failure (its
/// client's own units first), else a name taken by someone else's object, else a missing namespace.
pub fn outcome_of(index: &Index, health: &UnitHealth, key: &ObjectKey) -> Outcome {
    let outcomes: Vec<(Unit, &UnitOutcome)> = unit::units_reported_by(index, key)
        .into_iter()
        .filter_map(|unit| health.outcome(&unit).map(|o| (unit, o)))
        .collect();
    if let Some(failure) = outcomes.iter().find_map(|(_, o)| o.failure.as_ref()) {
        return Outcome::Failed {
            reason: failure.reason,
            message: failure.message.clone(),
        };
    }
    if let Some((unit, taken)) = outcomes
        .iter()
        .find_map(|(unit, o)| o.taken.iter().next().map(|id| (unit, id)))
    {
        return Outcome::Failed {
            reason: taken.0.reasons().name_taken,
            message: crate::unit_health::name_taken_message(unit, taken),
        };
    }
    let waiting: BTreeSet<&String> = outcomes.iter().flat_map(|(_, o)| &o.waiting).collect();
    if !waiting.is_empty() {
        let names: Vec<&str> = waiting.into_iter().map(String::as_str).collect();
        return Outcome::Waiting {
            reason: "WaitingForNamespace",
            message: format!(
                "access controls are applied; those in namespace {} follow once it exists",
                names.join(", ")
            ),
        };
    }
    Outcome::Applied
}

/// The status as a merge patch: everything but `resolvedIPs`, which the network mapper writes.
fn status_patch(status: &holt_api::v2beta1::ClientIntentsStatus) -> Value {
    let mut value = serde_json::to_value(status).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("resolvedIPs");
    }
    value
}

fn earliest(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}
