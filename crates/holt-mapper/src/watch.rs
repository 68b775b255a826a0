//! Watches of Pods, Services and pod owners (metadata only) feeding the [`ClusterIndex`] inside the
//! shared [`Mapper`](crate::ingest::Mapper). A relist removes what it no longer lists; the first complete
//! list of every kind makes the mapper ready. Watch errors are retried with back-off by the watcher.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use futures::StreamExt;
use holt_model::ObjectKey;
use holt_model::facts::{OwnerFacts, ServiceFacts};
use holt_runtime::WATCH_BACKOFF;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, ExponentialBackoff, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::cluster::{IndexedKind, PodEntry};
use crate::shared::{Shared, now_ms};

/// The owner kinds watched (metadata only) to resolve pod identities.
pub const OWNER_KINDS: [&str; 6] = [
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
];

/// Every kind the mapper watches, for readiness.
pub fn watched_kinds() -> BTreeSet<IndexedKind> {
    let mut kinds: BTreeSet<IndexedKind> = OWNER_KINDS
        .iter()
        .map(|k| IndexedKind::Owner((*k).to_owned()))
        .collect();
    kinds.insert(IndexedKind::Pod);
    kinds.insert(IndexedKind::Service);
    kinds
}

enum Entry {
    Pod(PodEntry),
    Service(ServiceFacts),
    Owner(OwnerFacts),
}

/// Runs every watch until the process ends.
pub async fn run(client: Client, shared: Arc<Shared>) {
    let tasks = vec![
        tokio::spawn(watch::<Pod>(
            client.clone(),
            shared.clone(),
            IndexedKind::Pod,
            |pod| Entry::Pod(PodEntry::from_pod(&pod)),
        )),
        tokio::spawn(watch::<Service>(
            client.clone(),
            shared.clone(),
            IndexedKind::Service,
            |service| Entry::Service(ServiceFacts::from_service(&service)),
        )),
        tokio::spawn(owners::<ReplicaSet>(client.clone(), shared.clone())),
        tokio::spawn(owners::<Deployment>(client.clone(), shared.clone())),
        tokio::spawn(owners::<StatefulSet>(client.clone(), shared.clone())),
        tokio::spawn(owners::<DaemonSet>(client.clone(), shared.clone())),
        tokio::spawn(owners::<Job>(client.clone(), shared.clone())),
        tokio::spawn(owners::<CronJob>(client, shared)),
    ];
    for task in tasks {
        let _ = task.await;
    }
}

async fn owners<K>(client: Client, shared: Arc<Shared>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
{
    let kind = K::kind(&()).into_owned();
    let api: Api<PartialObjectMeta<K>> = Api::all(client);
    let owner_kind = kind.clone();
    let to_entry =
        move |meta: PartialObjectMeta<K>| Entry::Owner(OwnerFacts::new(&owner_kind, &meta.metadata));
    follow(api, shared, IndexedKind::Owner(kind), to_entry).await;
}

async fn watch<K>(client: Client, shared: Arc<Shared>, kind: IndexedKind, to_entry: fn(K) -> Entry)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    follow(Api::<K>::all(client), shared, kind, to_entry).await;
}

async fn follow<K>(api: Api<K>, shared: Arc<Shared>, kind: IndexedKind, to_entry: impl Fn(K) -> Entry)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    let mut events = std::pin::pin!(
        watcher(api, watcher::Config::default()).backoff(ExponentialBackoff::from(WATCH_BACKOFF.builder()))
    );
    let mut relisted: Option<HashSet<ObjectKey>> = None;
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(kind = ?kind, %error, "watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Init => relisted = Some(HashSet::new()),
            Event::InitApply(object) => {
                let key = ObjectKey::of(object.meta());
                relisted.get_or_insert_with(HashSet::new).insert(key);
                apply(&shared, to_entry(object));
            }
            Event::InitDone => {
                let listed = relisted.take().unwrap_or_default();
                {
                    let mut mapper = shared.mapper();
                    for key in mapper.index.keys(&kind) {
                        if !listed.contains(&key) {
                            mapper.index.delete(&kind, &key);
                        }
                    }
                    mapper.retry_held(now_ms());
                }
                shared.synced(&kind);
                tracing::info!(kind = ?kind, objects = listed.len(), "listed");
            }
            Event::Apply(object) => apply(&shared, to_entry(object)),
            Event::Delete(object) => {
                let key = ObjectKey::of(object.meta());
                shared.mapper().index.delete(&kind, &key);
            }
        }
    }
}

fn apply(shared: &Shared, entry: Entry) {
    let mut mapper = shared.mapper();
    match entry {
        Entry::Pod(pod) => mapper.index.apply_pod(pod),
        Entry::Service(service) => mapper.index.apply_service(service),
        Entry::Owner(owner) => mapper.index.apply_owner(owner),
    }
}
