//! The egress part of `holt plan`'s table: with `enableEgressNetworkPolicyCreation` on, one row per client
//! that declares calls, naming its egress policy and what that policy allows in a few words ("DNS only"
//! while nothing else can be allowed yet, so a fail-closed client is visible as such).
//!
//! In: the plan's index. Out: the rows as text (empty when egress policies are off).

use std::fmt::Write;

use holt_model::labels::NETWORK_POLICY;
use holt_model::{Identity, Index};
use holt_render::{Manifest, render_identity};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The "Egress" section: a heading and aligned `CLIENT  POLICY  ALLOWS` rows, or nothing.
pub fn section(index: &Index) -> String {
    if !index.config().enable_egress_network_policy_creation {
        return String::new();
    }
    let mut rows = vec![["CLIENT", "POLICY", "ALLOWS"].map(String::from)];
    for client in index.clients() {
        if index.intents_of(&client).all(|(_, i)| i.calls.is_empty()) {
            continue;
        }
        let rendered = render_identity(index, &client);
        let policy = rendered.value.iter().find_map(|d| match &d.manifest {
            Manifest::NetworkPolicy(p) if is_egress_of(p, &client) => Some(p),
            _ => None,
        });
        let (name, allows) = match policy {
            Some(p) => (
                format!("NetworkPolicy {}", p.metadata.name.as_deref().unwrap_or_default()),
                allows(egress_rules(p)),
            ),
            None => ("none".to_owned(), "anything (no egress policy)".to_owned()),
        };
        rows.push([client.to_string(), name, allows]);
    }
    if rows.len() == 1 {
        return String::new();
    }
    let mut out = String::from("\nEgress (enableEgressNetworkPolicyCreation):\n");
    let widths: Vec<usize> = (0..2)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for [client, policy, allows] in &rows {
        let _ = writeln!(
            out,
            "  {client:<w0$}  {policy:<w1$}  {allows}",
            w0 = widths[0],
            w1 = widths[1]
        );
    }
    out
}

/// Whether `policy` is the access policy of `client` and restricts its egress.
fn is_egress_of(policy: &NetworkPolicy, client: &Identity) -> bool {
    let labelled = policy
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(NETWORK_POLICY))
        == Some(&client.label_value_with_kind());
    labelled && policy.spec.as_ref().is_some_and(|s| s.egress.is_some())
}

fn egress_rules(policy: &NetworkPolicy) -> &[NetworkPolicyEgressRule] {
    policy
        .spec
        .as_ref()
        .and_then(|s| s.egress.as_deref())
        .unwrap_or_default()
}

/// "DNS only", or e.g. "2 in-cluster peers, 1 internet address, DNS".
fn allows(rules: &[NetworkPolicyEgressRule]) -> String {
    let mut in_cluster = 0;
    let mut addresses = 0;
    let mut dns = false;
    let mut anywhere = false;
    for rule in rules {
        match rule.to.as_deref() {
            None | Some([]) if is_dns(rule) => dns = true,
            None | Some([]) => anywhere = true,
            Some(peers) => {
                addresses += peers.iter().filter(|p| p.ip_block.is_some()).count();
                in_cluster += peers.iter().filter(|p| p.ip_block.is_none()).count();
            }
        }
    }
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = Vec::new();
    if in_cluster > 0 {
        parts.push(plural(in_cluster, "in-cluster peer", "in-cluster peers"));
    }
    if addresses > 0 {
        parts.push(plural(addresses, "address block", "address blocks"));
    }
    if anywhere {
        parts.push("any destination on some ports".to_owned());
    }
    match (parts.is_empty(), dns) {
        (true, true) => "DNS only (nothing else can be allowed yet)".to_owned(),
        (true, false) => "nothing".to_owned(),
        (false, true) => {
            parts.push("DNS".to_owned());
            parts.join(", ")
        }
        (false, false) => parts.join(", "),
    }
}

/// A rule to anywhere on port 53 only.
fn is_dns(rule: &NetworkPolicyEgressRule) -> bool {
    rule.ports
        .as_deref()
        .is_some_and(|ports| !ports.is_empty() && ports.iter().all(|p| p.port == Some(IntOrString::Int(53))))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::{IPBlock, NetworkPolicyPeer, NetworkPolicyPort};

    use super::*;

    fn port(n: i32) -> NetworkPolicyPort {
        NetworkPolicyPort {
            port: Some(IntOrString::Int(n)),
            ..Default::default()
        }
    }

    fn dns() -> NetworkPolicyEgressRule {
        NetworkPolicyEgressRule {
            to: None,
            ports: Some(vec![port(53)]),
        }
    }

    fn to_ip(cidr: &str) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: cidr.into(),
                except: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn rules_are_summarised_by_what_they_reach() {
        assert_eq!(allows(&[dns()]), "DNS only (nothing else can be allowed yet)");
        assert_eq!(allows(&[]), "nothing");
        let internet = NetworkPolicyEgressRule {
            to: Some(vec![to_ip("1.2.3.4/32"), to_ip("5.6.7.0/24")]),
            ports: Some(vec![port(443)]),
        };
        let pods = NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer::default()]),
            ports: None,
        };
        assert_eq!(
            allows(&[pods, internet, dns()]),
            "1 in-cluster peer, 2 address blocks, DNS"
        );
    }
}
