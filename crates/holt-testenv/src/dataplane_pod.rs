//! A pod of a [`crate::Dataplane`], as a test sees it: a Pod object on the API server and the network
//! namespace that stands for its sandbox ([`Endpoint`]), with the address in the Pod's `status.podIP`. The
//! value is a handle (cheap to clone); the namespace and its servers belong to the dataplane and go away
//! with it.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::dataplane_error::DataplaneError;
use crate::endpoint::Endpoint;
use crate::reachability::Port;

/// A pod on a dataplane's node.
#[derive(Debug, Clone)]
pub struct DataplanePod {
    pub(crate) endpoint: Endpoint,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl DataplanePod {
    /// How the prober's matrix names it: the workload's name for [`crate::Dataplane::deployment`], the
    /// pod's name for [`crate::Dataplane::attach`].
    pub fn label(&self) -> &str {
        self.endpoint.label()
    }

    /// The Kubernetes namespace of the Pod.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Pod's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pod's address (`status.podIP`, and `eth0` inside its network namespace).
    pub fn ip(&self) -> Ipv4Addr {
        self.endpoint.ip()
    }

    /// The ports it listens on.
    pub fn ports(&self) -> &[Port] {
        self.endpoint.ports()
    }

    /// The name of its network namespace (for `ip netns exec`).
    pub fn network_namespace(&self) -> &str {
        self.endpoint.network_namespace()
    }

    /// Its namespace as the prober sees it (to mix pods and [`crate::OutsideHost`]s in one prober).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Calls `port` of `to` (a pod or an outside host) once from inside this pod and says whether it got
    /// through within `timeout` ([`Endpoint::call`]).
    pub fn call(
        &self,
        to: &impl AsRef<Endpoint>,
        port: Port,
        timeout: Duration,
    ) -> Result<bool, DataplaneError> {
        self.endpoint.call(to.as_ref(), port, timeout)
    }
}

impl AsRef<Endpoint> for DataplanePod {
    fn as_ref(&self) -> &Endpoint {
        &self.endpoint
    }
}
