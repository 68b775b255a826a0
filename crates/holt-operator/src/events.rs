//! Kubernetes Events for notices: declared access Holt cannot enforce (a Kafka target without a
//! KafkaServerConfig, a missing sidecar, …) shows up in `kubectl describe` of the object concerned, with the
//! reference's Event reasons. Each distinct notice is published once per process, so re-renders that find
//! the same problem again cost no API write. Also a unit's problems (a failed write, a name taken, a
//! namespace waited for) when they change, and Normal Events for policies created.
//!
//! Events never hold up a pass: they are queued ([`EVENT_QUEUE`] at most) and published by a task of their
//! own, [`EVENTS_IN_FLIGHT`] at a time; when the queue is full, an Event is dropped and counted
//! ([`Events::dropped`]) — it is also in the logs, and what it reports is in the object's status.

use std::collections::HashSet;

use holt_api::v2beta1::{ClientIntents, KafkaServerConfig, ProtectedService};
use holt_model::{Identity, Index, ObjectKey};
use holt_render::{Notice, Subject};
use holt_runtime::events::EventQueue;
pub use holt_runtime::events::{EVENT_QUEUE, EVENTS_IN_FLIGHT};
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use kube::{Client, Resource};

use crate::unit::{Unit, intents_reporting};
use crate::unit_health::{UnitOutcome, name_taken_message};

/// The controller name Events are reported under.
pub const REPORTER: &str = "holt-operator";

/// The most objects one unit's problem is reported on as Events (a server called by thousands of
/// clients gets its problem on the first of them; every status carries it anyway).
pub const MAX_EVENT_SUBJECTS: usize = 20;

pub struct Events {
    queue: EventQueue,
    published: HashSet<Notice>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("published", &self.published.len())
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Starts the publishing task (needs a Tokio runtime).
    pub fn new(client: Client) -> Self {
        Events {
            queue: EventQueue::new(client, REPORTER),
            published: HashSet::new(),
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// Publishes the notices not published before. A failure is logged, not retried: the notice is also in
    /// the logs and the object's status.
    pub async fn publish(&mut self, index: &Index, notices: &[Notice]) {
        for notice in notices {
            if self.published.contains(notice) {
                continue;
            }
            let warning = notice.reason.is_warning();
            let reason = notice.reason.as_str();
            for reference in references(index, &notice.subject) {
                self.record(&reference, warning, reason, &notice.message, "Reconcile")
                    .await;
            }
            self.published.insert(notice.clone());
        }
    }

    /// Reports what is left undone of `unit` after its last attempt (nothing when `None`: it recovered), on
    /// the objects the unit concerns.
    pub async fn unit_outcome(&self, index: &Index, unit: &Unit, outcome: Option<&UnitOutcome>) {
        let Some(outcome) = outcome else { return };
        let (warning, reason, note) = if let Some(failure) = &outcome.failure {
            (true, failure.reason, failure.message.clone())
        } else if let Some(taken) = outcome.taken.iter().next() {
            (
                true,
                taken.0.reasons().name_taken,
                name_taken_message(unit, taken),
            )
        } else {
            let namespaces: Vec<&str> = outcome.waiting.iter().map(String::as_str).collect();
            (
                false,
                "WaitingForNamespace",
                format!(
                    "{unit}: namespace {} does not exist yet; its objects there follow once it is created",
                    namespaces.join(", ")
                ),
            )
        };
        let references: Vec<ObjectReference> = match unit {
            Unit::Identity(_) | Unit::Pod(_) | Unit::Broker(_) => intents_reporting(index, unit)
                .into_iter()
                .take(MAX_EVENT_SUBJECTS)
                .map(|key| reference::<ClientIntents>(&key.namespace, &key.name))
                .collect(),
            Unit::Service(key) => vec![reference::<Service>(&key.namespace, &key.name)],
            Unit::ProtectedService(key) => vec![reference::<ProtectedService>(&key.namespace, &key.name)],
        };
        for regarding in &references {
            self.record(regarding, warning, reason, &note, "Reconcile").await;
        }
    }

    /// An Event on one ClientIntents.
    pub async fn on_client_intents(&self, key: &ObjectKey, warning: bool, reason: &str, note: &str) {
        let regarding = reference::<ClientIntents>(&key.namespace, &key.name);
        self.record(&regarding, warning, reason, note, "Reconcile").await;
    }

    /// An Event on each of these KafkaServerConfigs (how Kafka ACL outcomes are reported).
    pub async fn kafka_server_configs(&self, configs: &[ObjectKey], warning: bool, reason: &str, note: &str) {
        for key in configs {
            let reference = reference::<KafkaServerConfig>(&key.namespace, &key.name);
            self.record(&reference, warning, reason, note, "ReconcileKafkaACLs")
                .await;
        }
    }

    async fn record(
        &self,
        regarding: &ObjectReference,
        warning: bool,
        reason: &str,
        note: &str,
        action: &str,
    ) {
        self.queue.send(regarding.clone(), warning, reason, note, action);
    }
}

/// The objects an Event about `subject` is recorded on. A workload identity's notices go to its
/// ClientIntents (none when it has none: the notice is then only logged).
fn references(index: &Index, subject: &Subject) -> Vec<ObjectReference> {
    match subject {
        Subject::ClientIntents { namespace, name } => vec![reference::<ClientIntents>(namespace, name)],
        Subject::Pod { namespace, name } => vec![reference::<Pod>(namespace, name)],
        Subject::Service { namespace, name } => vec![reference::<Service>(namespace, name)],
        Subject::ProtectedService { namespace, name } => vec![reference::<ProtectedService>(namespace, name)],
        Subject::Identity {
            namespace,
            name,
            workload_kind,
        } => {
            let identity = Identity::new(namespace, name, workload_kind.as_deref());
            index
                .intents_of(&identity)
                .map(|(key, _): (ObjectKey, _)| reference::<ClientIntents>(&key.namespace, &key.name))
                .collect()
        }
    }
}

fn reference<K: Resource<DynamicType = ()>>(namespace: &str, name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..ObjectReference::default()
    }
}
