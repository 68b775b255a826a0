//! The mapper's picture of the cluster: pods by IP, Services by ClusterIP and by name, and pod owners,
//! fed one watch event at a time. Only what resolution needs is kept (the model's facts plus a pod's
//! creation time and whether it has finished).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use holt_model::facts::{OwnerFacts, OwnerRef, PodFacts, ServiceFacts};
use holt_model::resolve::pod_identity;
use holt_model::{Config, Identity, ObjectKey};
use k8s_openapi::api::core::v1::Pod;

/// What the mapper keeps of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodEntry {
    pub facts: PodFacts,
    /// `metadata.creationTimestamp` in Unix milliseconds: an observation older than this is not the pod's.
    pub created_ms: u64,
    /// `Succeeded` or `Failed`: its IP may already belong to another pod.
    pub finished: bool,
}

impl PodEntry {
    pub fn from_pod(pod: &Pod) -> Self {
        let created_ms = pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| u64::try_from(t.0.as_millisecond()).unwrap_or(0))
            .unwrap_or(0);
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        PodEntry {
            facts: PodFacts::from_pod(pod),
            created_ms,
            finished: matches!(phase, Some("Succeeded" | "Failed")),
        }
    }
}

/// The kinds of objects the index holds, for relisting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexedKind {
    Pod,
    Service,
    /// A pod owner of this kind (`ReplicaSet`, `Deployment`, ...).
    Owner(String),
}

/// Pods, Services and owners, indexed for resolution.
#[derive(Debug, Default)]
pub struct ClusterIndex {
    /// Pods by namespace, then name (sorted, so "the first pod of a Service" is stable); lookups by
    /// `&str` allocate nothing.
    pods: HashMap<String, BTreeMap<String, PodEntry>>,
    pods_by_ip: HashMap<IpAddr, Vec<ObjectKey>>,
    services: HashMap<ObjectKey, ServiceFacts>,
    services_by_ip: HashMap<IpAddr, ObjectKey>,
    /// Owners by namespace, kind, name.
    owners: HashMap<String, HashMap<String, HashMap<String, OwnerFacts>>>,
    config: Config,
    /// Memo of pod identities by namespace and name: dropped for a pod when it changes, entirely when an
    /// owner changes. Resolution runs for every observation; identities change rarely.
    identities: RefCell<HashMap<String, HashMap<String, Identity>>>,
    /// Memo of the first pod each Service selects, by namespace and Service name: dropped for a namespace
    /// when a pod's labels there change, for a Service when it changes.
    first_selected: RefCell<HashMap<String, HashMap<String, Option<String>>>>,
    /// Bumped by every change of a pod, Service or owner (an event that changes nothing does not count):
    /// what the insights read of the index is the same while it is.
    generation: u64,
}

impl ClusterIndex {
    /// An empty index resolving identities with `config` (its override annotation and Job naming).
    pub fn new(config: Config) -> Self {
        ClusterIndex {
            config,
            ..ClusterIndex::default()
        }
    }

