//! The controller: watch inputs in, the model kept current, and the render units each change touched
//! rendered and applied.
//!
//! Inputs are handled in batches: every input already waiting is folded into the index before anything is
//! rendered, so a burst of events costs one render per touched unit. Nothing is written until every watch
//! has listed once; the first pass then renders everything and deletes what Holt wrote before and nobody
//! wants now (objects orphaned by a crash). A unit whose write fails is retried with back-off; what was
//! already applied stays.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures::{Stream, StreamExt};
use holt_api::v2beta1::{ClientIntents, ProtectedService};
use holt_model::{Changes, Config, Identity, Index, ObjectKey};
use holt_render::{Desired, Notice, render_identity, render_pod, render_protected_service, render_service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ApiResource;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::apply::{Applier, ApplyError, Unit, Write};
use crate::events::Events;
use crate::histogram::DurationHistogram;
use crate::kafka::{BrokerState, KafkaOutcome, KafkaSettings, KafkaWorker};
use crate::status::{self, Outcome};
use crate::watch::{Input, Tracked, WatchedKind};

pub const CLIENT_INTENTS_FINALIZER: &str = "intents.otterize.com/client-intents-finalizer";
pub const PROTECTED_SERVICE_FINALIZER: &str = "intents.otterize.com/protected-services-finalizer";

/// Tuning of the controller loop.
#[derive(Clone, Debug)]
pub struct Options {
    /// First retry delay after a failed write; doubles up to `max_retry`.
    pub retry: Duration,
    pub max_retry: Duration,
    /// How Kafka brokers are reached and their ACLs reconciled.
    pub kafka: KafkaSettings,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retry: Duration::from_millis(500),
            max_retry: Duration::from_secs(30),
            kafka: KafkaSettings::default(),
        }
    }
}

/// What the controller exposes to health checks and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Every watch has listed and the first full pass is applied.
    pub ready: bool,
    /// Render passes completed.
    pub passes: u64,
    /// API writes made.
    pub writes: u64,
    /// Writes that failed (each is retried).
    pub write_errors: u64,
    /// How long passes took (render, apply, status).
    pub pass_durations: DurationHistogram,
    /// Kafka broker reconciles finished, and how many of them failed.
    pub kafka_reconciles: u64,
    pub kafka_failures: u64,
    /// Brokers whose last reconcile failed.
    pub kafka_brokers_failing: usize,
    /// Broker tasks running (one per broker with a KafkaServerConfig or ACLs of Holt's left to remove).
    pub kafka_broker_tasks: usize,
    /// Units waiting for a retry.
    pub failing: usize,
    /// Objects in the model: pods, Services, ClientIntents, servers with declared clients.
    pub pods: usize,
    pub services: usize,
    pub intents: usize,
    pub servers: usize,
}

pub struct Controller {
    index: Index,
    applier: Applier,
    events: Events,
    kafka: KafkaWorker,
    brokers: HashMap<Identity, BrokerState>,
    options: Options,
    known: HashMap<WatchedKind, HashSet<ObjectKey>>,
    listing: HashMap<WatchedKind, HashSet<ObjectKey>>,
    listed: HashSet<WatchedKind>,
    tracked: HashMap<(WatchedKind, ObjectKey), Tracked>,
    pending: Changes,
    pending_status: BTreeSet<ObjectKey>,
    pending_finalizers: BTreeSet<(WatchedKind, ObjectKey)>,
    started: bool,
    progress: watch::Sender<Progress>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("progress", &*self.progress.borrow())
            .finish_non_exhaustive()
    }
}

impl Controller {
    pub fn new(
        index: Index,
        applier: Applier,
        events: Events,
        kafka: KafkaWorker,
        options: Options,
    ) -> (Self, watch::Receiver<Progress>) {
        let (progress, receiver) = watch::channel(Progress::default());
        let controller = Controller {
            index,
            applier,
            events,
            kafka,
            brokers: HashMap::new(),
            options,
            known: HashMap::new(),
            listing: HashMap::new(),
            listed: HashSet::new(),
            tracked: HashMap::new(),
            pending: Changes::default(),
            pending_status: BTreeSet::new(),
            pending_finalizers: BTreeSet::new(),
            started: false,
            progress,
        };
        (controller, receiver)
    }

