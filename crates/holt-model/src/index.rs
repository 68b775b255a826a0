//! The index: every object the model knows, with the reverse lookups that let one change be handled without
//! scanning the cluster, and the effective access of every server, kept current incrementally.
//!
//! Feed it with [`Index::apply`] and [`Index::delete`] (watch events, or manifests read from disk). Each call
//! returns the [`Changes`] it caused; the effective access of exactly the touched servers and brokers is
//! recomputed before it returns. Queries never list or scan: they follow the reverse indexes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use holt_api::v2beta1::{
    ClientIntents, KafkaServerConfig, KafkaServerConfigSpec, ProtectedService, ProtectedServiceSpec,
};

use crate::access::{Declaration, Enforcement, KafkaAccess, ServerAccess};
use crate::access_annotation::{AccessAnnotationError, parse_called_by};
use crate::calls::{Call, calls_of, client_of};
use crate::changes::{Changes, Unit};
use crate::config::{Config, Mode};
use crate::effective;
use crate::facts::{IngressFacts, NamespaceFacts, ObjectKey, OwnerFacts, OwnerRef, PodFacts, ServiceFacts};
use crate::identity::Identity;
use crate::labels::CALLED_BY;
use crate::mesh::NamespaceMesh;
use crate::resolve::{PodIdentity, pod_identity};
use crate::sorted_set::SortedSet;

/// An object to index. Kubernetes objects arrive as the facts extracted from them; Holt's own kinds as their
/// `v2beta1` form (convert other versions first).
#[derive(Clone, Debug)]
pub enum Object {
    Namespace(NamespaceFacts),
    Pod(PodFacts),
    Owner(OwnerFacts),
    Service(ServiceFacts),
    Ingress(IngressFacts),
    ClientIntents(ClientIntents),
    ProtectedService(ProtectedService),
    KafkaServerConfig(KafkaServerConfig),
}

/// The identity of an indexed object, for deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexedRef {
    Namespace(String),
    Pod(ObjectKey),
    Owner { kind: String, key: ObjectKey },
    Service(ObjectKey),
    Ingress(ObjectKey),
    ClientIntents(ObjectKey),
    ProtectedService(ObjectKey),
    KafkaServerConfig(ObjectKey),
}

/// Object counts, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSizes {
    pub pods: usize,
    pub services: usize,
    pub intents: usize,
    /// Servers with at least one declared client.
    pub servers: usize,
}

/// A pod with its resolved identity and parsed access annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedPod {
    pub facts: PodFacts,
    pub identity: PodIdentity,
    /// Whether the pod runs Istio's proxy, or will: its container, or what its namespace and its own labels
    /// ask Istio to inject ([`crate::mesh::in_istio_mesh`]).
    pub in_istio_mesh: bool,
    /// Whether the pod runs Linkerd's proxy, or will: its container, or what its namespace and its own
    /// annotations ask Linkerd to inject ([`crate::mesh::in_linkerd_mesh`]).
    pub in_linkerd_mesh: bool,
    /// Clients the pod's `called-by` annotation lists; an error when the annotation cannot be parsed.
    pub called_by: Result<Vec<Identity>, AccessAnnotationError>,
}

impl IndexedPod {
    /// The clients declared by a well-formed annotation (none for a malformed one).
    pub fn declared_clients(&self) -> &[Identity] {
        self.called_by.as_deref().unwrap_or_default()
    }
}

/// A ClientIntents reduced to its client and resolved calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedIntents {
    pub client: Identity,
    pub calls: Vec<Call>,
    /// `status.resolvedIPs`: addresses the network mapper saw each internet domain resolve to.
    pub resolved_ips: BTreeMap<String, Vec<String>>,
}

/// A child in the ownership tree.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Child {
    Pod(String),
    Owner(OwnerRef),
}

/// `(namespace, kind, name)` of an owner object.
type OwnerKey = (String, String, String);

