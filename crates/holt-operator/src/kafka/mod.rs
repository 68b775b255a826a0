//! Kafka ACLs on the brokers that KafkaServerConfigs describe (docs/reference-behaviour.md#kafka-acls).
//!
//! The controller renders a touched broker's desired ACL set (pure, [`holt_render::render_broker`]) and
//! hands it to the [`KafkaWorker`] as a [`BrokerJob`] with how to reach the broker. Each broker gets a task
//! of its own ([`broker`]), so a broker that is down delays nothing else: it reconciles the latest job,
//! retries failures with back-off, resyncs periodically, and reports a [`KafkaOutcome`] that the controller
//! turns into ClientIntents status and Events. Holt only ever deletes ACLs its [`ledger`] says it created.

mod broker;
pub mod ledger;
mod target;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use holt_kafka::{AclChanges, KafkaAcl};
use holt_model::{Identity, Index, ObjectKey};
use holt_render::{KafkaOptions, Rendered, render_broker};
use kube::Client;
use tokio::sync::{mpsc, watch};
use tracing::warn;

pub use broker::broker_name;
pub use target::{BrokerTarget, TlsFiles, broker_target, principal_options};

use ledger::Ledgers;

/// How the operator handles Kafka brokers.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// TLS files for KafkaServerConfigs that set no `spec.tls` (`--kafka-server-tls-*`).
    pub default_tls: Option<TlsFiles>,
    /// Where the ACL ledgers are kept (the operator's namespace).
    pub ledger_namespace: String,
    /// First retry after a failure; doubles up to `max_retry` (each wait jittered: up to half off).
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// How often an idle broker is reconciled again (repairs ACLs removed behind Holt's back).
    pub resync: Duration,
    /// On Holt's first contact with a broker (no ledger yet), record in the ledger the ACLs Holt wants that
    /// the broker already has (the reference operator's, when taking over): Holt then owns them, and removes
    /// them once no intent wants them.
    pub adopt_existing_acls: bool,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            default_tls: None,
            ledger_namespace: "holt-system".to_owned(),
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            resync: Duration::from_secs(300),
            adopt_existing_acls: true,
        }
    }
}

/// The ACLs Holt wants on one broker and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerJob {
    pub broker: Identity,
    /// Counts the jobs submitted for this broker, so an outcome can be matched to the job it is for.
    pub generation: u64,
    pub configs: Vec<ObjectKey>,
    /// `Ok(None)`: no KafkaServerConfig describes the broker (any ACLs Holt created there are removed).
    pub target: Result<Option<BrokerTarget>, String>,
    pub acls: BTreeSet<KafkaAcl>,
}

/// Why a broker's ACLs are not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaFailure {
    /// An Event reason: `CouldNotConnectToKafkaServer`, `ApplyingKafkaACLsFailed`, `KafkaServerConfigInvalid`.
    pub reason: &'static str,
    pub message: String,
}

/// What reconciling one job did.
#[derive(Clone, Debug)]
pub struct KafkaOutcome {
    pub broker: Identity,
    pub generation: u64,
    pub configs: Vec<ObjectKey>,
    pub result: Result<AclChanges, KafkaFailure>,
    /// No KafkaServerConfig describes the broker and Holt has nothing left on it: its task can end.
    pub released: bool,
}

/// Where a broker's ACLs stand, for ClientIntents status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerState {
    /// Submitted, not reconciled yet.
    Pending,
    Applied,
    Failed(KafkaFailure),
}

/// Hands jobs to one task per broker and collects their outcomes.
#[derive(Debug)]
pub struct KafkaWorker {
    settings: KafkaSettings,
    ledgers: Ledgers,
    brokers: HashMap<Identity, watch::Sender<BrokerJob>>,
    principals: HashMap<PathBuf, Result<KafkaOptions, String>>,
    outcomes_tx: mpsc::UnboundedSender<KafkaOutcome>,
    outcomes_rx: Option<mpsc::UnboundedReceiver<KafkaOutcome>>,
}

impl KafkaWorker {
    pub fn new(client: Client, settings: KafkaSettings) -> Self {
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        KafkaWorker {
            ledgers: Ledgers::new(client, &settings.ledger_namespace),
            settings,
            brokers: HashMap::new(),
            principals: HashMap::new(),
            outcomes_tx,
            outcomes_rx: Some(outcomes_rx),
        }
    }

    /// The outcomes of every broker task (once).
    pub fn take_outcomes(&mut self) -> Option<mpsc::UnboundedReceiver<KafkaOutcome>> {
        self.outcomes_rx.take()
    }

