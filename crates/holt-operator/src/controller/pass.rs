//! One pass: render the pending units, plan their writes, perform them, and record each unit's outcome.

use std::collections::BTreeMap;
use std::time::Instant;

use holt_model::{Changes, Config, Identity, Index, ObjectKey};
use holt_render::{Desired, Notice, render_identity, render_pod, render_protected_service, render_service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use tracing::{debug, info, warn};

use super::Controller;
use crate::apply::{self, Applier, Write};
use crate::kafka::BrokerState;
use crate::unit::{self, Unit};
use crate::unit_health::UnitOutcome;

/// What the writes of a pass did, per unit.
#[derive(Debug, Default)]
pub(super) struct Applied {
    /// Each attempted unit and what it left undone.
    pub outcomes: BTreeMap<Unit, UnitOutcome>,
    /// Units with objects created or rewritten in this pass, and their kinds.
    pub written: BTreeMap<Unit, Vec<&'static str>>,
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
    }

    async fn render_and_apply(&mut self) -> Applied {
        let now = Instant::now();
        let first = !self.started;
        if first {
            let config = self.index.config().clone();
            self.applier.claim_found(|ns| config.watches(ns));
            self.pending.merge(everything(&self.index));
            self.pending_status
                .extend(self.index.all_intents().map(|(key, _)| key.clone()));
        }
        for unit in self.health.due(now) {
            unit::add_to(&mut self.pending, unit);
        }
        let changes = watched_only(std::mem::take(&mut self.pending), self.index.config());

        // Plan every write of the touched units (pure), then perform them concurrently.
        let mut plan = Vec::new();
        let mut outcomes = BTreeMap::new();
        let mut notices = Vec::new();
        let namespaces = self.index.namespaces().clone();
        let mut rendered: Vec<(Unit, holt_render::Rendered<Vec<Desired>>)> = Vec::new();
        for identity in &changes.identities {
            rendered.push((
                Unit::Identity(identity.clone()),
                render_identity(&self.index, identity),
            ));
        }
        for key in &changes.services {
            let value = render_service(&self.index, key).map(|v| v.into_iter().collect());
            rendered.push((Unit::Service(key.clone()), value));
        }
        for key in &changes.protected_services {
            let value = render_protected_service(&self.index, key).map(|v| v.into_iter().collect());
            rendered.push((Unit::ProtectedService(key.clone()), value));
        }
        for (unit, mut value) in rendered {
            log_notices(&value.notices);
            notices.append(&mut value.notices);
            attach_owner_references(&self.index, &mut value.value);
            let outcome = self.applier.plan_unit(&unit, value.value, &namespaces, &mut plan);
            outcomes.insert(unit, outcome);
        }
        for key in &changes.pods {
            let unit = Unit::Pod(key.clone());
            let Some(pod) = self.index.pod(key) else {
                self.health.forget(&unit, now); // gone: nothing to label
                continue;
            };
            let mut value = render_pod(&self.index, key);
            Applier::plan_pod_labels(key, &pod.facts.labels, value.value.as_ref(), &mut plan);
            log_notices(&value.notices);
            notices.append(&mut value.notices);
            outcomes.insert(unit, UnitOutcome::default());
        }
        self.submit_kafka_jobs(&changes, first, &mut notices).await;
        if first {
            let pruned = self.applier.plan_prune_unclaimed(&mut plan);
            outcomes.insert(Unit::Found, UnitOutcome::default());
            info!(
                pruned,
                "first pass: objects left by an earlier run are being pruned"
            );
        }

        let mut written: BTreeMap<Unit, Vec<&'static str>> = BTreeMap::new();
        let creates_and_replaces: Vec<(Unit, &'static str)> = plan
            .iter()
            .filter_map(|write| match write {
                Write::Create { unit, id, .. } | Write::Replace { unit, id, .. } => {
                    Some((unit.clone(), id.0))
                }
                _ => None,
            })
            .collect();
        let failures = self.applier.execute(plan).await.failures;
        let mut failed_units = std::collections::BTreeSet::new();
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
        for (unit, kind) in creates_and_replaces {
            if !failed_units.contains(&unit) {
                written.entry(unit).or_default().push(kind);
            }
        }
        let errors = failures.len() as u64;
        self.progress.send_modify(|p| p.write_errors += errors);
        self.events.publish(&self.index, &notices).await;
        Applied { outcomes, written }
    }

    /// Kafka ACLs are applied by a task per broker; a broker that is down delays nothing here.
    async fn submit_kafka_jobs(&mut self, changes: &Changes, first: bool, notices: &mut Vec<Notice>) {
        let mut jobs = Vec::new();
        for broker in &changes.brokers {
            let rendered = self.kafka.render(&self.index, broker);
            log_notices(&rendered.notices);
            notices.extend(rendered.notices);
            jobs.push((rendered.value, false));
        }
        if first {
            // Brokers whose KafkaServerConfig went while no operator ran: remove what Holt created there.
            let orphans = self.kafka.orphans(&self.index).await;
            jobs.extend(orphans.into_iter().map(|job| (job, true)));
        }
        for (job, orphan) in jobs {
            if orphan || self.kafka.changes(&job) {
                self.brokers.insert(job.broker.clone(), BrokerState::Pending);
                let calling = intents_calling(&self.index, &job.broker);
                self.pending_status.extend(calling);
                self.kafka.submit(job);
                let tasks = self.kafka.tasks();
                self.progress.send_modify(|p| p.kafka_broker_tasks = tasks);
            }
        }
    }

    pub(super) fn publish_progress(&self) {
        let writes = self.applier.writes;
        let ready = self.started;
        let counts = self.health.counts();
        let sizes = self.index.sizes();
        let events_dropped = self.events.dropped();
        self.progress.send_modify(|p| {
            p.events_dropped = events_dropped;
            p.ready = ready;
            p.passes += 1;
            p.writes = writes;
            p.failing = counts.failing;
            p.waiting_for_namespace = counts.waiting;
            p.names_taken = counts.names_taken;
            (p.pods, p.services, p.intents, p.servers) =
                (sizes.pods, sizes.services, sizes.intents, sizes.servers);
        });
    }
}

/// The units in watched namespaces: an operator restricted to some namespaces writes nothing elsewhere.
fn watched_only(mut changes: Changes, config: &Config) -> Changes {
    changes.identities.retain(|i| config.watches(&i.namespace));
    changes.pods.retain(|k| config.watches(&k.namespace));
    changes.services.retain(|k| config.watches(&k.namespace));
    changes
        .protected_services
        .retain(|k| config.watches(&k.namespace));
    changes.brokers.retain(|b| config.watches(&b.namespace));
    changes
}

/// The ClientIntents declaring a Kafka target on `broker`.
pub(super) fn intents_calling(index: &Index, broker: &Identity) -> Vec<ObjectKey> {
    index.kafka_intents(broker).map(|(key, _)| key.clone()).collect()
}

/// Every render unit the index knows: the first pass renders them all.
fn everything(index: &Index) -> Changes {
    let mut all = Changes::default();
    all.identities.extend(index.servers().map(|s| s.server.clone()));
    all.identities.extend(index.clients());
    all.pods.extend(index.pods().map(|p| p.facts.key.clone()));
    all.services.extend(index.services().map(|s| s.key.clone()));
    all.protected_services
        .extend(index.protected_services().map(|(k, _)| k.clone()));
    all.brokers.extend(index.brokers().map(|b| b.broker.clone()));
    all
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
