//! Access NetworkPolicies (docs/reference-behaviour.md#network-policy) and how enforcement gates them
//! (docs/reference-behaviour.md#enforcement).

mod common;

use std::collections::BTreeSet;

use common::*;
use holt_model::Unit;
use holt_model::labels::{ACCESS_PREFIX, SVC_ACCESS_PREFIX};
use holt_model::{Config, Mode};
use holt_render::{Owner, Reason, RenderOptions, render_all, render_identity, render_pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pretty_assertions::assert_eq;
use serde_json::json;

const NS: &str = "otterize-tutorial-npol";

/// The reference's network-policy tutorial: client, client-other and server, with one intent client → server.
fn tutorial(config: Config) -> holt_model::Index {
    index(
        config,
        vec![
            deployment_pod(NS, "client"),
            deployment_pod(NS, "client-other"),
            deployment_pod(NS, "server"),
            http_service(NS, "server"),
            intents_v2(NS, "client", vec![k8s("server")]),
        ],
    )
}

#[test]
fn tutorial_renders_one_policy_admitting_the_clients_access_label() {
    let index = tutorial(Config::default());
    let state = render_all(&index, &RenderOptions::default());
    let server = label_value("server", NS);
    let expected = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "server-access",
            "namespace": NS,
            "labels": {
                "intents.otterize.com/network-policy": server,
                "app.kubernetes.io/managed-by": "holt",
            },
        },
        "spec": {
            "podSelector": {"matchLabels": {"intents.otterize.com/service": server}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{
                    "podSelector": {"matchLabels": {format!("intents.otterize.com/access-{server}"): "true"}},
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NS}},
                }],
            }],
        },
    });
    assert_eq!(state.objects.len(), 1, "{:?}", names(&state.objects));
    assert_eq!(json(&state.objects[0]), expected);
    assert_eq!(state.objects[0].owner, None);

    let access = format!("{ACCESS_PREFIX}{server}");
    let client = render_pod(&index, &holt_model::ObjectKey::new(NS, "client-0"))
        .value
        .expect("labelled");
    assert_eq!(client.labels.get(&access).map(String::as_str), Some("true"));
    let other = render_pod(&index, &holt_model::ObjectKey::new(NS, "client-other-0"))
        .value
        .expect("labelled");
    assert!(!other.labels.contains_key(&access), "{:?}", other.labels);
}

#[test]
fn one_rule_per_client_namespace_sorted() {
    let index = index(
        Config::default(),
        vec![
            intents_v2("shop", "a", vec![k8s("server")]),
            intents_v2("web", "b", vec![k8s("server.shop")]),
            intents_v2("web", "c", vec![k8s("server.shop")]),
            intents_v2("batch", "d", vec![k8s("server.shop")]),
        ],
    );
    let rendered = render_identity(&index, &id("shop", "server", None));
    let policies = network_policies(&rendered.value);
    assert_eq!(policies.len(), 1);
    assert_eq!(
        policies[0].metadata.namespace.as_deref(),
        Some("shop"),
        "policies live in the server namespace"
    );
    let namespaces: Vec<String> = json(&policies[0].spec)["ingress"]
        .as_array()
        .expect("ingress rules")
        .iter()
        .map(|rule| {
            rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].to_string()
        })
        .collect();
    assert_eq!(namespaces, vec!["\"batch\"", "\"shop\"", "\"web\""]);
}

#[test]
fn service_targets_admit_the_svc_access_label_on_target_ports_named_or_numeric() {
    let index = index(
        Config::default(),
        vec![
            service(
                "shop",
                "server",
                &[("app", "server")],
                vec![
                    port(80, IntOrString::String("http".into()), "TCP"),
                    port(8443, IntOrString::Int(8443), "TCP"),
                    port(9000, IntOrString::Int(9001), "UDP"),
                    port(81, IntOrString::String("http".into()), "TCP"),
                ],
            ),
            intents_v2("web", "client", vec![svc("server.shop")]),
        ],
    );
    let server = id("shop", "server", Some("Service"));
    let rendered = render_identity(&index, &server);
    assert_eq!(rendered.value.len(), 1);
    let policy = &rendered.value[0];
    assert_eq!(
        policy.owner,
        Some(Owner::service("server")),
        "owned by the Service"
    );
    let value = server.label_value_with_kind();
    assert_eq!(json(policy)["metadata"]["name"], json!("server-service-access"),);
    assert_eq!(
        json(policy)["metadata"]["labels"]["intents.otterize.com/network-policy"],
        json!(value)
    );
    assert_eq!(
        json(policy)["spec"],
        json!({
            "podSelector": {"matchLabels": {"app": "server"}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{
                    "podSelector": {"matchLabels": {format!("{SVC_ACCESS_PREFIX}{value}"): "true"}},
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}},
                }],
                "ports": [
                    {"port": "http", "protocol": "TCP"},
                    {"port": 8443, "protocol": "TCP"},
                    {"port": 9001, "protocol": "UDP"},
                ],
            }],
        })
    );
}

