//! Cases of the upstream Kubernetes NetworkPolicy end-to-end suite, restated in this project's own words
//! and data format: the same world (namespaces x, y, z; pods a, b, c), the same policies, and the same
//! truth tables, checked for every pair of the nine pods.

mod world;

use holt_reach::Protocol::{Sctp, Tcp, Udp};
use serde_json::json;
use world::{Table, cluster, cluster_with, namespaces, pod_input, policy};

#[test]
fn no_policy_allows_everything() {
    Table::all(true).check(&cluster(&[]), 80, Tcp);
}

#[test]
fn default_deny_ingress_isolates_the_namespace() {
    let deny = policy("x", "deny-ingress", json!({"podSelector": {}, "ingress": []}));
    Table::all(true)
        .set("", "x", false)
        .check(&cluster(&[deny]), 80, Tcp);
}

#[test]
fn default_deny_all_isolates_both_ways() {
    let deny = policy(
        "x",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    );
    Table::all(true)
        .set("", "x", false)
        .set("x", "", false)
        .check(&cluster(&[deny]), 80, Tcp);
}

#[test]
fn pod_selector_admits_one_pod_of_the_same_namespace() {
    let p = policy(
        "x",
        "x-a-allows-x-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .set("x/b", "x/a", true)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn a_later_policy_opens_one_target_of_a_denied_namespace() {
    let deny = policy("x", "deny-all", json!({"podSelector": {}, "ingress": []}));
    let allow = policy(
        "x",
        "allow-all-to-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {}}]}]}),
    );
    Table::all(true)
        .set("", "x", false)
        .set("", "x/a", true)
        .check(&cluster(&[deny, allow]), 80, Tcp);
}

#[test]
fn an_empty_namespace_selector_admits_every_namespace() {
    let p = policy(
        "x",
        "allow-from-another-ns",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {}}}]}]}),
    );
    Table::all(true).check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn namespace_selector_admits_only_that_namespace() {
    for (selector, name) in [
        (json!({"matchLabels": {"ns": "y"}}), "match labels"),
        (
            json!({"matchExpressions": [{"key": "ns", "operator": "In", "values": ["y"]}]}),
            "match expressions",
        ),
        (
            json!({"matchLabels": {"kubernetes.io/metadata.name": "y"}}),
            "the automatic name label",
        ),
    ] {
        let p = policy(
            "x",
            "allow-y",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": selector}]}]}),
        );
        eprintln!("namespace selector with {name}");
        Table::all(true)
            .set("x", "x/a", false)
            .set("z", "x/a", false)
            .check(&cluster(&[p]), 80, Tcp);
    }
}

