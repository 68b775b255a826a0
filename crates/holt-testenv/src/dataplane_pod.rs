//! A pod of a [`crate::Dataplane`], as a test sees it: a Pod object on the API server and the network
//! namespace that stands for its sandbox, with the address in the Pod's `status.podIP`. The value is a
//! handle (cheap to clone); the namespace and its servers belong to the dataplane and go away with it.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::dataplane_error::DataplaneError;
use crate::network_namespace::EnterHandle;
use crate::prober::attempt;
use crate::reachability::Port;

/// A pod on a dataplane's node.
#[derive(Debug, Clone)]
pub struct DataplanePod {
    pub(crate) label: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) ip: Ipv4Addr,
    pub(crate) ports: Vec<Port>,
    pub(crate) network: EnterHandle,
}

impl DataplanePod {
    /// How the prober's matrix names it: the workload's name for [`crate::Dataplane::deployment`], the
    /// pod's name for [`crate::Dataplane::attach`].
    pub fn label(&self) -> &str {
        &self.label
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
        self.ip
    }

    /// The ports it listens on.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// The name of its network namespace (for `ip netns exec`).
    pub fn network_namespace(&self) -> &str {
        self.network.name()
    }

    /// Calls `port` of `to` once from inside this pod (what a workload's traffic would be: a TCP handshake,
    /// or a UDP datagram and its echo) and says whether it got through within `timeout`.
    pub fn call(&self, to: &DataplanePod, port: Port, timeout: Duration) -> Result<bool, DataplaneError> {
        let network = self.network.clone();
        let ip = to.ip;
        std::thread::spawn(move || network.enter().map(|()| attempt(ip, port, timeout)))
            .join()
            .map_err(|_| DataplaneError::Thread {
                namespace: self.network.name().to_owned(),
            })?
    }

    pub(crate) fn enter_handle(&self) -> EnterHandle {
        self.network.clone()
    }
}
