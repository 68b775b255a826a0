//! Deciding one flow: the source's egress side, then the destination's ingress side. A side passes when no
//! policy isolates its pod for that direction, or when one rule of one isolating policy admits the flow
//! (policies are additive: any admitting rule suffices). A rule admits when one of its peers matches the
//! other end and one of its ports matches the destination port and protocol.

use std::net::IpAddr;

use crate::cluster::{Cluster, PodId, PolicyId};
use crate::policy::{Peer, Peers, PortNumber, Ports, Rule};
use crate::protocol::Protocol;
use crate::verdict::{AdmittingRule, Endpoint, Flow, Side, Verdict};

/// Which list of rules a side reads.
#[derive(Clone, Copy, Debug)]
enum Direction {
    Ingress,
    Egress,
}

impl Cluster {
    /// The verdict for a flow. An address that belongs to a pod stands for that pod.
    pub fn evaluate(&self, flow: &Flow) -> Verdict {
        let resolve = |end: Endpoint| match end {
            Endpoint::Address(ip) => self.pod_with_ip(ip).map_or(end, Endpoint::Pod),
            pod => pod,
        };
        let (from, to) = (resolve(flow.from), resolve(flow.to));
        let egress = match from {
            Endpoint::Pod(source) => self.side(Direction::Egress, source, to, flow),
            Endpoint::Address(_) => Side::OutsideCluster,
        };
        let ingress = match to {
            Endpoint::Pod(destination) => self.side(Direction::Ingress, destination, from, flow),
            Endpoint::Address(_) => Side::OutsideCluster,
        };
        Verdict {
            allowed: egress.passes() && ingress.passes(),
            egress,
            ingress,
        }
    }

    /// One side: `pod` is the end whose policies decide; `other` is the far end.
    fn side(&self, direction: Direction, pod: PodId, other: Endpoint, flow: &Flow) -> Side {
        let isolating = match direction {
            Direction::Ingress => &self.ingress_isolation[pod.0],
            Direction::Egress => &self.egress_isolation[pod.0],
        };
        if isolating.is_empty() {
            return Side::NotIsolated;
        }
        // Named ports are the destination's container ports.
        let destination = match direction {
            Direction::Ingress => Some(pod),
            Direction::Egress => match other {
                Endpoint::Pod(p) => Some(p),
                Endpoint::Address(_) => None,
            },
        };
        let mut admitted = None;
        'policies: for &PolicyId(index) in isolating {
            let policy = &self.policies[index];
            let rules = match direction {
                Direction::Ingress => policy.ingress.as_deref(),
                Direction::Egress => policy.egress.as_deref(),
            };
            for (rule_index, rule) in rules.unwrap_or_default().iter().enumerate() {
                if self.rule_admits(rule, &policy.name.namespace, other, destination, flow) {
                    admitted = Some(AdmittingRule {
                        policy: policy.name.clone(),
                        rule: rule_index,
                    });
                    break 'policies;
                }
            }
        }
        let isolated_by = isolating
            .iter()
            .map(|&PolicyId(i)| self.policies[i].name.clone())
            .collect();
        match admitted {
            Some(by) => Side::Admitted { isolated_by, by },
            None => Side::Denied { isolated_by },
        }
    }

    fn rule_admits(
        &self,
        rule: &Rule,
        policy_namespace: &str,
        other: Endpoint,
        destination: Option<PodId>,
        flow: &Flow,
    ) -> bool {
        self.ports_admit(&rule.ports, destination, flow.port, flow.protocol)
            && match &rule.peers {
                Peers::Everyone => true,
                Peers::Any(peers) => peers
                    .iter()
                    .any(|peer| self.peer_matches(peer, policy_namespace, other)),
            }
    }

    fn ports_admit(&self, ports: &Ports, destination: Option<PodId>, port: u16, protocol: Protocol) -> bool {
        let Ports::Any(entries) = ports else {
            return true;
        };
        entries.iter().any(|entry| {
            entry.protocol == protocol
                && match &entry.port {
                    PortNumber::Every => true,
                    PortNumber::Range(start, end) => (*start..=*end).contains(&port),
                    PortNumber::Named(name) => {
                        destination.is_some_and(|d| self.pods[d.0].names_port(name, port, protocol))
                    }
                }
        })
    }

    fn peer_matches(&self, peer: &Peer, policy_namespace: &str, other: Endpoint) -> bool {
        match (peer, other) {
            (Peer::Block { .. }, Endpoint::Address(ip)) => peer.holds_address(ip),
            (Peer::Block { .. }, Endpoint::Pod(pod)) => self.pods[pod.0]
                .ips
                .iter()
                .any(|ip: &IpAddr| peer.holds_address(*ip)),
            (Peer::Pods { .. }, Endpoint::Address(_)) => false,
            (Peer::Pods { namespaces, pods }, Endpoint::Pod(pod)) => {
                let pod = &self.pods[pod.0];
                let namespace_matches = match namespaces {
                    None => pod.namespace == policy_namespace,
                    Some(selector) => selector.matches(self.labels_of_namespace(&pod.namespace)),
                };
                namespace_matches && pods.as_ref().is_none_or(|selector| selector.matches(&pod.labels))
            }
        }
    }
}
