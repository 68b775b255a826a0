//! Istio AuthorizationPolicies (docs/reference-behaviour.md#istio).

mod common;

use common::*;
use holt_api::v2beta1::HttpMethod;
use holt_model::{Config, Index, Object};
use holt_render::{Reason, render_identity};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

/// The AuthorizationPolicies rendered for `server` (legacy identity in `shop`), as JSON.
fn authorization_policies(index: &Index, server: &holt_model::Identity) -> Vec<Value> {
    render_identity(index, server)
        .value
        .iter()
        .filter(|d| d.manifest.kind() == holt_render::ObjectKind::IstioAuthorizationPolicy)
        .map(json)
        .collect()
}

fn meshed(extra: Vec<Object>) -> Vec<Object> {
    let mut objects = vec![
        mesh_pod("shop", "client", "client-sa", true),
        mesh_pod("shop", "server", "server-sa", true),
    ];
    objects.extend(extra);
    objects
}

#[test]
fn a_meshed_pair_gets_an_allow_policy_for_the_clients_service_account_paths_and_methods() {
    let index = index(
        Config::default(),
        meshed(vec![intents_v2(
            "shop",
            "client",
            vec![http(
                "server",
                &[
                    ("/orders", &[HttpMethod::Get, HttpMethod::Post]),
                    ("/health", &[]),
                ],
            )],
        )]),
    );
    let server = id("shop", "server", None);
    let policies = authorization_policies(&index, &server);
    assert_eq!(
        policies,
        vec![json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {
                "name": "authorization-policy-to-server-from-client.shop",
                "namespace": "shop",
                "labels": {
                    "intents.otterize.com/service": server.label_value_with_kind(),
                    "intents.otterize.com/istio-client-with-kind": label_value("client", "shop"),
                    "app.kubernetes.io/managed-by": "holt",
                },
            },
            "spec": {
                "selector": {"matchLabels": {"intents.otterize.com/service": label_value("server", "shop")}},
                "action": "ALLOW",
                "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/shop/sa/client-sa"]}}],
                    "to": [
                        {"operation": {"paths": ["/health"]}},
                        {"operation": {"paths": ["/orders"], "methods": ["GET", "POST"]}},
                    ],
                }],
            },
        })]
    );
}

#[test]
fn a_plain_call_allows_any_request_and_the_trust_domain_is_configurable() {
    let config = Config {
        istio_trust_domain: "prod.example".into(),
        ..Config::default()
    };
    let index = index(
        config,
        meshed(vec![intents_v2(
            "shop",
            "client",
            vec![http("server", &[("/orders", &[HttpMethod::Get])]), k8s("server")],
        )]),
    );
    let policies = authorization_policies(&index, &id("shop", "server", None));
    assert_eq!(
        policies[0]["spec"]["rules"],
        json!([{"from": [{"source": {"principals": ["prod.example/ns/shop/sa/client-sa"]}}]}])
    );
}

