//! ProtectedService default-deny policies (docs/reference-behaviour.md#default-deny).

mod common;

use common::*;
use holt_model::{Config, ObjectKey};
use holt_render::{Reason, RenderOptions, render_all, render_protected_service};
use pretty_assertions::assert_eq;
use serde_json::json;

fn key(server: &str) -> ObjectKey {
    ObjectKey::new("shop", format!("protect-{server}"))
}

#[test]
fn a_protected_service_gets_a_default_deny_with_no_ingress_rule() {
    for config in [Config::default(), shadow()] {
        let index = index(config, vec![protected("shop", "checkout", None)]);
        let rendered = render_protected_service(&index, &key("checkout"));
        let policy = rendered.value.expect("rendered in both modes");
        assert_eq!(policy.owner, None);
        assert_eq!(
            json(&policy),
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {
                    "name": "default-deny-checkout",
                    "namespace": "shop",
                    "labels": {
                        "intents.otterize.com/network-policy-service-default-deny": "true",
                        "intents.otterize.com/network-policy": label_value("checkout", "shop"),
                        "app.kubernetes.io/managed-by": "holt",
                    },
                },
                "spec": {
                    "podSelector": {"matchLabels": {"intents.otterize.com/service": label_value("checkout", "shop")}},
                    "policyTypes": ["Ingress"],
                    "ingress": [],
                },
            })
        );
    }
}

#[test]
fn a_kinded_protected_service_selects_by_owner_kind_but_is_labelled_without_kind() {
    let index = index(
        Config::default(),
        vec![protected("shop", "checkout", Some("Deployment"))],
    );
    let policy = json(
        &render_protected_service(&index, &key("checkout"))
            .value
            .expect("rendered"),
    );
    assert_eq!(
        policy["metadata"]["name"],
        json!("default-deny-checkout-deployment")
    );
    assert_eq!(
        policy["metadata"]["labels"]["intents.otterize.com/network-policy"],
        json!(label_value("checkout", "shop"))
    );
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        json!({
            "intents.otterize.com/owner-kind": "Deployment",
            "intents.otterize.com/service": label_value("checkout", "shop"),
        })
    );
}

#[test]
fn a_service_protected_service_selects_the_services_pods() {
    let index = index(
        Config::default(),
        vec![
            http_service("shop", "checkout"),
            protected("shop", "checkout", Some("Service")),
        ],
    );
    let policy = json(
        &render_protected_service(&index, &key("checkout"))
            .value
            .expect("rendered"),
    );
    assert_eq!(policy["metadata"]["name"], json!("default-deny-checkout-service"));
    assert_eq!(
        policy["spec"]["podSelector"],
        json!({"matchLabels": {"app": "checkout"}})
    );

    let missing = index_without_service();
    let rendered = render_protected_service(&missing, &key("checkout"));
    assert!(rendered.value.is_none());
    assert_eq!(rendered.notices[0].reason, Reason::KubernetesServiceNotFound);
    assert_eq!(
        rendered.notices[0].subject.to_string(),
        "ProtectedService shop/protect-checkout"
    );
}

fn index_without_service() -> holt_model::Index {
    index(
        Config::default(),
        vec![protected("shop", "checkout", Some("Service"))],
    )
}

#[test]
fn no_default_deny_without_network_policy_creation_or_outside_watched_namespaces() {
    let disabled = Config {
        enable_network_policy_creation: false,
        ..Config::default()
    };
    let index = index(disabled, vec![protected("shop", "checkout", None)]);
    let rendered = render_protected_service(&index, &key("checkout"));
    assert!(rendered.value.is_none());
    assert_eq!(rendered.notices[0].reason, Reason::NetworkPolicyCreationDisabled);

    let elsewhere = Config {
        watched_namespaces: ["web".to_owned()].into(),
        ..Config::default()
    };
    let index = common::index(elsewhere, vec![protected("shop", "checkout", None)]);
    let rendered = render_protected_service(&index, &key("checkout"));
    assert!(rendered.value.is_none());
    assert_eq!(rendered.notices[0].reason, Reason::NamespaceNotAllowed);
}

#[test]
fn two_protected_services_for_one_server_render_one_default_deny() {
    let mut second = protected("shop", "checkout", None);
    if let holt_model::Object::ProtectedService(ps) = &mut second {
        ps.metadata.name = Some("protect-checkout-again".into());
    }
    let index = index(
        Config::default(),
        vec![protected("shop", "checkout", None), second],
    );
    let state = render_all(&index, &RenderOptions::default());
    assert_eq!(names(&state.objects), vec!["shop/default-deny-checkout"]);
}
