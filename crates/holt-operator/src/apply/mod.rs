//! Appliers: the only code that writes to the cluster.
//!
//! Desired objects are written with server-side apply under Holt's field manager, and skipped when they
//! equal what was last applied (so a re-render that changes nothing costs no API write). Objects are deleted
//! only when no render unit wants them ([`ownership`]) — and only objects Holt created, which carry its
//! managed-by label. Pod labels are patched with the difference between the desired and current Holt-owned
//! labels, so a pod that is already right costs nothing.

pub mod error;
pub mod ownership;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use holt_api::v2beta1::ClientIntents;
use holt_model::ObjectKey;
use holt_model::labels::{MANAGED_BY, MANAGED_BY_HOLT};
use holt_render::{Desired, Manifest, PodLabels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

pub use error::ApplyError;
use error::is_not_found;
pub use ownership::{ObjectId, Ownership, Unit};

/// Holt's field manager for server-side apply.
pub const FIELD_MANAGER: &str = "holt";

const NETWORK_POLICY: &str = "NetworkPolicy";
const AUTHORIZATION_POLICY: &str = "AuthorizationPolicy";

/// Writes desired state; remembers what it wrote.
pub struct Applier {
    client: Client,
    /// The AuthorizationPolicy resource, when Istio's CRD is installed.
    istio: Option<ApiResource>,
    ownership: Ownership,
    /// The last applied form of each object, to skip writes that would change nothing.
    applied: HashMap<ObjectId, Value>,
    /// API writes made, for metrics and benchmarks.
    pub writes: u64,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("istio", &self.istio)
            .field("writes", &self.writes)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// An applier; looks up whether Istio's AuthorizationPolicy CRD is installed.
    pub async fn new(client: Client) -> Self {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let istio = match crds.get_opt("authorizationpolicies.security.istio.io").await {
            Ok(Some(_)) => Some(ApiResource {
                group: "security.istio.io".into(),
                version: "v1".into(),
                api_version: "security.istio.io/v1".into(),
                kind: AUTHORIZATION_POLICY.into(),
                plural: "authorizationpolicies".into(),
            }),
            _ => None,
        };
        Applier {
            client,
            istio,
            ownership: Ownership::default(),
            applied: HashMap::new(),
            writes: 0,
        }
    }

    pub fn istio_installed(&self) -> bool {
        self.istio.is_some()
    }

    /// Records the objects Holt wrote before this process started (found by label) in the namespaces it
    /// acts on, so the first full reconcile can delete those nobody wants any more.
    pub async fn discover_existing(&mut self, watched: impl Fn(&str) -> bool) -> Result<(), ApplyError> {
        let selector = ListParams::default().labels(&format!("{MANAGED_BY}={MANAGED_BY_HOLT}"));
        let mut found = BTreeSet::new();
        let policies: Api<NetworkPolicy> = Api::all(self.client.clone());
        let list = policies.list_metadata(&selector).await;
        let list = list.map_err(|source| ApplyError::List {
            kind: NETWORK_POLICY,
            source,
        })?;
        found.extend(
            list.items
                .iter()
                .map(|p| (NETWORK_POLICY, ObjectKey::of(&p.metadata))),
        );
        if let Some(resource) = &self.istio {
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), resource);
            let list = api.list_metadata(&selector).await;
            let list = list.map_err(|source| ApplyError::List {
                kind: AUTHORIZATION_POLICY,
                source,
            })?;
            found.extend(
                list.items
                    .iter()
                    .map(|p| (AUTHORIZATION_POLICY, ObjectKey::of(&p.metadata))),
            );
        }
        found.retain(|(_, key)| watched(&key.namespace));
        self.ownership.set(Unit::Found, found);
        Ok(())
    }

    /// Deletes what was found at start-up and no unit claimed.
    pub async fn prune_unclaimed(&mut self) -> Result<usize, ApplyError> {
        let unclaimed = self.ownership.unclaimed_found();
        for object in &unclaimed {
            self.delete(object).await?;
        }
        self.ownership.clear_found();
        Ok(unclaimed.len())
    }

    /// Makes the cluster hold exactly `desired` for `unit`: applies each object, deletes what the unit wanted
    /// before and nobody wants now. AuthorizationPolicies are skipped when Istio is not installed.
    pub async fn reconcile_unit(&mut self, unit: Unit, desired: Vec<Desired>) -> Result<(), ApplyError> {
        let mut wanted = BTreeSet::new();
        for object in desired {
            if matches!(object.manifest, Manifest::AuthorizationPolicy(_)) && self.istio.is_none() {
                continue;
            }
            let id = (object.manifest.kind(), object.manifest.key());
            self.apply(&id, &object.manifest).await?;
            wanted.insert(id);
        }
        for orphan in self.ownership.set(unit, wanted) {
            self.delete(&orphan).await?;
        }
        Ok(())
    }

    async fn apply(&mut self, id: &ObjectId, manifest: &Manifest) -> Result<(), ApplyError> {
        let (kind, key) = id;
        let value = serde_json::to_value(manifest).map_err(|source| ApplyError::Encode {
            kind,
            key: key.clone(),
            source,
        })?;
        if self.applied.get(id) == Some(&value) {
            return Ok(());
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let result = match manifest {
            Manifest::NetworkPolicy(_) => {
                let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &key.namespace);
                api.patch(&key.name, &params, &Patch::Apply(&value))
                    .await
                    .map(drop)
            }
            Manifest::AuthorizationPolicy(_) => {
                let Some(resource) = &self.istio else {
                    return Ok(());
                };
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), &key.namespace, resource);
                api.patch(&key.name, &params, &Patch::Apply(&value))
                    .await
                    .map(drop)
            }
        };
        self.writes += 1;
        result.map_err(|source| ApplyError::Apply {
            kind,
            key: key.clone(),
            source,
        })?;
        self.applied.insert(id.clone(), value);
        Ok(())
    }

    async fn delete(&mut self, id: &ObjectId) -> Result<(), ApplyError> {
        let (kind, key) = id;
        let params = DeleteParams::default();
        let result = match *kind {
            NETWORK_POLICY => {
                let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &key.namespace);
                api.delete(&key.name, &params).await.map(drop)
            }
            _ => {
                let Some(resource) = &self.istio else {
                    return Ok(());
                };
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), &key.namespace, resource);
                api.delete(&key.name, &params).await.map(drop)
            }
        };
        self.writes += 1;
        self.applied.remove(id);
        match result {
            Err(source) if !is_not_found(&source) => Err(ApplyError::Delete {
                kind,
                key: key.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }

    /// Sets the Holt-owned labels of a pod to `desired` (none when `None`), given its current labels.
    pub async fn label_pod(
        &mut self,
        key: &ObjectKey,
        current: &BTreeMap<String, String>,
        desired: Option<&PodLabels>,
    ) -> Result<(), ApplyError> {
        let empty = PodLabels {
            pod: key.clone(),
            labels: BTreeMap::new(),
        };
        let patch = desired.unwrap_or(&empty).patch(current);
        if patch.is_empty() {
            return Ok(());
        }
        let mut labels = serde_json::Map::new();
        for (k, v) in patch.set {
            labels.insert(k, Value::String(v));
        }
        for k in patch.remove {
            labels.insert(k, Value::Null);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let body = json!({"metadata": {"labels": labels}});
        self.writes += 1;
        match api
            .patch(&key.name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            Err(source) if !is_not_found(&source) => Err(ApplyError::LabelPod {
                key: key.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }

    /// Writes a ClientIntents status (a merge patch of `status`).
    pub async fn intents_status(&mut self, key: &ObjectKey, status: &Value) -> Result<(), ApplyError> {
        let api: Api<ClientIntents> = Api::namespaced(self.client.clone(), &key.namespace);
        self.writes += 1;
        let body = json!({ "status": status });
        match api
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            Err(source) if !is_not_found(&source) => Err(ApplyError::Status {
                kind: "ClientIntents",
                key: key.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }

    /// Adds or removes `finalizer` on one of Holt's objects, given its current finalizers. JSON patches with a
    /// `test` make a concurrent change to the list fail instead of being overwritten.
    pub async fn update_finalizer(
        &mut self,
        resource: &ApiResource,
        key: &ObjectKey,
        current: &[String],
        finalizer: &str,
        present: bool,
    ) -> Result<(), ApplyError> {
        let operations = match (current.iter().position(|f| f == finalizer), present) {
            (Some(_), true) | (None, false) => return Ok(()),
            (None, true) if current.is_empty() => {
                json!([{"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}])
            }
            (None, true) => json!([{"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]),
            (Some(i), false) => json!([
                {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": finalizer},
                {"op": "remove", "path": format!("/metadata/finalizers/{i}")},
            ]),
        };
        let patch: json_patch::Patch =
            serde_json::from_value(operations).map_err(|source| ApplyError::Encode {
                kind: "finalizers",
                key: key.clone(),
                source,
            })?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &key.namespace, resource);
        self.writes += 1;
        let kind = if resource.kind == "ClientIntents" {
            "ClientIntents"
        } else {
            "ProtectedService"
        };
        match api
            .patch(&key.name, &PatchParams::default(), &Patch::<()>::Json(patch))
            .await
        {
            Err(source) if !is_not_found(&source) => Err(ApplyError::Finalizer {
                kind,
                key: key.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }
}