/// The index. See the module documentation.
#[derive(Debug, Default)]
pub struct Index {
    config: Config,
    namespaces: BTreeSet<String>,
    /// What the namespaces that say anything about mesh injection say.
    namespace_mesh: HashMap<String, NamespaceMesh>,
    owners: HashMap<OwnerKey, OwnerFacts>,
    children: HashMap<OwnerKey, SortedSet<Child>>,
    pods: HashMap<ObjectKey, IndexedPod>,
    /// The keys of the pods in each namespace (whole keys: scanning a namespace allocates nothing).
    pods_by_namespace: HashMap<String, BTreeSet<ObjectKey>>,
    /// Pods by the (namespace, name) of their identity, whatever its kind.
    pods_by_identity: HashMap<ObjectKey, SortedSet<String>>,
    services: HashMap<ObjectKey, ServiceFacts>,
    services_by_namespace: HashMap<String, BTreeSet<String>>,
    ingresses: HashMap<ObjectKey, IngressFacts>,
    ingresses_by_service: HashMap<ObjectKey, SortedSet<String>>,
    intents: HashMap<ObjectKey, IndexedIntents>,
    /// ClientIntents by the (namespace, name) of their client, whatever its kind.
    intents_by_client: HashMap<ObjectKey, SortedSet<String>>,
    declarations_by_server: HashMap<Identity, SortedSet<Declaration>>,
    /// Server pods whose `called-by` annotation lists a client with this (namespace, name).
    annotations_by_client: HashMap<ObjectKey, SortedSet<ObjectKey>>,
    /// Server identities (any kind) declared for a (namespace, name).
    servers_by_name: HashMap<ObjectKey, SortedSet<Identity>>,
    kafka_intents_by_broker: HashMap<Identity, SortedSet<ObjectKey>>,
    protected: HashMap<ObjectKey, ProtectedServiceSpec>,
    protected_by_server: HashMap<ObjectKey, SortedSet<String>>,
    kafka_configs: HashMap<ObjectKey, KafkaServerConfigSpec>,
    kafka_configs_by_broker: HashMap<Identity, SortedSet<ObjectKey>>,
    servers: HashMap<Identity, ServerAccess>,
    brokers: HashMap<Identity, KafkaAccess>,
}

