//! Properties over generated clusters and policies: adding an allow rule never turns an allowed flow into
//! a denied one (policies are additive, and a new rule can only admit), a policy selecting no pod changes
//! no verdict, and writing out the defaulted `policyTypes` changes no verdict.
//!
//! "Adding an allow rule" keeps the policy's `policyTypes` as they were: adding the first egress rule to a
//! policy without `policyTypes` also makes it isolate egress (the API server's defaulting), which can deny;
//! `the_first_egress_rule_of_a_policy_without_policy_types_isolates_egress` in the upstream suite's file
//! shows that case.

mod world;

use holt_reach::Protocol;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use proptest::prelude::*;
use serde_json::{Value, json};
use world::{all_pods, cluster, policy, verdict};

fn selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        prop::sample::select(vec!["a", "b", "c"]).prop_map(|p| json!({"matchLabels": {"pod": p}})),
        prop::sample::select(vec!["a", "b", "c"])
            .prop_map(|p| json!({"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": [p]}]})),
    ]
}

fn namespace_selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        prop::sample::select(vec!["x", "y", "z"]).prop_map(|n| json!({"matchLabels": {"ns": n}})),
    ]
}

fn peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        selector().prop_map(|s| json!({"podSelector": s})),
        namespace_selector().prop_map(|s| json!({"namespaceSelector": s})),
        (namespace_selector(), selector())
            .prop_map(|(n, p)| json!({"namespaceSelector": n, "podSelector": p})),
        prop::sample::select(vec!["10.0.1.0/24", "10.0.0.0/16", "fd00:2::/32", "10.0.3.2/32"])
            .prop_map(|c| json!({"ipBlock": {"cidr": c}})),
    ]
}

fn ports() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!([])),
        Just(json!([{"port": 80}])),
        Just(json!([{"port": "serve-81-tcp"}])),
        Just(json!([{"port": 80, "endPort": 81, "protocol": "TCP"}])),
        Just(json!([{"protocol": "UDP"}])),
    ]
}

fn rule() -> impl Strategy<Value = Value> {
    (prop::collection::vec(peer(), 0..3), ports())
        .prop_map(|(peers, ports)| json!({"peers": peers, "ports": ports}))
}

fn spec() -> impl Strategy<Value = (String, Value)> {
    (
        prop::sample::select(vec!["x", "y", "z"]),
        selector(),
        prop::collection::vec(rule(), 0..3),
        prop::collection::vec(rule(), 0..3),
        prop::sample::select(vec![
            vec![],
            vec!["Ingress"],
            vec!["Egress"],
            vec!["Ingress", "Egress"],
        ]),
    )
        .prop_map(|(ns, selects, ingress, egress, types)| {
            let as_rules = |rules: Vec<Value>, key: &str| -> Vec<Value> {
                rules
                    .into_iter()
                    .map(|r| json!({key: r["peers"].clone(), "ports": r["ports"].clone()}))
                    .collect()
            };
            (
                ns.to_owned(),
                json!({"podSelector": selects, "policyTypes": types,
                       "ingress": as_rules(ingress, "from"), "egress": as_rules(egress, "to")}),
            )
        })
}

/// The spec with `policyTypes` written out as the API server defaults them.
fn with_explicit_types(mut spec: Value) -> Value {
    let empty = spec["policyTypes"].as_array().is_none_or(Vec::is_empty);
    if empty {
        let has_egress = spec["egress"].as_array().is_some_and(|rules| !rules.is_empty());
        spec["policyTypes"] = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
    }
    spec
}

fn policies(specs: &[(String, Value)]) -> Vec<NetworkPolicy> {
    specs
        .iter()
        .enumerate()
        .map(|(i, (ns, spec))| policy(ns, &format!("p{i}"), spec.clone()))
        .collect()
}

const PROBES: [(u16, Protocol); 3] = [(80, Protocol::Tcp), (81, Protocol::Tcp), (80, Protocol::Udp)];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn adding_an_allow_rule_never_denies_an_allowed_flow(
        specs in prop::collection::vec(spec(), 1..4),
        target in 0usize..4,
        added in rule(),
        ingress in any::<bool>(),
    ) {
        let specs: Vec<(String, Value)> =
            specs.into_iter().map(|(ns, spec)| (ns, with_explicit_types(spec))).collect();
        let before = cluster(&policies(&specs));
        let mut widened = specs.clone();
        let index = target % widened.len();
        let (key, peers) = if ingress { ("ingress", "from") } else { ("egress", "to") };
        let rule = json!({peers: added["peers"].clone(), "ports": added["ports"].clone()});
        widened[index].1[key].as_array_mut().expect("rules").push(rule);
        let after = cluster(&policies(&widened));
        for from in all_pods() {
            for to in all_pods() {
                for (port, protocol) in PROBES {
                    if verdict(&before, &from, &to, port, protocol).allowed {
                        prop_assert!(
                            verdict(&after, &from, &to, port, protocol).allowed,
                            "{from} -> {to} {port}/{protocol} became denied"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn explicit_default_policy_types_change_nothing(specs in prop::collection::vec(spec(), 1..4)) {
        let defaulted = cluster(&policies(&specs));
        let explicit: Vec<(String, Value)> =
            specs.into_iter().map(|(ns, spec)| (ns, with_explicit_types(spec))).collect();
        let explicit = cluster(&policies(&explicit));
        for from in all_pods() {
            for to in all_pods() {
                for (port, protocol) in PROBES {
                    prop_assert_eq!(
                        verdict(&defaulted, &from, &to, port, protocol).allowed,
                        verdict(&explicit, &from, &to, port, protocol).allowed
                    );
                }
            }
        }
    }

    #[test]
    fn a_policy_selecting_no_pod_changes_nothing(
        specs in prop::collection::vec(spec(), 0..4),
        (ns, extra) in spec(),
    ) {
        let before = cluster(&policies(&specs));
        let mut nothing = extra;
        nothing["podSelector"] = json!({"matchLabels": {"pod": "nobody"}});
        let mut with = specs.clone();
        with.push((ns, nothing));
        let after = cluster(&policies(&with));
        for from in all_pods() {
            for to in all_pods() {
                for (port, protocol) in PROBES {
                    prop_assert_eq!(
                        verdict(&before, &from, &to, port, protocol).allowed,
                        verdict(&after, &from, &to, port, protocol).allowed
                    );
                }
            }
        }
    }
}
