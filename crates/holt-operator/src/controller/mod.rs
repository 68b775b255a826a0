//! The controller: watch inputs in, the model kept current, and the render units each change touched
//! rendered and applied.
//!
//! Inputs are handled in batches: every input already waiting is folded into the index before anything is
//! rendered, so a burst of events costs one render per touched unit. Nothing is written until every watch
//! has listed once; the first pass then renders everything and deletes what Holt wrote before and nobody
//! wants now (objects orphaned by a crash).
//!
//! Failures stay with their unit ([`crate::unit_health`]): a unit whose write fails is retried on its own
//! back-off, reported in the status of the ClientIntents concerned and as an Event, and holds up nothing
//! else — not other units, not other objects' finalizers, not readiness. Objects Holt writes are watched:
//! one changed or deleted behind Holt's back is rewritten ([`crate::apply::live`]).
//!
//! The pass itself is in [`pass`]; statuses, finalizers and Events in [`report`].

mod pass;
mod report;
mod takeover;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use holt_api::validate::ValidationConfig;
use holt_model::{Changes, Identity, Index, Object, ObjectKey};
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::apply::live::is_newer;
use crate::apply::{Applier, ObjectId, Observed};
use crate::events::Events;
use crate::histogram::DurationHistogram;
use crate::kafka::{BrokerState, KafkaSettings, KafkaWorker};
use crate::repair_budget::RepairBudget;
use crate::unit::Unit;
use crate::unit_health::UnitHealth;
use crate::watch::{Input, Tracked, WatchedKind};

pub const CLIENT_INTENTS_FINALIZER: &str = "intents.otterize.com/client-intents-finalizer";
pub const PROTECTED_SERVICE_FINALIZER: &str = "intents.otterize.com/protected-services-finalizer";

/// Immediate rewrites of one object changed behind Holt's back, per minute ([`RepairBudget`]).
pub const REPAIRS_PER_MINUTE: u32 = 10;

/// Tuning of the controller loop.
#[derive(Clone, Debug)]
pub struct Options {
    /// First retry delay after a unit's failed write; doubles up to `max_retry`.
    pub retry: Duration,
    pub max_retry: Duration,
    /// The least time between two status writes of one ClientIntents (a bound on status writes, whatever
    /// happens).
    pub status_interval: Duration,
    /// How Kafka brokers are reached and their ACLs reconciled.
    pub kafka: KafkaSettings,
    /// Adopt the reference operator's objects Holt wants and delete those it does not, after the first full
    /// pass ([`crate::apply::reference`]); its pod labels are taken over the same way.
    pub adopt_reference_objects: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retry: Duration::from_millis(500),
            max_retry: Duration::from_secs(30),
            status_interval: Duration::from_secs(1),
            kafka: KafkaSettings::default(),
            adopt_reference_objects: true,
        }
    }
}

/// What the controller exposes to health checks and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Every watch has listed and the first full pass is done (failures or not: they are the units').
    pub ready: bool,
    /// Render passes completed.
    pub passes: u64,
    /// API writes made.
    pub writes: u64,
    /// Writes that failed (each is retried, unless the object is invalid).
    pub write_errors: u64,
    /// ClientIntents status writes and finalizer writes made (part of `writes`).
    pub status_writes: u64,
    pub finalizer_writes: u64,
    /// Objects of Holt's rewritten because they were changed or deleted behind its back.
    pub drift_repairs: u64,
    /// The reference operator's objects adopted (replaced in place) and deleted at take-over.
    pub reference_adopted: u64,
    pub reference_deleted: u64,
    /// Events dropped because too many were waiting to be published.
    pub events_dropped: u64,
    /// How long passes took (render, apply, status).
    pub pass_durations: DurationHistogram,
    /// Kafka broker reconciles finished, and how many of them failed.
    pub kafka_reconciles: u64,
    pub kafka_failures: u64,
    /// Brokers whose last reconcile failed.
    pub kafka_brokers_failing: usize,
    /// Broker tasks running (one per broker with a KafkaServerConfig or ACLs of Holt's left to remove).
    pub kafka_broker_tasks: usize,
    /// Units whose last write failed.
    pub failing: usize,
    /// Units with objects waiting for a namespace that does not exist yet.
    pub waiting_for_namespace: usize,
    /// Objects Holt wants whose names are taken by objects it did not create.
    pub names_taken: usize,
    /// Objects in the model: pods, Services, ClientIntents, servers with declared clients.
    pub pods: usize,
    pub services: usize,
    pub intents: usize,
    pub servers: usize,
    /// Passes in which at least one write failed.
    pub failed_passes: u64,
    /// Units rendered, and how many of them were retries of failed ones.
    pub units_rendered: u64,
    pub units_retried: u64,
    /// Units waiting for the next pass.
    pub units_pending: usize,
    /// Writes accepted, by meaning.
    pub tally: crate::apply::WriteTally,
    /// The reference's `clientintents_applied`: for each ClientIntents applied (created or changed), the
    /// number of calls all ClientIntents declare.
    pub intents_applied: u64,
    /// ProtectedServices in the model.
    pub protected_services: usize,
}

