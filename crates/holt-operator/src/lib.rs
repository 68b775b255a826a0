//! The Holt intents operator.
//!
//! In: watch events for Pods, their owners, Services, Ingresses, Namespaces and Holt's own kinds, from the
//! API server. They feed the pure model ([`holt_model::Index`]); each change yields the render units it
//! touched, which are rendered ([`holt_render`]) and applied: NetworkPolicies, Istio AuthorizationPolicies and
//! pod labels with server-side apply under Holt's own field manager, Kafka ACLs through the brokers' admin
//! API ([`kafka`]), ClientIntents status. Only objects Holt owns (by label) are ever
//! pruned — and, when it takes over from the reference operator at start-up, the reference's own objects it
//! does not want ([`apply::reference`]; [`migration`] is the read-only dry run of that take-over). Out: the cluster converging on the declared intents. The webhook server ([`webhook`]) serves
//! conversion between every served version and admission validation with the shared rules.

pub mod apply;
pub mod controller;
pub mod events;
pub mod health;
pub mod histogram;
pub mod kafka;
pub mod migration;
/// Leader election, shared with Holt's other controllers (`holt_runtime::leader`).
pub use holt_runtime::leader;
pub mod repair_budget;
pub mod status;
pub mod unit;
pub mod unit_health;
pub mod watch;
pub mod webhook;

use holt_model::{Config, Index};
use kube::Client;
use tokio::sync::watch as progress;

use crate::apply::Applier;
use crate::controller::{Controller, Options, Progress};

/// Starts the controller on `client` with `config`: watches, model, appliers. Returns the task and a
/// receiver of its progress (readiness, passes, writes).
pub async fn start(
    client: Client,
    config: Config,
    options: Options,
) -> (tokio::task::JoinHandle<()>, progress::Receiver<Progress>) {
    let applier = Applier::new(client.clone())
        .await
        .adopting_reference_objects(options.adopt_reference_objects);
    let written_kinds = applier.written_kinds();
    let events = events::Events::new(client.clone());
    let mut kafka_settings = options.kafka.clone();
    kafka_settings.adopt_existing_acls = options.adopt_reference_objects;
    let kafka = kafka::KafkaWorker::new(client.clone(), kafka_settings);
    let (controller, progress) = Controller::new(Index::new(config), applier, events, kafka, options);
    let inputs = watch::all(&client, &written_kinds);
    (tokio::spawn(controller.run(inputs)), progress)
}