    /// Renders `broker`'s ACLs and the job that applies them. Pure apart from reading the operator's
    /// certificate once per path (for the principal format).
    pub fn render(&mut self, index: &Index, broker: &Identity) -> Rendered<BrokerJob> {
        let configs = index
            .broker(broker)
            .map(|b| b.configs.clone())
            .unwrap_or_default();
        let target = broker_target(index, &configs, self.settings.default_tls.as_ref());
        let options = match &target {
            Ok(Some(target)) => self.principals(&target.tls.cert),
            _ => Ok(KafkaOptions::default()),
        };
        let (options, target) = match options {
            Ok(options) => (options, target),
            Err(message) => (KafkaOptions::default(), Err(message)),
        };
        let rendered = render_broker(index, broker, &options);
        let acls = match (&target, rendered.value) {
            (Ok(Some(_)), Some(acls)) => acls.acls,
            _ => BTreeSet::new(),
        };
        let job = BrokerJob {
            broker: broker.clone(),
            generation: 0, // set by `submit`
            configs,
            target,
            acls,
        };
        Rendered::new(job, rendered.notices)
    }

    fn principals(&mut self, cert: &PathBuf) -> Result<KafkaOptions, String> {
        self.principals
            .entry(cert.clone())
            .or_insert_with(|| {
                let pem = std::fs::read(cert).map_err(|e| format!("reading {}: {e}", cert.display()))?;
                principal_options(&pem).map_err(|e| format!("{}: {e}", cert.display()))
            })
            .clone()
    }

    /// Whether `outcome` is for the last job submitted for its broker.
    pub fn is_latest(&self, outcome: &KafkaOutcome) -> bool {
        self.brokers
            .get(&outcome.broker)
            .is_some_and(|current| current.borrow().generation == outcome.generation)
    }

    /// Ends the task of a broker that `outcome` released, unless a newer job is on its way. A later job
    /// for the broker starts a new task.
    pub fn settle(&mut self, outcome: &KafkaOutcome) {
        if outcome.released && self.is_latest(outcome) {
            // Dropping the sender ends the task.
            self.brokers.remove(&outcome.broker);
        }
    }

    /// Broker tasks running.
    pub fn tasks(&self) -> usize {
        self.brokers.len()
    }

    /// Whether `job` has something to do: it differs from the last job submitted for its broker (ignoring
    /// generations). A broker without KafkaServerConfig and without a task has nothing of Holt's on it
    /// (a deleted config's ACLs are removed by the task that applied them, or at start-up by
    /// [`KafkaWorker::orphans`]): no task is started for it, so intents naming an unconfigured broker are a
    /// stable state, reported by the render's `KafkaServerNotConfigured` notice.
    pub fn changes(&self, job: &BrokerJob) -> bool {
        match self.brokers.get(&job.broker) {
            None => !matches!(job.target, Ok(None)),
            Some(current) => {
                let current = current.borrow();
                (&current.configs, &current.target, &current.acls) != (&job.configs, &job.target, &job.acls)
            }
        }
    }

    /// Hands `job` to its broker's task (started on first use), numbered after the broker's previous job.
    pub fn submit(&mut self, mut job: BrokerJob) {
        if let Some(sender) = self.brokers.get(&job.broker) {
            job.generation = sender.borrow().generation + 1;
            sender.send_replace(job);
            return;
        }
        let broker = job.broker.clone();
        let (sender, receiver) = watch::channel(job);
        let timing = broker::Timing {
            retry: holt_runtime::Backoff::exponential(self.settings.first_retry, self.settings.max_retry)
                .with_jitter(),
            resync: self.settings.resync,
            adopt_existing: self.settings.adopt_existing_acls,
        };
        tokio::spawn(broker::run(
            self.ledgers.clone(),
            receiver,
            self.outcomes_tx.clone(),
            timing,
        ));
        self.brokers.insert(broker, sender);
    }

    /// Brokers with a ledger that the model no longer knows (their KafkaServerConfig was deleted while no
    /// operator ran): jobs that remove what Holt created there.
    pub async fn orphans(&mut self, index: &Index) -> Vec<BrokerJob> {
        let brokers = match self.ledgers.brokers().await {
            Ok(brokers) => brokers,
            Err(error) => {
                warn!(%error, "listing Kafka ACL ledgers; brokers left without a KafkaServerConfig are not cleaned up");
                return Vec::new();
            }
        };
        let orphans: Vec<Identity> = brokers
            .into_iter()
            .filter(|b| index.broker(b).is_none_or(|access| access.configs.is_empty()))
            .filter(|b| !self.brokers.contains_key(b))
            .collect();
        orphans
            .iter()
            .map(|broker| self.render(index, broker).value)
            .collect()
    }
}
