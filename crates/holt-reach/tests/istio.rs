//! Istio AuthorizationPolicies, one test per rule of the evaluation order and of matching, with cases written
//! from the descriptions of Istio's authorization-policy reference (`docs/reach.md` restates them).
//!
//! The world: workload `shop/web` (label `app: web`) in the mesh, called on port 8080; callers identified by
//! service account in the `cluster.local` trust domain.

use holt_reach::istio::{
    AuthorizationPolicyManifest, DEFAULT_ROOT_NAMESPACE, HttpRequest, Mesh, MeshDecision, MeshRequest,
    MeshSource, MeshVerdict, MeshWorkload,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn policy(namespace: &str, name: &str, spec: Value) -> AuthorizationPolicyManifest {
    serde_json::from_value(json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"namespace": namespace, "name": name},
        "spec": spec,
    }))
    .expect("manifest")
}

fn mesh(policies: &[AuthorizationPolicyManifest]) -> Mesh {
    Mesh::new(policies, DEFAULT_ROOT_NAMESPACE).expect("valid policies")
}

fn web() -> MeshWorkload {
    MeshWorkload {
        namespace: "shop".into(),
        labels: [("app".to_owned(), "web".to_owned())].into(),
        in_mesh: true,
    }
}

fn caller(namespace: &str, account: &str) -> MeshSource {
    MeshSource::service_account("cluster.local", namespace, account)
}

fn http(source: MeshSource, method: &str, path: &str) -> MeshRequest {
    MeshRequest {
        source,
        destination: web(),
        port: 8080,
        http: Some(HttpRequest {
            method: method.into(),
            path: path.into(),
        }),
    }
}

fn tcp(source: MeshSource, port: u16) -> MeshRequest {
    MeshRequest {
        source,
        destination: web(),
        port,
        http: None,
    }
}

fn allowed(mesh: &Mesh, request: &MeshRequest) -> bool {
    mesh.evaluate(request).allowed
}

fn allow_from(principals: &[&str]) -> Value {
    json!({"selector": {"matchLabels": {"app": "web"}}, "rules": [{"from": [{"source": {"principals": principals}}]}]})
}

#[test]
fn without_policies_everything_is_allowed() {
    let verdict = mesh(&[]).evaluate(&http(caller("shop", "client"), "GET", "/"));
    assert_eq!(verdict.decision, MeshDecision::NoAllowPolicy);
    assert!(verdict.allowed);
}

#[test]
fn an_allow_policy_admits_what_it_matches_and_denies_the_rest() {
    let mesh = mesh(&[policy(
        "shop",
        "web",
        allow_from(&["cluster.local/ns/shop/sa/client"]),
    )]);
    let verdict = mesh.evaluate(&http(caller("shop", "client"), "GET", "/"));
    assert!(verdict.allowed);
    assert!(
        matches!(&verdict.decision, MeshDecision::Allowed { by } if by.policy.name == "web" && by.rule == 0)
    );
    let verdict = mesh.evaluate(&http(caller("shop", "intruder"), "GET", "/"));
    assert!(!verdict.allowed);
    assert!(
        matches!(&verdict.decision, MeshDecision::NoAllowRuleMatches { allow_policies } if allow_policies.len() == 1)
    );
}

#[test]
fn a_deny_match_wins_over_any_allow() {
    let deny = policy(
        "shop",
        "no-admin",
        json!({"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]}),
    );
    let allow_all = policy("shop", "all", json!({"rules": [{}]}));
    let mesh = mesh(&[allow_all, deny]);
    let verdict = mesh.evaluate(&http(caller("shop", "client"), "GET", "/admin/users"));
    assert!(!verdict.allowed);
    assert!(matches!(&verdict.decision, MeshDecision::Denied { by } if by.policy.name == "no-admin"));
    assert!(allowed(&mesh, &http(caller("shop", "client"), "GET", "/orders")));
}

#[test]
fn a_deny_policy_alone_does_not_switch_on_default_deny() {
    let deny = policy(
        "shop",
        "no-intruder",
        json!({"action": "DENY", "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/intruder"]}}]}]}),
    );
    let mesh = mesh(&[deny]);
    assert!(!allowed(&mesh, &http(caller("shop", "intruder"), "GET", "/")));
    let verdict = mesh.evaluate(&http(caller("shop", "client"), "GET", "/"));
    assert_eq!(verdict.decision, MeshDecision::NoAllowPolicy);
}

