//! Watches: every kind the model needs, as one stream of [`Input`]s.
//!
//! Kubernetes objects are reduced to the model's facts as they arrive (owners through metadata-only watches),
//! so the operator never holds full objects. Holt's own kinds are read through a [`DeserializeGuard`]: a
//! malformed object becomes [`Input::Invalid`] and never stalls the stream. Watch errors are retried with
//! back-off by the watcher itself.

use std::fmt;

use futures::{Stream, StreamExt, stream};
use holt_api::convert::Convertible;
use holt_api::v2alpha1 as stored;
use holt_model::facts::{IngressFacts, NamespaceFacts, OwnerFacts, PodFacts, ServiceFacts};
use holt_model::{IndexedRef, Object, ObjectKey};
use holt_render::ObjectKind;
use holt_runtime::WATCH_BACKOFF;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject};
use kube::core::DeserializeGuard;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, ExponentialBackoff, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::apply::LiveObject;

/// The kinds the operator watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchedKind {
    Namespace,
    Pod,
    ReplicaSet,
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    ClientIntents,
    ProtectedService,
    KafkaServerConfig,
    /// A kind Holt writes, watched to notice changes behind its back and names taken by others.
    Written(ObjectKind),
}

impl WatchedKind {
    /// The kinds the model needs.
    pub const MODEL: [WatchedKind; 13] = [
        WatchedKind::Namespace,
        WatchedKind::Pod,
        WatchedKind::ReplicaSet,
        WatchedKind::Deployment,
        WatchedKind::StatefulSet,
        WatchedKind::DaemonSet,
        WatchedKind::Job,
        WatchedKind::CronJob,
        WatchedKind::Service,
        WatchedKind::Ingress,
        WatchedKind::ClientIntents,
        WatchedKind::ProtectedService,
        WatchedKind::KafkaServerConfig,
    ];

    /// The Kubernetes kind name.
    pub fn name(self) -> &'static str {
        match self {
            WatchedKind::Namespace => "Namespace",
            WatchedKind::Pod => "Pod",
            WatchedKind::ReplicaSet => "ReplicaSet",
            WatchedKind::Deployment => "Deployment",
            WatchedKind::StatefulSet => "StatefulSet",
            WatchedKind::DaemonSet => "DaemonSet",
            WatchedKind::Job => "Job",
            WatchedKind::CronJob => "CronJob",
            WatchedKind::Service => "Service",
            WatchedKind::Ingress => "Ingress",
            WatchedKind::ClientIntents => "ClientIntents",
            WatchedKind::ProtectedService => "ProtectedService",
            WatchedKind::KafkaServerConfig => "KafkaServerConfig",
            WatchedKind::Written(kind) => kind.label(),
        }
    }

    /// How the model names an object of this kind, for deletion (none for the kinds Holt writes: they are
    /// not in the model).
    pub fn object_ref(self, key: ObjectKey) -> Option<IndexedRef> {
        Some(match self {
            WatchedKind::Namespace => IndexedRef::Namespace(key.name),
            WatchedKind::Pod => IndexedRef::Pod(key),
            WatchedKind::Service => IndexedRef::Service(key),
            WatchedKind::Ingress => IndexedRef::Ingress(key),
            WatchedKind::ClientIntents => IndexedRef::ClientIntents(key),
            WatchedKind::ProtectedService => IndexedRef::ProtectedService(key),
            WatchedKind::KafkaServerConfig => IndexedRef::KafkaServerConfig(key),
            WatchedKind::ReplicaSet
            | WatchedKind::Deployment
            | WatchedKind::StatefulSet
            | WatchedKind::DaemonSet
            | WatchedKind::Job
            | WatchedKind::CronJob => IndexedRef::Owner {
                kind: self.name().to_owned(),
                key,
            },
            WatchedKind::Written(_) => return None,
        })
    }
}

impl fmt::Display for WatchedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Holt object as it is in the cluster, with what the controller needs besides the model: its
/// generation, finalizers and deletion state.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub generation: Option<i64>,
    pub uid: Option<String>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
    pub resource_version: String,
    /// ClientIntents only: its status as last seen.
    pub status: Option<holt_api::v2beta1::ClientIntentsStatus>,
}