    pub fn apply_pod(&mut self, pod: PodEntry) {
        let key = pod.facts.key.clone();
        if self.pod(&key.namespace, &key.name) == Some(&pod) {
            return;
        }
        self.generation += 1;
        let same_selection = self.remove_pod(&key).is_some_and(|old| {
            old.facts.labels == pod.facts.labels && old.facts.host_network == pod.facts.host_network
        });
        if !same_selection {
            self.first_selected.get_mut().remove(&key.namespace);
        }
        if !pod.facts.host_network {
            for ip in pod.facts.ips.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()) {
                self.pods_by_ip.entry(ip).or_default().push(key.clone());
            }
        }
        self.pods.entry(key.namespace).or_default().insert(key.name, pod);
    }

    pub fn delete_pod(&mut self, key: &ObjectKey) {
        if self.remove_pod(key).is_some() {
            self.generation += 1;
            self.first_selected.get_mut().remove(&key.namespace);
        }
    }

    fn remove_pod(&mut self, key: &ObjectKey) -> Option<PodEntry> {
        let names = self.pods.get_mut(&key.namespace)?;
        let old = names.remove(&key.name)?;
        if names.is_empty() {
            self.pods.remove(&key.namespace);
        }
        if let Some(identities) = self.identities.get_mut().get_mut(&key.namespace) {
            identities.remove(&key.name);
        }
        for ip in old.facts.ips.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()) {
            if let Some(keys) = self.pods_by_ip.get_mut(&ip) {
                keys.retain(|k| k != key);
                if keys.is_empty() {
                    self.pods_by_ip.remove(&ip);
                }
            }
        }
        Some(old)
    }

    pub fn apply_service(&mut self, service: ServiceFacts) {
        let key = service.key.clone();
        if self.services.get(&key) == Some(&service) {
            return;
        }
        self.delete_service(&key);
        self.generation += 1;
        self.forget_selection(&key);
        for ip in service
            .cluster_ips
            .iter()
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
        {
            self.services_by_ip.insert(ip, key.clone());
        }
        self.services.insert(key, service);
    }

    pub fn delete_service(&mut self, key: &ObjectKey) {
        let Some(old) = self.services.remove(key) else {
            return;
        };
        self.generation += 1;
        self.forget_selection(key);
        for ip in old.cluster_ips.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()) {
            if self.services_by_ip.get(&ip) == Some(key) {
                self.services_by_ip.remove(&ip);
            }
        }
    }

    fn forget_selection(&mut self, service: &ObjectKey) {
        if let Some(services) = self.first_selected.get_mut().get_mut(&service.namespace) {
            services.remove(&service.name);
        }
    }

    pub fn apply_owner(&mut self, owner: OwnerFacts) {
        let names = self
            .owners
            .entry(owner.key.namespace.clone())
            .or_default()
            .entry(owner.kind.clone())
            .or_default();
        if names.get(&owner.key.name) != Some(&owner) {
            names.insert(owner.key.name.clone(), owner);
            self.generation += 1;
            // Owners form chains: any pod's identity may depend on this one.
            self.identities.get_mut().clear();
        }
    }

    pub fn delete_owner(&mut self, kind: &str, key: &ObjectKey) {
        let Some(kinds) = self.owners.get_mut(&key.namespace) else {
            return;
        };
        if let Some(names) = kinds.get_mut(kind) {
            if names.remove(&key.name).is_some() {
                self.generation += 1;
                self.identities.get_mut().clear();
            }
            if names.is_empty() {
                kinds.remove(kind);
            }
        }
        if kinds.is_empty() {
            self.owners.remove(&key.namespace);
        }
    }

    fn owner(&self, namespace: &str, reference: &OwnerRef) -> Option<&OwnerFacts> {
        self.owners
            .get(namespace)?
            .get(&reference.kind)?
            .get(&reference.name)
    }

    /// The keys of every object of `kind`, to find those a relist did not mention.
    pub fn keys(&self, kind: &IndexedKind) -> Vec<ObjectKey> {
        match kind {
            IndexedKind::Pod => self
                .pods
                .values()
                .flat_map(|names| names.values())
                .map(|p| p.facts.key.clone())
                .collect(),
            IndexedKind::Service => self.services.keys().cloned().collect(),
            IndexedKind::Owner(owner_kind) => self
                .owners
                .values()
                .filter_map(|kinds| kinds.get(owner_kind))
                .flat_map(|names| names.values())
                .map(|o| o.key.clone())
                .collect(),
        }
    }

    pub fn delete(&mut self, kind: &IndexedKind, key: &ObjectKey) {
        match kind {
            IndexedKind::Pod => self.delete_pod(key),
            IndexedKind::Service => self.delete_service(key),
            IndexedKind::Owner(owner_kind) => self.delete_owner(owner_kind, key),
        }
    }

    /// The count of changes so far: the same number, the same pods, Services and owners.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// (pods, Services, owners) held.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let pods = self.pods.values().map(BTreeMap::len).sum();
        let owners = self
            .owners
            .values()
            .flat_map(HashMap::values)
            .map(HashMap::len)
            .sum();
        (pods, self.services.len(), owners)
    }

    /// Every pod, by namespace and name.
    pub fn pods(&self) -> impl Iterator<Item = &PodEntry> {
        self.pods.values().flat_map(BTreeMap::values)
    }

    /// The pods of one namespace, by name.
    pub fn pods_in(&self, namespace: &str) -> impl Iterator<Item = &PodEntry> {
        self.pods.get(namespace).into_iter().flat_map(BTreeMap::values)
    }

    /// Every Service.
    pub fn services(&self) -> impl Iterator<Item = &ServiceFacts> {
        self.services.values()
    }

    /// Every pod owner, of every kind.
    pub fn owners(&self) -> impl Iterator<Item = &OwnerFacts> {
        self.owners
            .values()
            .flat_map(HashMap::values)
            .flat_map(HashMap::values)
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodEntry> {
        self.pods.get(namespace)?.get(name)
    }

    /// The pods holding `ip`, newest first.
    pub fn pods_with_ip(&self, ip: &IpAddr) -> Vec<&PodEntry> {
        let mut pods: Vec<&PodEntry> = self
            .pods_by_ip
            .get(ip)
            .into_iter()
            .flatten()
            .filter_map(|key| self.pod(&key.namespace, &key.name))
            .collect();
        pods.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then(a.facts.key.cmp(&b.facts.key))
        });
        pods
    }

    pub fn service(&self, key: &ObjectKey) -> Option<&ServiceFacts> {
        self.services.get(key)
    }

    pub fn service_with_ip(&self, ip: &IpAddr) -> Option<&ServiceFacts> {
        self.services_by_ip.get(ip).and_then(|key| self.services.get(key))
    }

    /// The pods a Service selects, by name (so "the first pod" is stable).
    pub fn selected_pods<'a>(&'a self, service: &'a ServiceFacts) -> impl Iterator<Item = &'a PodEntry> + 'a {
        self.pods
            .get(&service.key.namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|pod| !pod.facts.host_network && service.selects(&pod.facts.labels))
    }

    /// The first pod (by name) a Service selects.
    pub fn first_selected_pod(&self, service: &ServiceFacts) -> Option<&PodEntry> {
        let (namespace, name) = (&service.key.namespace, &service.key.name);
        let memo = self
            .first_selected
            .borrow()
            .get(namespace)
            .and_then(|s| s.get(name).cloned());
        let pod_name = match memo {
            Some(pod_name) => pod_name,
            None => {
                let found = self
                    .selected_pods(service)
                    .next()
                    .map(|p| p.facts.key.name.clone());
                self.first_selected
                    .borrow_mut()
                    .entry(namespace.clone())
                    .or_default()
                    .insert(name.clone(), found.clone());
                found
            }
        };
        pod_name.and_then(|pod_name| self.pod(namespace, &pod_name))
    }

    /// The workloads (`namespace`, `name`) with a current pod that carries one of `labels` (a key and its
    /// value, or the key with any value).
    pub fn workloads_labelled(&self, labels: &[(String, Option<String>)]) -> HashSet<(String, String)> {
        self.pods
            .values()
            .flat_map(BTreeMap::values)
            .filter(|pod| {
                labels.iter().any(|(key, value)| match value {
                    Some(value) => pod.facts.labels.get(key.as_str()) == Some(value),
                    None => pod.facts.labels.contains_key(key.as_str()),
                })
            })
            .map(|pod| {
                let identity = self.identity(pod);
                (identity.namespace, identity.name)
            })
            .collect()
    }

    /// The labels of each workload, `(namespace, name)`: those of its first pod by name (the pods of a
    /// workload come from one template).
    pub fn workload_labels(&self) -> HashMap<(String, String), BTreeMap<String, String>> {
        let mut labels = HashMap::new();
        for pod in self.pods.values().flat_map(BTreeMap::values) {
            let identity = self.identity(pod);
            labels
                .entry((identity.namespace, identity.name))
                .or_insert_with(|| {
                    pod.facts
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                });
        }
        labels
    }

    /// The pod's workload identity, through the model's owner resolution.
    pub fn identity(&self, pod: &PodEntry) -> Identity {
        let (namespace, name) = (&pod.facts.key.namespace, &pod.facts.key.name);
        if let Some(identity) = self
            .identities
            .borrow()
            .get(namespace)
            .and_then(|ids| ids.get(name))
        {
            return identity.clone();
        }
        let identity = pod_identity(&pod.facts, &self.config, |reference| {
            self.owner(namespace, reference).cloned()
        })
        .identity;
        self.identities
            .borrow_mut()
            .entry(namespace.clone())
            .or_default()
            .insert(name.clone(), identity.clone());
        identity
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Builders for pods, Services and owners, shared by the unit tests.

    use std::collections::BTreeMap;

    use holt_model::ObjectKey;
    use holt_model::facts::{OwnerFacts, OwnerRef, PodFacts, ServiceFacts, ServiceType};
    use k8s_openapi::api::core::v1::Pod;

    use super::{ClusterIndex, PodEntry};

    pub fn pod(
        namespace: &str,
        name: &str,
        ip: &str,
        owner: Option<(&str, &str)>,
        created_ms: u64,
    ) -> PodEntry {
        let app = name.split('-').next().unwrap_or(name);
        let owner_references = owner.map(|(kind, name)| {
            vec![serde_json::json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "1"})]
        });
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {
                "namespace": namespace,
                "name": name,
                "labels": {"app": app},
                "ownerReferences": owner_references,
            },
            "status": {"podIP": ip},
        }))
        .expect("a valid Pod");
        PodEntry {
            facts: PodFacts::from_pod(&pod),
            created_ms,
            finished: false,
        }
    }

    pub fn owner(namespace: &str, kind: &str, name: &str, owner: Option<(&str, &str)>) -> OwnerFacts {
        OwnerFacts {
            key: ObjectKey::new(namespace, name),
            kind: kind.into(),
            owner: owner.map(|(kind, name)| OwnerRef {
                kind: kind.into(),
                name: name.into(),
            }),
        }
    }

    /// The owners of the pods of Deployment `ns/server`: ReplicaSet `server-7d9f` and the Deployment.
    pub fn apply_server_owners(index: &mut ClusterIndex) {
        index.apply_owner(owner(
            "ns",
            "ReplicaSet",
            "server-7d9f",
            Some(("Deployment", "server")),
        ));
        index.apply_owner(owner("ns", "Deployment", "server", None));
    }

    pub fn service(namespace: &str, name: &str, cluster_ip: &str, app: Option<&str>) -> ServiceFacts {
        ServiceFacts {
            uid: None,
            key: ObjectKey::new(namespace, name),
            selector: app.map(|app| BTreeMap::from([("app".to_owned(), app.to_owned())])),
            ports: vec![],
            service_type: ServiceType::ClusterIp,
            cluster_ips: vec![cluster_ip.to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{apply_server_owners, owner, pod, service};
    use super::*;

    #[test]
    fn pods_are_found_by_ip_newest_first_and_forgotten_when_deleted() {
        let mut index = ClusterIndex::new(Config::default());
        index.apply_pod(pod("ns", "old", "10.0.0.1", None, 100));
        index.apply_pod(pod("ns", "new", "10.0.0.1", None, 200));
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let names: Vec<_> = index
            .pods_with_ip(&ip)
            .iter()
            .map(|p| p.facts.key.name.clone())
            .collect();
        assert_eq!(names, ["new", "old"]);
        index.delete_pod(&ObjectKey::new("ns", "new"));
        index.delete_pod(&ObjectKey::new("ns", "old"));
        assert!(index.pods_with_ip(&ip).is_empty());
        assert_eq!(index.sizes(), (0, 0, 0));
    }

    #[test]
    fn the_generation_counts_changes_and_only_changes() {
        let mut index = ClusterIndex::new(Config::default());
        let start = index.generation();
        index.apply_pod(pod("ns", "a", "10.0.0.1", None, 100));
        let added = index.generation();
        assert!(added > start);
        index.apply_pod(pod("ns", "a", "10.0.0.1", None, 100));
        assert_eq!(index.generation(), added, "the same pod again changes nothing");
        let mut relabelled = pod("ns", "a", "10.0.0.1", None, 100);
        relabelled.facts.labels.insert("tier".into(), "web".into());
        index.apply_pod(relabelled);
        let changed = index.generation();
        assert!(changed > added);
        index.delete_pod(&ObjectKey::new("ns", "nobody"));
        assert_eq!(
            index.generation(),
            changed,
            "deleting what is not there changes nothing"
        );
        index.delete_pod(&ObjectKey::new("ns", "a"));
        let deleted = index.generation();
        assert!(deleted > changed);
        apply_server_owners(&mut index);
        let owned = index.generation();
        assert!(owned > deleted);
        apply_server_owners(&mut index);
        assert_eq!(index.generation(), owned);
    }

    #[test]
    fn host_network_pods_are_not_indexed_by_ip() {
        let mut index = ClusterIndex::new(Config::default());
        let mut p = pod("ns", "agent", "192.168.1.10", None, 1);
        p.facts.host_network = true;
        index.apply_pod(p);
        assert!(
            index
                .pods_with_ip(&"192.168.1.10".parse().expect("ip"))
                .is_empty()
        );
    }

    #[test]
    fn identity_walks_owners_through_the_model() {
        let mut index = ClusterIndex::new(Config::default());
        apply_server_owners(&mut index);
        let p = pod(
            "ns",
            "server-7d9f-x",
            "10.0.0.2",
            Some(("ReplicaSet", "server-7d9f")),
            1,
        );
        assert_eq!(
            index.identity(&p),
            Identity::new("ns", "server", Some("Deployment"))
        );
        // Without the ReplicaSet the walk ends at the pod's own owner reference, as the model does.
        index.delete_owner("ReplicaSet", &ObjectKey::new("ns", "server-7d9f"));
        assert_eq!(
            index.identity(&p),
            Identity::new("ns", "server-7d9f", Some("ReplicaSet"))
        );
    }

    #[test]
    fn memoized_identities_and_selections_follow_changes() {
        let mut index = ClusterIndex::new(Config::default());
        index.apply_owner(owner("ns", "ReplicaSet", "web-1", None));
        let p = pod("ns", "web-1-a", "10.0.0.5", Some(("ReplicaSet", "web-1")), 1);
        index.apply_pod(p.clone());
        assert_eq!(
            index.identity(&p),
            Identity::new("ns", "web-1", Some("ReplicaSet"))
        );
        // The Deployment arrives after the pod was resolved once: the memo must not hide it.
        index.apply_owner(owner("ns", "ReplicaSet", "web-1", Some(("Deployment", "web"))));
        index.apply_owner(owner("ns", "Deployment", "web", None));
        assert_eq!(index.identity(&p), Identity::new("ns", "web", Some("Deployment")));

        index.apply_service(service("ns", "web", "10.96.0.20", Some("web")));
        let svc = index
            .service(&ObjectKey::new("ns", "web"))
            .cloned()
            .expect("service");
        assert_eq!(
            index.first_selected_pod(&svc).map(|p| p.facts.key.name.as_str()),
            Some("web-1-a")
        );
        // A pod sorting first starts to match; then the first one stops matching.
        index.apply_pod(pod("ns", "web-0-z", "10.0.0.6", None, 1));
        assert_eq!(
            index.first_selected_pod(&svc).map(|p| p.facts.key.name.as_str()),
            Some("web-0-z")
        );
        let mut relabelled = pod("ns", "web-0-z", "10.0.0.6", None, 1);
        relabelled.facts.labels.insert("app".into(), "other".into());
        index.apply_pod(relabelled);
        assert_eq!(
            index.first_selected_pod(&svc).map(|p| p.facts.key.name.as_str()),
            Some("web-1-a")
        );
        index.delete_pod(&ObjectKey::new("ns", "web-1-a"));
        assert!(index.first_selected_pod(&svc).is_none());
    }

    #[test]
    fn services_are_found_by_cluster_ip_and_select_their_pods() {
        let mut index = ClusterIndex::new(Config::default());
        index.apply_pod(pod("ns", "server-1", "10.0.0.2", None, 1));
        index.apply_pod(pod("ns", "client-1", "10.0.0.3", None, 1));
        index.apply_service(service("ns", "server", "10.96.0.10", Some("server")));
        let svc = index
            .service_with_ip(&"10.96.0.10".parse().expect("ip"))
            .expect("service");
        let selected: Vec<_> = index
            .selected_pods(svc)
            .map(|p| p.facts.key.name.clone())
            .collect();
        assert_eq!(selected, ["server-1"]);
        index.delete_service(&ObjectKey::new("ns", "server"));
        assert!(
            index
                .service_with_ip(&"10.96.0.10".parse().expect("ip"))
                .is_none()
        );
    }
}
