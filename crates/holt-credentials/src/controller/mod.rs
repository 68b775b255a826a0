//! The controller: pods in, Secrets out.
//!
//! One watch of every pod's metadata (annotations cannot be selected on, so all pods are watched, or all
//! pods of each namespace in `namespaces`; pods without a credentials annotation are dropped as they
//! arrive, see [`pods`]) feeds an index of the pods
//! that ask for certificates, by the Secret they name. A Secret whose pods changed, whose renewal time came
//! or whose trust bundle changed is queued; up to `concurrency` Secrets are brought up to date at once, each
//! by a [`job`] of its own. A Secret whose job failed is retried on its own back-off (1 s doubling to
//! 5 min, jittered) and reported on its pods; it holds up no other Secret. A pod with an annotation Holt
//! cannot act on gets a Warning Event and is left out; the other pods of its workload are served.
//!
//! Nothing is written before the watch has listed every pod (so that the oldest pod naming a Secret is
//! known) and the provider answered (the CA loaded, the SPIRE server's bundle read); then the controller is
//! ready. While the provider fails (the CA Secret unreadable, the SPIRE server down) it is not ready, the
//! pods asking for certificates get a Warning Event naming the error, and nothing is deleted.
//!
//! With SPIRE, the SPIFFE IDs of every Secret's workload are handed to the bundle's keeper, which deletes
//! Holt's entries of workloads that are gone — only once every Secret's workload is known, so that an entry
//! is never deleted for a workload merely not resolved yet. With cert-manager, a job writes a Certificate
//! instead of a Secret ([`certificate`]).

pub mod certificate;
pub mod job;
pub mod pods;
pub mod registered_label;
pub mod trust;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use holt_model::ObjectKey;
use holt_runtime::{Backoff, RetrySchedule, WATCH_BACKOFF};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, ExponentialBackoff, watcher};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::ca_store::{CaStore, CaStoreOptions};
use crate::events::{Events, reason};
use crate::renewal::{DEFAULT_RENEW_FRACTION, Reason};
use crate::subject::TrustDomain;
use job::{JobInput, JobOutcome};
use pods::{PodRecord, SecretKey};
use trust::TrustState;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub trust_domain: TrustDomain,
    /// The identity resolution settings shared with the intents operator (the workload name override
    /// annotation, Jobs named by their images).
    pub model: holt_model::Config,
    /// Only pods of these namespaces are served (empty: every namespace).
    pub namespaces: BTreeSet<String>,
    pub ca: CaStoreOptions,
    /// A certificate's lifetime when the pod asks for none.
    pub default_ttl: Duration,
    /// The share of a certificate's lifetime after which it is renewed.
    pub renew_fraction: f64,
    /// How often the CA Secret is read again.
    pub ca_check_interval: Duration,
    /// Secrets brought up to date at once.
    pub concurrency: usize,
    /// The back-off of a Secret whose job failed, and of the CA's loading.
    pub retry: Backoff,
    /// How often a Secret someone else owns is looked at again.
    pub foreign_recheck: Duration,
    /// Issue through this SPIRE server instead of the built-in CA (its bundle is read, and Holt's entries
    /// of workloads that are gone deleted, every `ca_check_interval`).
    pub spire: Option<crate::provider::spire::Spire>,
    /// Write cert-manager Certificates for this issuer instead of Secrets (when `spire` is `None`).
    pub cert_manager: Option<crate::provider::cert_manager::Issuer>,
}

impl Options {
    /// The defaults, for the operator's namespace and trust domain.
    pub fn new(namespace: &str, trust_domain: TrustDomain) -> Options {
        Options {
            trust_domain,
            model: holt_model::Config::default(),
            namespaces: BTreeSet::new(),
            ca: CaStoreOptions {
                namespace: namespace.to_owned(),
                name: crate::ca_store::DEFAULT_SECRET_NAME.to_owned(),
                user_supplied: false,
                policy: crate::ca::RotationPolicy::default(),
            },
            default_ttl: Duration::from_secs(24 * 60 * 60),
            renew_fraction: DEFAULT_RENEW_FRACTION,
            ca_check_interval: Duration::from_secs(60),
            concurrency: 16,
            retry: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(300)).with_jitter(),
            foreign_recheck: Duration::from_secs(60),
            spire: None,
            cert_manager: None,
        }
    }
}

