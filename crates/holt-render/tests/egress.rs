//! Egress rules (docs/reference-behaviour.md#network-policy-egress, opt-in): workload, Service, API server
//! and internet targets, and the DNS auto-allow.

mod common;

use common::*;
use holt_model::{Config, Index};
use holt_render::{Reason, render_identity};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn egress_config() -> Config {
    Config {
        enable_egress_network_policy_creation: true,
        ..Config::default()
    }
}

/// The client's access policy as JSON (there must be exactly one object).
fn client_policy(index: &Index) -> Value {
    let rendered = render_identity(index, &id("shop", "client", None));
    assert_eq!(
        rendered.value.len(),
        1,
        "{:?} {:?}",
        names(&rendered.value),
        rendered.notices
    );
    json(&rendered.value[0])
}

fn dns_rule() -> Value {
    json!({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]})
}

fn ns_selector(ns: &str) -> Value {
    json!({"matchLabels": {"kubernetes.io/metadata.name": ns}})
}

#[test]
fn workload_targets_are_reached_by_service_label_and_by_each_service_selecting_them() {
    let index = index(
        egress_config(),
        vec![
            deployment_pod("data", "db"),
            database_service("data", "db"),
            service("data", "db-replica", &[("app", "other")], vec![]),
            intents_v2("shop", "client", vec![k8s("db.data"), k8s("db.data")]),
        ],
    );
    let policy = client_policy(&index);
    assert_eq!(policy["metadata"]["name"], json!("client-access"));
    assert_eq!(
        policy["spec"]["podSelector"],
        json!({"matchLabels": {"intents.otterize.com/service": label_value("client", "shop")}})
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Egress"]));
    assert_eq!(
        policy["spec"]["egress"],
        json!([
            {"to": [{
                "podSelector": {"matchLabels": {"intents.otterize.com/service": label_value("db", "data")}},
                "namespaceSelector": ns_selector("data"),
            }]},
            {"to": [{"podSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": ns_selector("data")}]},
            dns_rule(),
        ]),
        "the repeated call renders once; db-replica selects no db pod"
    );
}

#[test]
fn service_targets_allow_both_target_ports_and_service_ports() {
    let index = index(
        egress_config(),
        vec![
            service(
                "shop",
                "server",
                &[("app", "server")],
                vec![
                    port(80, IntOrString::String("http".into()), "TCP"),
                    port(8080, IntOrString::Int(8080), "TCP"),
                ],
            ),
            intents_v2("shop", "client", vec![svc("server")]),
        ],
    );
    let policy = client_policy(&index);
    assert_eq!(
        policy["spec"]["egress"][0],
        json!({
            "to": [{"podSelector": {"matchLabels": {"app": "server"}}, "namespaceSelector": ns_selector("shop")}],
            "ports": [
                {"port": "http", "protocol": "TCP"},
                {"port": 80, "protocol": "TCP"},
                {"port": 8080, "protocol": "TCP"},
            ],
        })
    );
}

#[test]
fn the_api_server_is_reached_by_its_cluster_ip() {
    let index = index(
        egress_config(),
        vec![
            api_server_service(),
            intents_v2("shop", "client", vec![k8s("kubernetes.default")]),
        ],
    );
    let policy = client_policy(&index);
    assert_eq!(
        policy["spec"]["egress"],
        json!([
            {
                "to": [{"ipBlock": {"cidr": "10.96.0.1/32"}}],
                "ports": [{"port": 6443, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}],
            },
            dns_rule(),
        ])
    );

    let unknown = index_without_api_server();
    let rendered = render_identity(&unknown, &id("shop", "client", None));
    assert_eq!(
        json(&rendered.value[0])["spec"]["egress"],
        json!([dns_rule()]),
        "no rule for the unknown API server, but the client stays isolated (DNS only)"
    );
    assert_eq!(rendered.notices[0].reason, Reason::ApiServerServiceNotFound);
}

fn index_without_api_server() -> Index {
    index(
        egress_config(),
        vec![intents_v2("shop", "client", vec![svc("kubernetes.default")])],
    )
}

#[test]
fn internet_targets_allow_their_ips_and_resolved_addresses_on_their_ports() {
    let index = index(
        egress_config(),
        vec![intents_resolved(
            "shop",
            "client",
            vec![internet(
                &["api.example.com", "*.cdn.example.com"],
                &["8.8.8.8", "10.1.2.3/8", "2001:db8::1"],
                &[443, 8443],
            )],
            &[
                ("api.example.com", &["1.1.1.1", "8.8.8.8"]),
                ("*.cdn.example.com", &["9.9.9.9"]),
            ],
        )],
    );
    let policy = client_policy(&index);
    assert_eq!(
        policy["spec"]["egress"],
        json!([
            {
                "to": [
                    {"ipBlock": {"cidr": "1.1.1.1/32"}},
                    {"ipBlock": {"cidr": "8.8.8.8/32"}},
                    {"ipBlock": {"cidr": "9.9.9.9/32"}},
                    {"ipBlock": {"cidr": "10.0.0.0/8"}},
                    {"ipBlock": {"cidr": "2001:db8::1/128"}},
                ],
                "ports": [{"port": 443, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}],
            },
            dns_rule(),
        ])
    );
}

#[test]
fn internet_targets_without_addresses_wait_for_resolution() {
    let index = index(
        egress_config(),
        vec![intents_v2(
            "shop",
            "client",
            vec![internet(&["api.example.com"], &[], &[443])],
        )],
    );
    let rendered = render_identity(&index, &id("shop", "client", None));
    assert_eq!(
        json(&rendered.value[0])["spec"]["egress"],
        json!([dns_rule()]),
        "no address, no rule: the client may resolve names and nothing else"
    );
    assert_eq!(rendered.notices.len(), 1);
    assert_eq!(
        rendered.notices[0].reason,
        Reason::InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS
    );
    assert!(rendered.notices[0].message.contains("api.example.com"));
    assert_eq!(
        rendered.notices[0].subject.to_string(),
        "ClientIntents shop/client"
    );
}

#[test]
fn invalid_internet_addresses_are_reported_and_skipped() {
    let index = index(
        egress_config(),
        vec![intents_v2(
            "shop",
            "client",
            vec![internet(&[], &["not-an-ip", "1.2.3.4"], &[])],
        )],
    );
    let rendered = render_identity(&index, &id("shop", "client", None));
    assert_eq!(
        json(&rendered.value[0])["spec"]["egress"][0],
        json!({"to": [{"ipBlock": {"cidr": "1.2.3.4/32"}}]})
    );
    assert_eq!(rendered.notices[0].reason, Reason::InvalidInternetAddress);
}

#[test]
fn many_internet_ips_are_grouped_into_their_24_over_the_peer_limit() {
    let ips = ["1.2.3.4", "1.2.3.5", "1.2.3.200", "5.6.7.8"];
    let grouped = |enabled: bool, limit: usize| {
        let config = Config {
            enable_group_internet_ips_by_cidr: enabled,
            enable_group_internet_ips_by_cidr_peers_limit: limit,
            ..egress_config()
        };
        let index = index(
            config,
            vec![intents_v2("shop", "client", vec![internet(&[], &ips, &[])])],
        );
        client_policy(&index)["spec"]["egress"][0]["to"]
            .as_array()
            .expect("peers")
            .iter()
            .map(|p| p["ipBlock"]["cidr"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(grouped(true, 3), vec!["1.2.3.0/24", "5.6.7.0/24"]);
    assert_eq!(
        grouped(true, 4),
        vec!["1.2.3.4/32", "1.2.3.5/32", "1.2.3.200/32", "5.6.7.8/32"],
        "at the limit"
    );
    assert_eq!(grouped(false, 3).len(), 4, "grouping is opt-in");
}

#[test]
fn dns_egress_can_be_switched_off() {
    let config = Config {
        enable_egress_autoallow_dns_traffic: false,
        ..egress_config()
    };
    let index = index(config, vec![intents_v2("shop", "client", vec![k8s("server")])]);
    let egress = client_policy(&index)["spec"]["egress"].clone();
    assert_eq!(egress.as_array().map(Vec::len), Some(1));
    assert!(egress[0].get("to").is_some());
}

#[test]
fn without_egress_policies_internet_intents_are_reported() {
    let index = index(
        Config::default(),
        vec![intents_v2(
            "shop",
            "client",
            vec![internet(&[], &["1.2.3.4"], &[443]), k8s("server")],
        )],
    );
    let rendered = render_identity(&index, &id("shop", "client", None));
    assert!(rendered.value.is_empty());
    let reasons: Vec<Reason> = rendered.notices.iter().map(|n| n.reason).collect();
    assert_eq!(
        reasons,
        vec![Reason::InternetEgressNetworkPolicyWithEgressPolicyDisabled]
    );
}

#[test]
fn shadow_mode_never_renders_egress() {
    let config = Config {
        enable_egress_network_policy_creation: true,
        ..shadow()
    };
    let index = index(config, vec![intents_v2("shop", "client", vec![k8s("server")])]);
    let rendered = render_identity(&index, &id("shop", "client", None));
    assert!(rendered.value.is_empty());
    assert_eq!(rendered.notices[0].reason, Reason::EnforcementGloballyDisabled);
}

#[test]
fn an_identity_both_client_and_server_gets_one_policy_with_both_directions() {
    let index = index(
        egress_config(),
        vec![
            intents_v2("shop", "frontend", vec![k8s("client")]),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let policy = client_policy(&index);
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["spec"]["ingress"].as_array().map(Vec::len), Some(1));
    assert_eq!(policy["spec"]["egress"].as_array().map(Vec::len), Some(2));
}

#[test]
fn kafka_targets_are_reached_by_the_brokers_service_label() {
    let index = index(
        egress_config(),
        vec![intents_v2(
            "shop",
            "client",
            vec![kafka("kafka.kafka", &[("orders", &[])])],
        )],
    );
    assert_eq!(
        client_policy(&index)["spec"]["egress"][0]["to"][0]["podSelector"],
        json!({"matchLabels": {"intents.otterize.com/service": label_value("kafka", "kafka")}})
    );
}

// ---- fail closed, on the reference's egress tutorial ----------------------------------------------------------
//
// The objects of the reference's "Egress NetworkPolicy Automation" tutorial: namespace
// `otterize-tutorial-egress-access`, Deployments `frontend` and `backend`, a Service `backend` (8080 → 8080),
// `domain-intents.yaml` (backend calls `api.adviceslip.com` and frontend) and `intents-no-external-api.yaml`
// (the external API removed: both call each other's Service).

const TUTORIAL: &str = "otterize-tutorial-egress-access";

fn tutorial_workloads() -> Vec<holt_model::Object> {
    vec![
        deployment_pod(TUTORIAL, "frontend"),
        deployment_pod(TUTORIAL, "backend"),
        service(
            TUTORIAL,
            "backend",
            &[("app", "backend")],
            vec![port(8080, IntOrString::Int(8080), "TCP")],
        ),
    ]
}

fn tutorial_index(config: Config, intents: Vec<holt_model::Object>) -> Index {
    let mut objects = tutorial_workloads();
    objects.extend(intents);
    index(config, objects)
}

/// The rendered egress of `workload` (one policy expected) and the reasons of its notices.
fn egress_of(index: &Index, workload: &str, kind: Option<&str>) -> (Value, Vec<Reason>) {
    let rendered = render_identity(index, &id(TUTORIAL, workload, kind));
    assert_eq!(
        rendered.value.len(),
        1,
        "{workload}: {:?} {:?}",
        names(&rendered.value),
        rendered.notices
    );
    let policy = json(&rendered.value[0]);
    let reasons = rendered.notices.iter().map(|n| n.reason).collect();
    (policy["spec"]["egress"].clone(), reasons)
}

fn pods_of(name: &str) -> Value {
    json!({
        "podSelector": {"matchLabels": {"intents.otterize.com/service": label_value(name, TUTORIAL)}},
        "namespaceSelector": ns_selector(TUTORIAL),
    })
}

#[test]
fn an_internet_only_client_is_allowed_dns_only_until_its_domain_resolves() {
    let unresolved = tutorial_index(
        egress_config(),
        vec![intents_v2(
            TUTORIAL,
            "backend",
            vec![internet(&["api.adviceslip.com"], &[], &[])],
        )],
    );
    let rendered = render_identity(&unresolved, &id(TUTORIAL, "backend", None));
    assert_eq!(names(&rendered.value), vec![format!("{TUTORIAL}/backend-access")]);
    let policy = json(&rendered.value[0]);
    assert_eq!(
        policy["spec"],
        json!({
            "podSelector": {"matchLabels": {"intents.otterize.com/service": label_value("backend", TUTORIAL)}},
            "policyTypes": ["Egress"],
            "egress": [dns_rule()],
        }),
        "fail closed: the backend is egress-isolated, DNS allowed"
    );
    assert_eq!(
        rendered.notices.iter().map(|n| n.reason).collect::<Vec<_>>(),
        vec![Reason::InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS]
    );
    assert!(rendered.notices[0].message.contains("api.adviceslip.com"));

    let resolved = tutorial_index(
        egress_config(),
        vec![intents_resolved(
            TUTORIAL,
            "backend",
            vec![internet(&["api.adviceslip.com"], &[], &[])],
            &[("api.adviceslip.com", &["185.53.57.80"])],
        )],
    );
    let (egress, reasons) = egress_of(&resolved, "backend", None);
    assert_eq!(
        egress,
        json!([{"to": [{"ipBlock": {"cidr": "185.53.57.80/32"}}]}, dns_rule()]),
        "the resolved address joins the DNS rule"
    );
    assert!(reasons.is_empty(), "{reasons:?}");
}

#[test]
fn the_tutorials_domain_intents_keep_the_in_cluster_rules_while_waiting() {
    let index = tutorial_index(
        egress_config(),
        vec![
            intents_v2(TUTORIAL, "frontend", vec![k8s("backend")]),
            intents_v2(
                TUTORIAL,
                "backend",
                vec![internet(&["api.adviceslip.com"], &[], &[]), k8s("frontend")],
            ),
        ],
    );
    let rendered = render_identity(&index, &id(TUTORIAL, "backend", None));
    let policy = json(&rendered.value[0]);
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        policy["spec"]["egress"],
        json!([{"to": [pods_of("frontend")]}, dns_rule()])
    );
}

#[test]
fn removing_the_external_api_leaves_what_the_reference_leaves() {
    // intents-no-external-api.yaml: each calls the other's Service; there is no Service `frontend`.
    let index = tutorial_index(
        egress_config(),
        vec![
            intents_kind(TUTORIAL, "frontend", "Deployment", vec![svc("backend")]),
            intents_kind(TUTORIAL, "backend", "Deployment", vec![svc("frontend")]),
        ],
    );
    let (egress, reasons) = egress_of(&index, "backend", Some("Deployment"));
    assert_eq!(
        egress,
        json!([dns_rule()]),
        "nothing to allow but DNS: the backend stays isolated"
    );
    assert_eq!(reasons, vec![Reason::KubernetesServiceNotFound]);

    let (egress, _) = egress_of(&index, "frontend", Some("Deployment"));
    assert_eq!(
        egress,
        json!([
            {
                "to": [{"podSelector": {"matchLabels": {"app": "backend"}}, "namespaceSelector": ns_selector(TUTORIAL)}],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            },
            dns_rule(),
        ])
    );
}

#[test]
fn a_client_that_declares_no_call_has_no_egress_policy() {
    let index = tutorial_index(egress_config(), vec![intents_v2(TUTORIAL, "backend", vec![])]);
    let rendered = render_identity(&index, &id(TUTORIAL, "backend", None));
    assert!(rendered.value.is_empty(), "{:?}", names(&rendered.value));
}

#[test]
fn targets_holt_does_not_enforce_still_isolate_the_client() {
    let index = tutorial_index(
        egress_config(),
        vec![intents_v2(TUTORIAL, "backend", vec![sql("postgres")])],
    );
    let (egress, reasons) = egress_of(&index, "backend", None);
    assert_eq!(egress, json!([dns_rule()]));
    assert_eq!(reasons, vec![Reason::TargetNotSupported]);
}

#[test]
fn without_dns_auto_allow_a_client_with_nothing_to_allow_gets_no_policy_as_in_the_reference() {
    let config = Config {
        enable_egress_autoallow_dns_traffic: false,
        ..egress_config()
    };
    let index = tutorial_index(
        config,
        vec![intents_v2(
            TUTORIAL,
            "backend",
            vec![internet(&["api.adviceslip.com"], &[], &[])],
        )],
    );
    let rendered = render_identity(&index, &id(TUTORIAL, "backend", None));
    assert!(rendered.value.is_empty(), "{:?}", names(&rendered.value));
    assert_eq!(
        rendered.notices[0].reason,
        Reason::InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS
    );
}
