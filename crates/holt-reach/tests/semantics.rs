//! Semantics beyond the upstream suite's tables: traffic from and to addresses outside the cluster, the
//! reasons a verdict gives, and refusals of bad input naming the policy and field.

mod world;

use std::net::IpAddr;

use holt_reach::Protocol::Tcp;
use holt_reach::{AdmittingRule, Cluster, Endpoint, Flow, PodInput, PolicyName, Side};
use pretty_assertions::assert_eq;
use serde_json::json;
use world::{cluster, endpoint, policy, verdict};

fn outside(text: &str) -> Endpoint {
    Endpoint::Address(text.parse::<IpAddr>().expect("address"))
}

fn flow(from: Endpoint, to: Endpoint, port: u16) -> Flow {
    Flow {
        from,
        to,
        port,
        protocol: Tcp,
    }
}

fn name(ns: &str, name: &str) -> PolicyName {
    PolicyName {
        namespace: ns.into(),
        name: name.into(),
    }
}

#[test]
fn traffic_from_outside_is_admitted_only_by_ip_blocks_or_rules_without_peers() {
    let selectors = policy(
        "x",
        "selectors",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}, {"podSelector": {}}]}]}),
    );
    let c = cluster(std::slice::from_ref(&selectors));
    let to_x_a = endpoint(&c, "x/a");
    assert!(
        !c.evaluate(&flow(outside("203.0.113.7"), to_x_a, 80)).allowed,
        "selectors match pods only"
    );
    assert!(c.evaluate(&flow(endpoint(&c, "y/a"), to_x_a, 80)).allowed);

    let block = policy(
        "x",
        "block",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.128/25"]}}]}]}),
    );
    let c = cluster(&[selectors.clone(), block]);
    let to_x_a = endpoint(&c, "x/a");
    let admitted = c.evaluate(&flow(outside("203.0.113.7"), to_x_a, 80));
    assert!(admitted.allowed);
    assert_eq!(admitted.egress, Side::OutsideCluster);
    assert_eq!(
        admitted.ingress,
        Side::Admitted {
            isolated_by: vec![name("x", "selectors"), name("x", "block")],
            by: AdmittingRule {
                policy: name("x", "block"),
                rule: 0
            },
        }
    );
    assert!(
        !c.evaluate(&flow(outside("203.0.113.200"), to_x_a, 80)).allowed,
        "in the except range"
    );
    assert!(
        !c.evaluate(&flow(outside("2001:db8::1"), to_x_a, 80)).allowed,
        "IPv6 is not in an IPv4 block"
    );

    let everyone = policy(
        "x",
        "everyone",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
    );
    let c = cluster(&[everyone]);
    assert!(
        c.evaluate(&flow(outside("198.51.100.1"), endpoint(&c, "x/a"), 80))
            .allowed
    );
    assert!(
        !c.evaluate(&flow(outside("198.51.100.1"), endpoint(&c, "x/a"), 81))
            .allowed
    );
}

#[test]
fn an_address_of_a_pod_stands_for_the_pod() {
    let p = policy(
        "x",
        "from-y-b",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    let c = cluster(&[p]);
    let from_ip = Endpoint::Address(world::ipv6("y/b"));
    assert!(c.evaluate(&flow(from_ip, endpoint(&c, "x/a"), 80)).allowed);
}

#[test]
fn egress_to_outside_needs_an_ip_block_and_named_ports_never_match_there() {
    let p = policy(
        "x",
        "egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]},
            {"ports": [{"port": "serve-80-tcp"}]}]}),
    );
    let c = cluster(&[p]);
    let from = endpoint(&c, "x/a");
    assert!(c.evaluate(&flow(from, outside("1.1.1.1"), 443)).allowed);
    assert!(
        !c.evaluate(&flow(from, outside("1.1.1.1"), 80)).allowed,
        "no pod to name port 80"
    );
    let to_pod = c.evaluate(&flow(from, endpoint(&c, "y/a"), 80));
    assert!(to_pod.allowed);
    assert_eq!(to_pod.ingress, Side::NotIsolated);
    assert_eq!(
        to_pod.egress,
        Side::Admitted {
            isolated_by: vec![name("x", "egress")],
            by: AdmittingRule {
                policy: name("x", "egress"),
                rule: 1
            }
        }
    );
}

