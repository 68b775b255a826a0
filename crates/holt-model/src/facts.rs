//! The facts the model keeps about each Kubernetes object: only what access decisions need, extracted once
//! when the object arrives, so the index stays small (the operator's memory target is 100 MB for 10,000
//! pods) and no computation ever touches a full object again.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, Service, ServicePort};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::mesh::LINKERD_PROXY_CONTAINER;
use crate::sorted_map::SortedMap;

/// A namespaced object's namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a namespaced object; objects without a namespace are put in `default`, as kubectl does.
    pub fn of(meta: &ObjectMeta) -> Self {
        ObjectKey::new(
            meta.namespace.clone().unwrap_or_else(|| "default".into()),
            meta.name.clone().unwrap_or_default(),
        )
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The controlling owner of an object (or its first owner when none is marked as controller).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
}

pub fn owner_of(meta: &ObjectMeta) -> Option<OwnerRef> {
    owner_reference_of(meta).map(|o| OwnerRef {
        kind: o.kind.clone(),
        name: o.name.clone(),
    })
}

/// The owner reference [`owner_of`] follows, whole (API version and UID included).
pub fn owner_reference_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    let owners = meta.owner_references.as_deref().unwrap_or_default();
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
}

/// A workload object that can own pods (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, or any
/// custom owner): its kind, name and own owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerFacts {
    pub key: ObjectKey,
    pub kind: String,
    pub owner: Option<OwnerRef>,
}

impl OwnerFacts {
    pub fn new(kind: &str, meta: &ObjectMeta) -> Self {
        OwnerFacts {
            key: ObjectKey::of(meta),
            kind: kind.to_owned(),
            owner: owner_of(meta),
        }
    }
}

/// A container port a pod declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: i32,
    pub protocol: String,
}

/// What the model needs of a Namespace: its name, and the labels and annotations that ask a mesh to inject
/// its proxy into the namespace's pods ([`crate::mesh::NAMESPACE_LABELS`],
/// [`crate::mesh::NAMESPACE_ANNOTATIONS`]; the others are dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceFacts {
    pub name: String,
    pub mesh_labels: BTreeMap<String, String>,
    pub mesh_annotations: BTreeMap<String, String>,
}

impl NamespaceFacts {
    /// A namespace without mesh labels or annotations.
    pub fn named(name: impl Into<String>) -> Self {
        NamespaceFacts {
            name: name.into(),
            mesh_labels: BTreeMap::new(),
            mesh_annotations: BTreeMap::new(),
        }
    }

    pub fn from_meta(metadata: &ObjectMeta) -> Self {
        NamespaceFacts {
            name: metadata.name.clone().unwrap_or_default(),
            mesh_labels: crate::mesh::namespace_labels(metadata.labels.iter().flatten()),
            mesh_annotations: crate::mesh::namespace_annotations(metadata.annotations.iter().flatten()),
        }
    }

    /// What the namespace says about mesh injection.
    pub fn mesh(&self) -> crate::mesh::NamespaceMesh {
        crate::mesh::NamespaceMesh {
            labels: self.mesh_labels.clone(),
            annotations: self.mesh_annotations.clone(),
        }
    }
}

/// An HTTP probe (liveness, readiness or startup) of a pod's container: the kubelet calls `path` on `port`
/// (a number or a named container port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpProbe {
    pub port: IntOrString,
    pub path: String,
}

/// What the model needs of a Pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFacts {
    pub key: ObjectKey,
    pub labels: SortedMap<String, String>,
    pub annotations: SortedMap<String, String>,
    pub owner: Option<OwnerRef>,
    pub service_account: String,
    /// Container images, sidecars excluded (for image-named Job identities).
    pub images: Vec<String>,
    pub has_istio_sidecar: bool,
    /// The pod runs Linkerd's proxy (a `linkerd-proxy` container).
    pub has_linkerd_proxy: bool,
    pub host_network: bool,
    pub ips: Vec<String>,
    /// The ports the pod's containers declare, Linkerd's proxy container excluded (its ports are the
    /// mesh's, not the workload's).
    pub ports: Vec<ContainerPort>,
    /// The HTTP probes of the pod's containers (Linkerd's proxy excluded), sorted and without repeats.
    pub http_probes: Vec<HttpProbe>,
}

