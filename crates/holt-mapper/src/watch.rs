//! Watches of Pods, Services and pod owners (metadata only) feeding the [`ClusterIndex`] inside the
//! shared [`Mapper`](crate::ingest::Mapper); with the insights on, also of Namespaces, ClientIntents,
//! ProtectedServices (in `v2alpha1`, the storage version, converted to the hub as the operator reads
//! them), NetworkPolicies and Ingresses feeding the [`DeclaredState`](crate::declared::DeclaredState). A
//! relist removes what it no longer lists; the first complete list of every kind makes the mapper ready.
//! Watch errors are retried with back-off by the watcher.
//!
//! [`ClusterIndex`]: crate::cluster::ClusterIndex

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use futures::StreamExt;
use holt_api::convert::Convertible;
use holt_api::v2alpha1 as stored;
use holt_model::ObjectKey;
use holt_model::facts::{IngressFacts, OwnerFacts, ServiceFacts};
use holt_runtime::WATCH_BACKOFF;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, ExponentialBackoff, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::cluster::{IndexedKind, PodEntry};
use crate::declared::{Declared, DeclaredKind};
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

/// A kind the mapper watches: one the cluster index holds (for resolution), or one the insights read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchedKind {
    Indexed(IndexedKind),
    Declared(DeclaredKind),
}

impl fmt::Display for WatchedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchedKind::Indexed(IndexedKind::Pod) => f.write_str("Pod"),
            WatchedKind::Indexed(IndexedKind::Service) => f.write_str("Service"),
            WatchedKind::Indexed(IndexedKind::Owner(kind)) => f.write_str(kind),
            WatchedKind::Declared(kind) => f.write_str(kind.name()),
        }
    }
}

/// Every kind the mapper watches, for readiness: those of the cluster index, and with `insights` those the
/// insights read.
pub fn watched_kinds(insights: bool) -> BTreeSet<WatchedKind> {
    let mut kinds: BTreeSet<WatchedKind> = OWNER_KINDS
        .iter()
        .map(|k| WatchedKind::Indexed(IndexedKind::Owner((*k).to_owned())))
        .collect();
    kinds.insert(WatchedKind::Indexed(IndexedKind::Pod));
    kinds.insert(WatchedKind::Indexed(IndexedKind::Service));
    if insights {
        kinds.extend(DeclaredKind::ALL.map(WatchedKind::Declared));
    }
    kinds
}

/// What one watch event carries to the state.
enum Entry {
    Pod(PodEntry),
    Service(ServiceFacts),
    Owner(OwnerFacts),
    Declared(Box<Declared>),
    /// The object exists but is not kept (Holt's own NetworkPolicy, an object being deleted, one that does
    /// not parse): whatever was kept under its key goes.
    NotKept,
}

