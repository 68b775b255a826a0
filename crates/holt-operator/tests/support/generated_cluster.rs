//! A seeded random cluster for the probe-matrix test on a real dataplane, and the matrix its declarations
//! imply.
//!
//! In: a seed. Out: eight workloads in three namespaces — each a Deployment whose container names the three
//! ports of [`PORTS`] and a ClusterIP Service of the same name exposing some of them (each `targetPort` by
//! number or by the container port's name) — random calls between them, each declared in one of the three
//! ClientIntents target forms (`kubernetes` with `kind: Deployment`, `service`, `kubernetes` with
//! `kind: Service`), with the namespace in the name when the server is in another namespace (and sometimes
//! when it is not), and two ProtectedServices; the objects to apply; and the matrix they imply:
//!
//! - a server is *isolated* in `defaultActive` mode when anyone declares it, in `defaultShadow` mode when a
//!   ProtectedService names it (declared or not: its default-deny selects it either way);
//! - a call to a server that is not isolated gets through;
//! - a call to an isolated server gets through when the caller declared the workload (every port) or its
//!   Service (the Service's target ports only), and is blocked otherwise.
//!
//! Services carry their workload's name, so a ProtectedService naming the workload protects the Service
//! identity too (enforcement follows names). Pure: no I/O.

use std::fmt::Write as _;

use holt_api::v2beta1::{ClientIntents, ProtectedService};
use holt_testenv::{Port, Reachability};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;

use crate::support::dataplane::deployment_with_ports;

/// The ports every workload listens on, with their container port names.
pub const PORTS: [(&str, Port); 3] = [
    ("http", Port::tcp(80)),
    ("https", Port::tcp(443)),
    ("admin", Port::tcp(8080)),
];
/// The workloads' names.
const NAMES: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];
/// Namespaces per cluster.
pub const NAMESPACES: usize = 3;
/// Of 100 ordered pairs of workloads, how many declare a call.
const CALL_PERCENT: u64 = 25;
/// ProtectedServices in shadow mode.
const PROTECTED: usize = 2;

/// The enforcement mode a cluster runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Active,
    Shadow,
}

impl Mode {
    /// The operator's `--mode` value.
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Active => "defaultActive",
            Mode::Shadow => "defaultShadow",
        }
    }
}

/// One workload: a Deployment and its Service.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: &'static str,
    /// Index of its namespace.
    pub namespace: usize,
    /// The Service's ports: an index into [`PORTS`] and whether its `targetPort` names the container port.
    pub exposed: Vec<(usize, bool)>,
}

/// How a call's target is written in ClientIntents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `kubernetes: {name, kind: Deployment}`: the workload, every port.
    Workload,
    /// `service: {name}`: the Service, its target ports.
    Service,
    /// `kubernetes: {name, kind: Service}`: the same.
    KubernetesService,
}

/// A declared call.
#[derive(Debug, Clone)]
pub struct Call {
    pub client: usize,
    pub server: usize,
    pub form: Form,
    /// Whether the name carries the namespace (always when the server is in another namespace).
    pub qualified: bool,
}

/// The generated cluster.
#[derive(Debug, Clone)]
pub struct GeneratedCluster {
    pub seed: u64,
    pub workloads: Vec<Workload>,
    pub calls: Vec<Call>,
    /// Workloads a ProtectedService names (in shadow mode).
    pub protected: Vec<usize>,
}

impl GeneratedCluster {
    /// The cluster of `seed`.
    pub fn generate(seed: u64) -> Self {
        let mut random = SplitMix64(seed);
        let workloads: Vec<Workload> = NAMES
            .iter()
            .enumerate()
            .map(|(index, name)| {
                // The first workloads fill every namespace; the rest land anywhere.
                let namespace = if index < NAMESPACES {
                    index
                } else {
                    random.below(NAMESPACES as u64) as usize
                };
                // A non-empty subset of the ports.
                let mask = 1 + random.below((1 << PORTS.len()) - 1);
                let exposed = (0..PORTS.len())
                    .filter(|port| mask & (1 << port) != 0)
                    .map(|port| (port, random.below(2) == 1))
                    .collect();
                Workload {
                    name,
                    namespace,
                    exposed,
                }
            })
            .collect();
        let mut calls = Vec::new();
        for client in 0..workloads.len() {
            for server in (0..workloads.len()).filter(|server| *server != client) {
                if random.below(100) >= CALL_PERCENT {
                    continue;
                }
                let form = [Form::Workload, Form::Service, Form::KubernetesService][random.below(3) as usize];
                let qualified =
                    workloads[client].namespace != workloads[server].namespace || random.below(2) == 1;
                calls.push(Call {
                    client,
                    server,
                    form,
                    qualified,
                });
            }
        }
        // One protected server that someone declares (when there is one), and one more of any kind.
        let declared: Vec<usize> = (0..workloads.len())
            .filter(|server| calls.iter().any(|call| call.server == *server))
            .collect();
        let mut protected = Vec::new();
        if !declared.is_empty() {
            protected.push(declared[random.below(declared.len() as u64) as usize]);
        }
        while protected.len() < PROTECTED {
            let candidate = random.below(workloads.len() as u64) as usize;
            if !protected.contains(&candidate) {
                protected.push(candidate);
            }
        }
        Self {
            seed,
            workloads,
            calls,
            protected,
        }
    }

