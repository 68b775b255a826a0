//! What the insights read of a cluster (or of the manifests standing for one): the operator configuration,
//! the objects Holt's model reads (Namespaces, workloads, Services, Ingresses, ClientIntents,
//! ProtectedServices, KafkaServerConfigs), the Pods, every Namespace's labels, and the NetworkPolicies that
//! are not Holt's. Plain data: the caller reads it from files or from an API server.

use holt_model::{Config, Object};
use holt_reach::NamespaceInput;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;

/// The declared state the insights evaluate discovered calls against.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    /// The operator configuration (its mode, enforced and watched namespaces, which mechanisms are on).
    pub config: Config,
    /// Everything the model reads except Pods, which come from [`ClusterState::pods`]: an `Object::Pod` here
    /// is ignored.
    pub objects: Vec<Object>,
    /// The Pods (labels, IPs, container ports, owners): the model resolves their workloads, the evaluator
    /// reads their labels and ports.
    pub pods: Vec<Pod>,
    /// Every Namespace with all its labels (NetworkPolicy namespace selectors read them).
    pub namespaces: Vec<NamespaceInput>,
    /// The cluster's NetworkPolicies other than Holt's (Holt's are rendered from the declared state).
    pub policies: Vec<NetworkPolicy>,
}