impl PodFacts {
    pub fn from_pod(pod: &Pod) -> Self {
        let spec = pod.spec.clone().unwrap_or_default();
        let containers = &spec.containers;
        let status = pod.status.clone().unwrap_or_default();
        let mut ips: Vec<String> = status
            .pod_ips
            .unwrap_or_default()
            .into_iter()
            .map(|ip| ip.ip)
            .collect();
        if let Some(ip) = status.pod_ip.filter(|ip| !ips.contains(ip)) {
            ips.insert(0, ip);
        }
        PodFacts {
            key: ObjectKey::of(&pod.metadata),
            labels: pod.metadata.labels.clone().unwrap_or_default().into(),
            annotations: pod.metadata.annotations.clone().unwrap_or_default().into(),
            owner: owner_of(&pod.metadata),
            service_account: spec
                .service_account_name
                .clone()
                .filter(|sa| !sa.is_empty())
                .unwrap_or_else(|| "default".into()),
            images: containers
                .iter()
                .filter(|c| c.name != "istio-proxy" && !c.name.contains("sidecar"))
                .filter_map(|c| c.image.clone())
                .collect(),
            has_istio_sidecar: containers.iter().any(|c| c.name == "istio-proxy"),
            has_linkerd_proxy: containers.iter().any(|c| c.name == LINKERD_PROXY_CONTAINER),
            host_network: spec.host_network.unwrap_or(false),
            ips,
            http_probes: http_probes(containers),
            ports: containers
                .iter()
                .filter(|c| c.name != LINKERD_PROXY_CONTAINER)
                .flat_map(|c| c.ports.iter().flatten())
                .map(|p| ContainerPort {
                    name: p.name.clone(),
                    port: p.container_port,
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                })
                .collect(),
        }
    }
}