/// What the controller has done, for metrics, probes and tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Every pod listed and the provider answering (the CA loaded, the SPIRE server's bundle read).
    pub ready: bool,
    /// The provider's last error while it fails (the CA Secret, the SPIRE server), `None` once it answers.
    pub provider_error: Option<String>,
    /// Failed calls to the provider outside a Secret's job (CA loads, SPIRE bundle reads and entry
    /// pruning), each retried with back-off.
    pub provider_failures: u64,
    /// Holt's SPIRE entries deleted because their workload is gone.
    pub entries_pruned: u64,
    /// Pods asking for a certificate with valid annotations.
    pub pods: usize,
    /// Pods whose credentials annotations Holt cannot act on.
    pub invalid_pods: usize,
    /// Secrets asked for.
    pub secrets: usize,
    /// Certificates issued (first issues and renewals).
    pub issued: u64,
    /// Certificates issued again for a Secret that had one (renewals, new settings, a new trust bundle).
    pub renewals: u64,
    /// Failed attempts to bring a Secret up to date (each retried).
    pub failures: u64,
    /// Secrets whose last attempt failed.
    pub failing: usize,
    /// Secrets whose name another writer's Secret holds.
    pub names_taken: usize,
    /// Writes sent to the API server (Secrets, restarts).
    pub writes: u64,
    pub restarts: u64,
    /// CAs created or rotated in.
    pub ca_rotations: u64,
    pub newest_ca_expiry: Option<Timestamp>,
    /// The earliest end of a certificate in Holt's Secrets.
    pub earliest_expiry: Option<Timestamp>,
    pub events_dropped: u64,
}

/// Starts the controller (needs a Tokio runtime); returns its task and its progress.
pub fn start(client: Client, options: Options) -> (JoinHandle<()>, watch::Receiver<Progress>) {
    let options = Arc::new(options);
    let (progress_tx, progress) = watch::channel(Progress::default());
    let (trust_tx, trust_rx) = watch::channel(TrustState::default());
    let (keep_tx, keep_rx) = watch::channel(None);
    let store = CaStore::new(client.clone(), options.ca.clone());
    let ca_task = match (options.spire.clone(), options.cert_manager.clone()) {
        (Some(spire), _) => tokio::spawn(trust::keep_spire_bundle(
            spire,
            options.clone(),
            trust_tx,
            keep_rx,
        )),
        (None, Some(issuer)) => {
            let writer = crate::provider::cert_manager::CertManager::new(client.clone(), issuer);
            tokio::spawn(trust::keep_cert_manager(writer, trust_tx))
        }
        (None, None) => tokio::spawn(trust::keep_ca(store, options.clone(), trust_tx)),
    };
    let mut controller = Controller::new(client, options, progress_tx);
    controller.keep_tx = Some(keep_tx);
    let task = tokio::spawn(async move {
        controller.run(trust_rx).await;
        ca_task.abort();
    });
    (task, progress)
}

/// What the controller keeps about one Secret.
#[derive(Debug)]
struct SecretState {
    queued: bool,
    running: bool,
    /// Changed while its job ran: run again when it ends.
    again: bool,
    /// The pending look at it (renewal, retry), ignored once another is set.
    timer: Option<Instant>,
    retries: RetrySchedule,
    last_failure: Option<String>,
    expires_at: Option<Timestamp>,
    foreign: bool,
    /// The SPIFFE ID of its workload, from its last job that got that far.
    spiffe_id: Option<String>,
}

struct Controller {
    client: Client,
    options: Arc<Options>,
    events: Events,
    resolver: Arc<crate::owners::OwnerResolver>,
    override_annotations: Vec<String>,
    provider: Option<Arc<crate::provider::Provider>>,
    trust: TrustState,
    pods: HashMap<ObjectKey, PodRecord>,
    by_secret: HashMap<SecretKey, BTreeSet<ObjectKey>>,
    secrets: HashMap<SecretKey, SecretState>,
    queue: VecDeque<SecretKey>,
    timers: BTreeSet<(Instant, SecretKey)>,
    /// Every watch has listed once.
    listed: bool,
    /// Watches that have listed, by namespace (`None`: all namespaces).
    listed_scopes: HashSet<Option<String>>,
    /// Pods seen by a watch listing again, by its namespace.
    relisting: HashMap<Option<String>, HashSet<ObjectKey>>,
    progress: Progress,
    progress_tx: watch::Sender<Progress>,
    /// With SPIRE: the SPIFFE IDs whose entries are kept (`None` while some Secret's workload is unknown).
    keep_tx: Option<watch::Sender<Option<BTreeSet<String>>>>,
}

