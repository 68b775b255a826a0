//! The node's network on this machine, and the fence that keeps pod traffic on it.
//!
//! In: nothing but root and the `ip`/`iptables` commands. Out: a bridge `holt-node0` holding the node's
//! address (also the pods' gateway), a route to the bridge for every address the node uses, and an iptables
//! chain that drops whatever a pod sends anywhere but to another pod or to the node itself — all in place
//! *before* IP forwarding is turned on and before any pod starts. Each step also appends to the node's
//! cleanup script (see `node_state`) the command that undoes it.
//!
//! The addresses are fixed (one node per machine, enforced by `node_state`): `10.213.0.0/16` is the node's,
//! pods get `10.213.0.0/24` (gateway and node IP `10.213.0.1`), Services `10.213.1.0/24` (the `kubernetes`
//! Service is `10.213.1.1`).

use std::net::Ipv4Addr;
use std::process::Command;

use crate::node_state::CleanupScript;

/// Where the node and its pods live on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddressing {
    /// The node's IP: on the bridge, the pods' gateway, where the API server and the kubelet listen.
    pub node_ip: Ipv4Addr,
    /// The pods' range (on the bridge).
    pub pod_cidr: &'static str,
    /// The Services' range (`--service-cluster-ip-range`).
    pub service_cidr: &'static str,
    /// The `kubernetes` Service's ClusterIP (first address of the Services' range).
    pub kubernetes_service_ip: Ipv4Addr,
    /// Every address above: routed to the bridge (never out of the machine) unless kube-proxy's DNAT applies.
    pub fenced_cidr: &'static str,
    /// The Linux bridge the pods' veths join.
    pub bridge: &'static str,
}

impl NodeAddressing {
    /// The one addressing every node of the harness uses.
    pub const fn standard() -> Self {
        Self {
            node_ip: Ipv4Addr::new(10, 213, 0, 1),
            pod_cidr: "10.213.0.0/24",
            service_cidr: "10.213.1.0/24",
            kubernetes_service_ip: Ipv4Addr::new(10, 213, 1, 1),
            fenced_cidr: "10.213.0.0/16",
            bridge: "holt-node0",
        }
    }
}

/// The iptables chain (filter table) that fences the pods in.
pub const FENCE_CHAIN: &str = "HOLT-TESTENV-FENCE";

/// A network setup step that failed.
#[derive(Debug, thiserror::Error)]
#[error("node network: `{command}` failed: {reason}")]
pub struct NetworkError {
    /// The command line.
    pub command: String,
    /// Its output or why it could not run.
    pub reason: String,
}

/// Runs a command, failing with its output.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, NetworkError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| NetworkError {
            command: command.clone(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(NetworkError {
            command,
            reason: format!(
                "{}: {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Creates the bridge with the node's address, the blackhole route and the fence, then turns on IP
/// forwarding (recording its old value for the cleanup script). Each undo is in `cleanup` before the step.
pub(crate) fn set_up(addressing: &NodeAddressing, cleanup: &mut CleanupScript) -> Result<(), NetworkError> {
    let bridge = addressing.bridge;
    let node_cidr = format!("{}/24", addressing.node_ip);

    cleanup.append(&format!("ip link del {bridge}"))?;
    run("ip", &["link", "add", bridge, "type", "bridge"])?;
    // No IPv6 on the bridge: the fence below is IPv4's, so pods get no IPv6 path at all.
    std::fs::write(format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6"), "1").map_err(|e| {
        NetworkError {
            command: format!("disable IPv6 on {bridge}"),
            reason: e.to_string(),
        }
    })?;
    run("ip", &["addr", "add", &node_cidr, "dev", bridge])?;
    run("ip", &["link", "set", bridge, "up"])?;

    // Every address of the node's ranges is on the bridge: a ClusterIP that kube-proxy does not (or no
    // longer) DNATs stays on the bridge instead of following the default route out of the machine. (Not a
    // blackhole route: the machine's own connections to ClusterIPs — the API server calling a webhook, the
    // host-network sniffer — are routed before kube-proxy's DNAT, and a blackhole fails them with EINVAL.)
    cleanup.append(&format!("ip route del {} dev {bridge}", addressing.fenced_cidr))?;
    run("ip", &["route", "add", addressing.fenced_cidr, "dev", bridge])?;

    // The fence: pods may talk to pods (same bridge) and to the node's own address; everything else a pod
    // sends, and everything forwarded towards the pods from elsewhere, is dropped. Hooked first in FORWARD
    // and INPUT, so kube-proxy's chains (added later) only ever see what the fence let through.
    cleanup.append(&format!(
        "iptables -D FORWARD -j {FENCE_CHAIN}; iptables -D INPUT -i {bridge} -j {FENCE_CHAIN}; \
         iptables -F {FENCE_CHAIN}; iptables -X {FENCE_CHAIN}"
    ))?;
    let node_ip = addressing.node_ip.to_string();
    let rules: [&[&str]; 5] = [
        &["-N", FENCE_CHAIN],
        &["-A", FENCE_CHAIN, "-i", bridge, "-o", bridge, "-j", "RETURN"],
        &["-A", FENCE_CHAIN, "-i", bridge, "-d", &node_ip, "-j", "RETURN"],
        &["-A", FENCE_CHAIN, "-i", bridge, "-j", "DROP"],
        &["-A", FENCE_CHAIN, "-o", bridge, "-j", "DROP"],
    ];
    for rule in rules {
        run("iptables", rule)?;
    }
    run("iptables", &["-I", "FORWARD", "1", "-j", FENCE_CHAIN])?;
    run("iptables", &["-I", "INPUT", "1", "-i", bridge, "-j", FENCE_CHAIN])?;

    // Only now may the machine forward: nothing from the bridge can leave it.
    let forward = "/proc/sys/net/ipv4/ip_forward";
    let before = std::fs::read_to_string(forward).map_err(|e| NetworkError {
        command: format!("read {forward}"),
        reason: e.to_string(),
    })?;
    cleanup.append(&format!("echo {} > {forward}", before.trim()))?;
    std::fs::write(forward, "1").map_err(|e| NetworkError {
        command: format!("write 1 to {forward}"),
        reason: e.to_string(),
    })?;
    Ok(())
}

/// How many packets the fence dropped so far (both DROP rules), from `iptables -L -v -x`.
pub fn fence_drops() -> Result<u64, NetworkError> {
    let listing = run("iptables", &["-L", FENCE_CHAIN, "-v", "-x", "-n"])?;
    Ok(listing
        .lines()
        .filter(|line| line.split_whitespace().nth(2) == Some("DROP"))
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum())
}
