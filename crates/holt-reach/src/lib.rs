//! `holt-reach`: an exact evaluator of Kubernetes `networking.k8s.io/v1` NetworkPolicies, with no I/O.
//!
//! In: namespaces (labels), pods (labels, IPs, container ports) and every NetworkPolicy of the cluster (not
//! only Holt's: policies are additive), indexed once by [`Cluster::new`]. Out: for each [`Flow`] (a source pod
//! or an address outside the cluster, a destination pod or address, a port and a protocol) a [`Verdict`]:
//! allowed or denied, with the policies that isolate the source for egress and the destination for
//! ingress, and the rule that admits the flow on each side or the fact that none does. The semantics are
//! stated in `docs/reach.md`. The cost of a flow grows with the policies selecting its two pods, not with
//! the cluster.
//!
//! Two more evaluators answer for the calls a mesh and a broker govern: [`istio`] (AuthorizationPolicies:
//! may this principal call this workload on this port, method and path) and [`kafka`] (ACLs: may this
//! principal perform this operation on this topic).

mod cidr;
mod cluster;
mod evaluate;
pub mod istio;
pub mod kafka;
mod policy;
mod protocol;
mod selector;
mod verdict;

pub use cidr::{Cidr, CidrError};
pub use cluster::{
    Cluster, ClusterError, ContainerPort, NAMESPACE_NAME_LABEL, NamespaceInput, PodId, PodInput,
};
pub use policy::{PolicyError, PolicyName};
pub use protocol::Protocol;
pub use selector::{Labels, SelectorError};
pub use verdict::{AdmittingRule, Endpoint, Flow, Side, Verdict};
