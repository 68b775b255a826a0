//! The objects of the kinds Holt writes (NetworkPolicies, AuthorizationPolicies) as they are in the cluster,
//! fed by a watch and by the answers to Holt's own writes. Pure bookkeeping: it says whose each object is
//! and whether one of Holt's was changed behind its back.
//!
//! - **Whose**: an object is Holt's when it carries `app.kubernetes.io/managed-by: holt` or has fields managed
//!   by Holt's field manager (so removing the label by hand does not make Holt's object someone else's). Any
//!   other object is foreign: Holt never writes or deletes it, also when it has the name Holt wants — unless
//!   it is the reference operator's ([`super::reference`]) and adoption is on: then Holt replaces it when it
//!   wants its name and deletes it after the first full pass when it does not.
//! - **Drift**: each of Holt's objects has a fingerprint of what Holt controls in it — `spec`,
//!   `ownerReferences`, and the labels and annotations under Holt's keys (`intents.otterize.com/…` and the
//!   managed-by label). Holt records the fingerprint of the answer to its own write (the object as the API
//!   server stored it, defaults and mutations included); a later version whose fingerprint differs was
//!   changed by someone else. Labels and annotations under other keys are someone else's: they neither
//!   count as drift nor get removed, and a repair keeps them.
//! - **Order**: resource versions of one API server increase; a watch event older than the answer to Holt's
//!   own write (it can arrive after it) is stale and ignored. Versions that are not integers are compared
//!   for equality only.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use holt_model::labels::{MANAGED_BY, MANAGED_BY_HOLT};
use holt_render::ObjectKind;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::ownership::ObjectId;
use super::reference::{is_reference_object, is_rendered_family};

/// The field manager of Holt's writes; an object with fields under it is Holt's.
pub const FIELD_MANAGER: &str = "holt";

/// Label and annotation keys under Holt's control on the objects it writes.
pub fn is_holts_key(key: &str) -> bool {
    key == MANAGED_BY || key.starts_with("intents.otterize.com/")
}

/// What Holt knows of one object in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveObject {
    pub uid: String,
    pub resource_version: String,
    /// Created by Holt (label or field manager).
    pub holts: bool,
    /// Not Holt's, and carries the reference operator's marks ([`super::reference`]).
    pub reference: bool,
    /// One of the reference's, of a family Holt renders: Holt may delete it when it does not want it.
    pub reference_prunable: bool,
    /// Fingerprint of what Holt controls in it.
    pub content: u64,
    /// Labels and annotations under other keys, and finalizers: kept when Holt rewrites the object.
    pub others: Others,
}

/// What others put on one of Holt's objects and Holt keeps: labels and annotations outside Holt's keys,
/// finalizers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Others {
    pub labels: Pairs,
    pub annotations: Pairs,
    pub finalizers: Vec<String>,
}

impl LiveObject {
    /// Reads an object's JSON form (as the API server returns it).
    pub fn from_value(kind: ObjectKind, object: &Value) -> Option<LiveObject> {
        let metadata: ObjectMeta = serde_json::from_value(object.get("metadata")?.clone()).ok()?;
        Some(LiveObject::new(kind, &metadata, object.get("spec")))
    }

