//! Appliers: the only code that writes to the cluster.
//!
//! A pass first *plans* its writes ([`Applier::plan_unit`], [`Applier::plan_pod_labels`], …): pure
//! bookkeeping against what Holt knows of the cluster ([`live`]) that drops writes which would change nothing
//! and refuses writes Holt must not make. The planned [`Write`]s are independent of each other, so
//! [`Applier::execute`] performs them concurrently and then records what the API server answered.
//!
//! Ownership: a desired object is created (POST) when no object has its name, and replaced (PUT, with the
//! resource version Holt last saw as a precondition) when the object is Holt's and differs from what Holt
//! last wrote — also when someone else changed it ([`live`] notices). An object of the same name that Holt
//! did not create is never written or deleted: the unit reports the name as taken. Objects are deleted only
//! when no unit wants them ([`ownership`]), only when they are Holt's, and with their UID as a precondition.
//! Objects in a namespace that does not exist (yet) are not written: the unit waits for the namespace.
//!
//! Taking over from the reference operator ([`reference`](mod@reference), on unless turned off): an object of the reference's
//! with a name Holt wants is replaced in place like one of Holt's (adopted); the reference's objects no unit
//! wants are deleted by [`Applier::plan_prune_reference`], which the controller calls only once a pass has
//! written everything Holt wants without a failure.
//! Pod labels are merge-patched with the difference between the desired and current Holt-owned labels.

pub mod error;
pub mod live;
pub mod ownership;
pub mod reference;
pub mod tally;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, stream};
// Status is written in the stored version (same schema as the hub): no round trip through the conversion webhook.
use holt_api::v2alpha1::ClientIntents;
use holt_model::ObjectKey;
use holt_model::sorted_map::SortedMap;
use holt_render::{Desired, Manifest, ObjectKind, PodLabels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Client};
use serde_json::{Value, json};
use tracing::info;

pub use error::ApplyError;
use error::is_not_found;
pub use live::{FIELD_MANAGER, LiveObject, LiveObjects, Observed};
pub use ownership::{ObjectId, Ownership};
pub use tally::WriteTally;

use crate::unit::Unit;
use crate::unit_health::{Failure, UnitOutcome};

/// Writes in flight at once: enough to hide the API server's latency, few enough not to flood it.
pub const CONCURRENT_WRITES: usize = 16;

/// One write to the cluster.
#[derive(Clone, Debug)]
pub enum Write {
    /// Creation of a desired object no object has the name of.
    Create {
        unit: Unit,
        id: ObjectId,
        object: DynamicObject,
        fingerprint: u64,
    },
    /// Replacement of one of Holt's objects by its desired form (keeping what others added, see [`live`]).
    Replace {
        unit: Unit,
        id: ObjectId,
        object: DynamicObject,
        fingerprint: u64,
    },
    /// Deletion of one of Holt's objects that no unit wants (a leftover of an earlier run has no unit).
    Delete {
        unit: Option<Unit>,
        id: ObjectId,
        uid: String,
    },
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

impl Write {
    /// The render unit the write is for (none for status and finalizer writes).
    pub fn unit(&self) -> Option<Unit> {
        match self {
            Write::Create { unit, .. } | Write::Replace { unit, .. } => Some(unit.clone()),
            Write::Delete { unit, .. } => unit.clone(),
            Write::LabelPod { key, .. } => Some(Unit::Pod(key.clone())),
            Write::Status { .. } | Write::Finalizer { .. } => None,
        }
    }
}

/// The metadata of one of Holt's own objects (ClientIntents, ProtectedService) as a status or finalizer
/// patch left it: newer than any watch event still on its way about an earlier version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patched {
    /// `ClientIntents` or `ProtectedService`.
    pub kind: &'static str,
    pub key: ObjectKey,
    pub resource_version: String,
    pub finalizers: Vec<String>,
}