    /// The workload's Deployment.
    pub fn deployment(&self, workload: &Workload) -> anyhow::Result<Deployment> {
        deployment_with_ports(workload.name, &PORTS)
    }

    /// The workload's ClusterIP Service: port `p` to target port `p` (by number or by name).
    pub fn service(&self, workload: &Workload) -> anyhow::Result<Service> {
        let ports: Vec<_> = workload
            .exposed
            .iter()
            .map(|(index, by_name)| {
                let (name, port) = PORTS[*index];
                let target = if *by_name { json!(name) } else { json!(port.number) };
                json!({"name": name, "port": port.number, "protocol": "TCP", "targetPort": target})
            })
            .collect();
        Ok(serde_json::from_value(json!({
            "metadata": {"name": workload.name},
            "spec": {"type": "ClusterIP", "selector": {"app": workload.name}, "ports": ports},
        }))?)
    }

    /// One ClientIntents per declaring workload, with the namespace it goes to.
    pub fn client_intents(&self, namespaces: &[String]) -> anyhow::Result<Vec<(String, ClientIntents)>> {
        let mut all = Vec::new();
        for (client, workload) in self.workloads.iter().enumerate() {
            let calls: Vec<&Call> = self.calls.iter().filter(|call| call.client == client).collect();
            if calls.is_empty() {
                continue;
            }
            let namespace = &namespaces[workload.namespace];
            let mut yaml = format!(
                "apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata:
  name: {name}
  namespace: {namespace}
spec:
  workload:
    name: {name}
    kind: Deployment
  targets:
",
                name = workload.name
            );
            for call in calls {
                let server = &self.workloads[call.server];
                let name = if call.qualified {
                    format!("{}.{}", server.name, namespaces[server.namespace])
                } else {
                    server.name.to_owned()
                };
                let target = match call.form {
                    Form::Workload => {
                        format!("  - kubernetes:\n      name: {name}\n      kind: Deployment\n")
                    }
                    Form::Service => format!("  - service:\n      name: {name}\n"),
                    Form::KubernetesService => {
                        format!("  - kubernetes:\n      name: {name}\n      kind: Service\n")
                    }
                };
                yaml.push_str(&target);
            }
            all.push((namespace.clone(), serde_yaml::from_str(&yaml)?));
        }
        Ok(all)
    }

    /// The ProtectedServices (for shadow mode), with their namespaces.
    pub fn protected_services(
        &self,
        namespaces: &[String],
    ) -> anyhow::Result<Vec<(String, ProtectedService)>> {
        self.protected
            .iter()
            .map(|index| {
                let workload = &self.workloads[*index];
                let namespace = &namespaces[workload.namespace];
                let yaml = format!(
                    "apiVersion: k8s.otterize.com/v2beta1
kind: ProtectedService
metadata:
  name: {name}
  namespace: {namespace}
spec:
  name: {name}
",
                    name = workload.name
                );
                Ok((namespace.clone(), serde_yaml::from_str(&yaml)?))
            })
            .collect()
    }