    pub fn new(kind: ObjectKind, metadata: &ObjectMeta, spec: Option<&Value>) -> LiveObject {
        let labels = metadata.labels.clone().unwrap_or_default();
        let annotations = metadata.annotations.clone().unwrap_or_default();
        let holts = labels.get(MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_HOLT)
            || metadata
                .managed_fields
                .iter()
                .flatten()
                .any(|entry| entry.manager.as_deref() == Some(FIELD_MANAGER));
        let reference = is_reference_object(kind, holts, &labels, &annotations);
        let reference_prunable = reference && is_rendered_family(kind, &labels);
        let (ours_labels, others_labels) = split(labels);
        let (ours_annotations, others_annotations) = split(annotations);
        let owners = serde_json::to_value(&metadata.owner_references).unwrap_or(Value::Null);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hash_value(spec.unwrap_or(&Value::Null), &mut hasher);
        hash_value(&owners, &mut hasher);
        ours_labels.hash(&mut hasher);
        ours_annotations.hash(&mut hasher);
        // What others added is kept only on the objects Holt rewrites: its own, and the reference's it adopts.
        let others = match holts || reference {
            true => Others {
                labels: others_labels,
                annotations: others_annotations,
                finalizers: metadata.finalizers.clone().unwrap_or_default(),
            },
            false => Others::default(),
        };
        LiveObject {
            uid: metadata.uid.clone().unwrap_or_default(),
            resource_version: metadata.resource_version.clone().unwrap_or_default(),
            holts,
            reference,
            reference_prunable,
            content: hasher.finish(),
            others,
        }
    }
}

type Pairs = Vec<(String, String)>;

/// The entries under Holt's keys, and the others.
fn split(map: BTreeMap<String, String>) -> (Pairs, Pairs) {
    map.into_iter().partition(|(key, _)| is_holts_key(key))
}

/// Hashes a JSON value with object keys in sorted order, so two encodings of one object agree.
fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => (2u8, n.to_string()).hash(hasher),
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            (5u8, keys.len()).hash(hasher);
            for key in keys {
                key.hash(hasher);
                hash_value(&map[key], hasher);
            }
        }
    }
}

/// What a watch event means for Holt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Nothing Holt must act on: unchanged, stale, or a foreign object that stays foreign.
    Nothing,
    /// One of Holt's objects was changed by someone else.
    Drifted,
    /// The object is gone.
    Deleted,
    /// An object appeared or changed hands (foreign ⇄ Holt's).
    Appeared,
}

/// The live objects by id, with the fingerprint Holt last wrote for each of its own.
#[derive(Debug, Default)]
pub struct LiveObjects {
    objects: HashMap<ObjectId, LiveObject>,
    /// The fingerprint and resource version of the answer to Holt's last write of each object.
    written: HashMap<ObjectId, (u64, String)>,
}

impl LiveObjects {
    pub fn get(&self, id: &ObjectId) -> Option<&LiveObject> {
        self.objects.get(id)
    }

