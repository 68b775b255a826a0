//! Properties of the Istio and Kafka evaluators over generated policies, bindings and requests: for Kafka,
//! adding an ALLOW binding never turns an allowed request into a denied one, and adding a DENY binding never
//! turns a denied one into an allowed one; for Istio, adding a DENY policy never allows, and adding a rule to
//! an ALLOW policy never denies. (Adding the *first* ALLOW policy of a workload can deny: ALLOW policies are
//! allow-lists; `the_first_allow_policy_can_deny_what_was_allowed` in `tests/istio.rs` shows it.)

use holt_reach::istio::{
    AuthorizationPolicyManifest, DEFAULT_ROOT_NAMESPACE, HttpRequest, Mesh, MeshRequest, MeshSource,
    MeshWorkload,
};
use holt_reach::kafka::{KafkaAuthorizer, KafkaRequest};
use holt_render::kafka::{AclOperation, AclPatternType, AclPermission, AclResourceType, KafkaAcl};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---- Kafka --------------------------------------------------------------------------------------------

const PRINCIPALS: [&str; 3] = ["User:CN=a.x", "User:CN=b.x", "User:*"];
const OPERATIONS: [AclOperation; 9] = [
    AclOperation::All,
    AclOperation::Read,
    AclOperation::Write,
    AclOperation::Create,
    AclOperation::Delete,
    AclOperation::Alter,
    AclOperation::Describe,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
];

fn binding(permission: AclPermission) -> impl Strategy<Value = KafkaAcl> {
    (
        prop::sample::select(vec![AclResourceType::Topic, AclResourceType::Group]),
        prop::sample::select(vec![
            ("orders", AclPatternType::Literal),
            ("orders.eu", AclPatternType::Literal),
            ("*", AclPatternType::Literal),
            ("orders", AclPatternType::Prefixed),
            ("o", AclPatternType::Prefixed),
        ]),
        prop::sample::select(PRINCIPALS.to_vec()),
        prop::sample::select(vec!["*", "10.0.0.1"]),
        prop::sample::select(OPERATIONS.to_vec()),
    )
        .prop_map(
            move |(resource_type, (name, pattern), principal, host, operation)| KafkaAcl {
                resource_type,
                resource_name: name.to_owned(),
                pattern_type: pattern,
                principal: principal.to_owned(),
                host: host.to_owned(),
                operation,
                permission,
            },
        )
}

fn any_binding() -> impl Strategy<Value = KafkaAcl> {
    prop_oneof![binding(AclPermission::Allow), binding(AclPermission::Deny)]
}

fn kafka_request() -> impl Strategy<Value = KafkaRequest> {
    (
        prop::sample::select(vec!["User:CN=a.x", "User:CN=b.x", "User:ANONYMOUS"]),
        prop::sample::select(vec!["10.0.0.1", "10.0.0.2"]),
        prop::sample::select(OPERATIONS[1..].to_vec()),
        prop::sample::select(vec![AclResourceType::Topic, AclResourceType::Group]),
        prop::sample::select(vec!["orders", "orders.eu", "other"]),
    )
        .prop_map(|(principal, host, operation, resource_type, name)| KafkaRequest {
            principal: principal.to_owned(),
            host: host.to_owned(),
            operation,
            resource_type,
            resource_name: name.to_owned(),
        })
}

fn kafka_allowed(acls: &[KafkaAcl], request: &KafkaRequest) -> bool {
    KafkaAuthorizer::new(acls.to_vec())
        .authorize(request)
        .expect("valid request")
        .allowed
}

// ---- Istio --------------------------------------------------------------------------------------------

fn source() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "cluster.local/ns/x/sa/a",
            "cluster.local/ns/y/*",
            "*/sa/b",
            "*"
        ])
        .prop_map(|p| json!({"principals": [p]})),
        prop::sample::select(vec!["x", "y"]).prop_map(|n| json!({"namespaces": [n]})),
        prop::sample::select(vec!["x", "y"]).prop_map(|n| json!({"notNamespaces": [n]})),
        prop::sample::select(vec!["*/sa/a", "*/sa/b"]).prop_map(|p| json!({"notPrincipals": [p]})),
    ]
}

fn operation() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec!["/api/*", "/health", "*.png", "*"]).prop_map(|p| json!({"paths": [p]})),
        prop::sample::select(vec!["/api/*", "/health"]).prop_map(|p| json!({"notPaths": [p]})),
        prop::sample::select(vec!["GET", "POST"]).prop_map(|m| json!({"methods": [m]})),
        prop::sample::select(vec!["80", "5432"]).prop_map(|p| json!({"ports": [p]})),
        prop::sample::select(vec!["80", "5432"]).prop_map(|p| json!({"notPorts": [p]})),
    ]
}

