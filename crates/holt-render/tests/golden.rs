//! Golden files: the complete rendered state of representative scenarios, compared exactly with
//! `tests/golden/*.yaml`. Run with `HOLT_UPDATE_GOLDEN=1` to rewrite them, then review the diff.

mod common;

use std::path::PathBuf;

use common::*;
use holt_api::v2beta1::{HttpMethod, KafkaOperation, KafkaTopicConfig, TopicPattern};
use holt_model::facts::ServiceType;
use holt_model::{Config, Index};
use holt_render::{DesiredState, KafkaOptions, RenderOptions, render_all};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

/// Multi-document YAML: each object, then the pod labels, Kafka ACL sets and notices (when any).
fn to_yaml(state: &DesiredState) -> String {
    let mut docs: Vec<String> = state
        .objects
        .iter()
        .map(|o| serde_yaml::to_string(o).expect("yaml"))
        .collect();
    let sections = [
        ("podLabels", json(&state.pod_labels)),
        ("kafkaAcls", json(&state.kafka_acls)),
        ("notices", json(&state.notices)),
    ];
    for (name, value) in sections {
        if value.as_array().is_some_and(|a| !a.is_empty()) {
            docs.push(serde_yaml::to_string(&json!({ name: value })).expect("yaml"));
        }
    }
    docs.join("---\n")
}

fn check(name: &str, index: &Index, options: &RenderOptions) {
    let actual = to_yaml(&render_all(index, options));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.yaml"));
    if std::env::var_os("HOLT_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with HOLT_UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    pretty_assertions::assert_eq!(
        expected,
        actual,
        "{} differs from the rendered state (HOLT_UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

/// The reference's network-policy tutorial in `defaultActive` mode.
#[test]
fn tutorial() {
    let ns = "otterize-tutorial-npol";
    let index = index(
        Config::default(),
        vec![
            deployment_pod(ns, "client"),
            deployment_pod(ns, "client-other"),
            deployment_pod(ns, "server"),
            http_service(ns, "server"),
            intents_v2(ns, "client", vec![k8s("server")]),
        ],
    );
    check("tutorial", &index, &RenderOptions::default());
}

/// `defaultShadow` with one ProtectedService: the protected checkout (reached through its Service) gets a
/// default-deny and an access policy, and its Ingress an external-traffic policy; everything else is shadow.
#[test]
fn shop_shadow_with_protected_service() {
    let ns = "shop";
    let mut frontend = typed_service(ns, "frontend", ServiceType::LoadBalancer);
    if let holt_model::Object::Service(facts) = &mut frontend {
        facts.ports = vec![port(80, IntOrString::Int(8080), "TCP")];
    }
    let index = index(
        shadow(),
        vec![
            deployment_pod(ns, "frontend"),
            deployment_pod(ns, "checkout"),
            deployment_pod(ns, "payment"),
            deployment_pod(ns, "cart"),
            frontend,
            http_service(ns, "checkout"),
            ingress(ns, "shop", &["checkout"]),
            intents_v2(ns, "frontend", vec![svc("checkout"), k8s("cart")]),
            intents_v2(ns, "checkout", vec![k8s("payment"), sql("orders-db")]),
            protected(ns, "checkout", None),
        ],
    );
    check("shop-shadow", &index, &RenderOptions::default());
}

/// `defaultActive` with egress policies, split ingress/egress policies and /24 grouping: workload, Service,
/// API-server and internet targets.
#[test]
fn egress() {
    let config = Config {
        enable_egress_network_policy_creation: true,
        separate_netpols_for_ingress_and_egress: true,
        enable_group_internet_ips_by_cidr: true,
        enable_group_internet_ips_by_cidr_peers_limit: 2,
        ..Config::default()
    };
    let index = index(
        config,
        vec![
            api_server_service(),
            deployment_pod("web", "client"),
            deployment_pod("data", "db"),
            database_service("data", "db"),
            http_service("web", "api"),
            intents_resolved(
                "web",
                "client",
                vec![
                    k8s("db.data"),
                    svc("api"),
                    k8s("kubernetes.default"),
                    internet(&["payments.example.com"], &["203.0.113.7", "2001:db8::7"], &[443]),
                    internet(&["unresolved.example.com"], &[], &[]),
                ],
                &[("payments.example.com", &["198.51.100.10", "198.51.100.11"])],
            ),
        ],
    );
    check("egress", &index, &RenderOptions::default());
}

/// Istio (a meshed pair with HTTP resources) and Kafka (a configured broker with topic defaults).
#[test]
fn mesh_and_kafka() {
    let index = index(
        Config::default(),
        vec![
            mesh_pod("shop", "checkout", "checkout", true),
            mesh_pod("shop", "payment", "payment", true),
            deployment_pod("kafka", "kafka"),
            intents_v2(
                "shop",
                "checkout",
                vec![
                    http(
                        "payment",
                        &[
                            ("/charge", &[HttpMethod::Post]),
                            ("/refunds", &[HttpMethod::Post, HttpMethod::Get]),
                        ],
                    ),
                    kafka(
                        "kafka.kafka",
                        &[("orders", &[KafkaOperation::Produce, KafkaOperation::Describe])],
                    ),
                ],
            ),
            intents_kind(
                "shop",
                "payment",
                "Deployment",
                vec![kafka("kafka.kafka", &[("orders", &[KafkaOperation::Consume])])],
            ),
            kafka_config(
                "kafka",
                "kafka",
                vec![
                    KafkaTopicConfig {
                        topic: "*".into(),
                        pattern: TopicPattern::Literal,
                        client_identity_required: true,
                        intents_required: true,
                    },
                    KafkaTopicConfig {
                        topic: "public.".into(),
                        pattern: TopicPattern::Prefix,
                        client_identity_required: false,
                        intents_required: false,
                    },
                ],
            ),
        ],
    );
    let options = RenderOptions {
        kafka: KafkaOptions {
            principal_rdn_suffix: ",O=SPIRE,C=US".into(),
            operator: None,
        },
    };
    check("mesh-and-kafka", &index, &options);
}
