//! The declared state the shadow-mode insights read besides the Pods, Services and owners of the
//! [`ClusterIndex`](crate::cluster::ClusterIndex): every Namespace (its labels), ClientIntents and
//! ProtectedService (in the hub version, as the operator reads them), Ingress (the Services it routes to)
//! and every NetworkPolicy that Holt did not write. Fed one watch event at a time ([`crate::watch`]); no I/O.
//!
//! Only what the insights read is kept: a Namespace's name, labels and mesh facts; a ClientIntents' or
//! ProtectedService's name, namespace and spec; an Ingress's backend Services; a NetworkPolicy's name,
//! namespace and spec. Each kind holds at most `max_per_kind` objects: past it a new object is left out
//! and counted, and the kind is *incomplete* — the insights refuse to answer from it, since a missing
//! ClientIntents would show a declared call as undeclared — until a relist of that kind finds every object
//! it listed held.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use holt_api::v2beta1::{ClientIntents, ProtectedService};
use holt_model::facts::{IngressFacts, NamespaceFacts};
use holt_model::labels::{MANAGED_BY, MANAGED_BY_HOLT};
use holt_model::{Object, ObjectKey};
use holt_reach::NamespaceInput;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::object::HasStatus;

/// The kinds the insights watch besides the cluster index's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclaredKind {
    Namespace,
    ClientIntents,
    ProtectedService,
    NetworkPolicy,
    Ingress,
}

impl DeclaredKind {
    pub const ALL: [DeclaredKind; 5] = [
        DeclaredKind::Namespace,
        DeclaredKind::ClientIntents,
        DeclaredKind::ProtectedService,
        DeclaredKind::NetworkPolicy,
        DeclaredKind::Ingress,
    ];

    /// The Kubernetes kind name.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 5] = [
            "Namespace",
            "ClientIntents",
            "ProtectedService",
            "NetworkPolicy",
            "Ingress",
        ];
        NAMES[self as usize]
    }
}

/// What is kept of one declared object.
#[derive(Clone, Debug, PartialEq)]
pub enum Declared {
    Namespace {
        facts: NamespaceFacts,
        /// All its labels: NetworkPolicy namespace selectors read them.
        labels: BTreeMap<String, String>,
    },
    ClientIntents(ClientIntents),
    ProtectedService(ProtectedService),
    NetworkPolicy(NetworkPolicy),
    Ingress(IngressFacts),
}

impl Declared {
    pub fn kind(&self) -> DeclaredKind {
        match self {
            Declared::Namespace { .. } => DeclaredKind::Namespace,
            Declared::ClientIntents(_) => DeclaredKind::ClientIntents,
            Declared::ProtectedService(_) => DeclaredKind::ProtectedService,
            Declared::NetworkPolicy(_) => DeclaredKind::NetworkPolicy,
            Declared::Ingress(_) => DeclaredKind::Ingress,
        }
    }

    pub fn namespace(namespace: &Namespace) -> Declared {
        Declared::Namespace {
            facts: NamespaceFacts::from_meta(&namespace.metadata),
            labels: namespace.metadata.labels.clone().unwrap_or_default(),
        }
    }

    /// A ClientIntents (already in the hub version) with its name, namespace and spec only; `None` while it
    /// is being deleted (the operator takes its access away then).
    pub fn client_intents(intents: ClientIntents) -> Option<Declared> {
        name_and_spec(intents).map(Declared::ClientIntents)
    }

    /// A ProtectedService (in the hub version), kept as [`Declared::client_intents`] keeps a ClientIntents.
    pub fn protected_service(protected: ProtectedService) -> Option<Declared> {
        name_and_spec(protected).map(Declared::ProtectedService)
    }

    /// A NetworkPolicy with its name, namespace and spec; `None` for Holt's own (labelled
    /// `app.kubernetes.io/managed-by: holt`), which the insights render from the declared state instead.
    pub fn network_policy(policy: NetworkPolicy) -> Option<Declared> {
        let labels = policy.metadata.labels.as_ref();
        if labels.and_then(|l| l.get(MANAGED_BY)).map(String::as_str) == Some(MANAGED_BY_HOLT) {
            return None;
        }
        Some(Declared::NetworkPolicy(NetworkPolicy {
            metadata: name_only(&policy.metadata),
            spec: policy.spec,
        }))
    }
}