/// Runs every watch until the process ends: the insights' only when [`Shared::insights`] is on.
pub async fn run(client: Client, shared: Arc<Shared>) {
    let mut tasks = vec![
        tokio::spawn(watch::<Pod>(
            client.clone(),
            shared.clone(),
            WatchedKind::Indexed(IndexedKind::Pod),
            |pod| Entry::Pod(PodEntry::from_pod(&pod)),
        )),
        tokio::spawn(watch::<Service>(
            client.clone(),
            shared.clone(),
            WatchedKind::Indexed(IndexedKind::Service),
            |service| Entry::Service(ServiceFacts::from_service(&service)),
        )),
        tokio::spawn(owners::<ReplicaSet>(client.clone(), shared.clone())),
        tokio::spawn(owners::<Deployment>(client.clone(), shared.clone())),
        tokio::spawn(owners::<StatefulSet>(client.clone(), shared.clone())),
        tokio::spawn(owners::<DaemonSet>(client.clone(), shared.clone())),
        tokio::spawn(owners::<Job>(client.clone(), shared.clone())),
        tokio::spawn(owners::<CronJob>(client.clone(), shared.clone())),
    ];
    if shared.insights.is_some() {
        for kind in DeclaredKind::ALL {
            tasks.push(tokio::spawn(declared(kind, client.clone(), shared.clone())));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// The watch of one kind the insights read.
async fn declared(kind: DeclaredKind, client: Client, shared: Arc<Shared>) {
    let watched = WatchedKind::Declared(kind);
    match kind {
        DeclaredKind::Namespace => watch(client, shared, watched, namespace_entry).await,
        DeclaredKind::ClientIntents => watch(client, shared, watched, client_intents_entry).await,
        DeclaredKind::ProtectedService => watch(client, shared, watched, protected_service_entry).await,
        DeclaredKind::NetworkPolicy => watch(client, shared, watched, network_policy_entry).await,
        DeclaredKind::Ingress => watch(client, shared, watched, ingress_entry).await,
    }
}

impl Entry {
    fn declared(object: Option<Declared>) -> Entry {
        object.map_or(Entry::NotKept, |object| Entry::Declared(Box::new(object)))
    }
}

fn namespace_entry(namespace: Namespace) -> Entry {
    Entry::declared(Some(Declared::namespace(&namespace)))
}

fn client_intents_entry(guard: DeserializeGuard<stored::ClientIntents>) -> Entry {
    Entry::declared(readable(guard).and_then(|intents| Declared::client_intents(intents.into_hub())))
}

fn protected_service_entry(guard: DeserializeGuard<stored::ProtectedService>) -> Entry {
    Entry::declared(readable(guard).and_then(|protected| Declared::protected_service(protected.into_hub())))
}

fn network_policy_entry(policy: NetworkPolicy) -> Entry {
    Entry::declared(Declared::network_policy(policy))
}

fn ingress_entry(ingress: Ingress) -> Entry {
    Entry::declared(Some(Declared::Ingress(IngressFacts::from_ingress(&ingress))))
}

/// The object of a guarded watch, or `None` (logged) when it does not parse: it is left out, as the
/// operator leaves it out of its model.
fn readable<K: Resource<DynamicType = ()>>(guard: DeserializeGuard<K>) -> Option<K> {
    match guard.0 {
        Ok(object) => Some(object),
        Err(invalid) => {
            tracing::warn!(
                object = %ObjectKey::of(&invalid.metadata),
                error = %invalid.error,
                "unreadable {} left out of the insights",
                K::kind(&())
            );
            None
        }
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
    follow(
        api,
        shared,
        WatchedKind::Indexed(IndexedKind::Owner(kind)),
        to_entry,
    )
    .await;
}

async fn watch<K>(client: Client, shared: Arc<Shared>, kind: WatchedKind, to_entry: fn(K) -> Entry)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    follow(Api::<K>::all(client), shared, kind, to_entry).await;
}

async fn follow<K>(api: Api<K>, shared: Arc<Shared>, kind: WatchedKind, to_entry: impl Fn(K) -> Entry)
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
                tracing::warn!(kind = %kind, %error, "watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Init => relisted = Some(HashSet::new()),
            Event::InitApply(object) => {
                let key = ObjectKey::of(object.meta());
                relisted.get_or_insert_with(HashSet::new).insert(key.clone());
                apply(&shared, &kind, key, to_entry(object));
            }
            Event::InitDone => {
                let listed = relisted.take().unwrap_or_default();
                relist_done(&shared, &kind, &listed);
                shared.synced(&kind);
                tracing::info!(kind = %kind, objects = listed.len(), "listed");
            }
            Event::Apply(object) => {
                let key = ObjectKey::of(object.meta());
                apply(&shared, &kind, key, to_entry(object));
            }
            Event::Delete(object) => delete(&shared, &kind, &ObjectKey::of(object.meta())),
        }
    }
}

/// A relist of `kind` listed `listed`: what it did not list is gone.
fn relist_done(shared: &Shared, kind: &WatchedKind, listed: &HashSet<ObjectKey>) {
    match kind {
        WatchedKind::Indexed(indexed) => {
            let mut mapper = shared.mapper();
            for key in mapper.index.keys(indexed) {
                if !listed.contains(&key) {
                    mapper.index.delete(indexed, &key);
                }
            }
            mapper.retry_held(now_ms());
        }
        WatchedKind::Declared(declared_kind) => {
            if let Some(insights) = &shared.insights {
                let mut declared = insights.declared();
                for key in declared.keys(*declared_kind) {
                    if !listed.contains(&key) {
                        declared.delete(*declared_kind, &key);
                    }
                }
                declared.relisted(*declared_kind, listed);
            }
        }
    }
}

fn delete(shared: &Shared, kind: &WatchedKind, key: &ObjectKey) {
    match kind {
        WatchedKind::Indexed(indexed) => shared.mapper().index.delete(indexed, key),
        WatchedKind::Declared(declared_kind) => {
            if let Some(insights) = &shared.insights {
                insights.declared().delete(*declared_kind, key);
            }
        }
    }
}

fn apply(shared: &Shared, kind: &WatchedKind, key: ObjectKey, entry: Entry) {
    match entry {
        Entry::Pod(pod) => shared.mapper().index.apply_pod(pod),
        Entry::Service(service) => shared.mapper().index.apply_service(service),
        Entry::Owner(owner) => shared.mapper().index.apply_owner(owner),
        Entry::Declared(object) => {
            if let Some(insights) = &shared.insights {
                let declared_kind = object.kind();
                let mut declared = insights.declared();
                let already_incomplete = declared.incomplete().contains(&declared_kind);
                if !declared.apply(key.clone(), *object) && !already_incomplete {
                    tracing::warn!(
                        kind = declared_kind.name(),
                        object = %key,
                        limit = declared.max_per_kind(),
                        "declared object left out: --max-declared-objects reached; the insights do not answer until it fits"
                    );
                }
            }
        }
        Entry::NotKept => delete(shared, kind, &key),
    }
}
