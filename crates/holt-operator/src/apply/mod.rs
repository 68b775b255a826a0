//! Appliers: the only code that writes to the cluster.
//!
//! A pass first *plans* its writes ([`Applier::plan_unit`], [`Applier::plan_pod_labels`], …): pure
//! bookkeeping that drops writes which would change nothing (an object equal to what was last applied, a
//! pod whose labels are already right). The planned [`Write`]s are independent of each other, so
//! [`Applier::execute`] performs them concurrently and then records what succeeded.
//!
//! Desired objects are written with server-side apply under Holt's field manager. Objects are deleted only
//! when no render unit wants them ([`ownership`]) — and only objects Holt created, which carry its
//! managed-by label. Pod labels are merge-patched with the difference between the desired and current
//! Holt-owned labels. A deletion that fails is planned again in the next pass.

pub mod error;
pub mod ownership;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, stream};
use holt_api::v2beta1::ClientIntents;
use holt_model::ObjectKey;
use holt_model::labels::{MANAGED_BY, MANAGED_BY_HOLT};
use holt_model::sorted_map::SortedMap;
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

/// Writes in flight at once: enough to hide the API server's latency, few enough not to flood it.
pub const CONCURRENT_WRITES: usize = 16;

const NETWORK_POLICY: &str = "NetworkPolicy";
const AUTHORIZATION_POLICY: &str = "AuthorizationPolicy";

/// One write to the cluster.
#[derive(Clone, Debug)]
pub enum Write {
    /// Server-side apply of a desired object, for a unit.
    Apply { unit: Unit, id: ObjectId, value: Value },
    /// Deletion of an object no unit wants.
    Delete { id: ObjectId },
    /// A merge patch of a pod's Holt-owned labels (`null` removes a label).
    LabelPod {
        key: ObjectKey,
        labels: serde_json::Map<String, Value>,
    },
    /// A merge patch of a ClientIntents status.
    Status { key: ObjectKey, status: Value },
    /// A JSON patch adding or removing Holt's finalizer on one of its objects.
    Finalizer {
        resource: ApiResource,
        key: ObjectKey,
        patch: Value,
    },
}