/// `object` with no status and no metadata but its name and namespace; `None` while it is being deleted.
fn name_and_spec<K: Resource + HasStatus>(mut object: K) -> Option<K> {
    if object.meta().deletion_timestamp.is_some() {
        return None;
    }
    *object.meta_mut() = name_only(object.meta());
    *object.status_mut() = None;
    Some(object)
}

fn name_only(meta: &ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        ..ObjectMeta::default()
    }
}

/// The declared objects, by kind and key, each kind bounded.
#[derive(Debug)]
pub struct DeclaredState {
    max_per_kind: usize,
    objects: BTreeMap<DeclaredKind, BTreeMap<ObjectKey, Declared>>,
    /// Objects left out because their kind was full, since the start.
    refused: BTreeMap<DeclaredKind, u64>,
    /// Kinds with an object left out since their last complete relist.
    incomplete: BTreeSet<DeclaredKind>,
    /// Bumped by every change: what the insights read is the same while it is.
    generation: u64,
}

impl DeclaredState {
    pub fn new(max_per_kind: usize) -> Self {
        DeclaredState {
            max_per_kind,
            objects: BTreeMap::new(),
            refused: BTreeMap::new(),
            incomplete: BTreeSet::new(),
            generation: 0,
        }
    }

    /// Keeps `object` under `key`, replacing what was there; a new key past the kind's bound is left out,
    /// counted, and makes the kind incomplete. Returns whether it is kept.
    pub fn apply(&mut self, key: ObjectKey, object: Declared) -> bool {
        let kind = object.kind();
        let objects = self.objects.entry(kind).or_default();
        if objects.get(&key) == Some(&object) {
            return true;
        }
        if !objects.contains_key(&key) && objects.len() >= self.max_per_kind {
            *self.refused.entry(kind).or_default() += 1;
            self.incomplete.insert(kind);
            return false;
        }
        objects.insert(key, object);
        self.generation += 1;
        true
    }

    pub fn delete(&mut self, kind: DeclaredKind, key: &ObjectKey) {
        if let Some(objects) = self.objects.get_mut(&kind)
            && objects.remove(key).is_some()
        {
            self.generation += 1;
        }
    }