    /// Runs until the input stream ends.
    pub async fn run(mut self, inputs: impl Stream<Item = Input> + Send) {
        let mut inputs = std::pin::pin!(inputs.ready_chunks(4096));
        let mut outcomes = self.kafka.take_outcomes();
        let mut retry_in: Option<Duration> = None;
        loop {
            let retry = async {
                match retry_in {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => std::future::pending().await,
                }
            };
            let outcome = async {
                match outcomes.as_mut() {
                    Some(outcomes) => outcomes.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                batch = inputs.next() => {
                    let Some(batch) = batch else { return };
                    for input in batch {
                        self.handle(input);
                    }
                }
                Some(outcome) = outcome => self.kafka_outcome(outcome).await,
                () = retry => {}
            }
            if self.listed.len() < WatchedKind::ALL.len() {
                continue;
            }
            let failed = self.pass().await;
            retry_in = match (failed, retry_in) {
                (false, _) => None,
                (true, None) => Some(self.options.retry),
                (true, Some(delay)) => Some((delay * 2).min(self.options.max_retry)),
            };
            if let Some(delay) = retry_in {
                debug!(?delay, "retrying failed writes");
            }
        }
    }

    /// Folds one input into the model.
    fn handle(&mut self, input: Input) {
        match input {
            Input::Relisting(kind) => {
                self.listing.insert(kind, HashSet::new());
            }
            Input::Listed(kind) => {
                let listed = self.listing.remove(&kind).unwrap_or_default();
                let gone: Vec<ObjectKey> = self
                    .known
                    .get(&kind)
                    .into_iter()
                    .flatten()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    self.forget(kind, key);
                }
                self.listed.insert(kind);
            }
            Input::Apply {
                kind,
                key,
                object,
                tracked,
                listed,
            } => {
                if listed {
                    self.listing.entry(kind).or_default().insert(key.clone());
                }
                self.known.entry(kind).or_default().insert(key.clone());
                if let Some(tracked) = tracked {
                    self.track(kind, &key, tracked);
                    if self.tracked.get(&(kind, key.clone())).is_some_and(|t| t.deleting) {
                        // Deleting: its access goes now; the finalizer comes off once that is applied.
                        let changes = self.index.delete(&kind.object_ref(key));
                        self.pending.merge(changes);
                        return;
                    }
                }
                let changes = self.index.apply(*object);
                self.pending.merge(changes);
                if kind == WatchedKind::ClientIntents {
                    self.pending_status.insert(key);
                }
            }
            Input::Invalid {
                kind,
                key,
                error,
                listed,
            } => {
                // The last good version stays in the model: nothing already granted is dropped.
                warn!(%kind, object = %key, %error, "ignoring an object that cannot be read");
                if listed {
                    self.listing.entry(kind).or_default().insert(key.clone());
                }
                self.known.entry(kind).or_default().insert(key);
            }
            Input::Delete { kind, key } => self.forget(kind, key),
        }
    }

    fn track(&mut self, kind: WatchedKind, key: &ObjectKey, tracked: Tracked) {
        let finalizer = match kind {
            WatchedKind::ClientIntents => CLIENT_INTENTS_FINALIZER,
            WatchedKind::ProtectedService => PROTECTED_SERVICE_FINALIZER,
            _ => "",
        };
        let has_finalizer = tracked.finalizers.iter().any(|f| f == finalizer);
        if !finalizer.is_empty() && (tracked.deleting == has_finalizer) {
            self.pending_finalizers.insert((kind, key.clone()));
        }
        self.tracked.insert((kind, key.clone()), tracked);
    }

