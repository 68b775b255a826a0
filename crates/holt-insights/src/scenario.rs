//! One "what if" of the insights: the declared state under a configuration, with extra objects (the
//! ProtectedServices of "if protected"), modelled, rendered, and indexed for the evaluator with Holt's labels
//! and NetworkPolicies joined to the cluster's own policies.

use std::collections::BTreeSet;

use holt_model::facts::PodFacts;
use holt_model::{Config, Index, Object};
use holt_reach::{Cluster, ClusterError, PolicyName};
use holt_render::{RenderOptions, render_all};

use crate::cluster_state::ClusterState;
use crate::evaluator_input::EvaluatorInput;

/// The model and the evaluator's cluster of one scenario.
#[derive(Debug)]
pub struct Scenario {
    pub index: Index,
    pub cluster: Cluster,
    /// The NetworkPolicies Holt would write in this scenario.
    pub holt_policies: BTreeSet<PolicyName>,
}

impl Scenario {
    pub fn build(state: &ClusterState, config: Config, extra: &[Object]) -> Result<Self, ClusterError> {
        let mut index = Index::new(config);
        let objects = state.objects.iter().filter(|o| !matches!(o, Object::Pod(_)));
        for object in objects.chain(extra) {
            index.apply(object.clone());
        }
        for pod in &state.pods {
            index.apply(Object::Pod(PodFacts::from_pod(pod)));
        }
        let desired = render_all(&index, &RenderOptions::default());
        let mut input = EvaluatorInput {
            namespaces: state.namespaces.clone(),
            pods: state.pods.clone(),
            policies: state.policies.clone(),
            istio_policies: Vec::new(),
        };
        let holt_policies = input.add_holt(&desired);
        Ok(Self {
            cluster: input.build()?,
            index,
            holt_policies,
        })
    }
}
