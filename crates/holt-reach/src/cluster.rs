//! The cluster as evaluation sees it: namespaces (labels), pods (labels, IPs, container ports) and checked
//! policies, indexed so that a flow's cost depends on the policies that select its two pods, not on the
//! size of the cluster. Building the index finds the pods each policy selects through a label index of
//! each namespace (candidates carrying one of the selector's required `key: value` pairs), so it does not
//! test every policy against every pod either.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::policy::{Policy, PolicyError, PolicyName};
use crate::protocol::Protocol;
use crate::selector::Labels;

/// The label the API server puts on every namespace, with the namespace's name as its value.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A namespace and its labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceInput {
    pub name: String,
    pub labels: Labels,
}

/// A container port, for resolving named ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// A pod as evaluation needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodInput {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub ips: Vec<IpAddr>,
    pub ports: Vec<ContainerPort>,
}

/// Input that cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("Pod {pod}: {field}: {problem}")]
    Pod {
        pod: String,
        field: String,
        problem: String,
    },
    #[error("Pod {pod} is given twice")]
    DuplicatePod { pod: String },
}

impl PodInput {
    /// Reads a Kubernetes Pod: namespace (`default` when absent), labels, `status.podIPs`/`status.podIP`,
    /// and the named ports of its containers (init containers included, as restartable sidecars serve too).
    pub fn from_pod(pod: &Pod) -> Result<Self, ClusterError> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let fail = |field: String, problem: String| ClusterError::Pod {
            pod: format!("{namespace}/{name}"),
            field,
            problem,
        };
        let mut ips = Vec::new();
        if let Some(status) = &pod.status {
            let listed = status.pod_ips.iter().flatten().map(|p| p.ip.clone());
            for (index, text) in listed.chain(status.pod_ip.clone()).enumerate() {
                let ip: IpAddr = text.parse().map_err(|_| {
                    fail(
                        format!("status.podIPs[{index}]"),
                        format!("`{text}` is not an IP address"),
                    )
                })?;
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        let mut ports = Vec::new();
        if let Some(spec) = &pod.spec {
            let containers = spec
                .containers
                .iter()
                .map(|c| ("containers", c))
                .enumerate()
                .chain(
                    spec.init_containers
                        .iter()
                        .flatten()
                        .map(|c| ("initContainers", c))
                        .enumerate(),
                );
            for (index, (list, container)) in containers {
                for (p, port) in container.ports.iter().flatten().enumerate() {
                    let at = format!("spec.{list}[{index}].ports[{p}]");
                    let number = u16::try_from(port.container_port)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            fail(
                                format!("{at}.containerPort"),
                                format!("{} is not a port", port.container_port),
                            )
                        })?;
                    let protocol = match &port.protocol {
                        None => Protocol::Tcp,
                        Some(text) => Protocol::parse_exact(text).ok_or_else(|| {
                            fail(
                                format!("{at}.protocol"),
                                format!("`{text}` is not TCP, UDP or SCTP"),
                            )
                        })?,
                    };
                    ports.push(ContainerPort {
                        name: port.name.clone(),
                        port: number,
                        protocol,
                    });
                }
            }
        }
        Ok(Self {
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            namespace,
            name,
            ips,
            ports,
        })
    }

    /// Whether this pod has a container port named `name` with this number and protocol.
    pub fn names_port(&self, name: &str, port: u16, protocol: Protocol) -> bool {
        self.ports
            .iter()
            .any(|p| p.port == port && p.protocol == protocol && p.name.as_deref() == Some(name))
    }
}

/// A pod's position in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodId(pub(crate) usize);

/// A policy's position in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PolicyId(pub(crate) usize);

/// Namespaces, pods and policies, indexed for evaluation.
#[derive(Debug)]
pub struct Cluster {
    pub(crate) namespace_labels: HashMap<String, Labels>,
    pub(crate) pods: Vec<PodInput>,
    pub(crate) policies: Vec<Policy>,
    /// For each pod, the policies that select it and isolate it for ingress.
    pub(crate) ingress_isolation: Vec<Vec<PolicyId>>,
    /// For each pod, the policies that select it and isolate it for egress.
    pub(crate) egress_isolation: Vec<Vec<PolicyId>>,
    by_name: HashMap<(String, String), PodId>,
    by_ip: HashMap<IpAddr, PodId>,
}

