//! The insights on the shadow-mode tutorial: namespace `tutorial` with Deployments `client`, `client-other`
//! and `server` (container port 80, behind Service `server`), both clients seen calling the server.

use holt_api::v2beta1::ClientIntents;
use holt_insights::{
    ClusterState, DiscoveredCall, Insights, Outcome, discovered_calls, insights, insights_where,
};
use holt_model::facts::{NamespaceFacts, OwnerFacts, ServiceFacts};
use holt_model::{Config, Identity, Mode, Object};
use holt_reach::NamespaceInput;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pretty_assertions::assert_eq;
use serde_json::json;

const NS: &str = "tutorial";

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

fn pod(workload: &str, ports: serde_json::Value) -> Pod {
    from_json(json!({
        "metadata": {"name": format!("{workload}-7d9f-x1"), "namespace": NS, "labels": {"app": workload},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": workload,
                                          "uid": "u", "controller": true}]},
        "spec": {"containers": [{"name": "main", "image": "i", "ports": ports}]}
    }))
}

fn deployment(name: &str) -> Object {
    let meta = ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NS.into()),
        ..ObjectMeta::default()
    };
    Object::Owner(OwnerFacts::new("Deployment", &meta))
}

fn intents(client: &str, servers: &[&str]) -> Object {
    let targets: Vec<_> = servers
        .iter()
        .map(|s| json!({"kubernetes": {"name": s}}))
        .collect();
    Object::ClientIntents(from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": client, "namespace": NS},
        "spec": {"workload": {"name": client}, "targets": targets}
    })))
}

fn protected(server: &str) -> Object {
    Object::ProtectedService(from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ProtectedService",
        "metadata": {"name": format!("{server}-protect"), "namespace": NS},
        "spec": {"name": server}
    })))
}