/// What [`Applier::execute`] did: the writes that failed, with their errors, and the patched metadata of
/// Holt's own objects.
#[derive(Debug, Default)]
pub struct Executed {
    pub failures: Vec<(Write, ApplyError)>,
    pub patched: Vec<Patched>,
}

/// What one write answered.
enum Answer {
    Nothing,
    /// A created or replaced object, as stored.
    Written(LiveObject),
    Patched(Patched),
}

/// Writes desired state; remembers what it wrote and what the cluster holds.
pub struct Applier {
    client: Client,
    /// The resources of the kinds Holt can write here: the built-in ones, and those whose CRD is installed
    /// (Istio's, Linkerd's). Objects of other kinds are not written.
    resources: BTreeMap<ObjectKind, ApiResource>,
    ownership: Ownership,
    /// A hash of the desired form of each object as last written, to skip writes that would change
    /// nothing (a hash, not the object: thousands of policies would otherwise be kept twice in memory).
    applied: HashMap<ObjectId, u64>,
    /// The objects of the kinds Holt writes, as the cluster holds them.
    live: LiveObjects,
    /// Deletions that failed, planned again when their unit is retried.
    failed_deletes: BTreeMap<ObjectId, Unit>,
    /// Whether the reference operator's objects are adopted and pruned ([`reference`]).
    adopt_reference: bool,
    /// API writes made, for metrics and benchmarks.
    pub writes: u64,
    /// The writes accepted, by meaning (for the reference's metric names).
    pub tally: WriteTally,
    /// The reference's objects adopted (replaced in place) and deleted.
    pub adopted: u64,
    pub reference_deleted: u64,
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier")
            .field("kinds", &self.resources.keys().collect::<Vec<_>>())
            .field("writes", &self.writes)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// An applier; looks up which of the kinds Holt writes have their CRD installed.
    pub async fn new(client: Client) -> Self {
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut resources = BTreeMap::new();
        for kind in ObjectKind::ALL {
            let installed = match kind.crd() {
                None => true,
                Some(crd) => matches!(crds.get_opt(crd).await, Ok(Some(_))),
            };
            if installed {
                resources.insert(kind, api_resource(kind));
            }
        }
        Applier {
            client,
            resources,
            ownership: Ownership::default(),
            applied: HashMap::new(),
            live: LiveObjects::default(),
            failed_deletes: BTreeMap::new(),
            adopt_reference: true,
            writes: 0,
            tally: WriteTally::default(),
            adopted: 0,
            reference_deleted: 0,
        }
    }

    /// Whether the reference operator's objects are adopted and pruned (on by default).
    pub fn adopting_reference_objects(mut self, adopt: bool) -> Self {
        self.adopt_reference = adopt;
        self
    }

    /// The kinds Holt writes here, with their resources (their objects are watched too).
    pub fn written_kinds(&self) -> Vec<(ObjectKind, ApiResource)> {
        self.resources
            .iter()
            .map(|(kind, resource)| (*kind, resource.clone()))
            .collect()
    }

    /// Records a watch event for an object of a kind Holt writes; returns the units to render again
    /// because of it (the object was changed or deleted behind Holt's back, or a name Holt wants was taken
    /// or freed).
    pub fn observe(&mut self, id: ObjectId, now: Option<LiveObject>) -> (Observed, Vec<Unit>) {
        let observed = self.live.observe(id.clone(), now);
        let units = match observed {
            Observed::Nothing => Vec::new(),
            Observed::Drifted | Observed::Deleted | Observed::Appeared => {
                self.applied.remove(&id);
                self.ownership.units_wanting(&id)
            }
        };
        (observed, units)
    }

