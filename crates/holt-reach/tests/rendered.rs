//! Holt's own rendered Istio AuthorizationPolicies and Kafka ACLs, evaluated: the client a ClientIntents
//! declares is allowed what it declared, and another client (or another request) is denied. The model is
//! built with holt-render's test fixtures, and the server pod's labels are the ones Holt would put on it.

#[path = "../../holt-render/tests/common/mod.rs"]
mod common;

use common::*;
use holt_api::v2beta1::{HttpMethod, KafkaOperation};
use holt_model::{Config, Index, ObjectKey};
use holt_reach::istio::{
    AuthorizationPolicyManifest, DEFAULT_ROOT_NAMESPACE, HttpRequest, Mesh, MeshDecision, MeshRequest,
    MeshSource, MeshWorkload,
};
use holt_reach::kafka::{KafkaAuthorizer, KafkaDecision, KafkaRequest};
use holt_render::kafka::{AclOperation, KafkaOptions};
use holt_render::{ObjectKind, render_broker, render_identity, render_pod};

/// `client`, `intruder` and `server` in `shop`, all with sidecars; `client` may GET and POST `/orders` and
/// call `/health` with any method.
fn shop() -> Index {
    let orders = ("/orders", &[HttpMethod::Get, HttpMethod::Post][..]);
    let calls = http("server", &[orders, ("/health", &[])]);
    index(
        Config::default(),
        vec![
            mesh_pod("shop", "client", "client-sa", true),
            mesh_pod("shop", "intruder", "intruder-sa", true),
            mesh_pod("shop", "server", "server-sa", true),
            intents_v2("shop", "client", vec![calls]),
        ],
    )
}

fn rendered_mesh(index: &Index) -> Mesh {
    let manifests: Vec<AuthorizationPolicyManifest> = render_identity(index, &id("shop", "server", None))
        .value
        .iter()
        .filter(|d| d.manifest.kind() == ObjectKind::IstioAuthorizationPolicy)
        .map(|d| serde_json::from_value(json(d)).expect("an AuthorizationPolicy"))
        .collect();
    assert_eq!(manifests.len(), 1, "one policy for the one client");
    Mesh::new(&manifests, DEFAULT_ROOT_NAMESPACE).expect("Holt's policies are evaluable")
}

/// The server pod with its own labels and the ones Holt sets on it.
fn server_workload(index: &Index) -> MeshWorkload {
    let key = ObjectKey::new("shop", "server-0");
    let own = &index.pod(&key).expect("server pod").facts.labels;
    let mut labels: holt_reach::Labels = own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.extend(render_pod(index, &key).value.expect("server pod labels").labels);
    MeshWorkload {
        namespace: "shop".into(),
        labels,
        in_mesh: true,
    }
}

fn request(account: &str, destination: &MeshWorkload, method: &str, path: &str) -> MeshRequest {
    MeshRequest {
        source: MeshSource::service_account("cluster.local", "shop", account),
        destination: destination.clone(),
        port: 8080,
        http: Some(HttpRequest {
            method: method.into(),
            path: path.into(),
        }),
    }
}

#[test]
fn holts_istio_policy_admits_the_declared_client_and_denies_another() {
    let index = shop();
    let mesh = rendered_mesh(&index);
    let server = server_workload(&index);
    let declared = mesh.evaluate(&request("client-sa", &server, "GET", "/orders"));
    assert!(declared.allowed, "{declared}");
    assert!(
        matches!(declared.decision, MeshDecision::Allowed { .. }),
        "{declared}"
    );
    assert!(
        mesh.evaluate(&request("client-sa", &server, "POST", "/orders"))
            .allowed
    );
    assert!(
        mesh.evaluate(&request("client-sa", &server, "DELETE", "/health"))
            .allowed
    );
    let intruder = mesh.evaluate(&request("intruder-sa", &server, "GET", "/orders"));
    assert!(!intruder.allowed, "{intruder}");
    assert!(
        matches!(intruder.decision, MeshDecision::NoAllowRuleMatches { .. }),
        "{intruder}"
    );
    let undeclared = mesh.evaluate(&request("client-sa", &server, "DELETE", "/orders"));
    assert!(
        !undeclared.allowed,
        "a method the intents do not list: {undeclared}"
    );
    let other_path = mesh.evaluate(&request("client-sa", &server, "GET", "/admin"));
    assert!(
        !other_path.allowed,
        "a path the intents do not list: {other_path}"
    );
}

#[test]
fn holts_istio_policy_selects_the_server_by_holts_label_only() {
    let index = shop();
    let mesh = rendered_mesh(&index);
    let mut unlabelled = server_workload(&index);
    unlabelled.labels.retain(|key, _| key == "app");
    let verdict = mesh.evaluate(&request("intruder-sa", &unlabelled, "GET", "/orders"));
    assert_eq!(
        verdict.decision,
        MeshDecision::NoAllowPolicy,
        "without Holt's server label no policy selects the pod"
    );
}

#[test]
fn holts_kafka_acls_allow_the_declared_client_and_deny_another() {
    let index = index(
        Config::default(),
        vec![
            kafka_config("kafka", "kafka", vec![]),
            intents_v2(
                "shop",
                "producer",
                vec![kafka("kafka.kafka", &[("orders", &[KafkaOperation::Produce])])],
            ),
        ],
    );
    let options = KafkaOptions::default();
    let acls = render_broker(&index, &id("kafka", "kafka", None), &options)
        .value
        .expect("broker known")
        .acls;
    let authorizer = KafkaAuthorizer::new(acls);
    let producer = options.principal(&id("shop", "producer", None));
    let ask = |principal: &str, operation, topic: &str| {
        authorizer
            .authorize(&KafkaRequest::topic(principal, "10.0.0.7", operation, topic))
            .expect("valid request")
    };
    let write = ask(&producer, AclOperation::Write, "orders");
    assert!(write.allowed, "{write}");
    assert!(
        ask(&producer, AclOperation::Describe, "orders").allowed,
        "WRITE implies DESCRIBE"
    );
    let read = ask(&producer, AclOperation::Read, "orders");
    assert!(!read.allowed, "the producer did not declare consume: {read}");
    let other = ask("User:CN=intruder.shop", AclOperation::Write, "orders");
    assert!(!other.allowed, "{other}");
    assert_eq!(other.decision, KafkaDecision::NoAllowMatches);
    let anonymous = ask(holt_render::kafka::ANONYMOUS, AclOperation::Write, "orders");
    assert!(
        matches!(anonymous.decision, KafkaDecision::Denied { .. }),
        "the default server config denies anonymous users explicitly: {anonymous}"
    );
    let elsewhere = ask(&producer, AclOperation::Write, "payments");
    assert!(!elsewhere.allowed, "{elsewhere}");
}