impl Tracked {
    fn of(meta: &ObjectMeta, status: Option<holt_api::v2beta1::ClientIntentsStatus>) -> Self {
        Tracked {
            generation: meta.generation,
            uid: meta.uid.clone(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            status,
        }
    }
}

/// What the watches report.
#[derive(Debug)]
pub enum Input {
    /// An object exists with this content. `listed` is true while a (re)list is in progress.
    Apply {
        kind: WatchedKind,
        key: ObjectKey,
        object: Box<Object>,
        tracked: Option<Tracked>,
        listed: bool,
    },
    /// An object is gone.
    Delete { kind: WatchedKind, key: ObjectKey },
    /// An object of a kind Holt writes, as it is in the cluster.
    Observed {
        kind: ObjectKind,
        key: ObjectKey,
        object: LiveObject,
        listed: bool,
    },
    /// A Holt object that cannot be read: reported, and left out of the model.
    Invalid {
        kind: WatchedKind,
        key: ObjectKey,
        error: String,
        listed: bool,
    },
    /// A (re)list of this kind starts: objects not listed again before [`Input::Listed`] are gone.
    Relisting(WatchedKind),
    /// The (re)list of this kind is complete.
    Listed(WatchedKind),
}

/// The kinds [`all`] watches: the model's, and the kinds Holt writes here.
pub fn kinds(written: &[ObjectKind]) -> Vec<WatchedKind> {
    let mut kinds = WatchedKind::MODEL.to_vec();
    kinds.extend(written.iter().copied().map(WatchedKind::Written));
    kinds
}

/// Every watch, merged into one stream: the model's kinds, and the kinds Holt writes (with their resources).
pub fn all(
    client: &Client,
    written_kinds: &[(ObjectKind, ApiResource)],
) -> impl Stream<Item = Input> + Send + use<> {
    let c = client.clone();
    let mut watches = vec![
        objects::<Namespace>(&c, WatchedKind::Namespace, |ns| {
            (Object::Namespace(NamespaceFacts::from_meta(&ns.metadata)), None)
        }),
        objects::<Pod>(&c, WatchedKind::Pod, |pod| {
            (Object::Pod(PodFacts::from_pod(&pod)), None)
        }),
        owners::<ReplicaSet>(&c, WatchedKind::ReplicaSet),
        owners::<Deployment>(&c, WatchedKind::Deployment),
        owners::<StatefulSet>(&c, WatchedKind::StatefulSet),
        owners::<DaemonSet>(&c, WatchedKind::DaemonSet),
        owners::<Job>(&c, WatchedKind::Job),
        owners::<CronJob>(&c, WatchedKind::CronJob),
        objects::<Service>(&c, WatchedKind::Service, |s| {
            (Object::Service(ServiceFacts::from_service(&s)), None)
        }),
        objects::<Ingress>(&c, WatchedKind::Ingress, |i| {
            (Object::Ingress(IngressFacts::from_ingress(&i)), None)
        }),
        // Holt's kinds are watched in the version the API server stores (`v2alpha1`, the same schema as
        // the hub): reading them costs no call to the conversion webhook.
        guarded::<stored::ClientIntents>(&c, WatchedKind::ClientIntents, |ci| {
            let ci = ci.into_hub();
            let tracked = Tracked::of(&ci.metadata, ci.status.clone());
            (Object::ClientIntents(ci), Some(tracked))
        }),
        guarded::<stored::ProtectedService>(&c, WatchedKind::ProtectedService, |ps| {
            let ps = ps.into_hub();
            let tracked = Tracked::of(&ps.metadata, None);
            (Object::ProtectedService(ps), Some(tracked))
        }),
        guarded::<stored::KafkaServerConfig>(&c, WatchedKind::KafkaServerConfig, |ksc| {
            let ksc = ksc.into_hub();
            let tracked = Tracked::of(&ksc.metadata, None);
            (Object::KafkaServerConfig(ksc), Some(tracked))
        }),
    ];
    for (kind, resource) in written_kinds {
        watches.push(written(&c, *kind, resource));
    }
    stream::select_all(watches)
}

type Boxed = std::pin::Pin<Box<dyn Stream<Item = Input> + Send>>;

/// A full watch of `K`, each object turned into model facts by `to_object`.
fn objects<K>(client: &Client, kind: WatchedKind, to_object: fn(K) -> (Object, Option<Tracked>)) -> Boxed
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    let events =
        watcher(api, watcher::Config::default()).backoff(ExponentialBackoff::from(WATCH_BACKOFF.builder()));
    Box::pin(events.filter_map(move |event| {
        let input = event.ok().and_then(|event| {
            to_input(kind, event, |object: K| {
                let key = ObjectKey::of(object.meta());
                let (object, tracked) = to_object(object);
                Ok((key, object, tracked))
            })
        });
        futures::future::ready(input)
    }))
}

