//! A host outside the cluster, on a [`crate::Dataplane`]: a network namespace with an address outside the
//! pods' range, linked to the node namespace by a veth pair of its own and routed by the node (not on the
//! pods' bridge). It stands for what reaches pods through a node — a load balancer, another node, a client
//! on the internet — or for an address on the internet that pods call out to.
//!
//! There is no Pod object for it and no kube-proxy on the dataplane: traffic to and from it goes to pod
//! addresses directly, and kube-router sees it as routed traffic from or to a foreign address. The value is
//! a handle (cheap to clone); the namespace and its servers belong to the dataplane and go away with it.

use crate::endpoint::Endpoint;

/// A host outside the cluster, routed by a dataplane's node.
#[derive(Debug, Clone)]
pub struct OutsideHost {
    pub(crate) endpoint: Endpoint,
}

impl OutsideHost {
    /// Its namespace as the prober sees it (label, address, ports; to mix it with pods in one prober, to
    /// call from it or to run a program in it).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl AsRef<Endpoint> for OutsideHost {
    fn as_ref(&self) -> &Endpoint {
        &self.endpoint
    }
}