    /// Every object seen, for the start-up scan of Holt's leftovers.
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectId, &LiveObject)> {
        self.objects.iter()
    }

    /// Whether Holt's last write of `id` is what the cluster holds now (false when Holt has not written it
    /// in this process, or someone changed it since).
    pub fn is_as_written(&self, id: &ObjectId) -> bool {
        match (self.objects.get(id), self.written.get(id)) {
            (Some(live), Some((content, _))) => live.holts && live.content == *content,
            _ => false,
        }
    }

    /// Records the answer to Holt's own create or replace of `id`.
    pub fn wrote(&mut self, id: ObjectId, live: LiveObject) {
        self.written
            .insert(id.clone(), (live.content, live.resource_version.clone()));
        self.objects.insert(id, live);
    }

    /// Records that Holt deleted `id`.
    pub fn deleted(&mut self, id: &ObjectId) {
        self.written.remove(id);
        self.objects.remove(id);
    }

    /// Records a watch event: the object as it is now, or `None` when it is gone.
    pub fn observe(&mut self, id: ObjectId, now: Option<LiveObject>) -> Observed {
        let Some(now) = now else {
            self.written.remove(&id);
            return match self.objects.remove(&id) {
                Some(_) => Observed::Deleted,
                None => Observed::Nothing,
            };
        };
        if let Some((_, version)) = self.written.get(&id)
            && !is_newer(&now.resource_version, version)
        {
            return Observed::Nothing; // our own write, or older
        }
        let before = self.objects.insert(id.clone(), now.clone());
        match before {
            None => Observed::Appeared,
            Some(before)
                if before.uid != now.uid
                    || before.holts != now.holts
                    || before.reference != now.reference =>
            {
                Observed::Appeared
            }
            Some(_) if !now.holts => Observed::Nothing,
            Some(before) => match self.written.get(&id) {
                Some((content, _)) if *content != now.content => Observed::Drifted,
                None if before.content != now.content => Observed::Drifted,
                _ => Observed::Nothing,
            },
        }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// Whether resource version `a` is newer than `b`: by number when both are integers (as etcd's are),
/// else whenever they differ.
pub fn is_newer(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a != b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use holt_model::ObjectKey;
    use serde_json::json;

    fn id(name: &str) -> ObjectId {
        (holt_render::ObjectKind::NetworkPolicy, ObjectKey::new("ns", name))
    }

    fn object(version: u64, labels: Value, spec: Value) -> LiveObject {
        LiveObject::from_value(holt_render::ObjectKind::NetworkPolicy, &json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": version.to_string(),
                         "labels": labels},
            "spec": spec,
        }))
        .expect("object")
    }

    fn holts(version: u64, spec: Value) -> LiveObject {
        object(version, json!({"app.kubernetes.io/managed-by": "holt"}), spec)
    }

    #[test]
    fn an_object_is_holts_by_its_label_or_its_field_manager() {
        assert!(holts(1, json!({})).holts);
        assert!(!object(1, json!({"app": "x"}), json!({})).holts);
        let managed = LiveObject::from_value(
            holt_render::ObjectKind::NetworkPolicy,
            &json!({
                "metadata": {"name": "p", "managedFields": [{"manager": "holt", "operation": "Update"}]},
            }),
        )
        .expect("object");
        assert!(managed.holts, "label removed, fields still Holt's");
    }

    #[test]
    fn key_order_and_foreign_labels_do_not_change_the_fingerprint() {
        let a = holts(1, json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
        let b = object(
            1,
            json!({"team": "x", "app.kubernetes.io/managed-by": "holt"}),
            json!({"policyTypes": ["Ingress"], "podSelector": {}}),
        );
        assert_eq!(a.content, b.content);
        assert_eq!(b.others.labels, vec![("team".to_owned(), "x".to_owned())]);
        let c = holts(
            1,
            json!({"podSelector": {"matchLabels": {"a": "b"}}, "policyTypes": ["Ingress"]}),
        );
        assert_ne!(a.content, c.content);
    }

    #[test]
    fn a_change_after_holts_write_is_drift_and_older_events_are_ignored() {
        let mut live = LiveObjects::default();
        live.wrote(id("p"), holts(10, json!({"a": 1})));
        assert!(live.is_as_written(&id("p")));
        assert_eq!(
            live.observe(id("p"), Some(holts(9, json!({"a": 0})))),
            Observed::Nothing,
            "an event older than our write"
        );
        assert_eq!(
            live.observe(id("p"), Some(holts(10, json!({"a": 1})))),
            Observed::Nothing,
            "our own write"
        );
        assert_eq!(
            live.observe(id("p"), Some(holts(11, json!({"a": 2})))),
            Observed::Drifted
        );
        assert!(!live.is_as_written(&id("p")));
        assert_eq!(live.observe(id("p"), None), Observed::Deleted);
        assert_eq!(live.observe(id("p"), None), Observed::Nothing);
    }

    #[test]
    fn a_foreign_object_appearing_or_taking_a_name_is_reported() {
        let mut live = LiveObjects::default();
        assert_eq!(
            live.observe(id("p"), Some(object(1, json!({}), json!({})))),
            Observed::Appeared
        );
        assert_eq!(
            live.observe(id("p"), Some(object(2, json!({}), json!({"x": 1})))),
            Observed::Nothing,
            "a foreign object's changes are its owner's business"
        );
        assert!(!live.get(&id("p")).expect("known").holts);
    }
}