    /// The keys held of `kind`, to find those a relist did not mention.
    pub fn keys(&self, kind: DeclaredKind) -> Vec<ObjectKey> {
        self.objects
            .get(&kind)
            .map(|objects| objects.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A relist of `kind` is done (what it did not mention already deleted): the kind is complete when every
    /// object it listed is held, and incomplete otherwise.
    pub fn relisted(&mut self, kind: DeclaredKind, listed: &HashSet<ObjectKey>) {
        let objects = self.objects.get(&kind);
        if listed
            .iter()
            .all(|key| objects.is_some_and(|o| o.contains_key(key)))
        {
            self.incomplete.remove(&kind);
        } else {
            self.incomplete.insert(kind);
        }
    }

    /// The kinds with an object left out (the insights do not answer from them), with the bound.
    pub fn incomplete(&self) -> Vec<DeclaredKind> {
        self.incomplete.iter().copied().collect()
    }

    pub fn max_per_kind(&self) -> usize {
        self.max_per_kind
    }

    pub fn len(&self, kind: DeclaredKind) -> usize {
        self.objects.get(&kind).map_or(0, BTreeMap::len)
    }

    pub fn refused(&self, kind: DeclaredKind) -> u64 {
        self.refused.get(&kind).copied().unwrap_or(0)
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn of(&self, kind: DeclaredKind) -> impl Iterator<Item = &Declared> {
        self.objects.get(&kind).into_iter().flat_map(BTreeMap::values)
    }

    /// The objects the model reads: Namespaces, ClientIntents, ProtectedServices and Ingresses.
    pub fn model_objects(&self) -> Vec<Object> {
        DeclaredKind::ALL
            .into_iter()
            .flat_map(|kind| self.of(kind))
            .filter_map(|declared| match declared {
                Declared::Namespace { facts, .. } => Some(Object::Namespace(facts.clone())),
                Declared::ClientIntents(intents) => Some(Object::ClientIntents(intents.clone())),
                Declared::ProtectedService(protected) => Some(Object::ProtectedService(protected.clone())),
                Declared::Ingress(ingress) => Some(Object::Ingress(ingress.clone())),
                Declared::NetworkPolicy(_) => None,
            })
            .collect()
    }

    /// Every Namespace with all its labels, for the NetworkPolicy evaluator.
    pub fn namespaces(&self) -> Vec<NamespaceInput> {
        self.of(DeclaredKind::Namespace)
            .filter_map(|declared| match declared {
                Declared::Namespace { facts, labels } => Some(NamespaceInput {
                    name: facts.name.clone(),
                    labels: labels.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The NetworkPolicies Holt did not write.
    pub fn policies(&self) -> Vec<NetworkPolicy> {
        self.of(DeclaredKind::NetworkPolicy)
            .filter_map(|declared| match declared {
                Declared::NetworkPolicy(policy) => Some(policy.clone()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, labels: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "shop", "labels": labels,
                         "annotations": {"big": "x".repeat(1_000)}, "resourceVersion": "7"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }))
        .expect("a valid NetworkPolicy")
    }

    #[test]
    fn holts_own_policies_are_not_kept_and_others_lose_what_the_insights_do_not_read() {
        let holts = policy(
            "access",
            serde_json::json!({"app.kubernetes.io/managed-by": "holt"}),
        );
        assert_eq!(Declared::network_policy(holts), None);
        let theirs = policy("deny-all", serde_json::json!({"team": "platform"}));
        let Some(Declared::NetworkPolicy(kept)) = Declared::network_policy(theirs.clone()) else {
            panic!("another's policy is kept");
        };
        assert_eq!(kept.spec, theirs.spec);
        assert_eq!(
            (kept.metadata.namespace.as_deref(), kept.metadata.name.as_deref()),
            (Some("shop"), Some("deny-all"))
        );
        assert_eq!(kept.metadata.annotations, None);
        assert_eq!(kept.metadata.labels, None);
    }

    #[test]
    fn a_full_kind_leaves_new_objects_out_and_is_incomplete_until_a_relist_fits() {
        let mut state = DeclaredState::new(2);
        let key = |name: &str| ObjectKey::new("shop", name);
        let add = |state: &mut DeclaredState, name: &str| {
            let object = Declared::network_policy(policy(name, serde_json::json!({}))).expect("kept");
            state.apply(key(name), object)
        };
        assert!(add(&mut state, "a"));
        assert!(add(&mut state, "b"));
        let generation = state.generation();
        assert!(add(&mut state, "b"), "an update of a held object is kept");
        assert_eq!(state.generation(), generation, "nothing changed");
        assert!(!add(&mut state, "c"), "a third is left out");
        assert_eq!(state.refused(DeclaredKind::NetworkPolicy), 1);
        assert_eq!(state.incomplete(), [DeclaredKind::NetworkPolicy]);
        // Deleting one does not bring back what was left out: still incomplete.
        state.delete(DeclaredKind::NetworkPolicy, &key("a"));
        assert_eq!(state.incomplete(), [DeclaredKind::NetworkPolicy]);
        // A relist listing b and c: c fits now, and every listed object is held.
        assert!(add(&mut state, "c"));
        state.relisted(DeclaredKind::NetworkPolicy, &[key("b"), key("c")].into());
        assert!(state.incomplete().is_empty());
        assert_eq!(state.policies().len(), 2);
        // A relist listing more than fits leaves it incomplete.
        state.relisted(
            DeclaredKind::NetworkPolicy,
            &[key("b"), key("c"), key("d")].into(),
        );
        assert_eq!(state.incomplete(), [DeclaredKind::NetworkPolicy]);
    }

    #[test]
    fn deleting_objects_are_gone_and_kept_ones_lose_their_status() {
        let intents: ClientIntents = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "client", "namespace": "shop", "uid": "u"},
            "spec": {"workload": {"name": "client"}, "targets": [{"kubernetes": {"name": "server"}}]},
            "status": {"upToDate": true, "observedGeneration": 3}
        }))
        .expect("a valid ClientIntents");
        let Some(Declared::ClientIntents(kept)) = Declared::client_intents(intents.clone()) else {
            panic!("kept");
        };
        assert_eq!((kept.spec, kept.status), (intents.spec.clone(), None));
        let mut deleting = intents;
        deleting.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::UNIX_EPOCH,
        ));
        assert_eq!(Declared::client_intents(deleting), None);
    }
}
