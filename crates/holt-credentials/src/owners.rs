//! A pod's workload identity and root owner, read from the API server: the pod's owner chain is fetched
//! (metadata only) and handed to holt-model's resolution, the one the intents operator uses (override
//! annotation, else the root of the owner chain; Jobs by image when so configured).
//!
//! In: a pod's metadata and the model's configuration. Out: its [`Resolved`] identity and the owner
//! reference of its root owner (the pod itself when it has none), which owns its Secret.
//!
//! Owners of the built-in kinds that can own pods (ReplicaSet, Deployment, StatefulSet, DaemonSet, Job,
//! CronJob) are followed; an owner of another kind is the root (the Secret is owned by it and the identity
//! named after it, as the reference does when it cannot read further). An owner that no longer exists, or
//! exists with another UID, ends the walk at the reference pointing to it. Fetched owners are cached by UID
//! for ten minutes (pods of one ReplicaSet cost one read), at most [`CACHE_LIMIT`] of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use holt_model::facts::{OwnerFacts, PodFacts, owner_reference_of};
use holt_model::resolve::pod_identity;
use holt_model::{Config, Identity};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::{Client, Resource};

/// Owners cached, at most; the cache is emptied when it would hold more.
pub const CACHE_LIMIT: usize = 10_000;
const CACHE_TTL: Duration = Duration::from_secs(600);
/// Owner chains are short (Pod → ReplicaSet → Deployment); the bound guards against cycles.
const MAX_DEPTH: usize = 16;

/// A pod's identity and the owner its Secret belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub identity: Identity,
    pub root_owner: OwnerReference,
}

#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    #[error("cannot read {kind} {namespace}/{name}, an owner of the pod: {source}")]
    Read {
        kind: String,
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("cannot read the pod's containers (its Job is named by its images): {source}")]
    Pod { source: kube::Error },
}

/// An owner as fetched: its facts for the model and its own controlling owner.
#[derive(Clone, Debug)]
struct Fetched {
    facts: OwnerFacts,
    owner: Option<OwnerReference>,
    at: Instant,
}

/// Resolves pods' identities, caching owners.
pub struct OwnerResolver {
    client: Client,
    cache: Mutex<HashMap<String, Fetched>>,
}

impl std::fmt::Debug for OwnerResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerResolver").finish_non_exhaustive()
    }
}

impl OwnerResolver {
    pub fn new(client: Client) -> OwnerResolver {
        OwnerResolver {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The identity and root owner of the pod with `metadata`.
    pub async fn resolve(&self, metadata: &ObjectMeta, config: &Config) -> Result<Resolved, OwnerError> {
        let namespace = metadata.namespace.clone().unwrap_or_default();
        let mut chain: Vec<(OwnerReference, Option<Fetched>)> = Vec::new();
        let mut next = owner_reference_of(metadata).cloned();
        while let Some(reference) = next.take() {
            if chain.len() >= MAX_DEPTH || chain.iter().any(|(r, _)| r.uid == reference.uid) {
                break;
            }
            let fetched = self.fetch(&namespace, &reference).await?;
            next = fetched.as_ref().and_then(|f| f.owner.clone());
            chain.push((reference, fetched));
        }
        let mut pod = Pod {
            metadata: metadata.clone(),
            ..Pod::default()
        };
        let root_kind = chain.last().map(|(r, _)| r.kind.as_str());
        if config.use_image_name_for_service_id_for_jobs && root_kind == Some("Job") {
            let name = metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            if let Some(full) = api
                .get_opt(&name)
                .await
                .map_err(|source| OwnerError::Pod { source })?
            {
                pod.spec = full.spec;
            }
        }
        let facts = PodFacts::from_pod(&pod);
        let resolved = pod_identity(&facts, config, |wanted| {
            chain
                .iter()
                .filter_map(|(_, fetched)| fetched.as_ref())
                .find(|f| f.facts.kind == wanted.kind && f.facts.key.name == wanted.name)
                .map(|f| f.facts.clone())
        });
        let root_owner = match chain.into_iter().last() {
            Some((reference, _)) => OwnerReference {
                controller: None,
                block_owner_deletion: None,
                ..reference
            },
            None => OwnerReference {
                api_version: "v1".to_owned(),
                kind: "Pod".to_owned(),
                name: metadata.name.clone().unwrap_or_default(),
                uid: metadata.uid.clone().unwrap_or_default(),
                ..OwnerReference::default()
            },
        };
        Ok(Resolved {
            identity: resolved.identity,
            root_owner,
        })
    }

    /// The owner `reference` points to; `None` when it is of a kind not followed, gone, or replaced (another
    /// UID).
    async fn fetch(
        &self,
        namespace: &str,
        reference: &OwnerReference,
    ) -> Result<Option<Fetched>, OwnerError> {
        if let Some(cached) = self.cached(&reference.uid) {
            return Ok(Some(cached));
        }
        let Some(resource) = followed_resource(reference) else {
            return Ok(None);
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &resource);
        let meta = match api.get_metadata_opt(&reference.name).await {
            Ok(meta) => meta,
            Err(source) => {
                return Err(OwnerError::Read {
                    kind: reference.kind.clone(),
                    namespace: namespace.to_owned(),
                    name: reference.name.clone(),
                    source,
                });
            }
        };
        let Some(meta) = meta.filter(|m| m.meta().uid.as_deref() == Some(reference.uid.as_str())) else {
            return Ok(None);
        };
        let fetched = Fetched {
            facts: OwnerFacts::new(&reference.kind, &meta.metadata),
            owner: owner_reference_of(&meta.metadata).cloned(),
            at: Instant::now(),
        };
        self.remember(&reference.uid, &fetched);
        Ok(Some(fetched))
    }

    fn cached(&self, uid: &str) -> Option<Fetched> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(uid).filter(|f| f.at.elapsed() < CACHE_TTL).cloned()
    }

    fn remember(&self, uid: &str, fetched: &Fetched) {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(uid.to_owned(), fetched.clone());
    }
}

/// The API resource of an owner kind Holt follows.
fn followed_resource(reference: &OwnerReference) -> Option<ApiResource> {
    let (group, plural) = match (reference.api_version.as_str(), reference.kind.as_str()) {
        ("apps/v1", "ReplicaSet") => ("apps", "replicasets"),
        ("apps/v1", "Deployment") => ("apps", "deployments"),
        ("apps/v1", "StatefulSet") => ("apps", "statefulsets"),
        ("apps/v1", "DaemonSet") => ("apps", "daemonsets"),
        ("batch/v1", "Job") => ("batch", "jobs"),
        ("batch/v1", "CronJob") => ("batch", "cronjobs"),
        _ => return None,
    };
    let gvk = GroupVersionKind::gvk(group, "v1", &reference.kind);
    Some(ApiResource::from_gvk_with_plural(&gvk, plural))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_pod_owners_are_followed_and_others_are_roots() {
        let reference = |api_version: &str, kind: &str| OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "x".into(),
            uid: "u".into(),
            ..OwnerReference::default()
        };
        let plural = |api_version: &str, kind: &str| {
            followed_resource(&reference(api_version, kind)).map(|r| (r.api_version, r.plural))
        };
        assert_eq!(
            plural("apps/v1", "ReplicaSet"),
            Some(("apps/v1".into(), "replicasets".into()))
        );
        assert_eq!(
            plural("batch/v1", "CronJob"),
            Some(("batch/v1".into(), "cronjobs".into()))
        );
        assert_eq!(plural("argoproj.io/v1alpha1", "Rollout"), None);
        assert_eq!(plural("apps/v1beta1", "Deployment"), None);
    }
}