impl Cluster {
    /// Indexes the input. A namespace that pods or policies name but that is not given gets only the label
    /// the API server always sets (`kubernetes.io/metadata.name`); that label is added to given namespaces too.
    pub fn new(
        namespaces: impl IntoIterator<Item = NamespaceInput>,
        pods: Vec<PodInput>,
        policies: &[NetworkPolicy],
    ) -> Result<Self, ClusterError> {
        let mut namespace_labels: HashMap<String, Labels> = HashMap::new();
        for namespace in namespaces {
            let mut labels = namespace.labels;
            labels.insert(NAMESPACE_NAME_LABEL.into(), namespace.name.clone());
            namespace_labels.insert(namespace.name, labels);
        }
        let mut by_name = HashMap::with_capacity(pods.len());
        let mut by_ip = HashMap::with_capacity(pods.len());
        // Per namespace: every pod, and the pods carrying each `key: value` label.
        let mut members: HashMap<&str, Vec<PodId>> = HashMap::new();
        let mut label_index: HashMap<(&str, &str, &str), Vec<PodId>> = HashMap::new();
        for (index, pod) in pods.iter().enumerate() {
            let id = PodId(index);
            if by_name
                .insert((pod.namespace.clone(), pod.name.clone()), id)
                .is_some()
            {
                return Err(ClusterError::DuplicatePod {
                    pod: format!("{}/{}", pod.namespace, pod.name),
                });
            }
            for ip in &pod.ips {
                by_ip.entry(*ip).or_insert(id);
            }
            members.entry(pod.namespace.as_str()).or_default().push(id);
            for (key, value) in &pod.labels {
                label_index
                    .entry((pod.namespace.as_str(), key.as_str(), value.as_str()))
                    .or_default()
                    .push(id);
            }
        }
        let compiled: Vec<Policy> = policies.iter().map(Policy::compile).collect::<Result<_, _>>()?;
        let mut ingress_isolation = vec![Vec::new(); pods.len()];
        let mut egress_isolation = vec![Vec::new(); pods.len()];
        for (index, policy) in compiled.iter().enumerate() {
            let namespace = policy.name.namespace.as_str();
            let candidates = policy
                .selects
                .required_pairs()
                .map(|(key, value)| {
                    label_index
                        .get(&(namespace, key, value))
                        .map_or(&[][..], Vec::as_slice)
                })
                .min_by_key(|list| list.len())
                .unwrap_or_else(|| members.get(namespace).map_or(&[][..], Vec::as_slice));
            for &pod in candidates {
                if !policy.selects.matches(&pods[pod.0].labels) {
                    continue;
                }
                if policy.ingress.is_some() {
                    ingress_isolation[pod.0].push(PolicyId(index));
                }
                if policy.egress.is_some() {
                    egress_isolation[pod.0].push(PolicyId(index));
                }
            }
        }
        for pod in &pods {
            namespace_labels
                .entry(pod.namespace.clone())
                .or_insert_with(|| [(NAMESPACE_NAME_LABEL.to_owned(), pod.namespace.clone())].into());
        }
        Ok(Self {
            namespace_labels,
            pods,
            policies: compiled,
            ingress_isolation,
            egress_isolation,
            by_name,
            by_ip,
        })
    }

    /// The pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.by_name
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
    }

    /// The pod with this IP address, if any.
    pub fn pod_with_ip(&self, ip: IpAddr) -> Option<PodId> {
        self.by_ip.get(&ip).copied()
    }

    /// The input of a pod.
    pub fn pod_input(&self, id: PodId) -> &PodInput {
        &self.pods[id.0]
    }

    /// Labels of a pod's namespace (every pod's namespace has at least the name label).
    pub(crate) fn labels_of_namespace(&self, namespace: &str) -> &Labels {
        static NONE: Labels = BTreeMap::new();
        self.namespace_labels.get(namespace).unwrap_or(&NONE)
    }

    /// Number of pods.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Every pod, in the order given to [`Cluster::new`].
    pub fn pod_ids(&self) -> impl Iterator<Item = PodId> + '_ {
        (0..self.pods.len()).map(PodId)
    }

    /// The policies that select this pod and isolate it for ingress (`egress: false`) or for egress.
    pub fn isolating_policies(&self, pod: PodId, egress: bool) -> impl Iterator<Item = &PolicyName> + '_ {
        let list = if egress {
            &self.egress_isolation[pod.0]
        } else {
            &self.ingress_isolation[pod.0]
        };
        list.iter().map(|id| &self.policies[id.0].name)
    }
}
