//! Kubernetes Events about certificates, on the pods that asked for them (and on workloads restarted after
//! a renewal): issued, renewed, failed and why, an annotation Holt cannot act on, a Secret name taken.
//!
//! In: what happened, and to which pods. Out: Events published by a task of their own: at most
//! [`EVENT_QUEUE`] wait, [`EVENTS_IN_FLIGHT`] are sent at once, and when the queue is full an Event is
//! dropped and counted (what it says is also logged). A problem is published once per pod and message
//! ([`Events::once`]), so retries do not repeat it; at most [`MAX_EVENT_PODS`] pods of a Secret get the
//! Events about it (the newest: they are the ones being started).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use holt_model::ObjectKey;
use holt_runtime::events::EventQueue;
pub use holt_runtime::events::{EVENT_QUEUE, EVENTS_IN_FLIGHT};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use tracing::warn;

/// The controller name Events are reported under.
pub const REPORTER: &str = "holt-credentials";
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
    /// The certificate provider fails (the CA Secret unreadable, the SPIRE server down).
    pub const PROVIDER_UNAVAILABLE: &str = "CertificateProviderUnavailable";
    /// The workload could not be restarted after a renewal.
    pub const RESTART_FAILED: &str = "RestartAfterRenewalFailed";
}

/// The Event queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Events {
    queue: EventQueue,
    published: Arc<Mutex<HashSet<(String, String, String)>>>,
}

impl Events {
    /// Starts the publishing task (needs a Tokio runtime).
    pub fn new(client: Client) -> Events {
        Events {
            queue: EventQueue::new(client, REPORTER),
            published: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
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
        self.queue
            .send(regarding, warning, reason, note, "EnsureCertificate");
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