impl Index {
    pub fn new(config: Config) -> Self {
        Index {
            config,
            ..Index::default()
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds or replaces an object.
    pub fn apply(&mut self, object: Object) -> Changes {
        let mut changes = Changes::default();
        match object {
            Object::Namespace(facts) => {
                self.namespaces.insert(facts.name.clone());
                self.set_namespace_mesh(&facts.name, facts.mesh(), &mut changes);
            }
            Object::Pod(facts) => {
                let key = facts.key.clone();
                self.remove_pod(&key, &mut changes);
                self.insert_pod(facts, &mut changes);
            }
            Object::Owner(facts) => {
                let (kind, key) = (facts.kind.clone(), facts.key.clone());
                self.remove_owner(&kind, &key);
                self.insert_owner(facts);
                self.reresolve_descendants(&(key.namespace.clone(), kind, key.name.clone()), &mut changes);
            }
            Object::Service(facts) => {
                let key = facts.key.clone();
                self.remove_service(&key, &mut changes);
                self.insert_service(facts, &mut changes);
            }
            Object::Ingress(facts) => {
                let key = facts.key.clone();
                self.remove_ingress(&key, &mut changes);
                self.insert_ingress(facts, &mut changes);
            }
            Object::ClientIntents(intents) => {
                let key = ObjectKey::of(&intents.metadata);
                self.remove_intents(&key, &mut changes);
                self.insert_intents(key, &intents, &mut changes);
            }
            Object::ProtectedService(ps) => {
                let key = ObjectKey::of(&ps.metadata);
                self.remove_protected(&key, &mut changes);
                self.insert_protected(key, ps.spec, &mut changes);
            }
            Object::KafkaServerConfig(config) => {
                let key = ObjectKey::of(&config.metadata);
                self.remove_kafka_config(&key, &mut changes);
                self.insert_kafka_config(key, config.spec, &mut changes);
            }
        }
        self.refresh(&mut changes);
        changes
    }

    /// Removes an object; removing an unknown object changes nothing.
    pub fn delete(&mut self, object: &IndexedRef) -> Changes {
        let mut changes = Changes::default();
        match object {
            IndexedRef::Namespace(name) => {
                self.namespaces.remove(name);
                self.set_namespace_mesh(name, NamespaceMesh::default(), &mut changes);
            }
            IndexedRef::Pod(key) => self.remove_pod(key, &mut changes),
            IndexedRef::Owner { kind, key } => {
                self.remove_owner(kind, key);
                self.reresolve_descendants(
                    &(key.namespace.clone(), kind.clone(), key.name.clone()),
                    &mut changes,
                );
            }
            IndexedRef::Service(key) => self.remove_service(key, &mut changes),
            IndexedRef::Ingress(key) => self.remove_ingress(key, &mut changes),
            IndexedRef::ClientIntents(key) => self.remove_intents(key, &mut changes),
            IndexedRef::ProtectedService(key) => self.remove_protected(key, &mut changes),
            IndexedRef::KafkaServerConfig(key) => self.remove_kafka_config(key, &mut changes),
        }
        self.refresh(&mut changes);
        changes
    }

    // ---- queries -------------------------------------------------------------------------------------

    /// How many objects the index holds, in O(1) (for metrics after every pass).
    pub fn sizes(&self) -> IndexSizes {
        IndexSizes {
            pods: self.pods.len(),
            services: self.services.len(),
            intents: self.intents.len(),
            servers: self.servers.len(),
        }
    }

    /// Every render unit the index knows: what a full render (`holt plan`, the operator's first pass)
    /// renders.
    pub fn all_units(&self) -> Changes {
        let mut all = Changes::default();
        all.extend(self.servers().map(|s| Unit::Identity(s.server.clone())));
        all.extend(self.clients().into_iter().map(Unit::Identity));
        all.extend(self.pods().map(|p| Unit::Pod(p.facts.key.clone())));
        all.extend(self.services().map(|s| Unit::Service(s.key.clone())));
        all.extend(
            self.protected_services()
                .map(|(k, _)| Unit::ProtectedService(k.clone())),
        );
        all.extend(self.brokers().map(|b| Unit::Broker(b.broker.clone())));
        all
    }

    /// The effective access of every server with at least one declared client, in no particular order.
    pub fn servers(&self) -> impl Iterator<Item = &ServerAccess> {
        self.servers.values()
    }

    pub fn server(&self, identity: &Identity) -> Option<&ServerAccess> {
        self.servers.get(identity)
    }

    /// The effective Kafka access of every broker named by intents or a KafkaServerConfig.
    pub fn brokers(&self) -> impl Iterator<Item = &KafkaAccess> {
        self.brokers.values()
    }

    pub fn broker(&self, broker: &Identity) -> Option<&KafkaAccess> {
        self.brokers.get(broker)
    }

    /// Every client identity that declares intents.
    pub fn clients(&self) -> BTreeSet<Identity> {
        self.intents.values().map(|i| i.client.clone()).collect()
    }

    /// The ClientIntents speaking for exactly this client identity (same namespace, name and kind).
    pub fn intents_of(&self, client: &Identity) -> impl Iterator<Item = (ObjectKey, &IndexedIntents)> {
        let by_name = ObjectKey::new(&client.namespace, &client.name);
        self.intents_by_client
            .get(&by_name)
            .into_iter()
            .flatten()
            .map(move |name| ObjectKey::new(&client.namespace, name))
            .filter_map(|key| self.intents.get(&key).map(|i| (key, i)))
            .filter(move |(_, i)| i.client == *client)
    }

    pub fn intents(&self, key: &ObjectKey) -> Option<&IndexedIntents> {
        self.intents.get(key)
    }

    pub fn all_intents(&self) -> impl Iterator<Item = (&ObjectKey, &IndexedIntents)> {
        self.intents.iter()
    }

    pub fn namespaces(&self) -> &BTreeSet<String> {
        &self.namespaces
    }

    pub fn pod(&self, key: &ObjectKey) -> Option<&IndexedPod> {
        self.pods.get(key)
    }

    pub fn pods(&self) -> impl Iterator<Item = &IndexedPod> {
        self.pods.values()
    }

    /// The pods a server identity stands for (the selectors of
    /// docs/reference-behaviour.md#network-policy-selector): legacy identities match pods by identity
    /// name, kinded ones also by owner kind, Services by their selector.
    pub fn pods_of(&self, server: &Identity) -> Vec<&IndexedPod> {
        if server.is_service() {
            let Some(service) = self
                .services
                .get(&ObjectKey::new(&server.namespace, &server.name))
            else {
                return Vec::new();
            };
            return self
                .pods_in(&server.namespace)
                .filter(|p| service.selects(&p.facts.labels))
                .collect();
        }
        let by_name = ObjectKey::new(&server.namespace, &server.name);
        self.pods_by_identity
            .get(&by_name)
            .into_iter()
            .flatten()
            .filter_map(|name| self.pods.get(&ObjectKey::new(&server.namespace, name)))
            .filter(|p| {
                server
                    .kind
                    .as_ref()
                    .is_none_or(|kind| p.identity.owner_kind == *kind)
            })
            .collect()
    }

    pub fn pods_in(&self, namespace: &str) -> impl Iterator<Item = &IndexedPod> {
        self.pods_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .filter_map(|key| self.pods.get(key))
    }

    /// The ClientIntents that apply to a pod: those of its workload, by name, with no kind or the pod's owner
    /// kind.
    pub fn intents_of_pod<'a>(&'a self, pod: &'a IndexedPod) -> impl Iterator<Item = ObjectKey> + 'a {
        let identity = &pod.identity.identity;
        let by_name = ObjectKey::new(&identity.namespace, &identity.name);
        self.intents_by_client
            .get(&by_name)
            .into_iter()
            .flatten()
            .map(move |name| ObjectKey::new(&identity.namespace, name))
            .filter(move |key| {
                self.intents.get(key).is_some_and(|intents| {
                    intents
                        .client
                        .kind
                        .as_ref()
                        .is_none_or(|k| *k == pod.identity.owner_kind)
                })
            })
    }

    /// The calls that apply to a pod: those of every ClientIntents of its workload (by name, with no kind or
    /// the pod's owner kind) and those `called-by` annotations declare for it, with where each was declared.
    pub fn calls_of_pod(&self, pod: &IndexedPod) -> Vec<(Declaration, Call)> {
        let identity = &pod.identity.identity;
        let by_name = ObjectKey::new(&identity.namespace, &identity.name);
        let kind_matches =
            |kind: &Option<String>| kind.as_ref().is_none_or(|k| *k == pod.identity.owner_kind);
        let mut calls = Vec::new();
        for name in self.intents_by_client.get(&by_name).into_iter().flatten() {
            let key = ObjectKey::new(&identity.namespace, name);
            let Some(intents) = self.intents.get(&key) else {
                continue;
            };
            if kind_matches(&intents.client.kind) {
                let declaration = Declaration::ClientIntents(key);
                calls.extend(intents.calls.iter().map(|c| (declaration.clone(), c.clone())));
            }
        }
        for server_pod_key in self.annotations_by_client.get(&by_name).into_iter().flatten() {
            let Some(server_pod) = self.pods.get(server_pod_key) else {
                continue;
            };
            if server_pod
                .declared_clients()
                .iter()
                .any(|c| c.name == identity.name && kind_matches(&c.kind))
            {
                let call = Call::Workload {
                    server: server_pod.identity.identity.clone(),
                    http: Vec::new(),
                };
                calls.push((Declaration::AccessAnnotation(server_pod_key.clone()), call));
            }
        }
        calls
    }

    pub fn service(&self, key: &ObjectKey) -> Option<&ServiceFacts> {
        self.services.get(key)
    }

    pub fn services(&self) -> impl Iterator<Item = &ServiceFacts> {
        self.services.values()
    }

    pub fn services_in(&self, namespace: &str) -> impl Iterator<Item = &ServiceFacts> {
        self.services_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .filter_map(move |name| self.services.get(&ObjectKey::new(namespace, name)))
    }

    /// The Ingresses (names, in the Service's namespace) that route to a Service.
    pub fn ingresses_of(&self, service: &ObjectKey) -> Vec<&str> {
        self.ingresses_by_service
            .get(service)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    pub fn protected_services(&self) -> impl Iterator<Item = (&ObjectKey, &ProtectedServiceSpec)> {
        self.protected.iter()
    }

    pub fn protected_service(&self, key: &ObjectKey) -> Option<&ProtectedServiceSpec> {
        self.protected.get(key)
    }

    pub fn kafka_config(&self, key: &ObjectKey) -> Option<&KafkaServerConfigSpec> {
        self.kafka_configs.get(key)
    }

    /// Whether a server is enforced, and why (docs/reference-behaviour.md#enforcement).
    pub fn enforcement(&self, server: &Identity) -> Enforcement {
        if !self.config.watches(&server.namespace) {
            return Enforcement::NotWatched;
        }
        if self.config.mode == Mode::DefaultActive {
            return Enforcement::DefaultActive;
        }
        if self.config.enforced_namespaces.contains(&server.namespace) {
            return Enforcement::EnforcedNamespace;
        }
        let by_name = ObjectKey::new(&server.namespace, &server.name);
        let protecting = self
            .protected_by_server
            .get(&by_name)
            .into_iter()
            .flatten()
            .find(|ps| {
                let spec = self
                    .protected
                    .get(&ObjectKey::new(&server.namespace, ps.as_str()));
                spec.is_some_and(|spec| {
                    spec.kind
                        .as_deref()
                        .is_none_or(|k| k.is_empty() || Some(k) == server.kind.as_deref())
                })
            });
        match protecting {
            Some(ps) => Enforcement::ProtectedService(ps.clone()),
            None => Enforcement::Shadow,
        }
    }

    // ---- pods and owners -----------------------------------------------------------------------------

    /// Records what a namespace says about mesh injection; when it changes, its pods are indexed again
    /// (whether they are in a mesh may have changed with it).
    fn set_namespace_mesh(&mut self, namespace: &str, mesh: NamespaceMesh, changes: &mut Changes) {
        let before = self.namespace_mesh.get(namespace);
        if before.map_or(mesh.is_empty(), |before| *before == mesh) {
            return;
        }
        match mesh.is_empty() {
            true => self.namespace_mesh.remove(namespace),
            false => self.namespace_mesh.insert(namespace.to_owned(), mesh),
        };
        let keys: Vec<ObjectKey> = self
            .pods_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for key in keys {
            if let Some(facts) = self.pods.get(&key).map(|pod| pod.facts.clone()) {
                self.remove_pod(&key, changes);
                self.insert_pod(facts, changes);
            }
        }
    }

    fn insert_pod(&mut self, facts: PodFacts, changes: &mut Changes) {
        let identity = pod_identity(&facts, &self.config, |owner| {
            self.owners
                .get(&(
                    facts.key.namespace.clone(),
                    owner.kind.clone(),
                    owner.name.clone(),
                ))
                .cloned()
        });
        let called_by = facts
            .annotations
            .get(CALLED_BY)
            .map(|v| parse_called_by(v))
            .unwrap_or(Ok(Vec::new()));
        let key = facts.key.clone();
        let namespace_mesh = self.namespace_mesh.get(&key.namespace);
        let in_istio_mesh = crate::mesh::in_istio_mesh(namespace_mesh.map(|ns| &ns.labels), &facts);
        let in_linkerd_mesh = crate::mesh::in_linkerd_mesh(namespace_mesh, &facts);
        let pod = IndexedPod {
            facts,
            identity,
            in_istio_mesh,
            in_linkerd_mesh,
            called_by,
        };
        self.touch_pod(&pod, changes);
        let id = &pod.identity.identity;
        self.pods_by_namespace
            .entry(key.namespace.clone())
            .or_default()
            .insert(key.clone());
        self.pods_by_identity
            .entry(ObjectKey::new(&id.namespace, &id.name))
            .or_default()
            .insert(key.name.clone());
        if let Some(owner) = &pod.facts.owner {
            let owner_key = (key.namespace.clone(), owner.kind.clone(), owner.name.clone());
            self.children
                .entry(owner_key)
                .or_default()
                .insert(Child::Pod(key.name.clone()));
        }
        for client in pod.declared_clients() {
            let by_name = ObjectKey::new(&client.namespace, &client.name);
            self.annotations_by_client
                .entry(by_name)
                .or_default()
                .insert(key.clone());
            self.declare(id.clone(), Declaration::AccessAnnotation(key.clone()));
        }
        self.pods.insert(key, pod);
    }

    fn remove_pod(&mut self, key: &ObjectKey, changes: &mut Changes) {
        let Some(pod) = self.pods.remove(key) else { return };
        self.touch_pod(&pod, changes);
        let id = &pod.identity.identity;
        remove_from(&mut self.pods_by_namespace, &key.namespace, key);
        remove_from(
            &mut self.pods_by_identity,
            &ObjectKey::new(&id.namespace, &id.name),
            &key.name,
        );
        if let Some(owner) = &pod.facts.owner {
            let owner_key = (key.namespace.clone(), owner.kind.clone(), owner.name.clone());
            remove_from(&mut self.children, &owner_key, &Child::Pod(key.name.clone()));
        }
        for client in pod.declared_clients() {
            remove_from(
                &mut self.annotations_by_client,
                &ObjectKey::new(&client.namespace, &client.name),
                key,
            );
            self.undeclare(id, &Declaration::AccessAnnotation(key.clone()));
        }
    }

    /// A pod's labels, the policies of its identity (Istio reads its service account and sidecar), the
    /// servers it calls, the Services selecting it, and the clients its annotation declares.
    fn touch_pod(&self, pod: &IndexedPod, changes: &mut Changes) {
        changes.insert(Unit::Pod(pod.facts.key.clone()));
        let identity = &pod.identity.identity;
        changes.insert(Unit::Identity(identity.clone()));
        for (_, call) in self.calls_of_pod(pod) {
            if let Call::Workload { server, .. } = call {
                changes.insert(Unit::Identity(server));
            }
        }
        let namespace = &pod.facts.key.namespace;
        for service in self
            .services_in(namespace)
            .filter(|s| s.selects(&pod.facts.labels))
        {
            changes.insert(Unit::Service(service.key.clone()));
        }
        for client in pod.declared_clients() {
            changes.insert(Unit::Identity(client.clone()));
            self.touch_pods_of_client(client, changes);
        }
    }

    fn insert_owner(&mut self, facts: OwnerFacts) {
        let key = &facts.key;
        if let Some(owner) = &facts.owner {
            let owner_key = (key.namespace.clone(), owner.kind.clone(), owner.name.clone());
            let child = Child::Owner(OwnerRef {
                kind: facts.kind.clone(),
                name: key.name.clone(),
            });
            self.children.entry(owner_key).or_default().insert(child);
        }
        self.owners.insert(
            (key.namespace.clone(), facts.kind.clone(), key.name.clone()),
            facts,
        );
    }

    fn remove_owner(&mut self, kind: &str, key: &ObjectKey) {
        let Some(facts) = self
            .owners
            .remove(&(key.namespace.clone(), kind.to_owned(), key.name.clone()))
        else {
            return;
        };
        if let Some(owner) = &facts.owner {
            let owner_key = (key.namespace.clone(), owner.kind.clone(), owner.name.clone());
            let child = Child::Owner(OwnerRef {
                kind: kind.to_owned(),
                name: key.name.clone(),
            });
            remove_from(&mut self.children, &owner_key, &child);
        }
    }

    /// An owner changed: the identities of the pods below it may have too.
    fn reresolve_descendants(&mut self, owner: &OwnerKey, changes: &mut Changes) {
        let mut pods = Vec::new();
        let mut pending = vec![owner.clone()];
        while let Some(next) = pending.pop() {
            for child in self.children.get(&next).into_iter().flatten() {
                match child {
                    Child::Pod(name) => pods.push(ObjectKey::new(&next.0, name)),
                    Child::Owner(o) if pending.len() < 64 => {
                        pending.push((next.0.clone(), o.kind.clone(), o.name.clone()))
                    }
                    Child::Owner(_) => {}
                }
            }
        }
        for key in pods {
            if let Some(pod) = self.pods.get(&key) {
                let facts = pod.facts.clone();
                self.remove_pod(&key, changes);
                self.insert_pod(facts, changes);
            }
        }
    }

    // ---- services and ingresses ----------------------------------------------------------------------

    fn insert_service(&mut self, facts: ServiceFacts, changes: &mut Changes) {
        self.touch_service(&facts, changes);
        self.services_by_namespace
            .entry(facts.key.namespace.clone())
            .or_default()
            .insert(facts.key.name.clone());
        self.services.insert(facts.key.clone(), facts);
    }

    fn remove_service(&mut self, key: &ObjectKey, changes: &mut Changes) {
        if let Some(facts) = self.services.remove(key) {
            self.touch_service(&facts, changes);
            remove_from(&mut self.services_by_namespace, &key.namespace, &key.name);
        }
    }

    /// The Service's external-traffic policy, its identity's policies, the egress policies of its clients
    /// and of the clients of the workloads it selects (egress to a workload also admits the Services in front
    /// of it), and the default-deny policies of ProtectedServices naming it.
    fn touch_service(&self, service: &ServiceFacts, changes: &mut Changes) {
        let key = &service.key;
        changes.insert(Unit::Service(key.clone()));
        let identity = Identity::new(&key.namespace, &key.name, Some(crate::identity::SERVICE_KIND));
        let selected = self
            .pods_in(&key.namespace)
            .filter(|p| service.selects(&p.facts.labels));
        let selected_servers = selected.flat_map(|pod| {
            let id = &pod.identity.identity;
            self.servers_by_name
                .get(&ObjectKey::new(&id.namespace, &id.name))
                .into_iter()
                .flatten()
        });
        for server in selected_servers.chain([&identity]) {
            if let Some(access) = self.servers.get(server) {
                changes.extend(access.clients.keys().cloned().map(Unit::Identity));
            }
        }
        changes.insert(Unit::Identity(identity));
        for ps in self.protected_by_server.get(key).into_iter().flatten() {
            changes.insert(Unit::ProtectedService(ObjectKey::new(&key.namespace, ps)));
        }
    }

    fn insert_ingress(&mut self, facts: IngressFacts, changes: &mut Changes) {
        for service in &facts.services {
            let service_key = ObjectKey::new(&facts.key.namespace, service);
            changes.insert(Unit::Service(service_key.clone()));
            self.ingresses_by_service
                .entry(service_key)
                .or_default()
                .insert(facts.key.name.clone());
        }
        self.ingresses.insert(facts.key.clone(), facts);
    }

    fn remove_ingress(&mut self, key: &ObjectKey, changes: &mut Changes) {
        let Some(facts) = self.ingresses.remove(key) else {
            return;
        };
        for service in &facts.services {
            let service_key = ObjectKey::new(&key.namespace, service);
            changes.insert(Unit::Service(service_key.clone()));
            remove_from(&mut self.ingresses_by_service, &service_key, &key.name);
        }
    }

    // ---- intents -------------------------------------------------------------------------------------

    fn insert_intents(&mut self, key: ObjectKey, intents: &ClientIntents, changes: &mut Changes) {
        let indexed = indexed_intents(intents);
        let client = &indexed.client;
        self.intents_by_client
            .entry(ObjectKey::new(&client.namespace, &client.name))
            .or_default()
            .insert(key.name.clone());
        for call in &indexed.calls {
            match call {
                Call::Workload { server, .. } => {
                    self.declare(server.clone(), Declaration::ClientIntents(key.clone()))
                }
                Call::Kafka { broker, .. } => {
                    self.declare(broker.clone(), Declaration::ClientIntents(key.clone()));
                    self.kafka_intents_by_broker
                        .entry(broker.clone())
                        .or_default()
                        .insert(key.clone());
                }
                // Not declared on an in-cluster server: nothing to index.
                Call::ApiServer { .. } | Call::Internet(_) | Call::Unsupported { .. } => {}
            }
        }
        self.touch_intents(&indexed, changes);
        self.intents.insert(key, indexed);
    }

    fn remove_intents(&mut self, key: &ObjectKey, changes: &mut Changes) {
        let Some(indexed) = self.intents.remove(key) else {
            return;
        };
        self.touch_intents(&indexed, changes);
        let client = &indexed.client;
        remove_from(
            &mut self.intents_by_client,
            &ObjectKey::new(&client.namespace, &client.name),
            &key.name,
        );
        for call in &indexed.calls {
            match call {
                Call::Workload { server, .. } => {
                    self.undeclare(server, &Declaration::ClientIntents(key.clone()))
                }
                Call::Kafka { broker, .. } => {
                    self.undeclare(broker, &Declaration::ClientIntents(key.clone()));
                    remove_from(&mut self.kafka_intents_by_broker, broker, key);
                }
                // Not declared on an in-cluster server: nothing to index.
                Call::ApiServer { .. } | Call::Internet(_) | Call::Unsupported { .. } => {}
            }
        }
    }

    /// The client's own policies and pods, every server it calls, every broker it uses.
    fn touch_intents(&self, intents: &IndexedIntents, changes: &mut Changes) {
        changes.insert(Unit::Identity(intents.client.clone()));
        self.touch_pods_of_client(&intents.client, changes);
        for call in &intents.calls {
            match call {
                Call::Workload { server, .. } => {
                    changes.insert(Unit::Identity(server.clone()));
                }
                Call::Kafka { broker, .. } => {
                    changes.insert(Unit::Identity(broker.clone()));
                    changes.insert(Unit::Broker(broker.clone()));
                }
                // Not declared on an in-cluster server: nothing to index.
                Call::ApiServer { .. } | Call::Internet(_) | Call::Unsupported { .. } => {}
            }
        }
    }

    fn touch_pods_of_client(&self, client: &Identity, changes: &mut Changes) {
        changes.extend(
            self.pods_of(client)
                .into_iter()
                .map(|p| Unit::Pod(p.facts.key.clone())),
        );
    }

    fn declare(&mut self, server: Identity, declaration: Declaration) {
        let by_name = ObjectKey::new(&server.namespace, &server.name);
        self.servers_by_name
            .entry(by_name)
            .or_default()
            .insert(server.clone());
        self.declarations_by_server
            .entry(server)
            .or_default()
            .insert(declaration);
    }

    fn undeclare(&mut self, server: &Identity, declaration: &Declaration) {
        remove_from(&mut self.declarations_by_server, server, declaration);
        if !self.declarations_by_server.contains_key(server) {
            remove_from(
                &mut self.servers_by_name,
                &ObjectKey::new(&server.namespace, &server.name),
                server,
            );
        }
    }

    // ---- protected services and Kafka server configs -------------------------------------------------

    fn insert_protected(&mut self, key: ObjectKey, spec: ProtectedServiceSpec, changes: &mut Changes) {
        let server = ObjectKey::new(&key.namespace, &spec.name);
        self.protected_by_server
            .entry(server.clone())
            .or_default()
            .insert(key.name.clone());
        self.protected.insert(key.clone(), spec);
        self.touch_protected(&key, &server, changes);
    }

    fn remove_protected(&mut self, key: &ObjectKey, changes: &mut Changes) {
        let Some(spec) = self.protected.remove(key) else {
            return;
        };
        let server = ObjectKey::new(&key.namespace, &spec.name);
        remove_from(&mut self.protected_by_server, &server, &key.name);
        self.touch_protected(key, &server, changes);
    }

    /// The default-deny policy, every identity and broker of that name, and the namespace's Services (whose
    /// external-traffic policies depend on whether their pods are now protected).
    fn touch_protected(&self, key: &ObjectKey, server: &ObjectKey, changes: &mut Changes) {
        changes.insert(Unit::ProtectedService(key.clone()));
        let servers = self.servers_by_name.get(server).into_iter().flatten();
        changes.extend(servers.cloned().map(Unit::Identity));
        changes.insert(Unit::Broker(Identity::new(&server.namespace, &server.name, None)));
        changes.extend(
            self.services_in(&server.namespace)
                .map(|s| Unit::Service(s.key.clone())),
        );
    }

    fn insert_kafka_config(&mut self, key: ObjectKey, spec: KafkaServerConfigSpec, changes: &mut Changes) {
        let broker = Identity::new(&key.namespace, &spec.workload.name, None);
        self.kafka_configs_by_broker
            .entry(broker.clone())
            .or_default()
            .insert(key.clone());
        self.kafka_configs.insert(key, spec);
        changes.insert(Unit::Broker(broker));
    }

    fn remove_kafka_config(&mut self, key: &ObjectKey, changes: &mut Changes) {
        let Some(spec) = self.kafka_configs.remove(key) else {
            return;
        };
        let broker = Identity::new(&key.namespace, &spec.workload.name, None);
        remove_from(&mut self.kafka_configs_by_broker, &broker, key);
        changes.insert(Unit::Broker(broker));
    }

    // ---- effective access ----------------------------------------------------------------------------

    /// Recomputes the effective access of the touched servers and brokers, and adds the Services whose
    /// external-traffic policies follow from them.
    fn refresh(&mut self, changes: &mut Changes) {
        let mut services = Vec::new();
        for identity in changes.identities() {
            let before = self.servers.get(identity).map(effective::has_ingress_policy);
            match effective::server_access(self, identity) {
                Some(access) => {
                    self.servers.insert(identity.clone(), access);
                }
                None => {
                    self.servers.remove(identity);
                }
            }
            let after = self.servers.get(identity).map(effective::has_ingress_policy);
            if before.unwrap_or(false) != after.unwrap_or(false) {
                services.extend(self.services_selecting(identity));
            }
        }
        changes.extend(services.into_iter().map(Unit::Service));
        for broker in changes.brokers() {
            match effective::kafka_access(self, broker) {
                Some(access) => {
                    self.brokers.insert(broker.clone(), access);
                }
                None => {
                    self.brokers.remove(broker);
                }
            }
        }
    }

    /// Services in the identity's namespace that select at least one of its pods.
    fn services_selecting(&self, identity: &Identity) -> Vec<ObjectKey> {
        let pods = self.pods_of(identity);
        self.services_in(&identity.namespace)
            .filter(|s| pods.iter().any(|p| s.selects(&p.facts.labels)))
            .map(|s| s.key.clone())
            .collect()
    }

    pub(crate) fn declarations(&self, server: &Identity) -> impl Iterator<Item = &Declaration> {
        self.declarations_by_server.get(server).into_iter().flatten()
    }

    /// The ClientIntents that declare a call to this server (workload, Service or Kafka target).
    pub fn intents_calling(&self, server: &Identity) -> impl Iterator<Item = &ObjectKey> {
        self.declarations(server)
            .filter_map(|declaration| match declaration {
                Declaration::ClientIntents(key) => Some(key),
                Declaration::AccessAnnotation(_) => None,
            })
    }

    /// Whether the index already holds exactly what `intents` says (client, calls and resolved addresses),
    /// so applying it again would change nothing: a status write by the operator itself, for example.
    pub fn holds(&self, intents: &ClientIntents) -> bool {
        let key = ObjectKey::of(&intents.metadata);
        self.intents
            .get(&key)
            .is_some_and(|indexed| *indexed == indexed_intents(intents))
    }

    /// The ClientIntents with a call to this Kafka broker.
    pub fn kafka_intents(&self, broker: &Identity) -> impl Iterator<Item = (&ObjectKey, &IndexedIntents)> {
        self.kafka_intents_by_broker
            .get(broker)
            .into_iter()
            .flatten()
            .filter_map(|key| self.intents.get_key_value(key))
    }

    pub(crate) fn kafka_configs_of(&self, broker: &Identity) -> impl Iterator<Item = &ObjectKey> {
        self.kafka_configs_by_broker.get(broker).into_iter().flatten()
    }
}

/// A ClientIntents as the index holds it.
fn indexed_intents(intents: &ClientIntents) -> IndexedIntents {
    let resolved_ips = intents
        .status
        .iter()
        .flat_map(|s| &s.resolved_ips)
        .map(|r| (r.dns.clone(), r.ips.clone()))
        .collect();
    IndexedIntents {
        client: client_of(intents),
        calls: calls_of(intents),
        resolved_ips,
    }
}

/// Removes `value` from the set at `key`, and the set itself once empty (so maps never keep empty sets).
fn remove_from<K, S, V>(map: &mut HashMap<K, S>, key: &K, value: &V)
where
    K: std::hash::Hash + Eq,
    S: SmallOrLargeSet<V>,
{
    if let Some(set) = map.get_mut(key) {
        set.remove_value(value);
        if set.is_empty_set() {
            map.remove(key);
        }
    }
}

/// The two set types of the index: B-trees for the large per-namespace sets, sorted vectors for the rest.
trait SmallOrLargeSet<V> {
    fn remove_value(&mut self, value: &V);
    fn is_empty_set(&self) -> bool;
}

impl<V: Ord> SmallOrLargeSet<V> for BTreeSet<V> {
    fn remove_value(&mut self, value: &V) {
        self.remove(value);
    }
    fn is_empty_set(&self) -> bool {
        self.is_empty()
    }
}

impl<V: Ord> SmallOrLargeSet<V> for SortedSet<V> {
    fn remove_value(&mut self, value: &V) {
        self.remove(value);
    }
    fn is_empty_set(&self) -> bool {
        self.is_empty()
    }
}