/// Writes desired state; remembers what it wrote.
pub struct Applier {
    client: Client,
    /// The AuthorizationPolicy resource, when Istio's CRD is installed.
    istio: Option<ApiResource>,
    ownership: Ownership,
    /// A hash of the last applied form of each object, to skip writes that would change nothing (a hash,
    /// not the object: thousands of policies would otherwise be kept twice in memory).
    applied: HashMap<ObjectId, u64>,
    /// Deletions that failed, planned again in the next pass.
    failed_deletes: BTreeSet<ObjectId>,
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
            failed_deletes: BTreeSet::new(),
            writes: 0,
        }
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
            source: Box::new(source),
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
                source: Box::new(source),
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

    /// Plans the deletion of what was found at start-up and no unit claimed.
    pub fn plan_prune_unclaimed(&mut self, plan: &mut Vec<Write>) -> usize {
        let unclaimed = self.ownership.unclaimed_found();
        let count = unclaimed.len();
        plan.extend(unclaimed.into_iter().map(|id| Write::Delete { id }));
        self.ownership.clear_found();
        count
    }

    /// Plans making the cluster hold exactly `desired` for `unit`: an apply for each object that differs
    /// from what was last applied, a deletion for what the unit wanted before and nobody wants now.
    /// AuthorizationPolicies are left out when Istio is not installed.
    pub fn plan_unit(
        &mut self,
        unit: Unit,
        desired: Vec<Desired>,
        plan: &mut Vec<Write>,
    ) -> Result<(), ApplyError> {
        let mut wanted = BTreeSet::new();
        for object in desired {
            if matches!(object.manifest, Manifest::AuthorizationPolicy(_)) && self.istio.is_none() {
                continue;
            }
            let id = (object.manifest.kind(), object.manifest.key());
            let value = serde_json::to_value(&object.manifest).map_err(|source| ApplyError::Encode {
                kind: id.0,
                key: id.1.clone(),
                source,
            })?;
            if self.applied.get(&id) != Some(&fingerprint(&value)) {
                plan.push(Write::Apply {
                    unit: unit.clone(),
                    id: id.clone(),
                    value,
                });
            }
            wanted.insert(id);
        }
        plan.extend(
            self.ownership
                .set(unit, wanted)
                .into_iter()
                .map(|id| Write::Delete { id }),
        );
        Ok(())
    }

    /// Plans the deletions that failed in an earlier pass, unless a unit wants the object again.
    pub fn plan_failed_deletes(&mut self, plan: &mut Vec<Write>) {
        let retry = std::mem::take(&mut self.failed_deletes);
        plan.extend(
            retry
                .into_iter()
                .filter(|id| !self.ownership.is_wanted(id))
                .map(|id| Write::Delete { id }),
        );
    }

    /// Plans setting the Holt-owned labels of a pod to `desired` (none when `None`), given its current
    /// labels; nothing when they are already right.
    pub fn plan_pod_labels(
        key: &ObjectKey,
        current: &SortedMap<String, String>,
        desired: Option<&PodLabels>,
        plan: &mut Vec<Write>,
    ) {
        let empty = PodLabels {
            pod: key.clone(),
            labels: BTreeMap::new(),
        };
        let patch = desired.unwrap_or(&empty).patch(current);
        if patch.is_empty() {
            return;
        }
        let mut labels = serde_json::Map::new();
        for (k, v) in patch.set {
            labels.insert(k, Value::String(v));
        }
        for k in patch.remove {
            labels.insert(k, Value::Null);
        }
        plan.push(Write::LabelPod {
            key: key.clone(),
            labels,
        });
    }

    /// Plans adding or removing `finalizer`, given the object's current finalizers. JSON patches with a
    /// `test` make a concurrent change to the list fail instead of being overwritten.
    pub fn plan_finalizer(
        resource: ApiResource,
        key: &ObjectKey,
        current: &[String],
        finalizer: &str,
        present: bool,
        plan: &mut Vec<Write>,
    ) {
        let patch = match (current.iter().position(|f| f == finalizer), present) {
            (Some(_), true) | (None, false) => return,
            (None, true) if current.is_empty() => {
                json!([{"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}])
            }
            (None, true) => json!([{"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]),
            (Some(i), false) => json!([
                {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": finalizer},
                {"op": "remove", "path": format!("/metadata/finalizers/{i}")},
            ]),
        };
        plan.push(Write::Finalizer {
            resource,
            key: key.clone(),
            patch,
        });
    }

    /// Performs the planned writes, [`CONCURRENT_WRITES`] at a time, and records what succeeded. Returns
    /// the writes that failed with their errors (failed deletions are also kept for the next pass).
    pub async fn execute(&mut self, plan: Vec<Write>) -> Vec<(Write, ApplyError)> {
        self.writes += plan.len() as u64;
        let this = &*self;
        let results: Vec<(Write, Result<(), ApplyError>)> = stream::iter(plan)
            .map(|write| async move {
                let result = this.perform(&write).await;
                (write, result)
            })
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        let mut failures = Vec::new();
        for (write, result) in results {
            match (&write, result) {
                (Write::Apply { id, value, .. }, Ok(())) => {
                    self.applied.insert(id.clone(), fingerprint(value));
                }
                (Write::Delete { id }, Ok(())) => {
                    self.applied.remove(id);
                }
                (Write::Delete { id }, Err(error)) => {
                    self.failed_deletes.insert(id.clone());
                    failures.push((write.clone(), error));
                }
                (_, Ok(())) => {}
                (_, Err(error)) => failures.push((write, error)),
            }
        }
        failures
    }

    /// One write; I/O only.
    async fn perform(&self, write: &Write) -> Result<(), ApplyError> {
        let client = self.client.clone();
        match write {
            Write::Apply {
                id: (kind, key),
                value,
                ..
            } => {
                let params = PatchParams::apply(FIELD_MANAGER).force();
                let result = match *kind {
                    NETWORK_POLICY => {
                        let api: Api<NetworkPolicy> = Api::namespaced(client, &key.namespace);
                        api.patch(&key.name, &params, &Patch::Apply(value))
                            .await
                            .map(drop)
                    }
                    _ => {
                        let Some(resource) = &self.istio else {
                            return Ok(());
                        };
                        let api: Api<DynamicObject> = Api::namespaced_with(client, &key.namespace, resource);
                        api.patch(&key.name, &params, &Patch::Apply(value))
                            .await
                            .map(drop)
                    }
                };
                result.map_err(|source| ApplyError::Apply {
                    kind,
                    key: key.clone(),
                    source: Box::new(source),
                })
            }
            Write::Delete { id: (kind, key) } => {
                let params = DeleteParams::default();
                let result = match *kind {
                    NETWORK_POLICY => {
                        let api: Api<NetworkPolicy> = Api::namespaced(client, &key.namespace);
                        api.delete(&key.name, &params).await.map(drop)
                    }
                    _ => {
                        let Some(resource) = &self.istio else {
                            return Ok(());
                        };
                        let api: Api<DynamicObject> = Api::namespaced_with(client, &key.namespace, resource);
                        api.delete(&key.name, &params).await.map(drop)
                    }
                };
                match result {
                    Err(source) if !is_not_found(&source) => Err(ApplyError::Delete {
                        kind,
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    _ => Ok(()),
                }
            }
            Write::LabelPod { key, labels } => {
                let api: Api<Pod> = Api::namespaced(client, &key.namespace);
                let body = json!({"metadata": {"labels": labels}});
                match api
                    .patch(&key.name, &PatchParams::default(), &Patch::Merge(&body))
                    .await
                {
                    Err(source) if !is_not_found(&source) => Err(ApplyError::LabelPod {
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    _ => Ok(()),
                }
            }
            Write::Status { key, status } => {
                let api: Api<ClientIntents> = Api::namespaced(client, &key.namespace);
                let body = json!({ "status": status });
                match api
                    .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
                    .await
                {
                    Err(source) if !is_not_found(&source) => Err(ApplyError::Status {
                        kind: "ClientIntents",
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    _ => Ok(()),
                }
            }
            Write::Finalizer { resource, key, patch } => {
                let kind = if resource.kind == "ClientIntents" {
                    "ClientIntents"
                } else {
                    "ProtectedService"
                };
                let operations: json_patch::Patch =
                    serde_json::from_value(patch.clone()).map_err(|source| ApplyError::Encode {
                        kind,
                        key: key.clone(),
                        source,
                    })?;
                let api: Api<DynamicObject> = Api::namespaced_with(client, &key.namespace, resource);
                match api
                    .patch(&key.name, &PatchParams::default(), &Patch::<()>::Json(operations))
                    .await
                {
                    Err(source) if !is_not_found(&source) => Err(ApplyError::Finalizer {
                        kind,
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// A hash of an object's JSON form (stable within a process, which is all the skip check needs).
fn fingerprint(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}