/// The tutorial's namespace, workloads, pods and Service, in `mode`, with `extra` objects.
fn state(mode: Mode, extra: Vec<Object>) -> ClusterState {
    let service: Service = from_json(json!({
        "metadata": {"name": "server", "namespace": NS},
        "spec": {"selector": {"app": "server"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}
    }));
    let mut objects = vec![
        Object::Namespace(NamespaceFacts::named(NS)),
        deployment("client"),
        deployment("client-other"),
        deployment("server"),
        Object::Service(ServiceFacts::from_service(&service)),
        deployment("billing"),
    ];
    objects.extend(extra);
    ClusterState {
        config: Config {
            mode,
            ..Config::default()
        },
        objects,
        pods: vec![
            pod("client", json!([])),
            pod("client-other", json!([])),
            pod("server", json!([{"name": "http", "containerPort": 80}])),
            pod("billing", json!([{"containerPort": 8080}])),
        ],
        namespaces: vec![NamespaceInput {
            name: NS.into(),
            labels: Default::default(),
        }],
        policies: Vec::new(),
    }
}

fn call(client: &str, server: &str) -> DiscoveredCall {
    DiscoveredCall {
        client: Identity::new(NS, client, Some("Deployment")),
        server: Identity::new(NS, server, Some("Deployment")),
    }
}

fn seen() -> Vec<DiscoveredCall> {
    vec![call("client", "server"), call("client-other", "server")]
}

fn run(state: &ClusterState) -> Insights {
    insights(state, &seen()).expect("insights")
}

/// `(client, declared, now, if protected, if active)` as words: `allowed`, or `blocked` with the blocking
/// policies and whether they are Holt's.
fn rows(insights: &Insights) -> Vec<(String, bool, String, String, String)> {
    let word = |outcome: &Outcome| match outcome {
        Outcome::Allowed => "allowed".to_owned(),
        Outcome::Blocked { by, .. } => {
            let by: Vec<String> = by
                .iter()
                .map(|b| format!("{}{}", b.policy.name, if b.holt { " (holt)" } else { "" }))
                .collect();
            format!("blocked by {}", by.join(", "))
        }
        Outcome::NotEvaluated { reason } => format!("not evaluated: {reason}"),
    };
    insights
        .calls
        .iter()
        .map(|c| {
            (
                c.client.name.clone(),
                c.declared,
                word(&c.now),
                word(&c.if_protected),
                word(&c.if_active),
            )
        })
        .collect()
}

fn row(
    client: &str,
    declared: bool,
    now: &str,
    protected: &str,
    active: &str,
) -> (String, bool, String, String, String) {
    (
        client.into(),
        declared,
        now.into(),
        protected.into(),
        active.into(),
    )
}

/// `(state, why)` of the one server's enforcement.
fn enforcement(insights: &Insights) -> (&str, &str) {
    let server = &insights.servers[0];
    (server.enforcement.state.as_str(), server.enforcement.why.as_str())
}

const DEFAULT_DENY: &str = "blocked by default-deny-server (holt)";

#[test]
fn before_intents_the_unknown_client_would_be_blocked_and_the_server_is_not_ready() {
    let insights = run(&state(Mode::DefaultShadow, vec![]));
    assert_eq!(
        rows(&insights),
        vec![
            row("client", false, "allowed", DEFAULT_DENY, "allowed"),
            row("client-other", false, "allowed", DEFAULT_DENY, "allowed"),
        ]
    );
    let server = &insights.servers[0];
    assert_eq!(server.server.name, "server");
    assert_eq!(enforcement(&insights), ("shadow", "defaultShadow"));
    assert_eq!(server.undeclared_clients.len(), 2);
    assert_eq!(server.blocked_if_protected.len(), 2);
    assert!(!server.ready_to_protect);
    assert_eq!(insights.calls[0].ports, vec![80]);
    assert_eq!(insights.blocked_now().count(), 0);
}

#[test]
fn one_client_declared_the_other_would_be_blocked_once_protected_or_active() {
    let insights = run(&state(Mode::DefaultShadow, vec![intents("client", &["server"])]));
    let rows = rows(&insights);
    assert_eq!(rows[0], row("client", true, "allowed", "allowed", "allowed"));
    let (_, declared, now, if_protected, if_active) = &rows[1];
    assert_eq!((declared, now.as_str()), (&false, "allowed"));
    assert!(
        if_protected.starts_with("blocked by") && if_protected.contains("(holt)"),
        "{if_protected}"
    );
    assert!(
        if_active.starts_with("blocked by") && if_active.contains("(holt)"),
        "{if_active}"
    );
    let server = &insights.servers[0];
    assert_eq!(
        server
            .undeclared_clients
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["client-other"]
    );
    assert!(!server.ready_to_protect);
}

#[test]
fn after_intents_declaring_both_clients_the_server_is_ready_to_protect() {
    let declared = vec![
        intents("client", &["server"]),
        intents("client-other", &["server"]),
    ];
    let insights = run(&state(Mode::DefaultShadow, declared));
    assert_eq!(
        rows(&insights),
        vec![
            row("client", true, "allowed", "allowed", "allowed"),
            row("client-other", true, "allowed", "allowed", "allowed"),
        ]
    );
    let server = &insights.servers[0];
    assert!(server.ready_to_protect);
    assert!(server.undeclared_clients.is_empty() && server.blocked_if_protected.is_empty());
}

#[test]
fn with_a_protected_service_and_only_client_declared_client_other_is_blocked_now() {
    let insights = run(&state(
        Mode::DefaultShadow,
        vec![intents("client", &["server"]), protected("server")],
    ));
    let rows = rows(&insights);
    assert_eq!(rows[0], row("client", true, "allowed", "allowed", "allowed"));
    assert_eq!(
        rows[1].2, rows[1].3,
        "protected already: now is what protecting gives"
    );
    assert!(rows[1].2.contains("default-deny-server (holt)"), "{}", rows[1].2);
    assert_eq!(
        enforcement(&insights),
        ("enforced", "ProtectedService server-protect")
    );
    let blocked: Vec<_> = insights.blocked_now().map(|c| c.client.name.as_str()).collect();
    assert_eq!(blocked, ["client-other"]);
}

#[test]
fn a_policy_of_someone_else_that_blocks_a_call_is_named_as_not_holts() {
    let mut state = state(Mode::DefaultShadow, vec![]);
    state.policies.push(from_json::<NetworkPolicy>(json!({
        "metadata": {"name": "only-client", "namespace": NS},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}
    })));
    let insights = run(&state);
    let rows = rows(&insights);
    assert_eq!(rows[0].2, "allowed");
    assert_eq!(rows[1].2, "blocked by only-client");
    let Outcome::Blocked { port, by, .. } = &insights.calls[1].now else {
        panic!("blocked: {:?}", insights.calls[1].now)
    };
    assert_eq!(
        (*port, by[0].holt, by[0].policy.namespace.as_str()),
        (80, false, NS)
    );
}

#[test]
fn in_active_mode_the_server_is_enforced_by_the_mode() {
    let insights = run(&state(Mode::DefaultActive, vec![intents("client", &["server"])]));
    assert_eq!(enforcement(&insights), ("enforced", "defaultActive"));
    let blocked: Vec<_> = insights.blocked_now().map(|c| c.client.name.as_str()).collect();
    assert_eq!(blocked, ["client-other"]);
}