impl Controller {
    fn new(client: Client, options: Arc<Options>, progress_tx: watch::Sender<Progress>) -> Controller {
        let override_annotations = vec![
            options.model.workload_name_override_annotation.clone(),
            holt_model::labels::DEPRECATED_SERVICE_NAME_OVERRIDE.to_owned(),
        ];
        Controller {
            events: Events::new(client.clone()),
            resolver: Arc::new(crate::owners::OwnerResolver::new(client.clone())),
            client,
            options,
            override_annotations,
            provider: None,
            trust: TrustState::default(),
            pods: HashMap::new(),
            by_secret: HashMap::new(),
            secrets: HashMap::new(),
            queue: VecDeque::new(),
            timers: BTreeSet::new(),
            listed: false,
            listed_scopes: HashSet::new(),
            relisting: HashMap::new(),
            progress: Progress::default(),
            progress_tx,
            keep_tx: None,
        }
    }

    async fn run(mut self, mut trust: watch::Receiver<TrustState>) {
        let scopes: Vec<Option<String>> = match self.options.namespaces.is_empty() {
            true => vec![None],
            false => self.options.namespaces.iter().cloned().map(Some).collect(),
        };
        let scope_count = scopes.len();
        let watches = scopes.into_iter().map(|scope| {
            let api: Api<PartialObjectMeta<Pod>> = match &scope {
                None => Api::all(self.client.clone()),
                Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            };
            watcher(api, watcher::Config::default().page_size(500))
                .backoff(ExponentialBackoff::from(WATCH_BACKOFF.builder()))
                .map(move |event| (scope.clone(), event))
                .boxed()
        });
        let mut pods = futures::stream::select_all(watches);
        let mut jobs: FuturesUnordered<JoinHandle<JobOutcome>> = FuturesUnordered::new();
        loop {
            self.dispatch(&mut jobs);
            self.publish_progress();
            let next_timer = self.timers.first().map(|(at, _)| *at);
            let timer = async {
                match next_timer {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = pods.next() => match event {
                    Some((scope, Ok(event))) => self.pod_event(scope, event, scope_count),
                    Some((_, Err(error))) => tracing::warn!(%error, "watching pods (retried)"),
                    None => return,
                },
                Some(done) = jobs.next(), if !jobs.is_empty() => match done {
                    Ok(outcome) => self.job_done(outcome),
                    Err(error) => tracing::error!(%error, "a certificate job ended abnormally"),
                },
                changed = trust.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let state = trust.borrow_and_update().clone();
                    self.trust_changed(state);
                }
                () = timer => self.timers_due(),
            }
        }
    }

    fn pod_event(&mut self, scope: Option<String>, event: Event<PartialObjectMeta<Pod>>, scopes: usize) {
        match event {
            Event::Init => {
                self.relisting.insert(scope, HashSet::new());
            }
            Event::InitApply(pod) => {
                let key = ObjectKey::of(&pod.metadata);
                if let Some(seen) = self.relisting.get_mut(&scope) {
                    seen.insert(key);
                }
                self.pod_applied(&pod.metadata);
            }
            Event::InitDone => {
                if let Some(seen) = self.relisting.remove(&scope) {
                    let gone: Vec<ObjectKey> = self
                        .pods
                        .keys()
                        .filter(|k| scope.as_ref().is_none_or(|ns| k.namespace == *ns) && !seen.contains(*k))
                        .cloned()
                        .collect();
                    for key in gone {
                        self.pod_removed(&key);
                    }
                }
                self.listed_scopes.insert(scope);
                if !self.listed && self.listed_scopes.len() == scopes {
                    tracing::info!(pods = self.pods.len(), "pods listed");
                    self.listed = true;
                }
            }
            Event::Apply(pod) => self.pod_applied(&pod.metadata),
            Event::Delete(pod) => self.pod_removed(&ObjectKey::of(&pod.metadata)),
        }
    }