    /// The matrix the declarations imply in `mode` (see the module's rules).
    pub fn expected(&self, mode: Mode) -> Reachability {
        let mut matrix = Reachability::new();
        for (server, to) in self.workloads.iter().enumerate() {
            let declared: Vec<&Call> = self.calls.iter().filter(|call| call.server == server).collect();
            let isolated = match mode {
                Mode::Active => !declared.is_empty(),
                Mode::Shadow => self.protected.contains(&server),
            };
            for (client, from) in self.workloads.iter().enumerate() {
                if client == server {
                    continue;
                }
                for (index, (_, port)) in PORTS.iter().enumerate() {
                    let admitted = declared.iter().any(|call| {
                        call.client == client
                            && match call.form {
                                Form::Workload => true,
                                Form::Service | Form::KubernetesService => {
                                    to.exposed.iter().any(|(exposed, _)| *exposed == index)
                                }
                            }
                    });
                    matrix.set(from.name, to.name, *port, !isolated || admitted);
                }
            }
        }
        matrix
    }

    /// The cluster in a few lines: workloads, their namespaces and Services, the calls, the protected.
    pub fn describe(&self) -> String {
        let mut out = format!("generated cluster, seed {}:\n", self.seed);
        for workload in &self.workloads {
            let exposed: Vec<String> = workload
                .exposed
                .iter()
                .map(|(index, by_name)| {
                    let (name, port) = PORTS[*index];
                    if *by_name {
                        format!("{}→{name}", port.number)
                    } else {
                        port.number.to_string()
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "  {} in namespace {}, Service ports [{}]",
                workload.name,
                workload.namespace,
                exposed.join(", ")
            );
        }
        for call in &self.calls {
            let _ = writeln!(
                out,
                "  {} → {} as {:?}{}",
                self.workloads[call.client].name,
                self.workloads[call.server].name,
                call.form,
                if call.qualified { " (name.namespace)" } else { "" }
            );
        }
        let protected: Vec<&str> = self.protected.iter().map(|i| self.workloads[*i].name).collect();
        let _ = writeln!(out, "  protected in shadow mode: {}", protected.join(", "));
        out
    }
}

/// SplitMix64: a small, well-mixed generator, so a seed names the same cluster on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; the bias is negligible for the small bounds used here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_one_cluster() {
        let a = GeneratedCluster::generate(7);
        let b = GeneratedCluster::generate(7);
        assert_eq!(a.describe(), b.describe());
        assert_ne!(a.describe(), GeneratedCluster::generate(8).describe());
    }

    #[test]
    fn every_namespace_has_a_workload_and_two_servers_are_protected() {
        for seed in 0..64 {
            let cluster = GeneratedCluster::generate(seed);
            for namespace in 0..NAMESPACES {
                assert!(cluster.workloads.iter().any(|w| w.namespace == namespace));
            }
            assert_eq!(cluster.protected.len(), PROTECTED);
            assert!(cluster.workloads.iter().all(|w| !w.exposed.is_empty()));
        }
    }

    #[test]
    fn the_rules_decide_each_cell() {
        let cluster = GeneratedCluster {
            seed: 0,
            workloads: vec![
                Workload {
                    name: "a",
                    namespace: 0,
                    exposed: vec![(0, false)],
                },
                Workload {
                    name: "b",
                    namespace: 0,
                    exposed: vec![(0, true)],
                },
                Workload {
                    name: "c",
                    namespace: 1,
                    exposed: vec![(1, false)],
                },
            ],
            // a declares b's Service (port 80 only); nobody declares a or c: in active mode b admits a on
            // 80 and blocks a's other ports and all of c's calls (5 cells).
            calls: vec![Call {
                client: 0,
                server: 1,
                form: Form::Service,
                qualified: false,
            }],
            protected: vec![2, 1],
        };
        let (http, https) = (PORTS[0].1, PORTS[1].1);
        let active = cluster.expected(Mode::Active);
        assert_eq!(active.counts(), (13, 5), "{}", active.grid());
        assert_eq!(active.get(&probe("a", "b", http)), Some(true));
        assert_eq!(active.get(&probe("a", "b", https)), Some(false));
        assert_eq!(active.get(&probe("c", "b", http)), Some(false));
        assert_eq!(active.get(&probe("b", "c", https)), Some(true));
        let shadow = cluster.expected(Mode::Shadow);
        // b as in active mode, and c, protected with no declared caller, reached by nobody.
        assert_eq!(shadow.counts(), (7, 11), "{}", shadow.grid());
    }

    fn probe(from: &str, to: &str, port: Port) -> holt_testenv::Probe {
        holt_testenv::Probe {
            from: from.to_owned(),
            to: to.to_owned(),
            port,
        }
    }
}