#[test]
fn a_client_without_sidecar_gets_no_policy_to_a_meshed_server() {
    let index = index(
        Config::default(),
        vec![
            mesh_pod("shop", "client", "client-sa", false),
            mesh_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &id("shop", "server", None));
    assert!(
        rendered
            .value
            .iter()
            .all(|d| d.manifest.kind() != holt_render::ObjectKind::IstioAuthorizationPolicy)
    );
    let notice = rendered
        .notices
        .iter()
        .find(|n| n.reason == Reason::MissingSidecar)
        .expect("notice");
    assert_eq!(notice.subject.to_string(), "client.shop");
}

#[test]
fn pairs_outside_the_mesh_are_skipped_silently() {
    let index = index(
        Config::default(),
        vec![
            mesh_pod("shop", "client", "client-sa", false),
            mesh_pod("shop", "server", "server-sa", false),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &id("shop", "server", None));
    assert_eq!(names(&rendered.value), vec!["shop/server-access"]);
    assert!(rendered.notices.is_empty(), "{:?}", rendered.notices);
}

#[test]
fn server_pods_without_sidecar_are_reported() {
    let index = index(
        Config::default(),
        vec![
            mesh_pod("shop", "client", "client-sa", true),
            mesh_pod("shop", "server", "server-sa", false),
            intents_v2("shop", "client", vec![k8s("server")]),
        ],
    );
    let rendered = render_identity(&index, &id("shop", "server", None));
    assert!(
        rendered
            .value
            .iter()
            .any(|d| d.manifest.kind() == holt_render::ObjectKind::IstioAuthorizationPolicy)
    );
    let notice = rendered
        .notices
        .iter()
        .find(|n| n.reason == Reason::ServerMissingSidecar)
        .expect("notice");
    assert!(notice.message.contains("server-0"), "{}", notice.message);
}

#[test]
fn clients_sharing_a_service_account_are_reported() {
    let index = index(
        Config::default(),
        vec![
            mesh_pod("shop", "client", "shared", true),
            mesh_pod("shop", "other-client", "shared", true),
            mesh_pod("shop", "not-a-client", "shared", true),
            mesh_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "client", vec![k8s("server")]),
            intents_v2("shop", "other-client", vec![k8s("elsewhere")]),
        ],
    );
    let rendered = render_identity(&index, &id("shop", "server", None));
    let shared: Vec<_> = rendered
        .notices
        .iter()
        .filter(|n| n.reason == Reason::SharedServiceAccountFound)
        .collect();
    assert_eq!(shared.len(), 1);
    assert!(
        shared[0].message.contains("other-client"),
        "{}",
        shared[0].message
    );
    assert!(
        !shared[0].message.contains("not-a-client"),
        "{}",
        shared[0].message
    );
}

#[test]
fn unenforced_servers_and_disabled_istio_get_no_policy() {
    let intents = || vec![intents_v2("shop", "client", vec![k8s("server")])];
    let shadowed = index(shadow(), meshed(intents()));
    assert!(authorization_policies(&shadowed, &id("shop", "server", None)).is_empty());

    let protected_in_shadow = index(
        shadow(),
        meshed([intents(), vec![protected("shop", "server", None)]].concat()),
    );
    assert_eq!(
        authorization_policies(&protected_in_shadow, &id("shop", "server", None)).len(),
        1
    );

    let disabled = Config {
        enable_istio_policy_creation: false,
        ..Config::default()
    };
    let index = index(disabled, meshed(intents()));
    assert!(authorization_policies(&index, &id("shop", "server", None)).is_empty());
}

#[test]
fn service_targets_select_the_services_pods() {
    let index = index(
        Config::default(),
        meshed(vec![
            http_service("shop", "server"),
            intents_v2("shop", "client", vec![svc("server")]),
        ]),
    );
    let policies = authorization_policies(&index, &id("shop", "server", Some("Service")));
    assert_eq!(
        policies[0]["metadata"]["name"],
        json!("authorization-policy-to-server-service-from-client.shop")
    );
    assert_eq!(
        policies[0]["spec"]["selector"],
        json!({"matchLabels": {"app": "server"}})
    );
}

#[test]
fn cross_namespace_clients_use_their_own_namespace_in_name_and_principal() {
    let index = index(
        Config::default(),
        vec![
            mesh_pod("web", "client", "web-sa", true),
            mesh_pod("shop", "server", "server-sa", true),
            intents_kind("web", "client", "Deployment", vec![k8s("server.shop")]),
        ],
    );
    let policies = authorization_policies(&index, &id("shop", "server", None));
    assert_eq!(
        policies[0]["metadata"]["name"],
        json!("authorization-policy-to-server-from-client-deployment.web")
    );
    assert_eq!(policies[0]["metadata"]["namespace"], json!("shop"));
    assert_eq!(
        policies[0]["spec"]["rules"][0]["from"][0]["source"]["principals"],
        json!(["cluster.local/ns/web/sa/web-sa"])
    );
}