    fn pod_applied(&mut self, metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
        let overrides: Vec<&str> = self.override_annotations.iter().map(String::as_str).collect();
        let key = ObjectKey::of(metadata);
        let Some(record) = PodRecord::from_metadata(metadata, &overrides) else {
            self.pod_removed(&key);
            return;
        };
        if self.pods.get(&key) == Some(&record) {
            return;
        }
        if let (Some(error), Ok(Some(_))) = (&self.trust.last_error, &record.settings) {
            self.events.once(
                &record.pod_ref(),
                reason::PROVIDER_UNAVAILABLE,
                &unavailable(error),
            );
        }
        match &record.settings {
            Err(error) => self
                .events
                .once(&record.pod_ref(), error.reason(), &error.to_string()),
            Ok(Some(settings)) if !settings.deprecated_annotations.is_empty() => {
                let note = format!(
                    "the pod uses deprecated annotations ({}): use the credentials-operator.otterize.com/ prefix",
                    settings.deprecated_annotations.join(", ")
                );
                self.events
                    .once(&record.pod_ref(), reason::DEPRECATED_ANNOTATIONS, &note);
            }
            Ok(_) => {}
        }
        let old = self.pods.insert(key.clone(), record.clone());
        let old_secret = old.and_then(|o| o.secret());
        let new_secret = record.secret();
        if let Some(secret) = &old_secret
            && Some(secret) != new_secret.as_ref()
        {
            self.unlink(&key, secret);
        }
        if let Some(secret) = new_secret {
            self.by_secret.entry(secret.clone()).or_default().insert(key);
            self.touch(&secret);
        }
    }

    fn pod_removed(&mut self, key: &ObjectKey) {
        if let Some(old) = self.pods.remove(key)
            && let Some(secret) = old.secret()
        {
            self.unlink(key, &secret);
        }
    }

    fn unlink(&mut self, pod: &ObjectKey, secret: &SecretKey) {
        if let Some(pods) = self.by_secret.get_mut(secret) {
            pods.remove(pod);
            if pods.is_empty() {
                self.by_secret.remove(secret);
            }
        }
        self.touch(secret);
    }

    /// The Secret must be looked at again now.
    fn touch(&mut self, secret: &SecretKey) {
        if !self.by_secret.contains_key(secret) {
            // Nobody names it any more: forget it (its owners' deletion removes it), unless a job runs.
            if let Some(state) = self.secrets.get_mut(secret) {
                if state.running {
                    state.again = true;
                } else if let Some(state) = self.secrets.remove(secret)
                    && let Some(at) = state.timer
                {
                    self.timers.remove(&(at, secret.clone()));
                }
            }
            return;
        }
        let retry = self.options.retry;
        let state = self.secrets.entry(secret.clone()).or_insert_with(|| SecretState {
            queued: false,
            running: false,
            again: false,
            timer: None,
            retries: retry.schedule(),
            last_failure: None,
            expires_at: None,
            foreign: false,
            spiffe_id: None,
        });
        if let Some(at) = state.timer.take() {
            self.timers.remove(&(at, secret.clone()));
        }
        if state.running {
            state.again = true;
        } else if !state.queued {
            state.queued = true;
            self.queue.push_back(secret.clone());
        }
    }

    /// Looks at the Secret again after `wait` (replacing the look already planned).
    fn schedule(&mut self, secret: &SecretKey, wait: Duration) {
        let at = Instant::now() + wait;
        if let Some(state) = self.secrets.get_mut(secret) {
            if let Some(old) = state.timer.replace(at) {
                self.timers.remove(&(old, secret.clone()));
            }
            self.timers.insert((at, secret.clone()));
        }
    }

    fn timers_due(&mut self) {
        let now = Instant::now();
        while let Some((at, secret)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if self.secrets.get(&secret).and_then(|s| s.timer) == Some(at) {
                self.touch(&secret);
            }
        }
    }

    fn trust_changed(&mut self, state: TrustState) {
        if let Some(error) = &state.last_error
            && self.trust.last_error.is_none()
        {
            tracing::warn!(%error, "the certificate provider fails: retried with back-off, nothing deleted");
            let note = unavailable(error);
            for record in self.pods.values() {
                if matches!(record.settings, Ok(Some(_))) {
                    self.events
                        .once(&record.pod_ref(), reason::PROVIDER_UNAVAILABLE, &note);
                }
            }
        }
        let new_version = state.version != self.trust.version;
        if new_version && let Some(provider) = &state.provider {
            self.provider = Some(provider.clone());
            let secrets: Vec<SecretKey> = self.by_secret.keys().cloned().collect();
            for secret in secrets {
                self.touch(&secret);
            }
        }
        self.trust = state;
    }