#[test]
fn empty_rules_match_nothing_and_an_empty_rule_matches_everything() {
    let allow_nothing = mesh(&[policy("shop", "nothing", json!({}))]);
    assert!(!allowed(
        &allow_nothing,
        &http(caller("shop", "client"), "GET", "/")
    ));
    let deny_without_rules = mesh(&[policy("shop", "d", json!({"action": "DENY"}))]);
    assert!(allowed(
        &deny_without_rules,
        &http(caller("shop", "client"), "GET", "/")
    ));
    let deny_all = mesh(&[policy("shop", "d", json!({"action": "DENY", "rules": [{}]}))]);
    assert!(!allowed(&deny_all, &http(caller("shop", "client"), "GET", "/")));
    assert!(!allowed(&deny_all, &tcp(MeshSource::plaintext(), 5432)));
}

#[test]
fn selection_by_namespace_labels_and_the_root_namespace() {
    let deny_all = json!({"action": "DENY", "rules": [{}]});
    let request = http(caller("shop", "client"), "GET", "/");
    let other_namespace = mesh(&[policy("billing", "d", deny_all.clone())]);
    assert!(
        allowed(&other_namespace, &request),
        "a policy applies in its own namespace only"
    );
    let other_labels = mesh(&[policy(
        "shop",
        "d",
        json!({"selector": {"matchLabels": {"app": "db"}}, "action": "DENY", "rules": [{}]}),
    )]);
    assert!(allowed(&other_labels, &request));
    let all_labels = mesh(&[policy(
        "shop",
        "d",
        json!({"selector": {"matchLabels": {"app": "web", "tier": "front"}}, "action": "DENY", "rules": [{}]}),
    )]);
    assert!(allowed(&all_labels, &request), "every matchLabels pair must hold");
    let root = mesh(&[policy("istio-system", "d", deny_all.clone())]);
    assert!(
        !allowed(&root, &request),
        "the root namespace's policies apply mesh-wide"
    );
    let root_selected = mesh(&[policy(
        "istio-system",
        "d",
        json!({"selector": {"matchLabels": {"app": "web"}}, "action": "DENY", "rules": [{}]}),
    )]);
    assert!(!allowed(&root_selected, &request), "in every namespace, by label");
    let other_root = Mesh::new(&[policy("istio-system", "d", deny_all)], "mesh-root").expect("valid");
    assert!(
        allowed(&other_root, &request),
        "the root namespace is configurable"
    );
}

#[test]
fn a_destination_without_sidecar_is_not_evaluated() {
    let mesh = mesh(&[policy("shop", "nothing", json!({}))]);
    let mut request = http(caller("shop", "client"), "GET", "/");
    request.destination.in_mesh = false;
    let verdict = mesh.evaluate(&request);
    assert_eq!(verdict.decision, MeshDecision::NotInMesh);
    assert!(verdict.allowed);
    assert!(verdict.to_string().contains("no sidecar"), "{verdict}");
}

#[test]
fn principals_and_namespaces_match_exactly_by_prefix_suffix_or_presence() {
    let from = |source: Value| {
        mesh(&[policy(
            "shop",
            "p",
            json!({"rules": [{"from": [{"source": source}]}]}),
        )])
    };
    let request = |ns, sa| http(caller(ns, sa), "GET", "/");
    let prefix = from(json!({"principals": ["cluster.local/ns/shop/*"]}));
    assert!(allowed(&prefix, &request("shop", "a")));
    assert!(!allowed(&prefix, &request("billing", "a")));
    let suffix = from(json!({"principals": ["*/sa/admin"]}));
    assert!(allowed(&suffix, &request("billing", "admin")));
    assert!(!allowed(&suffix, &request("billing", "user")));
    let presence = from(json!({"principals": ["*"]}));
    assert!(allowed(&presence, &request("any", "one")));
    assert!(
        !allowed(&presence, &http(MeshSource::plaintext(), "GET", "/")),
        "plain text has no principal"
    );
    let namespaces = from(json!({"namespaces": ["shop", "bill*"]}));
    assert!(allowed(&namespaces, &request("shop", "a")));
    assert!(allowed(&namespaces, &request("billing", "a")));
    assert!(
        !allowed(&namespaces, &request("shopping", "a")),
        "exact means the whole name"
    );
    assert!(!allowed(&namespaces, &http(MeshSource::plaintext(), "GET", "/")));
}