/// A metadata-only watch of a pod owner kind.
fn owners<K>(client: &Client, kind: WatchedKind) -> Boxed
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
{
    let api: Api<PartialObjectMeta<K>> = Api::all(client.clone());
    let events =
        watcher(api, watcher::Config::default()).backoff(ExponentialBackoff::from(WATCH_BACKOFF.builder()));
    Box::pin(events.filter_map(move |event| {
        let input = event.ok().and_then(|event| {
            to_input(kind, event, |meta: PartialObjectMeta<K>| {
                let facts = OwnerFacts::new(kind.name(), &meta.metadata);
                Ok((facts.key.clone(), Object::Owner(facts), None))
            })
        });
        futures::future::ready(input)
    }))
}

/// A watch of one of Holt's kinds, where an object that does not parse is reported instead of failing.
fn guarded<K>(client: &Client, kind: WatchedKind, to_object: fn(K) -> (Object, Option<Tracked>)) -> Boxed
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    let api: Api<DeserializeGuard<K>> = Api::all(client.clone());
    let events =
        watcher(api, watcher::Config::default()).backoff(ExponentialBackoff::from(WATCH_BACKOFF.builder()));
    Box::pin(events.filter_map(move |event| {
        let input = event.ok().and_then(|event| {
            to_input(kind, event, |guard: DeserializeGuard<K>| match guard.0 {
                Ok(object) => {
                    let key = ObjectKey::of(object.meta());
                    let (object, tracked) = to_object(object);
                    Ok((key, object, tracked))
                }
                Err(invalid) => {
                    let meta = invalid.metadata;
                    Err((ObjectKey::of(&meta), invalid.error))
                }
            })
        });
        futures::future::ready(input)
    }))
}

/// A watch of a kind Holt writes, each object reduced to what the applier keeps of it.
fn written(client: &Client, object_kind: ObjectKind, resource: &ApiResource) -> Boxed {
    let kind = WatchedKind::Written(object_kind);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let events =
        watcher(api, watcher::Config::default()).backoff(ExponentialBackoff::from(WATCH_BACKOFF.builder()));
    Box::pin(events.filter_map(move |event| {
        let observed = |object: DynamicObject, listed: bool| Input::Observed {
            kind: object_kind,
            key: ObjectKey::of(&object.metadata),
            object: LiveObject::new(object_kind, &object.metadata, object.data.get("spec")),
            listed,
        };
        let input = event.ok().map(|event| match event {
            Event::Apply(object) => observed(object, false),
            Event::InitApply(object) => observed(object, true),
            Event::Delete(object) => Input::Delete {
                kind,
                key: ObjectKey::of(&object.metadata),
            },
            Event::Init => Input::Relisting(kind),
            Event::InitDone => Input::Listed(kind),
        });
        futures::future::ready(input)
    }))
}

type Converted = Result<(ObjectKey, Object, Option<Tracked>), (ObjectKey, String)>;

fn to_input<T>(kind: WatchedKind, event: Event<T>, convert: impl Fn(T) -> Converted) -> Option<Input> {
    let apply = |object: T, listed: bool| match convert(object) {
        Ok((key, object, tracked)) => Input::Apply {
            kind,
            key,
            object: Box::new(object),
            tracked,
            listed,
        },
        Err((key, error)) => Input::Invalid {
            kind,
            key,
            error,
            listed,
        },
    };
    Some(match event {
        Event::Apply(object) => apply(object, false),
        Event::InitApply(object) => apply(object, true),
        Event::Delete(object) => match convert(object) {
            Ok((key, _, _)) | Err((key, _)) => Input::Delete { kind, key },
        },
        Event::Init => Input::Relisting(kind),
        Event::InitDone => Input::Listed(kind),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_backoff_doubles_to_five_seconds_and_starts_over_after_an_event() {
        use kube::runtime::utils::Backoff;
        use std::time::Duration;
        let mut backoff = ExponentialBackoff::from(WATCH_BACKOFF.builder());
        let waits: Vec<Duration> = backoff.by_ref().take(6).collect();
        // 0.5, 1, 2, 4, 5, 5 s, each with up to half taken off by jitter.
        for (wait, full_ms) in waits.iter().zip([500, 1_000, 2_000, 4_000, 5_000, 5_000]) {
            let full = Duration::from_millis(full_ms);
            assert!(full / 2 <= *wait && *wait <= full, "{wait:?} for {full:?}");
        }
        backoff.reset();
        let first = backoff.next().unwrap_or_default();
        assert!(
            first <= Duration::from_millis(500) && first >= Duration::from_millis(250),
            "{first:?}"
        );
    }
}