#[test]
fn a_denied_flow_names_the_isolating_policies_and_reads_as_text() {
    let deny = policy("x", "deny", json!({"podSelector": {}, "ingress": []}));
    let c = cluster(&[deny]);
    let denied = verdict(&c, "y/a", "x/a", 80, Tcp);
    assert_eq!(
        denied.ingress,
        Side::Denied {
            isolated_by: vec![name("x", "deny")]
        }
    );
    assert_eq!(
        denied.to_string(),
        "denied\n  egress: no policy isolates the source\n  ingress: isolated by x/deny; no ingress rule admits this flow"
    );
}

#[test]
fn a_policy_in_another_namespace_does_not_select_pods_here() {
    let deny = policy(
        "y",
        "deny",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": []}),
    );
    let c = cluster(&[deny]);
    assert!(verdict(&c, "y/b", "x/a", 80, Tcp).allowed);
    assert!(!verdict(&c, "x/a", "y/a", 80, Tcp).allowed);
}

fn refusal(spec: serde_json::Value) -> String {
    let p = policy("x", "bad", spec);
    Cluster::new(world::namespaces(), vec![PodInput::default()], &[p])
        .expect_err("refused")
        .to_string()
}

#[test]
fn bad_policies_are_refused_naming_the_policy_and_field() {
    assert_eq!(
        refusal(json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/40"}}]}]})),
        "NetworkPolicy x/bad: spec.ingress[0].from[0].ipBlock.cidr: `10.0.0.0/40`: the prefix length is longer than the address"
    );
    assert_eq!(
        refusal(
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["x"]}}]}]})
        ),
        "NetworkPolicy x/bad: spec.egress[0].to[0].ipBlock.except[0]: `x` is not a CIDR block (expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/64)"
    );
    assert_eq!(
        refusal(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]})),
        "NetworkPolicy x/bad: spec.ingress[0].ports[0].protocol: `ICMP` is not TCP, UDP or SCTP"
    );
    assert_eq!(
        refusal(json!({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]})),
        "NetworkPolicy x/bad: spec.ingress[0].ports[0].endPort: 80 is below port 90"
    );
    assert_eq!(
        refusal(json!({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 80}]}]})),
        "NetworkPolicy x/bad: spec.ingress[0].ports[0].endPort: endPort cannot be used with a named port"
    );
    assert_eq!(
        refusal(json!({"podSelector": {}, "policyTypes": ["Inbound"]})),
        "NetworkPolicy x/bad: spec.policyTypes[0]: `Inbound` is not Ingress or Egress"
    );
    assert_eq!(
        refusal(json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}})),
        "NetworkPolicy x/bad: spec.podSelector: matchExpressions[0].operator: `Is` is not one of In, NotIn, Exists, DoesNotExist"
    );
    assert_eq!(
        refusal(json!({"podSelector": {}, "ingress": [{"from": [{}]}]})),
        "NetworkPolicy x/bad: spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector or ipBlock"
    );
}

#[test]
fn a_pod_lists_the_policies_isolating_it_per_direction() {
    let ingress = policy("x", "ingress-only", json!({"podSelector": {}, "ingress": [{}]}));
    let egress = policy(
        "x",
        "egress-too",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    );
    let c = cluster(&[ingress, egress]);
    let Endpoint::Pod(x_a) = endpoint(&c, "x/a") else {
        panic!("x/a is a pod")
    };
    let Endpoint::Pod(y_a) = endpoint(&c, "y/a") else {
        panic!("y/a is a pod")
    };
    let listed = |pod, egress| c.isolating_policies(pod, egress).cloned().collect::<Vec<_>>();
    assert_eq!(
        listed(x_a, false),
        [name("x", "ingress-only"), name("x", "egress-too")]
    );
    assert_eq!(listed(x_a, true), [name("x", "egress-too")]);
    assert!(
        listed(y_a, false).is_empty(),
        "policies select pods of their own namespace"
    );
    assert!(c.pod_ids().any(|id| id == y_a));
    assert_eq!(c.pod_ids().count(), c.pod_count());
}
