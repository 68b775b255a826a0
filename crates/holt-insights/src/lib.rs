//! `holt-insights`: shadow-mode insights, with no I/O. In: the declared state of a cluster
//! ([`ClusterState`]: the operator configuration, the objects Holt's model reads, Pods, Namespace labels and
//! the cluster's own NetworkPolicies) and the calls the network mapper discovered ([`DiscoveredCall`], read
//! from a mapper export with [`discovered_calls`]). Out: [`Insights`]: for every call, whether it is declared
//! and whether it is allowed or blocked (and by which policy, Holt's or another's) now, once its server is
//! protected, and once the mode is `defaultActive`; for every server called, whether it is enforced and why,
//! which clients are undeclared, and whether it is ready to protect; and the declared calls no discovered call
//! matches (declared, not seen).
//!
//! Holt's objects are rendered with `holt-render` and evaluated with the cluster's policies by `holt-reach`
//! ([`EvaluatorInput`], which `holt reach` and `holt diff` share). The rules are stated in
//! `docs/insights.md`.

mod cluster_state;
mod compute;
mod discovered;
mod evaluator_input;
mod mesh_access;
mod report;
mod scenario;
mod served_ports;

pub use cluster_state::ClusterState;
pub use compute::{InsightsError, PROTECTED_SERVICE_PREFIX, insights, insights_where};
pub use discovered::{DiscoveredCall, discovered_calls};
pub use evaluator_input::EvaluatorInput;
pub use mesh_access::{MeshAccess, MeshSettings, holt_istio_policy};
pub use report::{
    Blocker, CallInsight, DeclaredCall, Direction, Insights, Outcome, ServerEnforcement, ServerInsight,
    WorkloadName,
};
pub use served_ports::{ServedPort, served_ports};
