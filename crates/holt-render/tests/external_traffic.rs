//! External-traffic policies (docs/reference-behaviour.md#third-party-traffic) for LoadBalancer, NodePort and
//! Ingress-backed Services.

mod common;

use common::*;
use holt_model::facts::ServiceType;
use holt_model::{Config, Index, Object, ObjectKey, ThirdPartyPolicies};
use holt_render::{Owner, render_service};
use pretty_assertions::assert_eq;
use serde_json::json;

fn frontend(config: Config, service_type: ServiceType, extra: Vec<Object>) -> Index {
    let mut objects = vec![
        deployment_pod("shop", "frontend"),
        typed_service("shop", "frontend", service_type),
    ];
    objects.extend(extra);
    index(config, objects)
}

fn key() -> ObjectKey {
    ObjectKey::new("shop", "frontend")
}

fn with_clients() -> Vec<Object> {
    vec![intents_v2("shop", "admin", vec![k8s("frontend")])]
}

#[test]
fn a_load_balancer_whose_pods_holt_isolates_is_opened_on_its_target_ports() {
    let index = frontend(Config::default(), ServiceType::LoadBalancer, with_clients());
    let policy = render_service(&index, &key())
        .value
        .expect("isolated and exposed");
    assert_eq!(policy.owner, Some(Owner::service("frontend")));
    assert_eq!(
        json(&policy),
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "external-access-to-frontend",
                "namespace": "shop",
                "labels": {
                    "intents.otterize.com/network-policy-external-traffic": label_value("frontend", "shop"),
                    "app.kubernetes.io/managed-by": "holt",
                },
                "annotations": {"intents.otterize.com/created-for-service": "frontend"},
            },
            "spec": {
                "podSelector": {"matchLabels": {"app": "frontend"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": 8443, "protocol": "TCP"}]}],
            },
        })
    );
}

#[test]
fn node_ports_and_ingress_backed_services_are_exposed_cluster_ips_are_not() {
    let node_port = frontend(Config::default(), ServiceType::NodePort, with_clients());
    assert!(render_service(&node_port, &key()).value.is_some());

    let cluster_ip = frontend(Config::default(), ServiceType::ClusterIp, with_clients());
    assert!(
        render_service(&cluster_ip, &key()).value.is_none(),
        "not reachable from outside"
    );

    let mut extra = with_clients();
    extra.push(ingress("shop", "web", &["frontend"]));
    extra.push(ingress("shop", "api", &["frontend", "other"]));
    let behind_ingress = frontend(Config::default(), ServiceType::ClusterIp, extra);
    let policy = json(
        &render_service(&behind_ingress, &key())
            .value
            .expect("routed to by Ingresses"),
    );
    assert_eq!(
        policy["metadata"]["annotations"],
        json!({
            "intents.otterize.com/created-for-service": "frontend",
            "intents.otterize.com/created-for-ingress": "api,web",
        })
    );
}

#[test]
fn only_isolated_pods_need_opening_unless_mode_is_always() {
    let not_isolated = frontend(Config::default(), ServiceType::LoadBalancer, vec![]);
    assert!(
        render_service(&not_isolated, &key()).value.is_none(),
        "no Holt policy selects its pods"
    );

    let always = Config {
        automate_third_party_network_policies: ThirdPartyPolicies::Always,
        ..Config::default()
    };
    let index = frontend(always, ServiceType::LoadBalancer, vec![]);
    assert!(render_service(&index, &key()).value.is_some());

    let off = Config {
        automate_third_party_network_policies: ThirdPartyPolicies::Off,
        ..Config::default()
    };
    let index = frontend(off, ServiceType::LoadBalancer, with_clients());
    assert!(render_service(&index, &key()).value.is_none());

    let disabled = Config {
        enable_network_policy_creation: false,
        ..Config::default()
    };
    let index = frontend(disabled, ServiceType::LoadBalancer, with_clients());
    assert!(render_service(&index, &key()).value.is_none());
}

#[test]
fn in_shadow_mode_always_degrades_and_default_denies_isolate() {
    let always_shadow = Config {
        automate_third_party_network_policies: ThirdPartyPolicies::Always,
        ..shadow()
    };
    let unprotected = frontend(always_shadow.clone(), ServiceType::LoadBalancer, with_clients());
    assert!(
        render_service(&unprotected, &key()).value.is_none(),
        "shadow: clients are not enforced, and always degrades to if-blocked"
    );
    let protected_without_clients = frontend(
        always_shadow,
        ServiceType::LoadBalancer,
        vec![protected("shop", "frontend", None)],
    );
    assert!(
        render_service(&protected_without_clients, &key()).value.is_some(),
        "the default-deny isolates the pods"
    );
}

#[test]
fn kinded_and_service_identity_policies_isolate_the_pods_they_select() {
    for target in [svc("frontend"), k8s_kind("frontend", "Deployment")] {
        let index = frontend(
            Config::default(),
            ServiceType::LoadBalancer,
            vec![intents_v2("shop", "admin", vec![target])],
        );
        assert!(render_service(&index, &key()).value.is_some());
    }
    let other_kind = frontend(
        Config::default(),
        ServiceType::LoadBalancer,
        vec![intents_v2(
            "shop",
            "admin",
            vec![k8s_kind("frontend", "StatefulSet")],
        )],
    );
    assert!(
        render_service(&other_kind, &key()).value.is_none(),
        "a StatefulSet policy does not select Deployment pods"
    );
}

#[test]
fn a_service_without_pods_needs_no_policy() {
    let index = index(
        Config {
            automate_third_party_network_policies: ThirdPartyPolicies::Always,
            ..Config::default()
        },
        vec![typed_service("shop", "frontend", ServiceType::LoadBalancer)],
    );
    assert!(render_service(&index, &key()).value.is_none());
}
