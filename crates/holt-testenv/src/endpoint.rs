//! What the prober calls and calls from: a network namespace of a [`crate::Dataplane`] with one address and
//! a server on each of its ports — a pod ([`crate::DataplanePod`]) or a host outside the cluster
//! ([`crate::OutsideHost`]). Both hand out their endpoint (`AsRef<Endpoint>`), so one
//! [`crate::Prober`] can take pods and outside hosts together.
//!
//! In: the namespace (the dataplane made it, with the servers). Out: a cheap handle to call from, to make
//! sockets or run programs inside the namespace; the namespace and its servers belong to the dataplane and
//! go away with it.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use crate::dataplane_error::DataplaneError;
use crate::network_namespace::EnterHandle;
use crate::prober::attempt;
use crate::reachability::Port;

/// A namespace on a dataplane with an address and servers, as the prober sees it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub(crate) label: String,
    pub(crate) ip: Ipv4Addr,
    pub(crate) ports: Vec<Port>,
    pub(crate) network: EnterHandle,
}

impl Endpoint {
    /// How the prober's matrix names it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its address (on `eth0` inside its namespace).
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

    /// Calls `port` of `to` once from inside this namespace (what a workload's traffic would be: a TCP
    /// handshake, or a UDP datagram and its echo) and says whether it got through within `timeout`.
    pub fn call(&self, to: &Endpoint, port: Port, timeout: Duration) -> Result<bool, DataplaneError> {
        let ip = to.ip;
        self.within(move || attempt(ip, port, timeout))
    }

    /// Runs `make` on a new thread that has entered this namespace and returns what it made: sockets made
    /// there belong to the namespace (a server a test runs "in the pod", such as a DNS responder).
    pub fn within<T, F>(&self, make: F) -> Result<T, DataplaneError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let network = self.network.clone();
        std::thread::spawn(move || network.enter().map(|()| make()))
            .join()
            .map_err(|_| DataplaneError::Thread {
                namespace: self.network.name().to_owned(),
            })?
    }

    /// A command that runs `program` inside this namespace (`ip netns exec <namespace> <program>`).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", self.network.name(), program]);
        command
    }
}

impl AsRef<Endpoint> for Endpoint {
    fn as_ref(&self) -> &Endpoint {
        self
    }
}
