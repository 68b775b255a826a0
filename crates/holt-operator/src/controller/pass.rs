//! One pass: render the pending units, plan their writes, perform them, and record each unit's outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use holt_model::{Index, ObjectKey, Unit};
use holt_render::{Desired, Notice, ObjectKind, RenderOptions, render_unit};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use tracing::{debug, info, warn};

use super::Controller;
use crate::apply::{self, Applier, Write};
use crate::kafka::{BrokerJob, BrokerState};
use crate::unit;
use crate::unit_health::UnitOutcome;

/// What a pass plans before it writes anything.
#[derive(Default)]
pub(super) struct PassPlan {
    pub writes: Vec<Write>,
    /// Each unit planned, and what it could not plan (names taken, namespaces missing, encoding).
    pub outcomes: BTreeMap<Unit, UnitOutcome>,
    /// Broker jobs, each with whether it removes an orphan's ACLs.
    kafka_jobs: Vec<(BrokerJob, bool)>,
    notices: Vec<Notice>,
}

impl PassPlan {
    fn notice(&mut self, notices: Vec<Notice>) {
        log_notices(&notices);
        self.notices.extend(notices);
    }
}

/// What the writes of a pass did, per unit.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Each attempted unit and what it left undone.
    pub outcomes: BTreeMap<Unit, UnitOutcome>,
    /// Units with objects created or rewritten in this pass, and their kinds.
    pub written: BTreeMap<Unit, Vec<ObjectKind>>,
}

impl Controller {
    /// Renders and applies what is pending, then writes statuses and finalizers.
    pub(super) async fn pass(&mut self) {
        let began = Instant::now();
        let applied = self.render_and_apply().await;
        self.report(applied).await;
        let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.progress.send_modify(|p| p.pass_durations.observe(micros));
        self.publish_progress();
        self.finish_takeover().await;
    }

    async fn render_and_apply(&mut self) -> Applied {
        let now = Instant::now();
        let first = !self.started;
        // The first pass adopts the reference's objects; removals wait for it to succeed (takeover).
        self.holding_removals = first && self.options.adopt_reference_objects;
        if first {
            let config = self.index.config().clone();
            self.applier.claim_found(|ns| config.watches(ns));
            self.pending.merge(self.index.all_units());
            self.pending_status
                .extend(self.index.all_intents().map(|(key, _)| key.clone()));
        }
        let retried = self.health.due(now);
        let retried_count = retried.len() as u64;
        self.pending.extend(retried);
        let mut changes = std::mem::take(&mut self.pending);
        // An operator restricted to some namespaces writes nothing elsewhere.
        let config = self.index.config();
        changes.retain(|unit| config.watches(unit.namespace()));
        let rendered = changes.len() as u64;
        self.progress.send_modify(|p| {
            p.units_rendered += rendered;
            p.units_retried += retried_count;
        });

        // Plan every write of the touched units (pure), then perform them concurrently.
        let mut pass = PassPlan::default();
        for unit in changes {
            self.plan_unit(unit, now, &mut pass);
        }
        if first {
            // Brokers whose KafkaServerConfig went while no operator ran: remove what Holt created there.
            let orphans = self.kafka.orphans(&self.index).await;
            pass.kafka_jobs.extend(orphans.into_iter().map(|job| (job, true)));
            let pruned = self.applier.plan_prune_unclaimed(&mut pass.writes);
            info!(
                pruned,
                "first pass: objects left by an earlier run are being pruned"
            );
        }
        self.holding_removals = false;
        self.submit_kafka_jobs(std::mem::take(&mut pass.kafka_jobs));
        let applied = self.execute(pass.writes, pass.outcomes).await;
        self.events.publish(&self.index, &pass.notices).await;
        applied
    }

    /// Renders one unit and plans what makes the cluster hold it.
    pub(super) fn plan_unit(&mut self, unit: Unit, now: Instant, pass: &mut PassPlan) {
        match &unit {
            Unit::Broker(broker) => {
                // Kafka ACLs are applied by a task per broker; a broker that is down delays nothing here.
                let rendered = self.kafka.render(&self.index, broker);
                pass.notice(rendered.notices);
                pass.kafka_jobs.push((rendered.value, false));
            }
            Unit::Pod(key) => {
                let Some(pod) = self.index.pod(key) else {
                    self.health.forget(&unit, now); // gone: nothing to label
                    return;
                };
                let rendered = render_unit(&self.index, &unit, &RenderOptions::default());
                let mut writes = Vec::new();
                Applier::plan_pod_labels(
                    key,
                    &pod.facts.labels,
                    rendered.value.pod_labels.as_ref(),
                    &mut writes,
                );
                match self.holding_removals {
                    true => {
                        let key = key.clone();
                        self.hold_label_removals(&key, writes, pass)
                    }
                    false => pass.writes.extend(writes),
                }
                pass.notice(rendered.notices);
                pass.outcomes.insert(unit, UnitOutcome::default());
            }
            Unit::Identity(_) | Unit::Service(_) | Unit::ProtectedService(_) => {
                let rendered = render_unit(&self.index, &unit, &RenderOptions::default());
                pass.notice(rendered.notices);
                let mut objects = rendered.value.objects;
                attach_owner_references(&self.index, &mut objects);
                let namespaces = self.index.namespaces();
                let outcome = self
                    .applier
                    .plan_unit(&unit, objects, namespaces, &mut pass.writes);
                pass.outcomes.insert(unit, outcome);
            }
        }
    }