#[test]
fn a_call_to_a_workload_without_pods_is_not_evaluated_and_says_why() {
    let insights =
        insights(&state(Mode::DefaultShadow, vec![]), &[call("client", "ledger")]).expect("insights");
    assert_eq!(
        insights.calls[0].now,
        Outcome::NotEvaluated {
            reason: "no pod of server tutorial/ledger in the input".into()
        }
    );
    assert!(!insights.calls[0].now.is_blocked());
}

#[test]
fn a_call_through_a_service_reaches_the_pods_it_selects() {
    let through_service = DiscoveredCall {
        client: Identity::new(NS, "client-other", Some("Deployment")),
        server: Identity::new(NS, "server", Some("Service")),
    };
    let insights = insights(
        &state(Mode::DefaultShadow, vec![protected("server")]),
        &[through_service],
    )
    .expect("insights");
    assert!(insights.calls[0].now.is_blocked(), "{:?}", insights.calls[0].now);
    assert_eq!(insights.servers[0].enforcement.state, "enforced");
}

#[test]
fn an_exported_client_intents_gives_its_in_cluster_calls() {
    let exported: ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": "client", "namespace": NS},
        "spec": {"workload": {"name": "client", "kind": "Deployment"},
                 "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}},
                             {"kubernetes": {"name": "db.data", "kind": "StatefulSet"}},
                             {"service": {"name": "server"}},
                             {"service": {"name": "kubernetes.default"}},
                             {"internet": {"domains": ["example.com"]}}]}
    }));
    let calls = discovered_calls(&exported);
    let servers: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "{}/{}/{}",
                c.server.namespace,
                c.server.name,
                c.server.kind.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        servers,
        [
            "tutorial/server/Deployment",
            "data/db/StatefulSet",
            "tutorial/server/Service"
        ]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.client == Identity::new(NS, "client", Some("Deployment")))
    );
}

/// `client -> server` of each declared call not seen.
fn not_seen(insights: &Insights) -> Vec<String> {
    insights
        .declared_not_seen
        .iter()
        .map(|c| format!("{} -> {}", c.client, c.server))
        .collect()
}

#[test]
fn a_declared_call_never_seen_is_listed_as_declared_not_seen() {
    // `client` declares the server (seen) and billing (never seen); a declaration through the Service
    // `server` is matched by the call to the Deployment's pods; the API server is never listed.
    let declared = vec![
        intents("client", &["server", "billing", "kubernetes.default"]),
        Object::ClientIntents(from_json(json!({
            "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
            "metadata": {"name": "client-other", "namespace": NS},
            "spec": {"workload": {"name": "client-other"}, "targets": [{"service": {"name": "server"}}]}
        }))),
    ];
    let insights = run(&state(Mode::DefaultShadow, declared));
    assert_eq!(not_seen(&insights), ["tutorial/client -> tutorial/billing"]);
    assert!(insights.calls.iter().all(|c| c.declared), "{insights:#?}");
    // With nothing declared, nothing is declared and not seen.
    assert_eq!(run(&state(Mode::DefaultShadow, vec![])).declared_not_seen, []);
    // Earlier answers carry no such list: read as none.
    let earlier: Insights = serde_json::from_value(json!({"calls": [], "servers": []})).expect("reads");
    assert_eq!(earlier, Insights::default());
}

#[test]
fn a_selection_evaluates_only_its_calls_but_every_call_counts_as_seen() {
    let declared = vec![
        intents("client", &["server", "billing"]),
        intents("client-other", &["server"]),
    ];
    let state = state(Mode::DefaultShadow, declared);
    let calls = [call("client", "server"), call("client-other", "server")];
    // Only client-other's call and what it reaches: client's declared call to the server, left out, is
    // still seen.
    let only_other = |client: &Identity, _: &Identity| client.name == "client-other";
    let selected = insights_where(&state, &calls, &only_other).expect("insights");
    assert_eq!(
        rows(&selected),
        [row("client-other", true, "allowed", "allowed", "allowed")]
    );
    assert_eq!(not_seen(&selected), Vec::<String>::new());
    let only_client = |client: &Identity, _: &Identity| client.name == "client";
    let selected = insights_where(&state, &calls, &only_client).expect("insights");
    assert_eq!(rows(&selected).len(), 1);
    assert_eq!(not_seen(&selected), ["tutorial/client -> tutorial/billing"]);
    // Without the selection, the same as `insights`.
    assert_eq!(
        insights_where(&state, &calls, &|_, _| true).expect("insights"),
        insights(&state, &calls).expect("insights")
    );
}
