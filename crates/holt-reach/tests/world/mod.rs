//! The test world of the upstream NetworkPolicy suite, restated: namespaces x, y and z (labelled
//! `ns: <name>`), pods a, b and c in each (labelled `pod: <name>`), each serving ports 80 and 81 over TCP,
//! UDP and SCTP under the names `serve-<port>-<protocol>`. A truth table starts all-allowed and is then
//! edited with the same kinds of statements the suite makes ("nothing reaches x/a", "x/b reaches x/a").

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use holt_reach::{Cluster, ContainerPort, Endpoint, Flow, NamespaceInput, PodInput, Protocol, Verdict};
use k8s_openapi::api::networking::v1::NetworkPolicy;

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub const PODS: [&str; 3] = ["a", "b", "c"];

/// `x/a`, `x/b`, ... `z/c`.
pub fn all_pods() -> Vec<String> {
    NAMESPACES
        .iter()
        .flat_map(|ns| PODS.iter().map(move |pod| format!("{ns}/{pod}")))
        .collect()
}

/// The IPv4 address of a pod: 10.0.<namespace 1..3>.<pod 1..3>.
pub fn ipv4(pod: &str) -> IpAddr {
    let (ns, name) = pod.split_once('/').expect("ns/pod");
    let n = NAMESPACES.iter().position(|x| *x == ns).expect("namespace") + 1;
    let p = PODS.iter().position(|x| *x == name).expect("pod") + 1;
    format!("10.0.{n}.{p}").parse().expect("ip")
}

/// The IPv6 address of a pod: fd00:<namespace>::<pod>.
pub fn ipv6(pod: &str) -> IpAddr {
    let IpAddr::V4(v4) = ipv4(pod) else { unreachable!() };
    let [_, _, n, p] = v4.octets();
    format!("fd00:{n}::{p}").parse().expect("ip")
}

pub fn pod_input(pod: &str, extra_labels: &[(&str, &str)]) -> PodInput {
    let (ns, name) = pod.split_once('/').expect("ns/pod");
    let mut labels: BTreeMap<String, String> = [("pod".to_owned(), name.to_owned())].into();
    for (k, v) in extra_labels {
        labels.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut ports = Vec::new();
    for port in [80u16, 81] {
        for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            ports.push(ContainerPort {
                name: Some(format!("serve-{port}-{}", protocol.to_string().to_lowercase())),
                port,
                protocol,
            });
        }
    }
    PodInput {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        labels,
        ips: vec![ipv4(pod), ipv6(pod)],
        ports,
    }
}

pub fn namespaces() -> Vec<NamespaceInput> {
    NAMESPACES
        .iter()
        .map(|ns| NamespaceInput {
            name: (*ns).to_owned(),
            labels: [("ns".to_owned(), (*ns).to_owned())].into(),
        })
        .collect()
}

/// A NetworkPolicy from JSON, in namespace `ns`.
pub fn policy(ns: &str, name: &str, spec: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }))
    .expect("a NetworkPolicy")
}

pub fn cluster(policies: &[NetworkPolicy]) -> Cluster {
    cluster_with(
        all_pods().iter().map(|p| pod_input(p, &[])).collect(),
        namespaces(),
        policies,
    )
}

pub fn cluster_with(
    pods: Vec<PodInput>,
    namespaces: Vec<NamespaceInput>,
    policies: &[NetworkPolicy],
) -> Cluster {
    Cluster::new(namespaces, pods, policies).expect("valid input")
}

pub fn endpoint(cluster: &Cluster, pod: &str) -> Endpoint {
    let (ns, name) = pod.split_once('/').expect("ns/pod");
    Endpoint::Pod(cluster.pod(ns, name).expect("known pod"))
}

pub fn verdict(cluster: &Cluster, from: &str, to: &str, port: u16, protocol: Protocol) -> Verdict {
    cluster.evaluate(&Flow {
        from: endpoint(cluster, from),
        to: endpoint(cluster, to),
        port,
        protocol,
    })
}

/// Expected reachability between every pair of pods.
#[derive(Clone, Debug)]
pub struct Table {
    cells: BTreeMap<(String, String), bool>,
}

/// `""` is every pod, `"x"` every pod of namespace x, `"x/a"` one pod.
fn covers(filter: &str, pod: &str) -> bool {
    filter.is_empty() || filter == pod || pod.split_once('/').is_some_and(|(ns, _)| ns == filter)
}

impl Table {
    pub fn all(allowed: bool) -> Self {
        let pods = all_pods();
        let cells = pods
            .iter()
            .flat_map(|from| pods.iter().map(move |to| ((from.clone(), to.clone()), allowed)))
            .collect();
        Self { cells }
    }

    /// Every pair from pods covered by `from` to pods covered by `to` becomes `allowed`.
    pub fn set(mut self, from: &str, to: &str, allowed: bool) -> Self {
        for ((f, t), cell) in &mut self.cells {
            if covers(from, f) && covers(to, t) {
                *cell = allowed;
            }
        }
        self
    }

    /// Asserts that the cluster's verdicts equal this table at `port`/`protocol`, printing every wrong cell.
    pub fn check(&self, cluster: &Cluster, port: u16, protocol: Protocol) {
        let mut wrong = String::new();
        for ((from, to), expected) in &self.cells {
            let verdict = verdict(cluster, from, to, port, protocol);
            if verdict.allowed != *expected {
                let _ = writeln!(
                    wrong,
                    "{from} -> {to} {port}/{protocol}: expected {expected}, got {verdict}"
                );
            }
        }
        assert!(wrong.is_empty(), "verdicts differ from the truth table:\n{wrong}");
    }
}