#[test]
fn pod_selector_with_match_expressions() {
    let p = policy(
        "x",
        "x-a-allows-x-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b"]}]}}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .set("x/b", "x/a", true)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn two_peers_are_ored() {
    let p = policy(
        "x",
        "ns-not-x-or-pod-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [
                   {"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]}},
                   {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    Table::all(true)
        .set("x/a", "x/a", false)
        .set("x/c", "x/a", false)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn both_selectors_in_one_peer_are_anded() {
    let p = policy(
        "x",
        "ns-not-x-and-pod-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{
                   "namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]},
                   "podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .set("y/b", "x/a", true)
        .set("z/b", "x/a", true)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn both_selectors_with_expressions_on_each() {
    let p = policy(
        "x",
        "ns-not-x-pods-b-c",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{
                   "namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]},
                   "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}}]}]}),
    );
    Table::all(true)
        .set("x", "x/a", false)
        .set("y/a", "x/a", false)
        .set("z/a", "x/a", false)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn several_pod_selector_peers() {
    let p = policy(
        "x",
        "allow-x-b-c",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}, {"podSelector": {"matchLabels": {"pod": "c"}}}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .set("x/b", "x/a", true)
        .set("x/c", "x/a", true)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn one_pod_of_another_namespace() {
    let p = policy(
        "x",
        "allow-y-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .set("y/a", "x/a", true)
        .check(&cluster(&[p]), 80, Tcp);
}

fn port_81_from_y() -> serde_json::Value {
    json!({"podSelector": {"matchLabels": {"pod": "a"}},
           "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": 81, "protocol": "TCP"}]}]})
}

#[test]
fn a_port_restricts_the_rule_and_stacked_policies_add_up() {
    let only_81 = policy("x", "allow-81", port_81_from_y());
    let allowed_on_81 = Table::all(true).set("x", "x/a", false).set("z", "x/a", false);
    allowed_on_81.check(&cluster(std::slice::from_ref(&only_81)), 81, Tcp);
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster(std::slice::from_ref(&only_81)), 80, Tcp);
    let mut spec_80 = port_81_from_y();
    spec_80["ingress"][0]["ports"][0]["port"] = json!(80);
    let also_80 = policy("x", "allow-80", spec_80);
    allowed_on_81.check(&cluster(&[only_81, also_80]), 80, Tcp);
}

#[test]
fn an_empty_rule_allows_everything_on_every_port() {
    let p = policy("x", "allow-all", json!({"podSelector": {}, "ingress": [{}]}));
    for port in [80, 81] {
        Table::all(true).check(&cluster(std::slice::from_ref(&p)), port, Tcp);
    }
}

#[test]
fn a_named_port_admits_its_number_only() {
    let p = policy(
        "x",
        "allow-81-by-name",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true).check(&c, 81, Tcp);
    Table::all(true).set("", "x", false).check(&c, 80, Tcp);
}

#[test]
fn a_named_port_from_one_namespace() {
    let p = policy(
        "x",
        "allow-y-on-serve-80-tcp",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true)
        .set("x", "x/a", false)
        .set("z", "x/a", false)
        .check(&c, 80, Tcp);
    Table::all(true).set("", "x/a", false).check(&c, 81, Tcp);
}

#[test]
fn an_egress_named_port_is_resolved_against_the_destination() {
    let p = policy(
        "x",
        "allow-egress-serve-80",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "serve-80-tcp"}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true).check(&c, 80, Tcp);
    Table::all(true).set("x", "", false).check(&c, 81, Tcp);
}

#[test]
fn an_updated_policy_from_allow_all_to_deny_all() {
    let allow = policy("x", "mutating", json!({"podSelector": {}, "ingress": [{}]}));
    Table::all(true).check(&cluster(&[allow]), 81, Tcp);
    let deny = policy("x", "mutating", json!({"podSelector": {}, "ingress": []}));
    Table::all(true)
        .set("", "x", false)
        .check(&cluster(&[deny]), 81, Tcp);
}

#[test]
fn a_namespace_label_added_later_opens_the_namespace() {
    let p = policy(
        "x",
        "allow-updated-ns",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns2": "updated"}}}]}]}),
    );
    let pods = || world::all_pods().iter().map(|p| pod_input(p, &[])).collect();
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster(std::slice::from_ref(&p)), 80, Tcp);
    let mut labelled = namespaces();
    labelled[1].labels.insert("ns2".into(), "updated".into());
    Table::all(true).set("", "x/a", false).set("y", "", true).check(
        &cluster_with(pods(), labelled, &[p]),
        80,
        Tcp,
    );
}

#[test]
fn a_pod_label_added_later_opens_the_pod() {
    let p = policy(
        "x",
        "allow-updated-pod",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b", "pod2": "updated"}}}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster(std::slice::from_ref(&p)), 80, Tcp);
    let pods = world::all_pods()
        .iter()
        .map(|name| {
            pod_input(
                name,
                if name == "x/b" {
                    &[("pod2", "updated")]
                } else {
                    &[]
                },
            )
        })
        .collect();
    Table::all(true)
        .set("", "x/a", false)
        .set("x/b", "x/a", true)
        .check(&cluster_with(pods, namespaces(), &[p]), 80, Tcp);
}

#[test]
fn a_pod_selector_of_the_own_namespace_denies_other_namespaces() {
    let p = policy(
        "x",
        "deny-others",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {}}}]}]}),
    );
    Table::all(true)
        .set("y", "x", false)
        .set("z", "x", false)
        .check(&cluster(&[p]), 80, Tcp);
}

#[test]
fn a_pod_that_gains_the_selected_label_becomes_isolated() {
    let p = policy(
        "x",
        "deny-isolated",
        json!({"podSelector": {"matchLabels": {"target": "isolated"}}, "ingress": []}),
    );
    Table::all(true).check(&cluster(std::slice::from_ref(&p)), 80, Tcp);
    let pods = world::all_pods()
        .iter()
        .map(|name| {
            pod_input(
                name,
                if name == "x/a" {
                    &[("target", "isolated")]
                } else {
                    &[]
                },
            )
        })
        .collect();
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster_with(pods, namespaces(), &[p]), 80, Tcp);
}

#[test]
fn egress_deny_for_one_pod_and_for_a_namespace() {
    let one = policy(
        "x",
        "deny-egress-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"]}),
    );
    Table::all(true)
        .set("x/a", "", false)
        .check(&cluster(&[one]), 80, Tcp);
    let all = policy(
        "x",
        "deny-egress-x",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    );
    Table::all(true)
        .set("x", "", false)
        .check(&cluster(&[all]), 80, Tcp);
}