#[test]
fn negative_fields_exclude_and_fields_of_a_source_are_anded() {
    let mesh = mesh(&[policy(
        "shop",
        "p",
        json!({"rules": [{"from": [{"source": {"namespaces": ["shop"], "notPrincipals": ["*/sa/intruder"]}}]}]}),
    )]);
    assert!(allowed(&mesh, &http(caller("shop", "client"), "GET", "/")));
    assert!(!allowed(&mesh, &http(caller("shop", "intruder"), "GET", "/")));
    assert!(!allowed(&mesh, &http(caller("billing", "client"), "GET", "/")));
    let not_ns = mesh_excluding_dev();
    assert!(allowed(&not_ns, &http(caller("shop", "client"), "GET", "/")));
    assert!(!allowed(&not_ns, &http(caller("dev", "client"), "GET", "/")));
    assert!(
        allowed(&not_ns, &http(MeshSource::plaintext(), "GET", "/")),
        "a missing namespace is in no excluded list"
    );
}

fn mesh_excluding_dev() -> Mesh {
    mesh(&[policy(
        "shop",
        "p",
        json!({"rules": [{"from": [{"source": {"notNamespaces": ["dev"]}}]}]}),
    )])
}

#[test]
fn sources_are_ored_operations_are_ored_and_from_and_to_are_anded() {
    let mesh = mesh(&[policy(
        "shop",
        "p",
        json!({"rules": [{
            "from": [
                {"source": {"principals": ["cluster.local/ns/shop/sa/client"]}},
                {"source": {"namespaces": ["test"]}},
            ],
            "to": [
                {"operation": {"methods": ["GET"], "paths": ["/info*"]}},
                {"operation": {"methods": ["POST"], "paths": ["/data"]}},
            ],
        }]}),
    )]);
    assert!(allowed(&mesh, &http(caller("shop", "client"), "GET", "/info/1")));
    assert!(allowed(&mesh, &http(caller("test", "anyone"), "POST", "/data")));
    assert!(
        !allowed(&mesh, &http(caller("shop", "client"), "POST", "/info")),
        "method and path of one operation"
    );
    assert!(
        !allowed(&mesh, &http(caller("shop", "other"), "GET", "/info")),
        "the source must match too"
    );
}

#[test]
fn paths_methods_and_ports_with_their_negations() {
    let to = |operation: Value| {
        mesh(&[policy(
            "shop",
            "p",
            json!({"rules": [{"to": [{"operation": operation}]}]}),
        )])
    };
    let paths = to(json!({"paths": ["/api/*", "*.png", "/health"], "notPaths": ["/api/internal*"]}));
    assert!(allowed(&paths, &http(caller("a", "b"), "GET", "/api/orders")));
    assert!(allowed(&paths, &http(caller("a", "b"), "GET", "/img/logo.png")));
    assert!(allowed(&paths, &http(caller("a", "b"), "GET", "/health")));
    assert!(!allowed(&paths, &http(caller("a", "b"), "GET", "/health/deep")));
    assert!(!allowed(
        &paths,
        &http(caller("a", "b"), "GET", "/api/internal/keys")
    ));
    let methods = to(json!({"notMethods": ["DELETE"]}));
    assert!(allowed(&methods, &http(caller("a", "b"), "GET", "/")));
    assert!(!allowed(&methods, &http(caller("a", "b"), "DELETE", "/")));
    let ports = to(json!({"ports": ["8080"], "notPaths": ["/admin"]}));
    assert!(allowed(&ports, &http(caller("a", "b"), "GET", "/")));
    assert!(!allowed(&ports, &http(caller("a", "b"), "GET", "/admin")));
    let mut other_port = http(caller("a", "b"), "GET", "/");
    other_port.port = 9090;
    assert!(!allowed(&ports, &other_port));
    let not_ports = to(json!({"notPorts": ["9090"]}));
    assert!(allowed(&not_ports, &http(caller("a", "b"), "GET", "/")));
    assert!(!allowed(&not_ports, &other_port));
}

#[test]
fn plain_tcp_drops_http_allow_rules_and_widens_http_deny_rules() {
    let allow_http = policy(
        "shop",
        "allow",
        json!({"rules": [{"to": [{"operation": {"ports": ["5432"], "methods": ["GET"]}}]}]}),
    );
    let mesh_allow = mesh(&[allow_http]);
    assert!(
        !allowed(&mesh_allow, &tcp(caller("shop", "client"), 5432)),
        "an ALLOW rule naming methods matches no TCP connection"
    );
    let allow_port = mesh(&[policy(
        "shop",
        "allow",
        json!({"rules": [{"to": [{"operation": {"ports": ["5432"]}}]}]}),
    )]);
    assert!(allowed(&allow_port, &tcp(caller("shop", "client"), 5432)));
    assert!(!allowed(&allow_port, &tcp(caller("shop", "client"), 5433)));
    let deny_http = mesh(&[policy(
        "shop",
        "deny",
        json!({"action": "DENY", "rules": [{"to": [{"operation": {"ports": ["5432"], "paths": ["/x"]}}]}]}),
    )]);
    assert!(
        !allowed(&deny_http, &tcp(caller("shop", "client"), 5432)),
        "a DENY rule keeps its other fields and denies the whole port"
    );
    assert!(allowed(&deny_http, &tcp(caller("shop", "client"), 5433)));
    assert!(allowed(&deny_http, &{
        let mut request = http(caller("shop", "client"), "GET", "/y");
        request.port = 5432;
        request
    }));
}