    /// Records the objects of Holt's in the namespaces it acts on, as the watches listed them at start-up,
    /// so the first full pass can delete those nobody wants any more.
    pub fn claim_found(&mut self, watched: impl Fn(&str) -> bool) {
        let found = self
            .live
            .iter()
            .filter(|(id, live)| live.holts && watched(&id.1.namespace))
            .map(|(id, _)| id.clone())
            .collect();
        self.ownership.set_found(found);
        if self.adopt_reference {
            let reference = self
                .live
                .iter()
                .filter(|(id, live)| live.reference && watched(&id.1.namespace))
                .map(|(id, _)| id.clone())
                .collect();
            self.ownership.set_reference_found(reference);
        }
    }

    /// Whether objects of the reference's found at start-up are still to be adopted or deleted.
    pub fn has_reference_leftovers(&self) -> bool {
        self.ownership.has_reference_found()
    }

    /// Plans the deletion of the reference's objects found at start-up that no unit wants (those a unit
    /// wants were adopted by its write), of the families Holt renders (the others are kept:
    /// [`reference::Takeover::Keep`]). Called only after a pass wrote everything Holt wants.
    pub fn plan_prune_reference(&mut self, plan: &mut Vec<Write>) -> usize {
        let before = plan.len();
        for id in self.ownership.take_unclaimed_reference() {
            if let Some(live) = self.live.get(&id).filter(|l| l.reference_prunable) {
                let uid = live.uid.clone();
                plan.push(Write::Delete { unit: None, id, uid });
            }
        }
        plan.len() - before
    }

    /// Plans the deletion of what was found at start-up and no unit claimed.
    pub fn plan_prune_unclaimed(&mut self, plan: &mut Vec<Write>) -> usize {
        let before = plan.len();
        for id in self.ownership.unclaimed_found() {
            self.plan_delete(None, id, plan);
        }
        self.ownership.clear_found();
        plan.len() - before
    }