#[test]
fn ingress_and_egress_together() {
    let p = policy(
        "x",
        "both",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress", "Ingress"],
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
               "egress": [{"ports": [{"port": 80}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true)
        .set("", "x/a", false)
        .set("x/b", "x/a", true)
        .check(&c, 80, Tcp);
    Table::all(true)
        .set("", "x/a", false)
        .set("x/a", "", false)
        .set("x/b", "x/a", true)
        .check(&c, 81, Tcp);
}

#[test]
fn egress_deny_wins_even_when_the_server_admits() {
    let egress = policy(
        "x",
        "to-y-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]}]}),
    );
    let from_x_a = json!([{"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]);
    let on_y_a = policy(
        "y",
        "on-y-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": from_x_a}]}),
    );
    let on_y_b = policy(
        "y",
        "on-y-b",
        json!({"podSelector": {"matchLabels": {"pod": "b"}}, "ingress": [{"from": from_x_a}]}),
    );
    Table::all(true)
        .set("x/a", "", false)
        .set("", "y/a", false)
        .set("x/a", "y/a", true)
        .set("", "y/b", false)
        .check(&cluster(&[egress, on_y_a, on_y_b]), 80, Tcp);
}

#[test]
fn a_protocol_without_a_port_admits_every_port_of_that_protocol() {
    let p = policy(
        "x",
        "tcp-only",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"protocol": "TCP"}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true).check(&c, 80, Tcp);
    Table::all(true).set("", "x/a", false).check(&c, 80, Udp);
}

#[test]
fn an_allow_all_policy_takes_precedence_for_ingress_and_egress() {
    let port_80 = policy(
        "x",
        "ingress-80",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
    );
    Table::all(true)
        .set("", "x", false)
        .check(&cluster(std::slice::from_ref(&port_80)), 81, Tcp);
    let all = policy("x", "ingress-all", json!({"podSelector": {}, "ingress": [{}]}));
    Table::all(true).check(&cluster(&[port_80, all]), 81, Tcp);

    let egress_80 = policy(
        "x",
        "egress-80",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 80}]}]}),
    );
    Table::all(true)
        .set("x", "", false)
        .check(&cluster(std::slice::from_ref(&egress_80)), 81, Tcp);
    let all = policy(
        "x",
        "egress-all",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}),
    );
    Table::all(true).check(&cluster(&[egress_80, all]), 81, Tcp);
}

#[test]
fn egress_to_a_cidr_block_of_one_pod() {
    for (address, mask) in [(world::ipv4("y/b"), 32), (world::ipv6("y/b"), 128)] {
        let p = policy(
            "x",
            "to-y-b-by-ip",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"ipBlock": {"cidr": format!("{address}/{mask}")}}]}]}),
        );
        Table::all(true)
            .set("x/a", "", false)
            .set("x/a", "y/b", true)
            .check(&cluster(&[p]), 80, Tcp);
    }
}

#[test]
fn except_removes_an_address_from_the_block_and_another_policy_can_restore_it() {
    for (block, except) in [
        ("10.0.0.0/16", format!("{}/32", world::ipv4("x/b"))),
        ("fd00::/16", format!("{}/128", world::ipv6("x/b"))),
    ] {
        let around = policy(
            "x",
            "around-x-b",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"ipBlock": {"cidr": block, "except": [except]}}]}]}),
        );
        Table::all(true)
            .set("x/a", "x/b", false)
            .check(&cluster(std::slice::from_ref(&around)), 80, Tcp);
        let exact = policy(
            "x",
            "exactly-x-b",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"ipBlock": {"cidr": except}}]}]}),
        );
        Table::all(true).check(&cluster(&[around, exact]), 80, Tcp);
    }
}

#[test]
fn ingress_and_egress_are_controlled_independently() {
    let egress = policy(
        "x",
        "egress-all",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{}]}),
    );
    Table::all(true).check(&cluster(std::slice::from_ref(&egress)), 80, Tcp);
    let deny = policy(
        "x",
        "deny-ingress-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": []}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster(&[egress, deny]), 80, Tcp);
}

