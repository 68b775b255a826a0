//! Kubernetes Events that never hold up their sender. In: an Event and the object it is about. Out: the
//! Event published by a task of its own under the controller's reporter name: at most [`EVENT_QUEUE`] wait,
//! [`EVENTS_IN_FLIGHT`] are sent at once, and when the queue is full an Event is dropped and counted
//! ([`EventQueue::dropped`]). A failed publication is logged, not retried. The operators decide what to say
//! and to whom; this is only the way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;

/// Events waiting to be published, at most.
pub const EVENT_QUEUE: usize = 4096;
/// Events published at once.
pub const EVENTS_IN_FLIGHT: usize = 8;

/// The queue. Cheap to clone.
#[derive(Clone)]
pub struct EventQueue {
    queue: mpsc::Sender<(ObjectReference, Event)>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl EventQueue {
    /// Starts the publishing task (needs a Tokio runtime). `reporter` is the controller's name; the instance
    /// is the pod's name (`POD_NAME`) when set.
    pub fn new(client: Client, reporter: &str) -> EventQueue {
        let reporter = Reporter {
            controller: reporter.into(),
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
                        tracing::warn!(%error, reason = %event.reason, "publishing an Event");
                    }
                }
            }),
        );
        EventQueue {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues an Event about `regarding` (`warning`: a Warning, else Normal), or drops and counts it when the
    /// queue is full.
    pub fn send(&self, regarding: ObjectReference, warning: bool, reason: &str, note: &str, action: &str) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note.into()),
            action: action.into(),
            secondary: None,
        };
        if self.queue.try_send((regarding, event)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(reason, "Event queue full: Event dropped");
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