    /// Performs the planned writes and records, per unit, what failed and which kinds were written.
    pub(super) async fn execute(
        &mut self,
        writes: Vec<Write>,
        mut outcomes: BTreeMap<Unit, UnitOutcome>,
    ) -> Applied {
        let creates_and_replaces: Vec<(Unit, ObjectKind)> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Create { unit, id, .. } | Write::Replace { unit, id, .. } => {
                    Some((unit.clone(), id.0))
                }
                Write::Delete { .. }
                | Write::LabelPod { .. }
                | Write::Status { .. }
                | Write::Finalizer { .. } => None,
            })
            .collect();
        let failures = self.applier.execute(writes).await.failures;
        let mut failed_units = BTreeSet::new();
        for (write, error) in &failures {
            warn!(%error, category = error.category(), transient = error.is_transient(), "write failed");
            if let Some(unit) = write.unit() {
                failed_units.insert(unit.clone());
                let outcome = outcomes.entry(unit).or_default();
                if outcome.failure.is_none() {
                    outcome.failure = Some(apply::failure(error));
                }
            }
        }
        let mut written: BTreeMap<Unit, Vec<ObjectKind>> = BTreeMap::new();
        for (unit, kind) in creates_and_replaces {
            if !failed_units.contains(&unit) {
                written.entry(unit).or_default().push(kind);
            }
        }
        let errors = failures.len() as u64;
        self.progress.send_modify(|p| {
            p.write_errors += errors;
            p.failed_passes += u64::from(errors > 0);
        });
        Applied { outcomes, written }
    }

    /// Hands each broker job that changes something (or removes an orphan's ACLs) to its broker's task.
    fn submit_kafka_jobs(&mut self, jobs: Vec<(BrokerJob, bool)>) {
        for (job, orphan) in jobs {
            if orphan || self.kafka.changes(&job) {
                self.brokers.insert(job.broker.clone(), BrokerState::Pending);
                let calling = unit::intents_calling(&self.index, &job.broker);
                self.pending_status.extend(calling);
                self.kafka.submit(job);
                let tasks = self.kafka.tasks();
                self.progress.send_modify(|p| p.kafka_broker_tasks = tasks);
            }
        }
    }

    pub(super) fn publish_progress(&self) {
        let writes = self.applier.writes;
        let (adopted, reference_deleted) = (self.applier.adopted, self.applier.reference_deleted);
        let ready = self.started;
        let counts = self.health.counts();
        let sizes = self.index.sizes();
        let events_dropped = self.events.dropped();
        let tally = self.applier.tally;
        let pending = self.pending.len();
        let protected_services = self.index.protected_services().count();
        self.progress.send_modify(|p| {
            p.tally = tally;
            p.units_pending = pending;
            p.protected_services = protected_services;
            p.events_dropped = events_dropped;
            p.ready = ready;
            p.passes += 1;
            p.writes = writes;
            p.reference_adopted = adopted;
            p.reference_deleted = reference_deleted;
            p.failing = counts.failing;
            p.waiting_for_namespace = counts.waiting;
            p.names_taken = counts.names_taken;
            (p.pods, p.services, p.intents, p.servers) =
                (sizes.pods, sizes.services, sizes.intents, sizes.servers);
        });
    }
}

fn log_notices(notices: &[Notice]) {
    for notice in notices {
        if notice.reason.is_warning() {
            warn!(subject = %notice.subject, reason = %notice.reason, "{}", notice.message);
        } else {
            debug!(subject = %notice.subject, reason = %notice.reason, "{}", notice.message);
        }
    }
}

/// Gives each rendered object that has an owner (a Service) its `ownerReferences`, with the owner's UID
/// from the model: deleting the Service then lets Kubernetes' garbage collector remove the object even
/// while Holt is not running. An owner the model does not know (yet) gives none.
fn attach_owner_references(index: &Index, desired: &mut [Desired]) {
    for object in desired {
        let Some(owner) = &object.owner else { continue };
        let namespace = object.manifest.key().namespace;
        let uid = match owner.kind {
            "Service" => index
                .service(&ObjectKey::new(&namespace, &owner.name))
                .and_then(|service| service.uid.clone()),
            _ => None,
        };
        object.manifest.metadata_mut().owner_references = uid.map(|uid| {
            vec![OwnerReference {
                api_version: owner.api_version.to_owned(),
                kind: owner.kind.to_owned(),
                name: owner.name.clone(),
                uid,
                ..OwnerReference::default()
            }]
        });
    }
}