#[test]
fn sctp_is_never_taken_for_tcp() {
    let deny = policy("x", "deny", json!({"podSelector": {}, "ingress": []}));
    let sctp_81 = policy(
        "x",
        "sctp-81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 81, "protocol": "SCTP"}]}]}),
    );
    let c = cluster(&[deny, sctp_81.clone()]);
    Table::all(true).set("", "x", false).check(&c, 81, Tcp);
    Table::all(true)
        .set("", "x", false)
        .set("", "x/a", true)
        .check(&c, 81, Sctp);
    let sctp_80 = policy(
        "x",
        "sctp-80",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 80, "protocol": "SCTP"}]}]}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster(&[sctp_80]), 81, Tcp);
}

#[test]
fn udp_only_does_not_admit_tcp() {
    let p = policy(
        "x",
        "udp-81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 81, "protocol": "UDP"}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true).set("", "x/a", false).check(&c, 81, Tcp);
    Table::all(true).check(&c, 81, Udp);
}

#[test]
fn an_end_port_range_admits_its_ports_inclusive() {
    let p = policy(
        "x",
        "range",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 80, "endPort": 81, "protocol": "TCP"}]}]}),
    );
    let c = cluster(&[p]);
    for port in [80, 81] {
        Table::all(true).check(&c, port, Tcp);
    }
    Table::all(true).set("x", "", false).check(&c, 82, Tcp);
    Table::all(true).set("x", "", false).check(&c, 79, Tcp);
}

#[test]
fn a_policy_with_egress_rules_and_no_policy_types_isolates_both_ways() {
    let p = policy(
        "x",
        "defaulted",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{"ports": [{"port": 80}]}]}),
    );
    let c = cluster(&[p]);
    Table::all(true)
        .set("", "x/a", false)
        .set("x/a", "", false)
        .check(&c, 81, Tcp);
    Table::all(true).set("", "x/a", false).check(&c, 80, Tcp);
    let empty_egress = policy(
        "x",
        "empty-egress",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "egress": []}),
    );
    Table::all(true)
        .set("", "x/a", false)
        .check(&cluster(&[empty_egress]), 81, Tcp);
}

#[test]
fn a_deleted_policy_enforces_nothing() {
    let deny = policy(
        "x",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    );
    Table::all(true)
        .set("x", "", false)
        .set("", "x", false)
        .check(&cluster(&[deny]), 80, Tcp);
    Table::all(true).check(&cluster(&[]), 80, Tcp);
}

#[test]
fn the_first_egress_rule_of_a_policy_without_policy_types_isolates_egress() {
    let ingress_only = policy(
        "x",
        "p",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{}]}),
    );
    Table::all(true).check(&cluster(&[ingress_only]), 81, Tcp);
    let with_egress = policy(
        "x",
        "p",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{}], "egress": [{"ports": [{"port": 80}]}]}),
    );
    Table::all(true)
        .set("x/a", "", false)
        .check(&cluster(&[with_egress]), 81, Tcp);
}

#[test]
fn egress_with_not_in_on_the_automatic_namespace_name_label() {
    let p = policy(
        "x",
        "not-to-y",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {"matchExpressions": [
                   {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["y"]}]}}]}]}),
    );
    Table::all(true)
        .set("x/a", "y", false)
        .check(&cluster(&[p]), 80, Tcp);
}

/// The suite's UDP and SCTP blocks repeat three TCP cases with the other protocol, in both the policy
/// and the probe.
#[test]
fn the_udp_and_sctp_repetitions() {
    for (protocol, name) in [(Udp, "UDP"), (Sctp, "SCTP")] {
        let deny = policy("x", "deny-ingress", json!({"podSelector": {}, "ingress": []}));
        Table::all(true)
            .set("", "x", false)
            .check(&cluster(&[deny]), 80, protocol);

        let mut spec = port_81_from_y();
        spec["ingress"][0]["ports"][0]["protocol"] = json!(name);
        let port_81 = policy("x", "allow-81", spec);
        let c = cluster(&[port_81]);
        Table::all(true)
            .set("x", "x/a", false)
            .set("z", "x/a", false)
            .check(&c, 81, protocol);
        Table::all(true).set("", "x/a", false).check(&c, 81, Tcp);

        let y_a = policy(
            "x",
            "allow-y-a",
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]}]}),
        );
        Table::all(true)
            .set("", "x/a", false)
            .set("y/a", "x/a", true)
            .check(&cluster(&[y_a]), 80, protocol);
    }
}

#[test]
fn except_inside_a_slash_4_block_as_the_suite_builds_it() {
    let around = policy(
        "x",
        "around-x-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/4", "except": [format!("{}/32", world::ipv4("x/b"))]}}]}]}),
    );
    Table::all(true)
        .set("x/a", "x/b", false)
        .check(&cluster(&[around]), 80, Tcp);
}