#[test]
fn a_service_target_without_its_service_renders_nothing_and_says_so() {
    let index = index(
        Config::default(),
        vec![intents_v2("shop", "client", vec![svc("server")])],
    );
    let rendered = render_identity(&index, &id("shop", "server", Some("Service")));
    assert!(rendered.value.is_empty());
    let reasons: Vec<Reason> = rendered.notices.iter().map(|n| n.reason).collect();
    assert_eq!(reasons, vec![Reason::KubernetesServiceNotFound]);

    let no_selector = index_with_selectorless_service();
    let rendered = render_identity(&no_selector, &id("shop", "server", Some("Service")));
    assert!(rendered.value.is_empty());
    assert_eq!(rendered.notices[0].reason, Reason::ServiceWithoutSelector);
}

fn index_with_selectorless_service() -> holt_model::Index {
    index(
        Config::default(),
        vec![
            service("shop", "server", &[], vec![port(80, IntOrString::Int(80), "TCP")]),
            intents_v2("shop", "client", vec![svc("server")]),
        ],
    )
}

#[test]
fn kinded_targets_select_by_owner_kind_and_service_label() {
    let index = index(
        Config::default(),
        vec![intents_v2(
            "shop",
            "client",
            vec![k8s_kind("server", "StatefulSet")],
        )],
    );
    let server = id("shop", "server", Some("StatefulSet"));
    let rendered = render_identity(&index, &server);
    let policy = json(&rendered.value[0]);
    assert_eq!(policy["metadata"]["name"], json!("server-statefulset-access"));
    assert_eq!(
        policy["spec"]["podSelector"],
        json!({"matchLabels": {
            "intents.otterize.com/owner-kind": "StatefulSet",
            "intents.otterize.com/service": label_value("server", "shop"),
        }})
    );
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"],
        json!({format!("{ACCESS_PREFIX}{}", server.label_value_with_kind()): "true"})
    );
    // Underscores (from dots in owner names) become dots in object names.
    let index = index_of_client_to("app_v2");
    let rendered = render_identity(&index, &id("shop", "app_v2", None));
    assert_eq!(
        json(&rendered.value[0])["metadata"]["name"],
        json!("app.v2-access")
    );
}

fn index_of_client_to(server: &str) -> holt_model::Index {
    index(
        Config::default(),
        vec![intents_v2("shop", "client", vec![k8s(server)])],
    )
}

