//! Resolving a pod's workload identity (docs/reference-behaviour.md#identity-resolution): the override
//! annotation if present, otherwise the root of its owner chain, with `.` in owner names turned into `_`.

use crate::config::Config;
use crate::facts::{OwnerFacts, OwnerRef, PodFacts};
use crate::identity::{Identity, identity_name};
use crate::labels::DEPRECATED_SERVICE_NAME_OVERRIDE;

/// The resolved identity of a pod and the kind of its root owner (`Pod` for a bare pod). The identity has no
/// kind when it comes from the override annotation, as in the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentity {
    pub identity: Identity,
    pub owner_kind: String,
}

/// Follows the pod's owner chain through `owners` (which answers for objects in the pod's namespace) to its
/// root. A missing owner ends the walk at the last known one, as the reference does when a GET fails.
pub fn pod_identity(
    pod: &PodFacts,
    config: &Config,
    owners: impl Fn(&OwnerRef) -> Option<OwnerFacts>,
) -> PodIdentity {
    let namespace = &pod.key.namespace;
    let mut root = OwnerRef {
        kind: "Pod".into(),
        name: pod.key.name.clone(),
    };
    let mut next = pod.owner.clone();
    // Owner chains are short (Pod → ReplicaSet → Deployment); the bound only guards against cycles.
    for _ in 0..16 {
        let Some(owner) = next.take() else { break };
        next = owners(&owner).and_then(|facts| facts.owner);
        root = owner;
    }
    let override_name = pod
        .annotations
        .get(&config.workload_name_override_annotation)
        .or_else(|| pod.annotations.get(DEPRECATED_SERVICE_NAME_OVERRIDE))
        .filter(|name| !name.is_empty());
    let identity = match override_name {
        Some(name) => Identity::new(namespace, name.clone(), None),
        None if config.use_image_name_for_service_id_for_jobs
            && root.kind == "Job"
            && !pod.images.is_empty() =>
        {
            Identity::new(namespace, job_name_from_images(&pod.images), Some("Job"))
        }
        None => Identity::new(namespace, identity_name(&root.name), Some(&root.kind)),
    };
    PodIdentity {
        identity,
        owner_kind: root.kind,
    }
}

/// `registry.example.com/team/worker:1.2` → `worker`; several images are joined with `-`.
fn job_name_from_images(images: &[String]) -> String {
    let names: Vec<&str> = images
        .iter()
        .map(|image| {
            let without_digest = image.split('@').next().unwrap_or(image);
            let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
            last.split(':').next().unwrap_or(last)
        })
        .collect();
    names.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::ObjectKey;

    /// The pod `shop/cart-7d9f-abcde` running `registry.example.com/team/worker:1.2`, owned by `owner`.
    fn pod(owner: Option<(&str, &str)>) -> PodFacts {
        let owner_references = owner.map(|(kind, name)| {
            vec![serde_json::json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "1"})]
        });
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "shop", "name": "cart-7d9f-abcde", "ownerReferences": owner_references},
            "spec": {"containers": [{"name": "worker", "image": "registry.example.com/team/worker:1.2"}]},
        }))
        .expect("a valid Pod");
        PodFacts::from_pod(&pod)
    }

    fn chain(kind: &str, name: &str, owner: Option<(&str, &str)>) -> OwnerFacts {
        OwnerFacts {
            key: ObjectKey::new("shop", name),
            kind: kind.into(),
            owner: owner.map(|(kind, name)| OwnerRef {
                kind: kind.into(),
                name: name.into(),
            }),
        }
    }

    fn lookup(known: Vec<OwnerFacts>) -> impl Fn(&OwnerRef) -> Option<OwnerFacts> {
        move |r| {
            known
                .iter()
                .find(|o| o.kind == r.kind && o.key.name == r.name)
                .cloned()
        }
    }

    #[test]
    fn walks_the_owner_chain_to_the_root() {
        let owners = vec![
            chain("ReplicaSet", "cart-7d9f", Some(("Deployment", "cart"))),
            chain("Deployment", "cart", None),
        ];
        let id = pod_identity(
            &pod(Some(("ReplicaSet", "cart-7d9f"))),
            &Config::default(),
            lookup(owners),
        );
        assert_eq!(id.identity, Identity::new("shop", "cart", Some("Deployment")));
        assert_eq!(id.owner_kind, "Deployment");
    }

    #[test]
    fn a_missing_owner_ends_the_walk_at_the_last_known_owner() {
        let id = pod_identity(
            &pod(Some(("ReplicaSet", "cart-7d9f"))),
            &Config::default(),
            lookup(vec![]),
        );
        assert_eq!(
            id.identity,
            Identity::new("shop", "cart-7d9f", Some("ReplicaSet"))
        );
    }

    #[test]
    fn a_bare_pod_is_its_own_identity_and_dots_become_underscores() {
        let mut p = pod(None);
        p.key.name = "app.v2".into();
        let id = pod_identity(&p, &Config::default(), lookup(vec![]));
        assert_eq!(id.identity, Identity::new("shop", "app_v2", Some("Pod")));
    }

    #[test]
    fn the_override_annotation_wins_and_has_no_kind() {
        let mut p = pod(Some(("ReplicaSet", "cart-7d9f")));
        p.annotations
            .insert("intents.otterize.com/workload-name".into(), "toolbox".into());
        let id = pod_identity(&p, &Config::default(), lookup(vec![]));
        assert_eq!(id.identity, Identity::new("shop", "toolbox", None));
        let mut deprecated = pod(None);
        deprecated
            .annotations
            .insert("intents.otterize.com/service-name".into(), "old".into());
        assert_eq!(
            pod_identity(&deprecated, &Config::default(), lookup(vec![]))
                .identity
                .name,
            "old"
        );
    }

    #[test]
    fn jobs_can_be_named_by_their_images() {
        let config = Config {
            use_image_name_for_service_id_for_jobs: true,
            ..Config::default()
        };
        let id = pod_identity(&pod(Some(("Job", "nightly-28373"))), &config, lookup(vec![]));
        assert_eq!(id.identity, Identity::new("shop", "worker", Some("Job")));
    }
}