impl PodFacts {
    /// A Pod that reads back as these facts (`PodFacts::from_pod(&facts.to_pod()) == facts`) and carries
    /// their labels, addresses and container ports: for a holder of the facts alone (the network mapper) that
    /// hands Pods to code reading Pods (the shadow-mode insights). Its containers are made up to carry the
    /// facts: one per image, one with every port, one per HTTP probe, and the mesh's proxies by name.
    pub fn to_pod(&self) -> Pod {
        let plain = |name: String| Container {
            name,
            ..Container::default()
        };
        let mut containers: Vec<Container> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, image)| Container {
                image: Some(image.clone()),
                ..plain(format!("image-{i}"))
            })
            .collect();
        if !self.ports.is_empty() {
            containers.push(Container {
                ports: Some(
                    self.ports
                        .iter()
                        .map(|p| k8s_openapi::api::core::v1::ContainerPort {
                            name: p.name.clone(),
                            container_port: p.port,
                            protocol: Some(p.protocol.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..plain("ports".into())
            });
        }
        containers.extend(self.http_probes.iter().enumerate().map(|(i, probe)| Container {
            readiness_probe: Some(k8s_openapi::api::core::v1::Probe {
                http_get: Some(k8s_openapi::api::core::v1::HTTPGetAction {
                    port: probe.port.clone(),
                    path: Some(probe.path.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..plain(format!("probe-{i}"))
        }));
        if self.has_istio_sidecar {
            containers.push(plain("istio-proxy".into()));
        }
        if self.has_linkerd_proxy {
            containers.push(plain(LINKERD_PROXY_CONTAINER.into()));
        }
        let map = |sorted: &SortedMap<String, String>| -> Option<BTreeMap<String, String>> {
            (!sorted.is_empty()).then(|| sorted.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        };
        Pod {
            metadata: ObjectMeta {
                namespace: Some(self.key.namespace.clone()),
                name: Some(self.key.name.clone()),
                labels: map(&self.labels),
                annotations: map(&self.annotations),
                owner_references: self.owner.as_ref().map(|owner| {
                    vec![OwnerReference {
                        kind: owner.kind.clone(),
                        name: owner.name.clone(),
                        controller: Some(true),
                        ..OwnerReference::default()
                    }]
                }),
                ..ObjectMeta::default()
            },
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                containers,
                service_account_name: Some(self.service_account.clone()),
                host_network: self.host_network.then_some(true),
                ..Default::default()
            }),
            status: Some(k8s_openapi::api::core::v1::PodStatus {
                pod_ip: self.ips.first().cloned(),
                pod_ips: (!self.ips.is_empty()).then(|| {
                    self.ips
                        .iter()
                        .map(|ip| k8s_openapi::api::core::v1::PodIP { ip: ip.clone() })
                        .collect()
                }),
                ..Default::default()
            }),
        }
    }
}

/// The HTTP probes of the containers other than Linkerd's proxy.
fn http_probes(containers: &[Container]) -> Vec<HttpProbe> {
    let mut probes: Vec<HttpProbe> = containers
        .iter()
        .filter(|c| c.name != LINKERD_PROXY_CONTAINER)
        .flat_map(|c| [&c.liveness_probe, &c.readiness_probe, &c.startup_probe])
        .filter_map(|probe| probe.as_ref()?.http_get.as_ref())
        .map(|get| HttpProbe {
            port: get.port.clone(),
            path: get
                .path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into()),
        })
        .collect();
    probes.sort_by(|a, b| {
        port_order(&a.port)
            .cmp(&port_order(&b.port))
            .then_with(|| a.path.cmp(&b.path))
    });
    probes.dedup();
    probes
}

/// Numbered ports first, by number, then named ports by name.
fn port_order(port: &IntOrString) -> (bool, i32, &str) {
    match port {
        IntOrString::Int(number) => (false, *number, ""),
        IntOrString::String(name) => (true, 0, name.as_str()),
    }
}

/// How a Service is exposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    ClusterIp,
    NodePort,
    LoadBalancer,
    ExternalName,
}

/// One port of a Service: the port clients dial and the pod port it forwards to (a number or a named
/// container port, which NetworkPolicies accept as they are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortFacts {
    pub name: Option<String>,
    pub port: i32,
    pub target_port: IntOrString,
    pub protocol: String,
}

/// What the model needs of a Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFacts {
    pub key: ObjectKey,
    /// `None`: a Service without selector (its endpoints are managed by hand), which selects no pods.
    pub selector: Option<BTreeMap<String, String>>,
    pub ports: Vec<ServicePortFacts>,
    pub service_type: ServiceType,
    pub cluster_ips: Vec<String>,
    /// `metadata.uid`, for owner references of the objects rendered for the Service (`None` in manifests
    /// read by `holt plan`).
    pub uid: Option<String>,
}

impl ServiceFacts {
    pub fn from_service(service: &Service) -> Self {
        let spec = service.spec.clone().unwrap_or_default();
        let port = |p: &ServicePort| ServicePortFacts {
            name: p.name.clone(),
            port: p.port,
            target_port: p.target_port.clone().unwrap_or(IntOrString::Int(p.port)),
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        };
        ServiceFacts {
            key: ObjectKey::of(&service.metadata),
            uid: service.metadata.uid.clone(),
            selector: spec.selector.clone().filter(|s| !s.is_empty()),
            ports: spec.ports.iter().flatten().map(port).collect(),
            service_type: match spec.type_.as_deref() {
                Some("NodePort") => ServiceType::NodePort,
                Some("LoadBalancer") => ServiceType::LoadBalancer,
                Some("ExternalName") => ServiceType::ExternalName,
                _ => ServiceType::ClusterIp,
            },
            cluster_ips: spec
                .cluster_ips
                .clone()
                .or_else(|| spec.cluster_ip.clone().map(|ip| vec![ip]))
                .unwrap_or_default()
                .into_iter()
                .filter(|ip| ip != "None" && !ip.is_empty())
                .collect(),
        }
    }

    /// Whether this Service selects a pod with these labels.
    pub fn selects(&self, labels: &SortedMap<String, String>) -> bool {
        self.selector
            .as_ref()
            .is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }

    /// Reachable from outside the cluster by its own type (LoadBalancer or NodePort).
    pub fn is_exposed_by_type(&self) -> bool {
        matches!(
            self.service_type,
            ServiceType::LoadBalancer | ServiceType::NodePort
        )
    }
}

/// What the model needs of an Ingress: the Services (in its namespace) it routes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngressFacts {
    pub key: ObjectKey,
    pub services: Vec<String>,
}

impl IngressFacts {
    pub fn from_ingress(ingress: &Ingress) -> Self {
        let spec = ingress.spec.clone().unwrap_or_default();
        let default = spec.default_backend.and_then(|b| b.service).map(|s| s.name);
        let rules = spec
            .rules
            .into_iter()
            .flatten()
            .filter_map(|r| r.http)
            .flat_map(|h| h.paths)
            .filter_map(|p| p.backend.service.map(|s| s.name));
        let mut services: Vec<String> = default.into_iter().chain(rules).collect();
        services.sort();
        services.dedup();
        IngressFacts {
            key: ObjectKey::of(&ingress.metadata),
            services,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rich_pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "namespace": "shop", "name": "web-7d9f-x1",
                "labels": {"app": "web", "tier": "front"},
                "annotations": {"intents.otterize.com/workload-name": "web"},
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Other", "name": "not-it", "uid": "0"},
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "1", "controller": true}
                ]
            },
            "spec": {
                "serviceAccountName": "web-sa",
                "containers": [
                    {"name": "main", "image": "registry.example/web:1",
                     "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 53, "protocol": "UDP"}],
                     "livenessProbe": {"httpGet": {"port": "http", "path": "/live"}},
                     "readinessProbe": {"httpGet": {"port": 8080}}},
                    {"name": "log-sidecar", "image": "registry.example/log:1"},
                    {"name": "helper", "image": "registry.example/helper:2", "ports": [{"containerPort": 9000}]},
                    {"name": "istio-proxy", "image": "istio/proxyv2"},
                    {"name": "linkerd-proxy", "image": "linkerd/proxy", "ports": [{"containerPort": 4143}],
                     "readinessProbe": {"httpGet": {"port": 4191, "path": "/ready"}}}
                ]
            },
            "status": {"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}]}
        }))
        .expect("a valid Pod")
    }

    #[test]
    fn a_pod_made_from_facts_reads_back_as_the_same_facts() {
        let facts = PodFacts::from_pod(&rich_pod());
        // The example exercises every field.
        assert_eq!(facts.images.len(), 3, "{facts:?}");
        assert_eq!(facts.ports.len(), 3, "{facts:?}");
        assert_eq!(facts.http_probes.len(), 2, "{facts:?}");
        assert!(facts.has_istio_sidecar && facts.has_linkerd_proxy && facts.owner.is_some());
        assert_eq!(PodFacts::from_pod(&facts.to_pod()), facts);

        let bare: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "shop", "name": "bare"},
            "spec": {"hostNetwork": true, "containers": [{"name": "c"}]}
        }))
        .expect("a valid Pod");
        let facts = PodFacts::from_pod(&bare);
        assert_eq!(PodFacts::from_pod(&facts.to_pod()), facts);
    }

    #[test]
    fn a_pod_made_from_facts_carries_their_addresses_and_ports() {
        let facts = PodFacts::from_pod(&rich_pod());
        let pod = facts.to_pod();
        let status = pod.status.expect("status");
        assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.9"));
        let ips: Vec<String> = status.pod_ips.into_iter().flatten().map(|p| p.ip).collect();
        assert_eq!(ips, ["10.0.0.9", "fd00::9"]);
        let ports: Vec<(Option<String>, i32)> = pod
            .spec
            .expect("spec")
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .map(|p| (p.name.clone(), p.container_port))
            .collect();
        assert_eq!(ports, [(Some("http".to_owned()), 8080), (None, 53), (None, 9000)]);
    }
}