pub struct Controller {
    index: Index,
    applier: Applier,
    events: Events,
    kafka: KafkaWorker,
    brokers: HashMap<Identity, BrokerState>,
    options: Options,
    /// The watches that must list before the first pass.
    kinds: Vec<WatchedKind>,
    known: HashMap<WatchedKind, HashSet<ObjectKey>>,
    listing: HashMap<WatchedKind, HashSet<ObjectKey>>,
    listed: HashSet<WatchedKind>,
    tracked: HashMap<(WatchedKind, ObjectKey), Tracked>,
    /// Units to render in the next pass.
    pending: Changes,
    health: UnitHealth,
    /// ClientIntents whose status may differ from what it should be.
    pending_status: BTreeSet<ObjectKey>,
    /// When each ClientIntents' status was last written (status writes are spaced per object).
    status_written: HashMap<ObjectKey, Instant>,
    /// ClientIntents that break validation rules, with what they break (their last good version, if any,
    /// stays in the model), and those to report as Events.
    invalid: HashMap<ObjectKey, String>,
    invalid_reports: Vec<(ObjectKey, String)>,
    /// ClientIntents whose declarations changed since the last pass (for the Normal Events on them).
    changed_intents: BTreeSet<ObjectKey>,
    /// Holt's objects whose finalizer must be added or removed.
    pending_finalizers: BTreeSet<(WatchedKind, ObjectKey)>,
    /// The finalizer lists finalizer patches were planned against: no second patch until the object is
    /// seen to change.
    finalizer_sent: HashMap<(WatchedKind, ObjectKey), Vec<String>>,
    /// The units the deletion of each deleting object touched: its finalizer comes off once they are
    /// applied.
    deleting: HashMap<(WatchedKind, ObjectKey), BTreeSet<Unit>>,
    /// When status or finalizer writes deferred or failed are due again.
    writes_due: Option<Instant>,
    /// Repairs of objects changed behind Holt's back, per object per minute.
    repair_budget: RepairBudget,
    /// Units whose repair waits for the budget, and until when.
    delayed: Vec<(Instant, Vec<Unit>)>,
    started: bool,
    /// Pods whose label removals wait for the take-over to end ([`takeover`]), and whether the pass being
    /// planned holds them back.
    held_label_removals: BTreeSet<ObjectKey>,
    holding_removals: bool,
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
        let written: Vec<_> = applier
            .written_kinds()
            .into_iter()
            .map(|(kind, _)| kind)
            .collect();
        let kinds = crate::watch::kinds(&written);
        let health = UnitHealth::new(
            holt_runtime::Backoff::exponential(options.retry, options.max_retry).with_jitter(),
        );
        let controller = Controller {
            index,
            applier,
            events,
            kafka,
            brokers: HashMap::new(),
            options,
            kinds,
            known: HashMap::new(),
            listing: HashMap::new(),
            listed: HashSet::new(),
            tracked: HashMap::new(),
            pending: Changes::default(),
            health,
            pending_status: BTreeSet::new(),
            status_written: HashMap::new(),
            changed_intents: BTreeSet::new(),
            invalid: HashMap::new(),
            invalid_reports: Vec::new(),
            pending_finalizers: BTreeSet::new(),
            finalizer_sent: HashMap::new(),
            deleting: HashMap::new(),
            writes_due: None,
            repair_budget: RepairBudget::new(REPAIRS_PER_MINUTE, Duration::from_secs(60)),
            delayed: Vec::new(),
            started: false,
            held_label_removals: BTreeSet::new(),
            holding_removals: false,
            progress,
        };
        (controller, receiver)
    }

    /// Runs until the input stream ends.
    pub async fn run(mut self, inputs: impl Stream<Item = Input> + Send) {
        let mut inputs = std::pin::pin!(inputs.ready_chunks(4096));
        let mut outcomes = self.kafka.take_outcomes();
        loop {
            let delayed = self.delayed.iter().map(|(at, _)| *at).min();
            let wake = [self.health.next_retry(), self.writes_due, delayed]
                .into_iter()
                .flatten()
                .min();
            let due = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
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
                () = due => debug!("retrying failed units or deferred writes"),
            }
            let now = Instant::now();
            let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            self.delayed = waiting;
            for (_, units) in due {
                self.render_again(units);
            }
            if self.kinds.iter().any(|kind| !self.listed.contains(kind)) {
                continue;
            }
            self.pass().await;
        }
    }

    /// Folds one input into the model (or, for the kinds Holt writes, into what the applier knows).
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
            Input::Observed {
                kind,
                key,
                object,
                listed,
            } => {
                self.seen(WatchedKind::Written(kind), &key, listed);
                let id = (kind, key);
                let observed = self.applier.observe(id.clone(), Some(object));
                self.repair(id, observed);
            }
            Input::Apply {
                kind,
                key,
                object,
                tracked,
                listed,
            } => {
                self.seen(kind, &key, listed);
                if let Some(tracked) = tracked {
                    self.track(kind, &key, tracked);
                    if self.tracked.get(&(kind, key.clone())).is_some_and(|t| t.deleting) {
                        // Deleting: its access goes now; the finalizer comes off once that is applied.
                        let changes = kind
                            .object_ref(key.clone())
                            .map(|object| self.index.delete(&object))
                            .unwrap_or_default();
                        self.deleting
                            .entry((kind, key))
                            .or_default()
                            .extend(changes.units().cloned());
                        self.pending.merge(changes);
                        return;
                    }
                }
                if kind == WatchedKind::ClientIntents {
                    // Its status may need writing (or rewriting: someone else may have changed it).
                    self.pending_status.insert(key.clone());
                    if let Object::ClientIntents(intents) = object.as_ref() {
                        // Admitted without the webhook (before it was registered, or while it was off):
                        // refused here the same way, and the last good version stays in the model.
                        let report =
                            holt_api::validate::client_intents(intents, &[], &ValidationConfig::default());
                        if let Err(errors) = report.into_result() {
                            let message = errors.to_string();
                            warn!(object = %key, %message, "invalid ClientIntents: not applied");
                            if self.invalid.get(&key) != Some(&message) {
                                self.invalid_reports.push((key.clone(), message.clone()));
                            }
                            self.invalid.insert(key, message);
                            return;
                        }
                        self.invalid.remove(&key);
                        if self.index.holds(intents) {
                            return; // a status write, e.g. Holt's own: nothing the model uses changed
                        }
                    }
                    self.changed_intents.insert(key.clone());
                }
                if kind == WatchedKind::Namespace {
                    let waiting = self.health.waiting_for(&key.name);
                    self.render_again(waiting);
                }
                let changes = self.index.apply(*object);
                self.pending.merge(changes);
            }
            Input::Invalid {
                kind,
                key,
                error,
                listed,
            } => {
                // The last good version stays in the model: nothing already granted is dropped.
                warn!(%kind, object = %key, %error, "ignoring an object that cannot be read");
                self.seen(kind, &key, listed);
            }
            Input::Delete { kind, key } => self.forget(kind, key),
        }
    }

    /// Records that an object of `kind` exists (and, during a relist, that the relist has it).
    fn seen(&mut self, kind: WatchedKind, key: &ObjectKey, listed: bool) {
        if listed {
            self.listing.entry(kind).or_default().insert(key.clone());
        }
        self.known.entry(kind).or_default().insert(key.clone());
    }

    /// Renders again the units that want an object changed or deleted behind Holt's back (or whose name
    /// was taken or freed).
    fn repair(&mut self, id: ObjectId, (observed, units): (Observed, Vec<Unit>)) {
        if units.is_empty() {
            return;
        }
        if matches!(observed, Observed::Drifted | Observed::Deleted) {
            if let Err(until) = self.repair_budget.spend(&id, Instant::now()) {
                warn!(object = ?id, "changed behind Holt's back again and again: the next rewrite waits");
                self.delayed.push((until, units));
                return;
            }
            debug!(
                ?observed,
                ?units,
                "an object of Holt's changed behind its back: rewriting it"
            );
            self.progress.send_modify(|p| p.drift_repairs += 1);
        }
        self.render_again(units);
    }

    /// Schedules units to be rendered and applied again.
    fn render_again(&mut self, units: impl IntoIterator<Item = Unit>) {
        self.pending.extend(units);
    }

    fn track(&mut self, kind: WatchedKind, key: &ObjectKey, mut tracked: Tracked) {
        let finalizer = finalizer_of(kind);
        let id = (kind, key.clone());
        if let Some(current) = self.tracked.get(&id)
            && !is_newer(&tracked.resource_version, &current.resource_version)
        {
            // An event older than what Holt's own status or finalizer patch answered: its spec still counts
            // (the model takes it), but its status and finalizers are not the latest.
            tracked.resource_version = current.resource_version.clone();
            tracked.finalizers = current.finalizers.clone();
            tracked.status = current.status.clone();
            tracked.deleting |= current.deleting;
        }
        if self
            .finalizer_sent
            .get(&id)
            .is_some_and(|sent| *sent != tracked.finalizers)
        {
            self.finalizer_sent.remove(&id); // the object changed since the patch: plan from what it is now
        }
        if let Some(finalizer) = finalizer {
            let has_finalizer = tracked.finalizers.iter().any(|f| f == finalizer);
            if tracked.deleting == has_finalizer {
                self.pending_finalizers.insert(id.clone());
            }
        }
        self.tracked.insert(id, tracked);
    }

    fn forget(&mut self, kind: WatchedKind, key: ObjectKey) {
        if let Some(known) = self.known.get_mut(&kind) {
            known.remove(&key);
        }
        if let WatchedKind::Written(object_kind) = kind {
            let id = (object_kind, key);
            let observed = self.applier.observe(id.clone(), None);
            self.repair(id, observed);
            return;
        }
        let id = (kind, key.clone());
        self.tracked.remove(&id);
        self.finalizer_sent.remove(&id);
        self.deleting.remove(&id);
        self.pending_finalizers.remove(&id);
        if kind == WatchedKind::ClientIntents {
            self.pending_status.remove(&key);
            self.status_written.remove(&key);
            self.changed_intents.remove(&key);
            self.invalid.remove(&key);
        }
        if let Some(object) = kind.object_ref(key) {
            let changes = self.index.delete(&object);
            self.pending.merge(changes);
        }
    }
}

/// The finalizer Holt puts on objects of `kind`, if any.
fn finalizer_of(kind: WatchedKind) -> Option<&'static str> {
    match kind {
        WatchedKind::ClientIntents => Some(CLIENT_INTENTS_FINALIZER),
        WatchedKind::ProtectedService => Some(PROTECTED_SERVICE_FINALIZER),
        WatchedKind::Namespace
        | WatchedKind::Pod
        | WatchedKind::ReplicaSet
        | WatchedKind::Deployment
        | WatchedKind::StatefulSet
        | WatchedKind::DaemonSet
        | WatchedKind::Job
        | WatchedKind::CronJob
        | WatchedKind::Service
        | WatchedKind::Ingress
        | WatchedKind::KafkaServerConfig
        | WatchedKind::Written(_) => None,
    }
}
