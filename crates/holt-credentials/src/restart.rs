//! The rolling restart after a renewal (`restart-pod-on-certificate-renewal`): the workload's pod template
//! gets the annotation `credentials-operator.otterize.com/restart-time-after-renewal` with the time, as the
//! reference writes it, so that its controller replaces the pods (which then read the new certificate at
//! start).
//!
//! In: the root owner of the pods and the time. Out: one JSON merge patch on a Deployment, ReplicaSet,
//! StatefulSet or DaemonSet (the reference's kinds); other kinds cannot be restarted this way.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::json;

/// The pod template annotation that restarts the workload.
pub const RESTART_ANNOTATION: &str = "credentials-operator.otterize.com/restart-time-after-renewal";

#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error(
        "{kind} {name} cannot be restarted: only Deployments, ReplicaSets, StatefulSets and DaemonSets can"
    )]
    Unsupported { kind: String, name: String },
    #[error("cannot restart {kind} {namespace}/{name}: {source}")]
    Patch {
        kind: String,
        namespace: String,
        name: String,
        source: kube::Error,
    },
}

/// Patches `owner`'s pod template in `namespace` with the restart annotation set to `at`; returns the
/// object restarted (for its Event).
pub async fn restart(
    client: &Client,
    namespace: &str,
    owner: &OwnerReference,
    at: Timestamp,
) -> Result<ObjectReference, RestartError> {
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: at.to_string()}}}}});
    match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("apps/v1", "Deployment") => patch_template::<Deployment>(client, namespace, owner, &patch).await,
        ("apps/v1", "ReplicaSet") => patch_template::<ReplicaSet>(client, namespace, owner, &patch).await,
        ("apps/v1", "StatefulSet") => patch_template::<StatefulSet>(client, namespace, owner, &patch).await,
        ("apps/v1", "DaemonSet") => patch_template::<DaemonSet>(client, namespace, owner, &patch).await,
        _ => Err(RestartError::Unsupported {
            kind: owner.kind.clone(),
            name: owner.name.clone(),
        }),
    }
}

async fn patch_template<K>(
    client: &Client,
    namespace: &str,
    owner: &OwnerReference,
    patch: &serde_json::Value,
) -> Result<ObjectReference, RestartError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.patch(&owner.name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(|source| RestartError::Patch {
            kind: owner.kind.clone(),
            namespace: namespace.to_owned(),
            name: owner.name.clone(),
            source,
        })?;
    Ok(ObjectReference {
        api_version: Some(owner.api_version.clone()),
        kind: Some(owner.kind.clone()),
        namespace: Some(namespace.to_owned()),
        name: Some(owner.name.clone()),
        uid: Some(owner.uid.clone()),
        ..ObjectReference::default()
    })
}