    fn dispatch(&mut self, jobs: &mut FuturesUnordered<JoinHandle<JobOutcome>>) {
        let Some(provider) = self.provider.clone() else {
            return;
        };
        if !self.listed {
            return;
        }
        while jobs.len() < self.options.concurrency {
            let Some(secret) = self.queue.pop_front() else {
                return;
            };
            let Some(state) = self.secrets.get_mut(&secret) else {
                continue;
            };
            state.queued = false;
            let Some(pod_keys) = self.by_secret.get(&secret) else {
                continue;
            };
            state.running = true;
            let pods = pod_keys
                .iter()
                .filter_map(|k| self.pods.get(k).cloned())
                .collect();
            let input = JobInput {
                key: secret,
                pods,
                provider: provider.clone(),
                options: self.options.clone(),
                resolver: self.resolver.clone(),
                client: self.client.clone(),
                events: self.events.clone(),
            };
            jobs.push(tokio::spawn(job::run(input)));
        }
    }

    fn job_done(&mut self, outcome: JobOutcome) {
        self.progress.writes += outcome.writes;
        let secret = outcome.key;
        let Some(state) = self.secrets.get_mut(&secret) else {
            return;
        };
        state.running = false;
        let wait = match outcome.result {
            Ok(done) => {
                state.retries.reset();
                state.last_failure = None;
                state.expires_at = done.expires_at;
                state.foreign = done.foreign;
                if done.spiffe_id.is_some() {
                    state.spiffe_id = done.spiffe_id;
                }
                if let Some(why) = done.issued {
                    self.progress.issued += 1;
                    self.progress.renewals += u64::from(why != Reason::New);
                }
                self.progress.restarts += done.restarts;
                done.next.map(|next| {
                    let now = Timestamp::now();
                    Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO)
                })
            }
            Err(error) => {
                let message = error.to_string();
                if error.is_conflict() {
                    tracing::debug!(%message, "retrying");
                } else {
                    self.progress.failures += 1;
                    if state.last_failure.as_deref() != Some(message.as_str()) {
                        self.events.on_pods(&outcome.pods, true, reason::FAILED, &message);
                    }
                    state.last_failure = Some(message);
                }
                Some(state.retries.next_wait())
            }
        };
        let again = std::mem::take(&mut state.again);
        if again {
            self.touch(&secret);
        } else if let Some(wait) = wait {
            self.schedule(&secret, wait);
        }
        if !self.by_secret.contains_key(&secret)
            && !self.secrets.get(&secret).is_some_and(|s| s.running)
            && let Some(state) = self.secrets.remove(&secret)
            && let Some(at) = state.timer
        {
            self.timers.remove(&(at, secret.clone()));
        }
    }

    /// The SPIFFE IDs of every requested Secret's workload; `None` until the pods are listed and while
    /// some Secret's workload is not known yet.
    fn kept_ids(&self) -> Option<BTreeSet<String>> {
        if !self.listed {
            return None;
        }
        self.by_secret
            .keys()
            .map(|key| self.secrets.get(key).and_then(|s| s.spiffe_id.clone()))
            .collect()
    }

    fn publish_progress(&mut self) {
        if let Some(keep_tx) = &self.keep_tx {
            let keep = self.kept_ids();
            keep_tx.send_if_modified(|current| {
                let modified = *current != keep;
                if modified {
                    *current = keep;
                }
                modified
            });
        }
        let progress = &mut self.progress;
        progress.ready = self.listed && self.provider.is_some() && self.trust.last_error.is_none();
        progress.provider_error = self.trust.last_error.clone();
        progress.provider_failures = self.trust.failures;
        progress.entries_pruned = self.trust.pruned;
        progress.pods = self
            .pods
            .values()
            .filter(|p| matches!(p.settings, Ok(Some(_))))
            .count();
        progress.invalid_pods = self.pods.values().filter(|p| p.settings.is_err()).count();
        progress.secrets = self.by_secret.len();
        progress.failing = self.secrets.values().filter(|s| s.last_failure.is_some()).count();
        progress.names_taken = self.secrets.values().filter(|s| s.foreign).count();
        progress.earliest_expiry = self.secrets.values().filter_map(|s| s.expires_at).min();
        progress.ca_rotations = self.trust.rotations;
        progress.newest_ca_expiry = self.trust.newest_ca_expiry;
        progress.events_dropped = self.events.dropped();
        let current = progress.clone();
        self.progress_tx.send_if_modified(|p| {
            let modified = *p != current;
            if modified {
                *p = current;
            }
            modified
        });
    }
}

/// The note of the Event on a pod while the provider fails.
fn unavailable(error: &str) -> String {
    format!("no certificate can be issued now: {error}; retried with back-off, nothing is deleted meanwhile")
}
