//! What the evaluators are built from once Holt has acted: namespaces (all their labels), Pods, the cluster's
//! NetworkPolicies and Istio AuthorizationPolicies in; [`EvaluatorInput::add_holt`] puts Holt's desired pod
//! labels on the pods (removing Holt-owned labels it no longer wants) and adds Holt's NetworkPolicies and
//! Istio AuthorizationPolicies, since Holt's policies select pods by those labels. [`EvaluatorInput::build`]
//! indexes the result as a [`Cluster`] (NetworkPolicies), [`EvaluatorInput::build_mesh`] as a [`MeshAccess`]
//! (Istio). `holt reach`, `holt diff` and the insights all build their evaluators this way.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use holt_model::ObjectKey;
use holt_reach::istio::{AuthorizationPolicyManifest, MeshPolicyError};
use holt_reach::{Cluster, ClusterError, NamespaceInput, PodInput, PolicyName};
use holt_render::{DesiredState, Manifest, PodLabels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::mesh_access::{MeshAccess, MeshSettings, holt_istio_policy};

/// Namespaces, Pods, NetworkPolicies and Istio AuthorizationPolicies, before they are indexed.
#[derive(Clone, Debug, Default)]
pub struct EvaluatorInput {
    pub namespaces: Vec<NamespaceInput>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
    pub istio_policies: Vec<AuthorizationPolicyManifest>,
}

impl EvaluatorInput {
    /// Puts Holt's desired labels on the pods and adds Holt's NetworkPolicies and Istio AuthorizationPolicies
    /// (Linkerd's policies are not evaluated and are left out). Returns the names of the NetworkPolicies
    /// added.
    pub fn add_holt(&mut self, state: &DesiredState) -> BTreeSet<PolicyName> {
        let desired: HashMap<&ObjectKey, &BTreeMap<String, String>> =
            state.pod_labels.iter().map(|p| (&p.pod, &p.labels)).collect();
        for pod in &mut self.pods {
            let key = ObjectKey::new(
                pod.metadata.namespace.as_deref().unwrap_or("default"),
                pod.metadata.name.clone().unwrap_or_default(),
            );
            if let Some(wanted) = desired.get(&key) {
                let labels = pod.metadata.labels.get_or_insert_with(Default::default);
                labels.retain(|k, _| !PodLabels::is_owned(k) || wanted.contains_key(k));
                labels.extend(wanted.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let mut added = BTreeSet::new();
        for desired in &state.objects {
            match &desired.manifest {
                Manifest::NetworkPolicy(policy) => {
                    added.insert(PolicyName::of(policy));
                    self.policies.push(policy.clone());
                }
                Manifest::IstioAuthorizationPolicy(policy) => {
                    self.istio_policies.push(holt_istio_policy(policy));
                }
                _ => {}
            }
        }
        added
    }

    /// Indexes the input for evaluation; a pod or policy the evaluator cannot read is an error naming it.
    pub fn build(&self) -> Result<Cluster, ClusterError> {
        let pods = self
            .pods
            .iter()
            .map(PodInput::from_pod)
            .collect::<Result<Vec<_>, _>>()?;
        Cluster::new(self.namespaces.clone(), pods, &self.policies)
    }

    /// Indexes the pods and Istio AuthorizationPolicies for the mesh's verdicts; `None` when there is no
    /// AuthorizationPolicy at all (Istio then allows every request). A policy the evaluator cannot read is an
    /// error naming it.
    pub fn build_mesh(&self, settings: &MeshSettings) -> Result<Option<MeshAccess>, MeshPolicyError> {
        if self.istio_policies.is_empty() {
            return Ok(None);
        }
        MeshAccess::new(&self.namespaces, &self.pods, &self.istio_policies, settings).map(Some)
    }
}
