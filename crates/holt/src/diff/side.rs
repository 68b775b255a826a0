//! One side of `holt diff` (the manifests before or after a change) as the evaluator sees it once Holt has
//! acted: manifest paths and the operator configuration in; out, the evaluator's cluster with Holt's
//! NetworkPolicies added to the manifests' own and Holt's labels on the pods, and for each pod what a change
//! can touch (its workload's name, the ports it serves, its namespace's labels), and each policy's spec by
//! name. Manifests are read and Holt's objects rendered exactly as `holt plan` does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use holt_config::ConfigArgs;
use holt_model::Config;
use holt_model::facts::ObjectKey;
use holt_reach::{Cluster, Labels, PodId, PodInput, Protocol};
use holt_render::PodLabels;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicySpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::document_limits::Limits;
use crate::manifests::{self, Manifest};
use crate::plan;
use crate::reach::ClusterInput;

/// `(namespace, name)` of a pod or a policy.
pub type Key = (String, String);

/// A port a pod serves: a container port, or the target of a Service port selecting the pod.
pub type ServedPort = (u16, Protocol);

/// What `holt diff` knows of one pod.
#[derive(Debug)]
pub struct PodView {
    pub id: PodId,
    /// `namespace/name` of the workload the pod belongs to (the pod's own name when it has no owner).
    pub workload: String,
    pub ports: BTreeSet<ServedPort>,
    pub namespace_labels: Labels,
}

/// One side, evaluated.
#[derive(Debug)]
pub struct AccessSide {
    pub cluster: Cluster,
    pub pods: HashMap<Key, PodView>,
    /// The spec of every NetworkPolicy (the manifests' and Holt's) by namespace and name; a name given twice
    /// keeps both specs.
    pub policies: HashMap<Key, Vec<NetworkPolicySpec>>,
}

impl AccessSide {
    /// Reads `paths` as `holt plan` does, renders what Holt would write with `config`, and indexes the result.
    pub fn load(
        paths: &[PathBuf],
        config_args: &ConfigArgs,
        config: &Config,
        limits: &Limits,
    ) -> anyhow::Result<Self> {
        let manifests = manifests::load(paths, config_args.config.as_deref(), limits)?;
        let plan = plan::build(&manifests, config.clone())?;
        let documents: Vec<&Manifest> = manifests.loaded.iter().map(|l| &l.manifest).collect();
        let mut input = ClusterInput::from_manifests(documents.iter().copied());
        let holt_labels: HashMap<&ObjectKey, &BTreeMap<String, String>> = plan
            .state
            .pod_labels
            .iter()
            .map(|p| (&p.pod, &p.labels))
            .collect();
        for pod in &mut input.pods {
            let key = ObjectKey::new(namespace_of(pod), pod.metadata.name.clone().unwrap_or_default());
            if let Some(desired) = holt_labels.get(&key) {
                let labels = pod.metadata.labels.get_or_insert_with(Default::default);
                labels.retain(|k, _| !PodLabels::is_owned(k) || desired.contains_key(k));
                labels.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        input
            .policies
            .extend(plan.state.objects.iter().filter_map(|d| match &d.manifest {
                holt_render::Manifest::NetworkPolicy(policy) => Some(policy.clone()),
                holt_render::Manifest::IstioAuthorizationPolicy(_) | holt_render::Manifest::Linkerd(_) => {
                    None
                }
            }));
        let mut policies: HashMap<Key, Vec<NetworkPolicySpec>> = HashMap::new();
        for policy in &input.policies {
            let key = (
                policy
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
                policy.metadata.name.clone().unwrap_or_default(),
            );
            policies
                .entry(key)
                .or_default()
                .push(policy.spec.clone().unwrap_or_default());
        }
        let namespace_labels: HashMap<String, Labels> = input
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        let services: Vec<&Service> = documents
            .iter()
            .filter_map(|m| match m {
                Manifest::Service(service) => Some(service.as_ref()),
                _ => None,
            })
            .collect();
        let cluster = input.build()?;
        let mut pods = HashMap::with_capacity(cluster.pod_count());
        for id in cluster.pod_ids() {
            let pod = cluster.pod_input(id);
            let key = ObjectKey::new(pod.namespace.clone(), pod.name.clone());
            let workload = plan.index.pod(&key).map_or_else(
                || key.to_string(),
                |p| format!("{}/{}", p.identity.identity.namespace, p.identity.identity.name),
            );
            let view = PodView {
                id,
                workload,
                ports: served_ports(pod, &services),
                namespace_labels: namespace_labels.get(&pod.namespace).cloned().unwrap_or_default(),
            };
            pods.insert((pod.namespace.clone(), pod.name.clone()), view);
        }
        Ok(Self {
            cluster,
            pods,
            policies,
        })
    }
}

fn namespace_of(pod: &Pod) -> String {
    pod.metadata.namespace.clone().unwrap_or_else(|| "default".into())
}

/// The pod's container ports, and the target ports of the Services of its namespace whose selector it matches
/// (a named target port resolved against the pod's container ports; none given: the Service's port).
fn served_ports(pod: &PodInput, services: &[&Service]) -> BTreeSet<ServedPort> {
    let mut ports: BTreeSet<ServedPort> = pod.ports.iter().map(|p| (p.port, p.protocol)).collect();
    for service in services {
        if service.metadata.namespace.as_deref().unwrap_or("default") != pod.namespace {
            continue;
        }
        let Some(spec) = &service.spec else { continue };
        let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        if !selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            continue;
        }
        for port in spec.ports.iter().flatten() {
            let protocol = match port.protocol.as_deref() {
                None => Protocol::Tcp,
                Some(text) => match Protocol::parse_exact(text) {
                    Some(protocol) => protocol,
                    None => continue,
                },
            };
            let number = match &port.target_port {
                None => u16::try_from(port.port).ok(),
                Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
                Some(IntOrString::String(name)) => pod
                    .ports
                    .iter()
                    .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
                    .map(|p| p.port),
            };
            if let Some(number) = number.filter(|n| *n > 0) {
                ports.insert((number, protocol));
            }
        }
    }
    ports
}