    /// Plans making the cluster hold exactly `desired` for `unit`: a create or replace for each object that
    /// differs from what the cluster holds, a deletion for what the unit wanted before and nobody wants now.
    /// Returns what cannot be written: objects whose namespace is not in `namespaces`, names taken by
    /// objects Holt did not create. Objects of kinds whose CRD is not installed are left out.
    pub fn plan_unit(
        &mut self,
        unit: &Unit,
        desired: Vec<Desired>,
        namespaces: &BTreeSet<String>,
        plan: &mut Vec<Write>,
    ) -> UnitOutcome {
        let mut outcome = UnitOutcome::default();
        let mut wanted = BTreeSet::new();
        for object in desired {
            if !self.resources.contains_key(&object.manifest.kind()) {
                continue;
            }
            let id = (object.manifest.kind(), object.manifest.key());
            wanted.insert(id.clone());
            if !namespaces.contains(&id.1.namespace) {
                outcome.waiting.insert(id.1.namespace.clone());
                continue;
            }
            if self
                .live
                .get(&id)
                .is_some_and(|l| !(l.holts || (self.adopt_reference && l.reference)))
            {
                outcome.taken.insert(id);
                continue;
            }
            match self.plan_write(unit, &id, &object.manifest) {
                Ok(Some(write)) => plan.push(write),
                Ok(None) => {}
                Err(source) => {
                    let error = ApplyError::Encode {
                        kind: id.0.label(),
                        key: id.1.clone(),
                        source,
                    };
                    outcome.failure = Some(failure(&error));
                }
            }
        }
        if outcome.failure.is_some() {
            return outcome; // keep what the unit wanted before: nothing is deleted on a render it could not encode
        }
        for orphan in self.ownership.set(unit.clone(), wanted) {
            self.plan_delete(Some(unit.clone()), orphan, plan);
        }
        let retry: Vec<ObjectId> = self
            .failed_deletes
            .iter()
            .filter(|(id, owner)| *owner == unit && !self.ownership.is_wanted(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in retry {
            self.failed_deletes.remove(&id);
            self.plan_delete(Some(unit.clone()), id, plan);
        }
        outcome
    }

    /// The create or replace that makes the cluster hold `manifest` as `id`, if it does not already.
    fn plan_write(
        &self,
        unit: &Unit,
        id: &ObjectId,
        manifest: &Manifest,
    ) -> Result<Option<Write>, serde_json::Error> {
        let value = serde_json::to_value(manifest)?;
        let fingerprint = fingerprint(&value);
        if self.applied.get(id) == Some(&fingerprint) && self.live.is_as_written(id) {
            return Ok(None);
        }
        let (unit, id) = (unit.clone(), id.clone());
        Ok(Some(match self.live.get(&id) {
            None => Write::Create {
                object: dynamic(value)?,
                unit,
                id,
                fingerprint,
            },
            Some(live) => Write::Replace {
                object: dynamic(replacement(value, live))?,
                unit,
                id,
                fingerprint,
            },
        }))
    }

    /// Plans deleting `id` if it is Holt's (a foreign object of that name, or none, is left alone).
    fn plan_delete(&mut self, unit: Option<Unit>, id: ObjectId, plan: &mut Vec<Write>) {
        self.applied.remove(&id);
        if let Some(live) = self.live.get(&id).filter(|l| l.holts) {
            let uid = live.uid.clone();
            plan.push(Write::Delete { unit, id, uid });
        }
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

    /// Plans adding or removing `finalizer`, given the object's current finalizers. Every patch starts with a
    /// `test` of the list as last seen, so a concurrent change to it makes the patch fail instead of being
    /// overwritten.
    pub fn plan_finalizer(
        resource: ApiResource,
        key: &ObjectKey,
        current: &[String],
        finalizer: &str,
        present: bool,
        plan: &mut Vec<Write>,
    ) {
        let seen = if current.is_empty() {
            Value::Null
        } else {
            json!(current)
        };
        let test = json!({"op": "test", "path": "/metadata/finalizers", "value": seen});
        let patch = match (current.iter().position(|f| f == finalizer), present) {
            (Some(_), true) | (None, false) => return,
            (None, true) if current.is_empty() => {
                json!([test, {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}])
            }
            (None, true) => {
                json!([test, {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}])
            }
            (Some(i), false) => json!([test, {"op": "remove", "path": format!("/metadata/finalizers/{i}")}]),
        };
        plan.push(Write::Finalizer {
            resource,
            key: key.clone(),
            patch,
        });
    }

    /// Performs the planned writes, [`CONCURRENT_WRITES`] at a time, and records what the API server
    /// answered. Returns the writes that failed with their errors (failed deletions are also kept for the
    /// next attempt at their unit).
    pub async fn execute(&mut self, plan: Vec<Write>) -> Executed {
        self.writes += plan.len() as u64;
        let this = &*self;
        let results: Vec<(Write, Result<Answer, ApplyError>)> = stream::iter(plan)
            .map(|write| async move {
                let result = this.perform(&write).await;
                (write, result)
            })
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        let mut failures = Vec::new();
        let mut patched = Vec::new();
        for (write, result) in results {
            if result.is_ok() {
                self.tally.accepted(&write);
            }
            match (&write, result) {
                (_, Ok(Answer::Patched(answer))) => patched.push(answer),
                (
                    Write::Create { id, fingerprint, .. } | Write::Replace { id, fingerprint, .. },
                    Ok(Answer::Written(live)),
                ) => {
                    if self.live.get(id).is_some_and(|l| l.reference) {
                        self.adopted += 1;
                        info!(kind = %id.0, object = %id.1, "adopted the reference operator's object");
                    }
                    self.applied.insert(id.clone(), *fingerprint);
                    self.live.wrote(id.clone(), live);
                }
                (Write::Replace { id, .. }, Err(error)) => {
                    if error.is_not_found() {
                        self.live.deleted(id); // gone meanwhile: the retry creates it
                    }
                    failures.push((write, error));
                }
                (Write::Delete { id, .. }, Ok(_)) => {
                    if self.live.get(id).is_some_and(|l| l.reference) {
                        self.reference_deleted += 1;
                        info!(kind = %id.0, object = %id.1, "deleted the reference operator's object Holt does not want");
                    }
                    self.live.deleted(id)
                }
                (Write::Delete { id, unit, .. }, Err(error)) => {
                    if let Some(unit) = unit {
                        self.failed_deletes.insert(id.clone(), unit.clone());
                    } else if self.live.get(id).is_some_and(|l| l.reference) {
                        self.ownership.retry_reference(id.clone()); // planned again after the next clean pass
                    }
                    failures.push((write, error));
                }
                (_, Ok(_)) => {}
                (_, Err(error)) => failures.push((write, error)),
            }
        }
        Executed { failures, patched }
    }

    fn resource(&self, kind: ObjectKind) -> Option<&ApiResource> {
        self.resources.get(&kind)
    }

    /// One write; I/O only. Creates and replaces answer the object as the API server stored it; status and
    /// finalizer patches the object's new metadata.
    async fn perform(&self, write: &Write) -> Result<Answer, ApplyError> {
        let client = self.client.clone();
        let params = PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        };
        match write {
            Write::Create {
                id: (kind, key),
                object,
                ..
            }
            | Write::Replace {
                id: (kind, key),
                object,
                ..
            } => {
                let Some(resource) = self.resource(*kind) else {
                    return Ok(Answer::Nothing);
                };
                let api: Api<DynamicObject> = Api::namespaced_with(client, &key.namespace, resource);
                let result = match write {
                    Write::Create { .. } => api.create(&params, object).await,
                    _ => api.replace(&key.name, &params, object).await,
                };
                let written = result.map_err(|source| ApplyError::Write {
                    kind: *kind,
                    key: key.clone(),
                    source: Box::new(source),
                })?;
                let live = LiveObject::new(*kind, &written.metadata, written.data.get("spec"));
                Ok(Answer::Written(live))
            }
            Write::Delete {
                id: (kind, key), uid, ..
            } => {
                let Some(resource) = self.resource(*kind) else {
                    return Ok(Answer::Nothing);
                };
                let api: Api<DynamicObject> = Api::namespaced_with(client, &key.namespace, resource);
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(&key.name, &params).await {
                    Err(source) if !is_not_found(&source) => Err(ApplyError::Delete {
                        kind: *kind,
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    _ => Ok(Answer::Nothing),
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
                    _ => Ok(Answer::Nothing),
                }
            }
            Write::Status { key, status } => {
                let api: Api<ClientIntents> = Api::namespaced(client, &key.namespace);
                let body = json!({ "status": status });
                match api
                    .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
                    .await
                {
                    Ok(object) => Ok(patched("ClientIntents", key, &object.metadata)),
                    Err(source) if !is_not_found(&source) => Err(ApplyError::Status {
                        kind: "ClientIntents",
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    Err(_) => Ok(Answer::Nothing),
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
                    Ok(object) => Ok(patched(kind, key, &object.metadata)),
                    Err(source) if !is_not_found(&source) => Err(ApplyError::Finalizer {
                        kind,
                        key: key.clone(),
                        source: Box::new(source),
                    }),
                    Err(_) => Ok(Answer::Nothing),
                }
            }
        }
    }
}

fn patched(kind: &'static str, key: &ObjectKey, metadata: &ObjectMeta) -> Answer {
    Answer::Patched(Patched {
        kind,
        key: key.clone(),
        resource_version: metadata.resource_version.clone().unwrap_or_default(),
        finalizers: metadata.finalizers.clone().unwrap_or_default(),
    })
}

/// A unit's failure, from the error of one of its writes.
pub fn failure(error: &ApplyError) -> Failure {
    Failure {
        reason: error.category(),
        message: error.to_string(),
        transient: error.is_transient(),
    }
}

/// The replacement of one of Holt's objects: its desired form, with the resource version last seen (a
/// precondition: a change made meanwhile fails the write instead of being overwritten unseen), and the
/// labels, annotations and finalizers others added (kept).
fn replacement(mut desired: Value, live: &LiveObject) -> Value {
    let Some(metadata) = desired.get_mut("metadata").and_then(Value::as_object_mut) else {
        return desired;
    };
    metadata.insert(
        "resourceVersion".to_owned(),
        Value::String(live.resource_version.clone()),
    );
    for (field, others) in [
        ("labels", &live.others.labels),
        ("annotations", &live.others.annotations),
    ] {
        if others.is_empty() {
            continue;
        }
        let entry = metadata
            .entry(field)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(map) = entry.as_object_mut() {
            for (key, value) in others {
                map.entry(key.clone())
                    .or_insert_with(|| Value::String(value.clone()));
            }
        }
    }
    if !live.others.finalizers.is_empty() {
        metadata.insert("finalizers".to_owned(), json!(live.others.finalizers));
    }
    desired
}

/// The API resource objects of `kind` are written through.
pub fn api_resource(kind: ObjectKind) -> ApiResource {
    let api = kind.api();
    ApiResource {
        group: api.group.into(),
        version: api.version.into(),
        api_version: api.api_version(),
        kind: api.kind.into(),
        plural: api.plural.into(),
    }
}

fn dynamic(value: Value) -> Result<DynamicObject, serde_json::Error> {
    serde_json::from_value(value)
}

/// A hash of an object's JSON form (stable within a process, which is all the skip check needs).
fn fingerprint(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_keeps_what_others_added_and_carries_the_version_seen() {
        let live = LiveObject::from_value(
            ObjectKind::NetworkPolicy,
            &json!({
                "metadata": {"name": "p", "resourceVersion": "7", "uid": "u",
                             "labels": {"app.kubernetes.io/managed-by": "holt", "team": "payments",
                                        "intents.otterize.com/network-policy": "stale"},
                             "annotations": {"note": "hi"}, "finalizers": ["example.com/keep"]},
                "spec": {},
            }),
        )
        .expect("live");
        let desired = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "labels": {"app.kubernetes.io/managed-by": "holt",
                                                 "intents.otterize.com/network-policy": "fresh"}},
            "spec": {"podSelector": {}},
        });
        let replaced = replacement(desired, &live);
        assert_eq!(
            replaced["metadata"],
            json!({"name": "p", "resourceVersion": "7",
                   "labels": {"app.kubernetes.io/managed-by": "holt",
                              "intents.otterize.com/network-policy": "fresh", "team": "payments"},
                   "annotations": {"note": "hi"}, "finalizers": ["example.com/keep"]})
        );
    }

    #[test]
    fn finalizer_patches_test_the_list_they_change() {
        let resource = ApiResource::erase::<ClientIntents>(&());
        let key = ObjectKey::new("ns", "c");
        let mut plan = Vec::new();
        Applier::plan_finalizer(resource.clone(), &key, &[], "f", true, &mut plan);
        Applier::plan_finalizer(resource.clone(), &key, &["other".into()], "f", true, &mut plan);
        Applier::plan_finalizer(
            resource.clone(),
            &key,
            &["other".into(), "f".into()],
            "f",
            false,
            &mut plan,
        );
        Applier::plan_finalizer(resource, &key, &["f".into()], "f", true, &mut plan);
        let patches: Vec<Value> = plan
            .into_iter()
            .map(|w| match w {
                Write::Finalizer { patch, .. } => patch,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            patches,
            [
                json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                       {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]),
                json!([{"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
                       {"op": "add", "path": "/metadata/finalizers/-", "value": "f"}]),
                json!([{"op": "test", "path": "/metadata/finalizers", "value": ["other", "f"]},
                       {"op": "remove", "path": "/metadata/finalizers/1"}]),
            ],
            "nothing planned when the finalizer is already there"
        );
    }
}