#[test]
fn custom_policies_are_asked_first_and_audit_policies_only_log() {
    let custom = policy(
        "shop",
        "ext",
        json!({"action": "CUSTOM", "provider": {"name": "opa"}, "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]}),
    );
    let audit = policy("shop", "log", json!({"action": "AUDIT", "rules": [{}]}));
    let mesh = mesh(&[custom, audit]);
    let verdict: MeshVerdict = mesh.evaluate(&http(caller("shop", "client"), "GET", "/admin"));
    assert!(verdict.allowed);
    assert_eq!(verdict.providers.len(), 1);
    assert_eq!(verdict.providers[0].provider, "opa");
    assert_eq!(verdict.audited_by.len(), 1);
    assert!(
        verdict
            .to_string()
            .starts_with("allowed if the external authorizers allow it"),
        "{verdict}"
    );
    let plain = mesh.evaluate(&http(caller("shop", "client"), "GET", "/orders"));
    assert!(plain.providers.is_empty());
    assert_eq!(
        plain.decision,
        MeshDecision::NoAllowPolicy,
        "AUDIT and CUSTOM policies are no ALLOW policies"
    );
}

#[test]
fn the_first_allow_policy_can_deny_what_was_allowed() {
    let request = http(caller("shop", "intruder"), "GET", "/");
    assert!(allowed(&mesh(&[]), &request));
    let first = policy("shop", "web", allow_from(&["cluster.local/ns/shop/sa/client"]));
    assert!(
        !allowed(&mesh(&[first]), &request),
        "ALLOW policies are allow-lists: the first one denies the rest"
    );
}

#[test]
fn bad_policies_name_the_policy_and_the_field() {
    let refuse = |spec: Value| {
        Mesh::new(&[policy("shop", "bad", spec)], DEFAULT_ROOT_NAMESPACE)
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        refuse(json!({"action": "REJECT"})),
        "AuthorizationPolicy shop/bad: spec.action: `REJECT` is not one of ALLOW, DENY, AUDIT, CUSTOM"
    );
    assert_eq!(
        refuse(json!({"rules": [{"to": [{"operation": {"ports": ["http"]}}]}]})),
        "AuthorizationPolicy shop/bad: spec.rules[0].to[0].operation.ports[0]: `http` is not a port number"
    );
    assert_eq!(
        refuse(json!({"rules": [{"from": [{"source": {"principals": ["a*b"]}}]}]})),
        "AuthorizationPolicy shop/bad: spec.rules[0].from[0].source.principals[0]: `a*b`: `*` is allowed only alone, at the start or at the end"
    );
    assert_eq!(
        refuse(json!({"rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]}]})),
        "AuthorizationPolicy shop/bad: spec.rules[0].from[0].source.requestPrincipals: not evaluated by holt-reach"
    );
    assert_eq!(
        refuse(json!({"rules": [{"when": [{"key": "request.headers[x]", "values": ["1"]}]}]})),
        "AuthorizationPolicy shop/bad: spec.rules[0].when: not evaluated by holt-reach"
    );
    assert_eq!(
        refuse(json!({"targetRefs": [{"kind": "Service", "name": "web"}]})),
        "AuthorizationPolicy shop/bad: spec.targetRefs: not evaluated by holt-reach"
    );
    assert_eq!(
        refuse(json!({"action": "CUSTOM", "rules": [{}]})),
        "AuthorizationPolicy shop/bad: spec.provider.name: CUSTOM needs a provider"
    );
    assert_eq!(
        refuse(json!({"rules": [{"from": [{"source": {}}]}]})),
        "AuthorizationPolicy shop/bad: spec.rules[0].from[0].source: a source must set at least one field"
    );
    assert_eq!(
        refuse(json!({"rules": [{"to": [{"operation": {"paths": ["/items/{*}"]}}]}]})),
        "AuthorizationPolicy shop/bad: spec.rules[0].to[0].operation.paths[0]: `/items/{*}`: path templates ({*}, {**}) are not evaluated"
    );
    assert!(
        Mesh::new(
            &[policy(
                "shop",
                "ok",
                json!({"rules": [{"from": [{"source": {"ipBlocks": []}}], "when": []}]})
            )],
            "istio-system"
        )
        .is_err(),
        "an empty source is still refused"
    );
}