    fn forget(&mut self, kind: WatchedKind, key: ObjectKey) {
        if let Some(known) = self.known.get_mut(&kind) {
            known.remove(&key);
        }
        self.tracked.remove(&(kind, key.clone()));
        self.pending_status.remove(&key);
        let changes = self.index.delete(&kind.object_ref(key));
        self.pending.merge(changes);
    }

    /// Renders and applies what is pending; returns whether something failed (and stays pending).
    async fn pass(&mut self) -> bool {
        let began = std::time::Instant::now();
        let failed = self.render_and_apply().await;
        let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.progress.send_modify(|p| p.pass_durations.observe(micros));
        failed
    }

    async fn render_and_apply(&mut self) -> bool {
        if !self.started {
            let config = self.index.config().clone();
            if let Err(error) = self.applier.discover_existing(|ns| config.watches(ns)).await {
                warn!(%error, "listing the objects Holt wrote before start-up");
                return true;
            }
            self.pending.merge(everything(&self.index));
            self.pending_status
                .extend(self.index.all_intents().map(|(key, _)| key.clone()));
        }
        let changes = watched_only(std::mem::take(&mut self.pending), self.index.config());

        // Plan every write of the touched units (pure), then perform them concurrently.
        let mut plan = Vec::new();
        let mut errors: Vec<ApplyError> = Vec::new();
        let mut units = Vec::new();
        for identity in &changes.identities {
            let rendered = render_identity(&self.index, identity);
            units.push((Unit::Identity(identity.clone()), rendered));
        }
        for key in &changes.services {
            let rendered = render_service(&self.index, key);
            units.push((
                Unit::Service(key.clone()),
                rendered.map(|v| v.into_iter().collect()),
            ));
        }
        for key in &changes.protected_services {
            let rendered = render_protected_service(&self.index, key);
            units.push((
                Unit::ProtectedService(key.clone()),
                rendered.map(|v| v.into_iter().collect()),
            ));
        }
        let mut notices = Vec::new();
        for (unit, mut rendered) in units {
            report(&rendered.notices);
            notices.extend(rendered.notices);
            attach_owner_references(&self.index, &mut rendered.value);
            if let Err(error) = self.applier.plan_unit(unit, rendered.value, &mut plan) {
                errors.push(error);
            }
        }
        for key in &changes.pods {
            let Some(pod) = self.index.pod(key) else { continue };
            let rendered = render_pod(&self.index, key);
            Applier::plan_pod_labels(key, &pod.facts.labels, rendered.value.as_ref(), &mut plan);
            report(&rendered.notices);
            notices.extend(rendered.notices);
        }
        // Kafka ACLs are applied by a task per broker; a broker that is down delays nothing here.
        let mut jobs = Vec::new();
        for broker in &changes.brokers {
            let rendered = self.kafka.render(&self.index, broker);
            report(&rendered.notices);
            notices.extend(rendered.notices);
            jobs.push(rendered.value);
        }
        if !self.started {
            jobs.extend(self.kafka.orphans(&self.index).await);
        }
        for job in jobs {
            if self.kafka.changes(&job) {
                self.brokers.insert(job.broker.clone(), BrokerState::Pending);
                let calling = intents_calling(&self.index, &job.broker);
                self.pending_status.extend(calling);
                self.kafka.submit(job);
                let tasks = self.kafka.tasks();
                self.progress.send_modify(|p| p.kafka_broker_tasks = tasks);
            }
        }
        self.applier.plan_failed_deletes(&mut plan);
        let mut pruned = 0;
        if !self.started && errors.is_empty() {
            pruned = self.applier.plan_prune_unclaimed(&mut plan);
        }
        let mut failed = Changes::default();
        for (write, error) in self.applier.execute(plan).await {
            match write {
                Write::Apply {
                    unit: Unit::Identity(identity),
                    ..
                } => {
                    failed.identities.insert(identity);
                }
                Write::Apply {
                    unit: Unit::Service(key),
                    ..
                } => {
                    failed.services.insert(key);
                }
                Write::Apply {
                    unit: Unit::ProtectedService(key),
                    ..
                } => {
                    failed.protected_services.insert(key);
                }
                Write::LabelPod { key, .. } => {
                    failed.pods.insert(key);
                }
                _ => {}
            }
            errors.push(error);
        }
        for error in &errors {
            warn!(%error, category = error.category(), "write failed; will retry");
        }
        let failures = errors.len() as u64;
        self.progress.send_modify(|p| p.write_errors += failures);
        self.events.publish(&self.index, &notices).await;
        let outcome = match errors.first() {
            None => Outcome::Applied,
            Some(error) => Outcome::Failed {
                reason: error.category(),
                message: error.to_string(),
            },
        };
        self.write_statuses(&outcome).await;
        if errors.is_empty() {
            // Finalizers come off only once the deleted objects' access is gone.
            self.write_finalizers().await;
            if !self.started {
                info!(
                    pruned,
                    "first pass applied; objects left by an earlier run pruned"
                );
                self.started = true;
            }
        }
        self.pending.merge(failed);
        self.publish_progress();
        !errors.is_empty()
    }

