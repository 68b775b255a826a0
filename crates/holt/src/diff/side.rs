//! One side of `holt diff` (the manifests before or after a change) as the evaluator sees it once Holt has
//! acted: manifest paths and the operator configuration in; out, the evaluator's cluster with Holt's
//! NetworkPolicies added to the manifests' own and Holt's labels on the pods, and for each pod what a change
//! can touch (its workload's name, the ports it serves, its namespace's labels), and each policy's spec by
//! name. Manifests are read and Holt's objects rendered exactly as `holt plan` does.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use holt_config::ConfigArgs;
use holt_insights::served_ports;
use holt_model::Config;
use holt_model::facts::{ObjectKey, ServiceFacts};
use holt_reach::{Cluster, Labels, PodId, PolicyName};
use k8s_openapi::api::networking::v1::NetworkPolicySpec;

use crate::document_limits::Limits;
use crate::manifests::{self, Manifest};
use crate::plan;
use crate::reach;

/// `(namespace, name)` of a pod or a policy.
pub type Key = (String, String);

pub use holt_insights::ServedPort;

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
        let mut input = reach::evaluator_input(documents.iter().copied());
        input.add_holt(&plan.state);
        let mut policies: HashMap<Key, Vec<NetworkPolicySpec>> = HashMap::new();
        for policy in &input.policies {
            let name = PolicyName::of(policy);
            policies
                .entry((name.namespace, name.name))
                .or_default()
                .push(policy.spec.clone().unwrap_or_default());
        }
        let namespace_labels: HashMap<String, Labels> = input
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        let services: Vec<ServiceFacts> = documents
            .iter()
            .filter_map(|m| match m {
                Manifest::Service(service) => Some(ServiceFacts::from_service(service)),
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
