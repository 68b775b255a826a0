//! Kubernetes Events about certificates, on the pods that asked for them (and on workloads restarted after
//! a renewal): issued, renewed, failed and why, an annotation Holt cannot act on, a Secret name taken.
//!
//! In: what happened, and to which pods. Out: Events published by a task of their own: at most
//! [`EVENT_QUEUE`] wait, [`EVENTS_IN_FLIGHT`] are sent at once, and when the queue is full an Event is
//! dropped and counted (what it says is also logged). A problem is published once per pod and message
//! ([`Events::once`]), so retries do not repeat it; at most [`MAX_EVENT_PODS`] pods of a Secret get the
//! Events about it (the newest: they are the ones being started).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use holt_model::ObjectKey;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;
use tracing::warn;

/// The controller name Events are reported under.
pub const REPORTER: &str = "holt-credentials";
/// Events waiting to be published, at most.
pub const EVENT_QUEUE: usize = 4096;
/// Events published at once.
pub const EVENTS_IN_FLIGHT: usize = 8;
/// Pods of one Secret that get its Events, at most.
pub const MAX_EVENT_PODS: usize = 5;
/// Problems remembered as published; the memory is emptied when it would hold more.
const REMEMBERED: usize = 20_000;

/// The reasons, the reference's where it has one.
pub mod reason {
    /// A certificate was issued and stored (the reference's reason).
    pub const ISSUED: &str = "EnsuredPodTLS";
    /// A certificate was issued again: renewal, new settings, a new trust bundle (the reference's reason,
    /// which it uses for the restart after a renewal).
    pub const RENEWED: &str = "CertificateRenewed";
    /// Issuing or storing failed (the reference's reason).
    pub const FAILED: &str = "EnsuringPodTLSFailed";
    /// The pod's owners could not be read (the reference's reason).
    pub const OWNER_RESOLUTION_FAILED: &str = "PodOwnerResolutionFailed";
    /// The pod uses the `spire-integration.otterize.com/` annotations (the reference's reason).
    pub const DEPRECATED_ANNOTATIONS: &str = "UsingDeprecatedAnnotations";
    /// A Secret Holt did not create has the requested name: left alone.
    pub const SECRET_NAME_TAKEN: &str = "TLSSecretNameTaken";
    /// Pods of another workload named the Secret first.
    pub const SECRET_NAME_CONFLICT: &str = "TLSSecretNameConflict";
    /// The workload could not be restarted after a renewal.
    pub const RESTART_FAILED: &str = "RestartAfterRenewalFailed";
}

/// The Event queue. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    queue: mpsc::Sender<(ObjectReference, Event)>,
    dropped: Arc<AtomicU64>,
    published: Arc<Mutex<HashSet<(String, String, String)>>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Starts the publishing task (needs a Tokio runtime).
    pub fn new(client: Client) -> Events {
        let reporter = Reporter {
            controller: REPORTER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client, reporter);
        let (queue, mut receiver) = mpsc::channel::<(ObjectReference, Event)>(EVENT_QUEUE);
        let incoming = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        tokio::spawn(
            incoming.for_each_concurrent(EVENTS_IN_FLIGHT, move |(regarding, event)| {
                let recorder = recorder.clone();
                async move {
                    if let Err(error) = recorder.publish(&event, &regarding).await {
                        warn!(%error, reason = %event.reason, "publishing an Event");
                    }
                }
            }),
        );
        Events {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
            published: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// An Event on each of `pods` (at most [`MAX_EVENT_PODS`]).
    pub fn on_pods(&self, pods: &[PodRef], warning: bool, reason: &str, note: &str) {
        for pod in pods.iter().take(MAX_EVENT_PODS) {
            self.record(pod.reference(), warning, reason, note);
        }
    }

    /// A Warning on `pod`, unless this pod already got this reason and message.
    pub fn once(&self, pod: &PodRef, reason: &str, note: &str) {
        let key = (pod.uid.clone(), reason.to_owned(), note.to_owned());
        {
            let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
            if published.contains(&key) {
                return;
            }
            if published.len() >= REMEMBERED {
                published.clear();
            }
            published.insert(key);
        }
        self.record(pod.reference(), true, reason, note);
    }

    /// An Event on another object (a workload restarted).
    pub fn on_object(&self, regarding: ObjectReference, warning: bool, reason: &str, note: &str) {
        self.record(regarding, warning, reason, note);
    }

    fn record(&self, regarding: ObjectReference, warning: bool, reason: &str, note: &str) {
        match warning {
            true => warn!(reason, object = ?regarding.name, "{note}"),
            false => tracing::info!(reason, object = ?regarding.name, "{note}"),
        }
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note.into()),
            action: "EnsureCertificate".into(),
            secondary: None,
        };
        if self.queue.try_send((regarding, event)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A pod as Events name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodRef {
    pub key: ObjectKey,
    pub uid: String,
}

impl PodRef {
    pub fn reference(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(self.key.namespace.clone()),
            name: Some(self.key.name.clone()),
            uid: Some(self.uid.clone()).filter(|u| !u.is_empty()),
            ..ObjectReference::default()
        }
    }
}