#[test]
fn dns_servers_in_kube_system_also_admit_dns_from_anywhere() {
    let index = index(
        Config::default(),
        vec![
            intents_v2("shop", "client", vec![k8s("coredns.kube-system")]),
            intents_v2("shop", "client2", vec![k8s("mydns")]),
        ],
    );
    let rendered = render_identity(&index, &id("kube-system", "coredns", None));
    let ingress = json(&rendered.value[0])["spec"]["ingress"].clone();
    assert_eq!(ingress.as_array().map(Vec::len), Some(2));
    assert_eq!(
        ingress[1],
        json!({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]})
    );
    let elsewhere = render_identity(&index, &id("shop", "mydns", None));
    assert_eq!(
        json(&elsewhere.value[0])["spec"]["ingress"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

fn shop(config: Config) -> holt_model::Index {
    index(
        config,
        vec![
            intents_v2(
                "shop",
                "frontend",
                vec![k8s("cart"), k8s("checkout"), k8s("catalog")],
            ),
            intents_v2("shop", "checkout", vec![k8s("payment")]),
            protected("shop", "checkout", None),
            deployment_pod("shop", "frontend"),
            deployment_pod("shop", "checkout"),
            deployment_pod("shop", "inventory"),
        ],
    )
}

#[test]
fn shadow_mode_with_a_protected_service_renders_default_deny_and_access_for_that_server_only() {
    let state = render_all(&shop(shadow()), &RenderOptions::default());
    assert_eq!(
        names(&state.objects),
        vec!["shop/checkout-access", "shop/default-deny-checkout"]
    );
}

#[test]
fn default_active_renders_an_access_policy_for_every_server_with_clients() {
    let state = render_all(&shop(Config::default()), &RenderOptions::default());
    assert_eq!(
        names(&state.objects),
        vec![
            "shop/cart-access",
            "shop/catalog-access",
            "shop/checkout-access",
            "shop/default-deny-checkout",
            "shop/payment-access",
        ],
        "frontend and inventory have no clients"
    );
}

#[test]
fn enforced_namespaces_are_enforced_in_shadow_mode() {
    let config = Config {
        enforced_namespaces: BTreeSet::from(["data".to_owned()]),
        ..shadow()
    };
    let index = index(
        config,
        vec![intents_v2("shop", "client", vec![k8s("db.data"), k8s("cache")])],
    );
    let state = render_all(&index, &RenderOptions::default());
    assert_eq!(names(&state.objects), vec!["data/db-access"]);
}

#[test]
fn a_protected_service_with_a_kind_protects_only_that_kind() {
    let index = index(
        shadow(),
        vec![
            intents_v2(
                "shop",
                "client",
                vec![
                    k8s_kind("server", "Deployment"),
                    k8s_kind("server", "StatefulSet"),
                ],
            ),
            protected("shop", "server", Some("StatefulSet")),
        ],
    );
    let state = render_all(&index, &RenderOptions::default());
    assert_eq!(
        names(&state.objects),
        vec![
            "shop/default-deny-server-statefulset",
            "shop/server-statefulset-access"
        ]
    );
}

#[test]
fn disabled_network_policy_creation_renders_no_network_policy_and_says_so() {
    let config = Config {
        enable_network_policy_creation: false,
        ..Config::default()
    };
    let state = render_all(&shop(config), &RenderOptions::default());
    assert!(
        network_policies(&state.objects).is_empty(),
        "{:?}",
        names(&state.objects)
    );
    let disabled: BTreeSet<String> = state
        .notices
        .iter()
        .filter(|n| n.reason == Reason::NetworkPolicyCreationDisabled)
        .map(|n| n.subject.to_string())
        .collect();
    assert_eq!(
        disabled,
        BTreeSet::from([
            "cart.shop".to_owned(),
            "catalog.shop".to_owned(),
            "checkout.shop".to_owned(),
            "payment.shop".to_owned(),
            "ProtectedService shop/protect-checkout".to_owned(),
        ])
    );
}

#[test]
fn servers_outside_watched_namespaces_get_no_policy_and_a_notice() {
    let config = Config {
        watched_namespaces: BTreeSet::from(["shop".to_owned()]),
        ..Config::default()
    };
    let index = index(
        config,
        vec![intents_v2("shop", "client", vec![k8s("server"), k8s("db.data")])],
    );
    let state = render_all(&index, &RenderOptions::default());
    assert_eq!(names(&state.objects), vec!["shop/server-access"]);
    let notice = state
        .notices
        .iter()
        .find(|n| n.reason == Reason::NamespaceNotAllowed)
        .expect("notice");
    assert_eq!(notice.subject.to_string(), "db.data");
}

#[test]
fn separate_policies_split_ingress_and_egress() {
    let config = Config {
        separate_netpols_for_ingress_and_egress: true,
        enable_egress_network_policy_creation: true,
        ..Config::default()
    };
    let index = index(
        config,
        vec![
            intents_v2("shop", "frontend", vec![k8s("checkout")]),
            intents_v2("shop", "checkout", vec![k8s("payment")]),
        ],
    );
    let rendered = render_identity(&index, &id("shop", "checkout", None));
    assert_eq!(
        names(&rendered.value),
        vec!["shop/checkout-ingress", "shop/checkout-egress"]
    );
    let policies = network_policies(&rendered.value);
    let spec = |i: usize| json(&policies[i].spec);
    assert_eq!(spec(0)["policyTypes"], json!(["Ingress"]));
    assert!(spec(0).get("egress").is_none());
    assert_eq!(spec(1)["policyTypes"], json!(["Egress"]));
    assert!(spec(1).get("ingress").is_none());
}

#[test]
fn kafka_clients_are_admitted_to_the_broker() {
    let index = index(
        Config::default(),
        vec![intents_v2(
            "shop",
            "orders",
            vec![kafka("kafka.kafka", &[("orders", &[])])],
        )],
    );
    let broker = id("kafka", "kafka", None);
    let rendered = render_identity(&index, &broker);
    assert_eq!(names(&rendered.value), vec!["kafka/kafka-access"]);
    assert_eq!(
        json(&rendered.value[0])["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        json!("shop")
    );
    // A Kafka client's change touches the broker's access policy.
    let mut fresh = common::index(Config::default(), vec![]);
    let changes = fresh.apply(intents_v2(
        "shop",
        "orders",
        vec![kafka("kafka.kafka", &[("orders", &[])])],
    ));
    assert!(changes.contains(&Unit::Identity(broker.clone())));
}

#[test]
fn clients_declared_by_a_called_by_annotation_are_admitted() {
    let index = index(
        Config::default(),
        vec![annotated_pod(
            "shop",
            "server",
            &[(
                "intents.otterize.com/called-by",
                r#"[{"name":"client.web","kind":"Deployment"}]"#,
            )],
        )],
    );
    let rendered = render_identity(&index, &id("shop", "server", Some("Deployment")));
    let policy = json(&rendered.value[0]);
    assert_eq!(policy["metadata"]["name"], json!("server-deployment-access"));
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        json!("web")
    );
}

#[test]
fn mode_is_the_only_difference_between_active_and_shadow_for_unprotected_servers() {
    let active = render_all(
        &tutorial(Config {
            mode: Mode::DefaultActive,
            ..Config::default()
        }),
        &RenderOptions::default(),
    );
    let shadow = render_all(&tutorial(shadow()), &RenderOptions::default());
    assert_eq!(active.objects.len(), 1);
    assert!(shadow.objects.is_empty());
    assert_eq!(
        active.pod_labels, shadow.pod_labels,
        "pods are labelled in both modes"
    );
}