fn rule() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(source(), 0..2),
        prop::collection::vec(operation(), 0..2),
    )
        .prop_map(|(from, to)| {
            json!({
                "from": from.into_iter().map(|s| json!({"source": s})).collect::<Vec<_>>(),
                "to": to.into_iter().map(|o| json!({"operation": o})).collect::<Vec<_>>(),
            })
        })
}

fn spec(action: &'static str) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            json!(null),
            json!({"matchLabels": {"app": "web"}}),
            json!({"matchLabels": {"app": "db"}}),
        ]),
        prop::collection::vec(rule(), 0..3),
    )
        .prop_map(move |(selector, rules)| json!({"selector": selector, "action": action, "rules": rules}))
}

fn any_spec() -> impl Strategy<Value = Value> {
    prop_oneof![spec("ALLOW"), spec("DENY"), spec("AUDIT")]
}

fn manifest(index: usize, spec: Value) -> AuthorizationPolicyManifest {
    let namespace = if index % 3 == 2 { "istio-system" } else { "x" };
    serde_json::from_value(
        json!({"metadata": {"namespace": namespace, "name": format!("p{index}")}, "spec": spec}),
    )
    .expect("manifest")
}

fn mesh_request() -> impl Strategy<Value = MeshRequest> {
    (
        prop::option::of((
            prop::sample::select(vec!["x", "y"]),
            prop::sample::select(vec!["a", "b"]),
        )),
        prop::sample::select(vec!["web", "db"]),
        prop::sample::select(vec![80u16, 5432]),
        prop::option::of((
            prop::sample::select(vec!["GET", "POST"]),
            prop::sample::select(vec!["/api/orders", "/health", "/logo.png"]),
        )),
    )
        .prop_map(|(caller, app, port, http)| MeshRequest {
            source: match caller {
                Some((ns, sa)) => MeshSource::service_account("cluster.local", ns, sa),
                None => MeshSource::plaintext(),
            },
            destination: MeshWorkload {
                namespace: "x".to_owned(),
                labels: [("app".to_owned(), app.to_owned())].into(),
                in_mesh: true,
            },
            port,
            http: http.map(|(method, path)| HttpRequest {
                method: method.to_owned(),
                path: path.to_owned(),
            }),
        })
}

fn mesh_allowed(specs: &[Value], request: &MeshRequest) -> bool {
    let manifests: Vec<_> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| manifest(i, s.clone()))
        .collect();
    Mesh::new(&manifests, DEFAULT_ROOT_NAMESPACE)
        .expect("generated policies are valid")
        .evaluate(request)
        .allowed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn adding_a_kafka_allow_never_denies(
        acls in prop::collection::vec(any_binding(), 0..8),
        extra in binding(AclPermission::Allow),
        request in kafka_request(),
    ) {
        let before = kafka_allowed(&acls, &request);
        let mut more = acls.clone();
        more.push(extra);
        prop_assert!(!before || kafka_allowed(&more, &request));
    }

    #[test]
    fn adding_a_kafka_deny_never_allows(
        acls in prop::collection::vec(any_binding(), 0..8),
        extra in binding(AclPermission::Deny),
        request in kafka_request(),
    ) {
        let before = kafka_allowed(&acls, &request);
        let mut more = acls.clone();
        more.push(extra);
        prop_assert!(before || !kafka_allowed(&more, &request));
    }

    #[test]
    fn adding_an_istio_deny_policy_never_allows(
        specs in prop::collection::vec(any_spec(), 0..5),
        extra in spec("DENY"),
        request in mesh_request(),
    ) {
        let before = mesh_allowed(&specs, &request);
        let mut more = specs.clone();
        more.push(extra);
        prop_assert!(before || !mesh_allowed(&more, &request));
    }

    #[test]
    fn adding_a_rule_to_an_istio_allow_policy_never_denies(
        specs in prop::collection::vec(any_spec(), 1..5),
        extra in rule(),
        request in mesh_request(),
    ) {
        let Some(target) = specs.iter().position(|s| s["action"] == "ALLOW") else {
            return Ok(());
        };
        let before = mesh_allowed(&specs, &request);
        let mut more = specs.clone();
        more[target]["rules"].as_array_mut().expect("rules").push(extra);
        prop_assert!(!before || mesh_allowed(&more, &request));
    }
}