    fn publish_progress(&self) {
        let failing = self.pending.len();
        let writes = self.applier.writes;
        let ready = self.started;
        let index = &self.index;
        let sizes = index.sizes();
        let (pods, services, intents, servers) = (sizes.pods, sizes.services, sizes.intents, sizes.servers);
        self.progress.send_modify(|p| {
            p.ready = ready;
            p.passes += 1;
            p.writes = writes;
            p.failing = failing;
            (p.pods, p.services, p.intents, p.servers) = (pods, services, intents, servers);
        });
    }

    async fn write_statuses(&mut self, outcome: &Outcome) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let mut plan = Vec::new();
        for key in std::mem::take(&mut self.pending_status) {
            let Some(tracked) = self.tracked.get(&(WatchedKind::ClientIntents, key.clone())) else {
                continue;
            };
            if tracked.deleting || !self.index.config().watches(&key.namespace) {
                continue;
            }
            let current = tracked.status.as_ref();
            let desired = status::desired(
                &self.index,
                &key,
                tracked.generation,
                current,
                outcome,
                &self.brokers,
                now,
            );
            if current == Some(&desired) {
                continue;
            }
            if let Ok(status) = serde_json::to_value(&desired) {
                plan.push(Write::Status { key, status });
            }
        }
        for (write, error) in self.applier.execute(plan).await {
            warn!(%error, "status update failed; will retry");
            if let Write::Status { key, .. } = write {
                self.pending_status.insert(key);
            }
        }
    }

    /// A broker task finished a job: its state feeds the status of the intents calling the broker, and
    /// changes are reported as Events on the broker's KafkaServerConfigs.
    async fn kafka_outcome(&mut self, outcome: KafkaOutcome) {
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
                .extend(intents_calling(&self.index, &outcome.broker));
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

    async fn write_finalizers(&mut self) {
        let mut plan = Vec::new();
        for (kind, key) in std::mem::take(&mut self.pending_finalizers) {
            let Some(tracked) = self.tracked.get(&(kind, key.clone())) else {
                continue;
            };
            if !self.index.config().watches(&key.namespace) {
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
            Applier::plan_finalizer(
                resource,
                &key,
                &tracked.finalizers,
                finalizer,
                !tracked.deleting,
                &mut plan,
            );
        }
        for (write, error) in self.applier.execute(plan).await {
            warn!(%error, "finalizer update failed; will retry");
            if let Write::Finalizer { resource, key, .. } = write {
                let kind = if resource.kind == "ClientIntents" {
                    WatchedKind::ClientIntents
                } else {
                    WatchedKind::ProtectedService
                };
                self.pending_finalizers.insert((kind, key));
            }
        }
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
fn intents_calling(index: &Index, broker: &Identity) -> Vec<ObjectKey> {
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

fn report(notices: &[Notice]) {
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
