//! kube-proxy for the test node, in iptables mode: Services (the `kubernetes` Service among them) reach
//! their endpoints from pods and from the machine. It leaves the machine's conntrack limits and timeouts
//! as they are and does not open NodePorts on 127.0.0.1.
//!
//! In: the admin kubeconfig and the node's addressing. Out: a running kube-proxy whose health endpoint
//! says its rules are synced.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::components::Component;
use crate::error::Error;
use crate::health::http_get_ok;
use crate::kubelet::NODE_NAME;
use crate::node_network::NodeAddressing;
use crate::ports::free_port;
use crate::process::{Lifetime, Process};

/// A running kube-proxy.
#[derive(Debug)]
pub(crate) struct KubeProxy {
    pub(crate) process: Process,
    pub(crate) startup: Duration,
}

impl KubeProxy {
    pub(crate) async fn start(
        dir: &Path,
        kubeconfig: &Path,
        addressing: &NodeAddressing,
        lifetime: Lifetime,
    ) -> Result<Self, Error> {
        let binary = Component::Node.file("kube-proxy")?;
        let healthz = free_port("kube-proxy")?;
        let metrics = free_port("kube-proxy")?;
        let mut command = Command::new(&binary);
        command
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--hostname-override={NODE_NAME}"))
            .arg(format!("--bind-address={}", addressing.node_ip))
            .arg("--proxy-mode=iptables")
            .arg(format!("--cluster-cidr={}", addressing.pod_cidr))
            .arg(format!("--nodeport-addresses={}/32", addressing.node_ip))
            .arg(format!("--healthz-bind-address=127.0.0.1:{healthz}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics}"))
            .arg("--conntrack-max-per-core=0")
            .arg("--conntrack-tcp-timeout-established=0")
            .arg("--conntrack-tcp-timeout-close-wait=0")
            .arg("--iptables-localhost-nodeports=false")
            .arg("--profiling=false");
        let mut process = Process::spawn("kube-proxy", command, &dir.join("kube-proxy.log"), lifetime)?;
        let startup = process
            .wait_ready(Duration::from_secs(60), || http_get_ok(healthz, "/healthz"))
            .await?;
        Ok(Self { process, startup })
    }
}
