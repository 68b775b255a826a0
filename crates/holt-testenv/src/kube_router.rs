//! kube-router's network policy controller, running inside a [`crate::Dataplane`]'s node namespace: it
//! watches Pods, Namespaces and NetworkPolicies on the test API server (through the namespace's relay) and
//! programs the namespace's own iptables filter table and ipsets, so that the bridged traffic between the
//! dataplane's pods obeys the NetworkPolicies. Only the firewall runs (`--run-firewall`); the router (BGP)
//! and the service proxy (IPVS) stay off.
//!
//! In: the node namespace, a kubeconfig that works from inside it, the Node's name. Out: a running process
//! whose health endpoint answers and whose top-level chains exist.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::components::Component;
use crate::error::Error;
use crate::network_namespace::{EnterHandle, NetworkNamespace};
use crate::process::{Lifetime, Process};

/// kube-router's health port (its default), inside the node namespace: no other process listens there.
const HEALTH_PORT: u16 = 20244;
/// The chain kube-router hooks into FORWARD; its existence means the controller has set up its chains.
pub(crate) const FORWARD_CHAIN: &str = "KUBE-ROUTER-FORWARD";

/// A running kube-router.
#[derive(Debug)]
pub(crate) struct KubeRouter {
    pub(crate) process: Process,
    pub(crate) startup: Duration,
}

/// What kube-router is told about the cluster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KubeRouterSettings<'a> {
    /// The kubeconfig (its server is the relay inside the namespace).
    pub(crate) kubeconfig: &'a Path,
    /// The Node object's name: kube-router reads the node's InternalIP from it and enforces policies for
    /// the pods whose `status.hostIP` is that address.
    pub(crate) node_name: &'a str,
    /// The Services' range of the API server (kube-router lets traffic to it pass its INPUT chain).
    pub(crate) service_cidr: &'a str,
}

impl KubeRouter {
    pub(crate) async fn start(
        node: &NetworkNamespace,
        dir: &Path,
        settings: KubeRouterSettings<'_>,
        lifetime: Lifetime,
    ) -> Result<Self, Error> {
        let binary = Component::KubeRouter.file("kube-router")?;
        let mut command = node.command(&binary.display().to_string());
        command
            .arg(format!("--kubeconfig={}", settings.kubeconfig.display()))
            .arg(format!("--hostname-override={}", settings.node_name))
            .arg("--run-firewall=true")
            .arg("--run-router=false")
            .arg("--run-service-proxy=false")
            .arg("--run-loadbalancer=false")
            .arg("--enable-ipv4=true")
            .arg("--enable-ipv6=false")
            .arg(format!("--service-cluster-ip-range={}", settings.service_cidr))
            .arg(format!("--health-port={HEALTH_PORT}"))
            .arg("--metrics-port=0")
            .arg("--v=1");
        let mut process = Process::spawn("kube-router", command, &dir.join("kube-router.log"), lifetime)?;
        let handle = node.enter_handle()?;
        let startup = process
            .wait_ready(Duration::from_secs(60), || {
                let handle = handle.clone();
                async move {
                    tokio::task::spawn_blocking(move || ready(&handle))
                        .await
                        .map_err(|e| e.to_string())?
                }
            })
            .await?;
        Ok(Self { process, startup })
    }
}

/// Ready once `/healthz` answers 200 inside the namespace and the FORWARD hook chain exists.
fn ready(node: &EnterHandle) -> Result<(), String> {
    let entered = node.clone();
    let status = std::thread::spawn(move || {
        entered.enter().map_err(|e| e.to_string())?;
        healthz_status()
    })
    .join()
    .map_err(|_| "the health check thread panicked".to_owned())??;
    if status != 200 {
        return Err(format!("GET /healthz answered {status}"));
    }
    let listing = std::process::Command::new("ip")
        .args(["netns", "exec", node.name(), "iptables", "-S", FORWARD_CHAIN])
        .output()
        .map_err(|e| format!("iptables -S {FORWARD_CHAIN}: {e}"))?;
    if !listing.status.success() {
        return Err(format!("no chain {FORWARD_CHAIN} yet"));
    }
    Ok(())
}

/// The status code of `GET /healthz` on the health port (HTTP/1.0, read to the end).
fn healthz_status() -> Result<u16, String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, HEALTH_PORT));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .map_err(|e| format!("{address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {answer:?}"))
}
