//! `holt plan` and `holt validate` as a user runs them: the built binary on the bundled demo and on the
//! reference's documented YAML.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn holt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .args(args)
        .output()
        .expect("holt runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "holt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// The plan as JSON documents.
fn plan_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["plan", "-o", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&stdout(&holt(&all))).expect("a JSON list")
}

fn names_of(documents: &[Value], kind: &str) -> Vec<String> {
    let mut names: Vec<String> = documents
        .iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| {
            format!(
                "{}/{}",
                d["metadata"]["namespace"].as_str().unwrap_or(""),
                d["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    names.sort();
    names
}

fn shop() -> String {
    repo("examples/shop").display().to_string()
}

fn shop_config() -> String {
    repo("examples/shop-config.yaml").display().to_string()
}

#[test]
fn shadow_mode_protects_only_the_protected_server() {
    let docs = plan_json(&[&shop(), "--config", &shop_config()]);
    assert_eq!(
        names_of(&docs, "NetworkPolicy"),
        vec!["shop/checkoutservice-access", "shop/default-deny-checkoutservice"],
        "default-deny and allow for the protected server only"
    );
    assert!(
        names_of(&docs, "AuthorizationPolicy").is_empty(),
        "nothing else is enforced"
    );
    let table = stdout(&holt(&["plan", &shop(), "--config", &shop_config()]));
    assert!(
        table.contains("Mode defaultShadow: 13 servers with declared clients, 1 enforced, 12 shadow."),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("checkoutservice.shop "))
        .expect("a row for checkoutservice");
    assert!(
        row.contains("enforced (ProtectedService protect-checkout)") && row.contains("frontend"),
        "{row}"
    );
    let shadow: Vec<&str> = table
        .lines()
        .filter(|l| !l.starts_with(' ') && enforcement_column(l) == Some("shadow"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        shadow.len(),
        12,
        "every other server is reported as shadow:\n{table}"
    );
    assert!(
        shadow.contains(&"paymentservice.shop") && shadow.contains(&"kafka.kafka"),
        "{shadow:?}"
    );
}

#[test]
fn default_active_gives_every_server_with_clients_its_policy() {
    let docs = plan_json(&[&shop(), "--config", &shop_config(), "--mode", "defaultActive"]);
    let access: Vec<String> = names_of(&docs, "NetworkPolicy")
        .into_iter()
        .filter(|n| n.ends_with("-access"))
        .collect();
    assert_eq!(
        access,
        vec![
            "kafka/kafka-access",
            "shop/adservice-access",
            "shop/cartservice-access",
            "shop/checkoutservice-access",
            "shop/currencyservice-access",
            "shop/currencyservice-service-access",
            "shop/emailservice-access",
            "shop/frontend-service-access",
            "shop/paymentservice-deployment-access",
            "shop/productcatalogservice-access",
            "shop/recommendationservice-access",
            "shop/redis-cart-statefulset-access",
            "shop/shippingservice-access",
        ]
    );
    let payment = docs
        .iter()
        .find(|d| {
            d["metadata"]["name"]
                == "authorization-policy-to-paymentservice-deployment-from-checkoutservice-deployment.shop"
        })
        .expect("the meshed pair's policy");
    assert_eq!(
        payment["spec"]["rules"][0]["to"][0]["operation"]["paths"][0],
        "/charge"
    );
    assert_eq!(
        payment["spec"]["rules"][0]["to"][0]["operation"]["methods"][0],
        "POST"
    );
    let acls = docs
        .iter()
        .find(|d| d["kind"] == "KafkaACLs")
        .expect("Kafka ACLs for the broker");
    let principals: Vec<&str> = acls["acls"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["principal"].as_str())
        .collect();
    assert!(
        principals.contains(&"User:CN=checkoutservice.shop")
            && principals.contains(&"User:CN=emailservice.shop"),
        "{principals:?}"
    );
}

#[test]
fn network_policy_creation_disabled_renders_none_and_says_so() {
    let docs = plan_json(&[
        &shop(),
        "--mode",
        "defaultActive",
        "--enable-network-policy-creation=false",
    ]);
    assert!(names_of(&docs, "NetworkPolicy").is_empty());
    let table = stdout(&holt(&[
        "plan",
        &shop(),
        "--mode",
        "defaultActive",
        "--enable-network-policy-creation=false",
    ]));
    assert!(table.contains("NetworkPolicyCreationDisabled"), "{table}");
    assert!(
        table.contains("none (NetworkPolicy creation disabled)"),
        "{table}"
    );
}

#[test]
fn the_references_documented_yaml_works_unchanged() {
    let path = repo("crates/holt/tests/data/reference").display().to_string();
    let docs = plan_json(&[&path, "--mode", "defaultShadow"]);
    assert_eq!(
        names_of(&docs, "NetworkPolicy"),
        vec![
            "otterize-ecom-demo/checkoutservice-access",
            "otterize-ecom-demo/default-deny-checkoutservice"
        ]
    );
    let active = plan_json(&[&path]);
    assert_eq!(
        names_of(&active, "NetworkPolicy").len(),
        9,
        "7 servers of frontend, paymentservice, default-deny"
    );
    let table = stdout(&holt(&["plan", &path]));
    assert!(
        table.contains("KubernetesServiceNotFound"),
        "the emailservice Service is not in the input, so its policy cannot be rendered:\n{table}"
    );
    assert!(stdout(&holt(&["validate", &path])).contains("3 objects valid."));
}

#[test]
fn the_tutorial_labels_only_the_declared_client() {
    let docs = plan_json(&[&repo("examples/tutorial").display().to_string()]);
    assert_eq!(
        names_of(&docs, "NetworkPolicy"),
        vec!["otterize-tutorial-npol/server-access"]
    );
    let pods: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Pod").collect();
    let has_access = |name: &str| {
        pods.iter().find(|p| p["metadata"]["name"] == name).expect(name)["metadata"]["labels"]
            .as_object()
            .expect("labels")
            .keys()
            .any(|k| k.starts_with("intents.otterize.com/access-server-"))
    };
    assert!(has_access("client-template"));
    assert!(!has_access("client-other-template"));
}

#[test]
fn invalid_input_fails_naming_file_object_and_field_and_prints_nothing() {
    let dir = std::env::temp_dir().join(format!("holt-cli-invalid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, "apiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\nmetadata: {name: web, namespace: shop}\nspec:\n  workload: {name: web}\n  targets:\n  - kubernetes: {name: a.b.c}\n").expect("write");
    for command in ["plan", "validate"] {
        let output = holt(&[command, &dir.display().to_string()]);
        assert!(!output.status.success(), "{command} must fail");
        assert!(
            output.stdout.is_empty() || command == "validate",
            "nothing printed as if it had worked"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("bad.yaml (document 1): ClientIntents shop/web: spec.targets[0].kubernetes.name"),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn validate_refuses_names_the_api_server_would_refuse_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("holt-cli-long-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let long = "a".repeat(260);
    let file = dir.join("long.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\nmetadata: {{name: web, namespace: shop}}\n\
             spec:\n  workload: {{name: {long}, kind: Deployment}}\n  targets:\n  - kubernetes: {{name: ok}}\n  \
             - kubernetes: {{name: {long}}}\n"
        ),
    )
    .expect("write");
    let output = holt(&["validate", &dir.display().to_string()]);
    assert!(!output.status.success(), "validate must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "long.yaml (document 1): ClientIntents shop/web: spec.workload.name: `aaaaaaaaaaaaaaaa…` is 260 \
         characters, over the 234 that fit: Holt names this workload's NetworkPolicy `<name>-deployment-ingress`, \
         and object names are DNS-1123 subdomains of at most 253 characters",
        "ClientIntents shop/web: spec.targets[1].kubernetes.name: `aaaaaaaaaaaaaaaa…` is 260 characters, over the \
         245 that fit: Holt names the NetworkPolicy of this server `<name>-ingress`",
    ] {
        assert!(stderr.contains(expected), "{expected}\nnot in:\n{stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_hostile_document_is_refused_at_once_naming_file_document_and_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deep = dir.path().join("deep.json");
    std::fs::write(
        &deep,
        format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000)),
    )
    .expect("write");
    for command in ["validate", "plan"] {
        let started = std::time::Instant::now();
        let output = holt(&[command, &deep.display().to_string()]);
        let took = started.elapsed();
        assert!(!output.status.success(), "{command} must fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("deep.json (document 1): nested deeper than 128 levels (at line 1 column 641)"),
            "{stderr}"
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{command} took {took:?}"
        );
    }

    // A 2 MiB document: read by default, refused under a 1 MiB limit, by flag or environment.
    let large = dir.path().join("large.yaml");
    let intents = "apiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\nmetadata: {name: web, namespace: shop}\n\
                   spec:\n  workload: {name: web}\n  targets:\n  - kubernetes: {name: api}\n";
    std::fs::write(
        &large,
        format!(
            "{intents}---\n{intents}  - internet: {{domains: [{}]}}\n",
            "a.example.com, ".repeat(150_000)
        ),
    )
    .expect("write");
    let path = large.display().to_string();
    stdout(&holt(&["validate", &path]));
    let by_flag = holt(&["validate", "--max-document-mib", "1", &path]);
    let by_env = Command::new(env!("CARGO_BIN_EXE_holt"))
        .args(["validate", &path])
        .env("HOLT_MAX_DOCUMENT_MIB", "1")
        .output()
        .expect("holt runs");
    for output in [by_flag, by_env] {
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                "large.yaml (document 2): the document is larger than the limit of 1 MiB (reached at line 16); \
                 raise it with --max-document-mib"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn yaml_output_is_multi_document_and_round_trips() {
    let text = stdout(&holt(&["plan", &shop(), "-o", "yaml", "--mode", "defaultActive"]));
    let documents: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
        .collect();
    assert_eq!(documents, plan_json(&[&shop(), "--mode", "defaultActive"]));
    assert!(
        documents
            .iter()
            .all(|d| d["metadata"]["name"].is_string() && d["apiVersion"].is_string())
    );
}

/// The second column of a table row (columns are separated by at least two spaces).
fn enforcement_column(line: &str) -> Option<&str> {
    line.split("  ").filter(|c| !c.is_empty()).nth(1).map(str::trim)
}

/// The reference's egress tutorial with egress policies on: a client that can be allowed nothing but DNS yet
/// is shown as such, in the table and in the objects.
#[test]
fn the_egress_tutorial_shows_fail_closed_clients_as_dns_only() {
    let file = |name: &str| {
        repo(&format!("crates/holt/tests/data/egress-tutorial/{name}"))
            .display()
            .to_string()
    };
    let removed = [
        file("all.yaml"),
        file("intents-no-external-api.yaml"),
        "--enable-egress-network-policy-creation".to_owned(),
    ];
    let args: Vec<&str> = removed.iter().map(String::as_str).collect();
    let mut plan = vec!["plan"];
    plan.extend(&args);
    let table = stdout(&holt(&plan));
    let row = egress_row(&table, "backend.otterize-tutorial-egress-access (Deployment)");
    assert!(
        row.contains("NetworkPolicy backend-deployment-access") && row.contains("DNS only"),
        "{table}"
    );
    assert!(table.contains("KubernetesServiceNotFound"), "{table}");
    let docs = plan_json(&args);
    let backend = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "backend-deployment-access")
        .expect("the backend's policy");
    assert_eq!(
        backend["spec"]["egress"],
        serde_json::json!([{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}])
    );

    let table = stdout(&holt(&[
        "plan",
        &file("all.yaml"),
        &file("domain-intents.yaml"),
        "--enable-egress-network-policy-creation",
    ]));
    let row = egress_row(&table, "backend.otterize-tutorial-egress-access ");
    assert!(row.contains("1 in-cluster peer, DNS"), "{table}");
    assert!(
        table.contains("InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS"),
        "{table}"
    );
}

/// The row of `client` in the table's egress section.
fn egress_row<'a>(table: &'a str, client: &str) -> &'a str {
    let (_, egress) = table
        .split_once("\nEgress (")
        .unwrap_or_else(|| panic!("an egress section:\n{table}"));
    egress
        .lines()
        .find(|l| l.trim_start().starts_with(client))
        .unwrap_or_else(|| panic!("a row for {client}:\n{table}"))
}

fn istio_tutorial() -> String {
    repo("crates/holt/tests/data/istio-tutorial/all.yaml")
        .display()
        .to_string()
}

/// The reference's Istio tutorial as published: the namespace asks for sidecar injection, the Deployments have
/// no `istio-proxy` container yet. The pods are in the mesh all the same, so the client's `GET /client-path`
/// becomes an AuthorizationPolicy.
#[test]
fn the_istio_tutorial_renders_the_authorization_policy_for_an_injected_namespace() {
    let docs = plan_json(&[&istio_tutorial()]);
    let policies: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "AuthorizationPolicy")
        .collect();
    assert_eq!(policies.len(), 1, "{docs:#?}");
    let rule = &policies[0]["spec"]["rules"][0];
    assert_eq!(
        rule["from"][0]["source"]["principals"][0],
        "cluster.local/ns/otterize-tutorial-istio/sa/default"
    );
    assert_eq!(rule["to"][0]["operation"]["paths"][0], "/client-path");
    assert_eq!(rule["to"][0]["operation"]["methods"][0], "GET");
    let table = stdout(&holt(&["plan", &istio_tutorial()]));
    assert!(!table.contains("HttpRestrictionNotEnforced"), "{table}");
}

/// The same tutorial without the namespace's injection label: nothing enforces the HTTP restriction, and the
/// plan says so instead of printing it beside a NetworkPolicy as if it were.
#[test]
fn an_http_restriction_nothing_enforces_is_a_notice() {
    let text = std::fs::read_to_string(istio_tutorial())
        .expect("the tutorial")
        .replace("    istio-injection: enabled\n", "    team: tutorial\n");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("all.yaml");
    std::fs::write(&path, text).expect("written");
    let path = path.display().to_string();
    let docs = plan_json(&[&path]);
    assert!(names_of(&docs, "AuthorizationPolicy").is_empty());
    let table = stdout(&holt(&["plan", &path]));
    assert!(
        table.contains("HttpRestrictionNotEnforced") && table.contains("GET /client-path"),
        "{table}"
    );
    let disabled = stdout(&holt(&[
        "plan",
        &istio_tutorial(),
        "--enable-istio-policy-creation=false",
    ]));
    assert!(
        disabled.contains("Istio policy creation is switched off"),
        "{disabled}"
    );
}

fn linkerd_example() -> String {
    repo("examples/linkerd").display().to_string()
}

/// examples/linkerd: the namespace asks Linkerd to inject its proxy; `client` declares `GET|POST
/// /api/orders` on `server`, whose liveness probe calls `/status/200` on its named port.
#[test]
fn the_linkerd_example_renders_a_server_routes_and_policies_for_an_injected_namespace() {
    let docs = plan_json(&[&linkerd_example()]);
    let linkerd: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("policy.linkerd.io/"))
        })
        .collect();
    let servers: Vec<&&Value> = linkerd.iter().filter(|d| d["kind"] == "Server").collect();
    assert_eq!(servers.len(), 1, "{linkerd:#?}");
    assert_eq!(servers[0]["metadata"]["name"], "server-for-server-port-8080");
    assert_eq!(servers[0]["spec"]["port"], 8080);
    let mesh_tls: Vec<&&Value> = linkerd
        .iter()
        .filter(|d| d["kind"] == "MeshTLSAuthentication")
        .collect();
    assert_eq!(
        mesh_tls[0]["spec"]["identities"],
        serde_json::json!(["client.otterize-tutorial-linkerd.serviceaccount.identity.linkerd.cluster.local"])
    );
    let mut matches: Vec<String> = linkerd
        .iter()
        .filter(|d| d["kind"] == "HTTPRoute")
        .map(|d| {
            let matched = &d["spec"]["rules"][0]["matches"][0];
            format!(
                "{} {} {}",
                matched["method"].as_str().unwrap_or("*"),
                matched["path"]["type"].as_str().unwrap_or_default(),
                matched["path"]["value"].as_str().unwrap_or_default()
            )
        })
        .collect();
    matches.sort();
    assert_eq!(
        matches,
        [
            "* Exact /status/200",
            "GET PathPrefix /api/orders",
            "POST PathPrefix /api/orders"
        ]
    );
    assert_eq!(
        linkerd
            .iter()
            .filter(|d| d["kind"] == "AuthorizationPolicy")
            .count(),
        3,
        "one per declared route, one for the probe"
    );
    let table = stdout(&holt(&["plan", &linkerd_example()]));
    assert!(!table.contains("HttpRestrictionNotEnforced"), "{table}");

    let disabled = holt(&[
        "plan",
        &linkerd_example(),
        "--enable-linkerd-policy-creation=false",
        "-o",
        "json",
    ]);
    let text = stdout(&disabled);
    assert!(!text.contains("policy.linkerd.io"), "{text}");
    let table = stdout(&holt(&[
        "plan",
        &linkerd_example(),
        "--enable-linkerd-policy-creation=false",
    ]));
    assert!(
        table.contains("HttpRestrictionNotEnforced")
            && table.contains("Linkerd policy creation is switched off"),
        "{table}"
    );
}

#[test]
fn a_values_file_of_the_references_chart_plans_as_the_flat_configuration() {
    let root = repo("");
    let plan = |config: &str| {
        Command::new(env!("CARGO_BIN_EXE_holt"))
            .current_dir(&root)
            .args(["plan", "examples/shop", "--config", config, "-o", "json"])
            .env_remove("OTTERIZE_ENFORCEMENT_DEFAULT_STATE")
            .output()
            .expect("holt runs")
    };
    let flat = plan("examples/shop-config.yaml");
    let values = plan("examples/shop-values.yaml");
    assert!(flat.status.success() && values.status.success());
    assert_eq!(
        String::from_utf8_lossy(&values.stdout),
        String::from_utf8_lossy(&flat.stdout),
        "the same decisions"
    );
    let notes = String::from_utf8_lossy(&values.stderr);
    for expected in [
        "note: intentsOperator.operator.enableDatabasePolicyCreation: not acted on: database policies are not implemented",
        "note: global.telemetry: not acted on: Holt sends no telemetry",
    ] {
        assert!(notes.contains(expected), "{notes}");
    }
    assert!(
        !notes.contains("operator.image"),
        "chart settings say nothing: {notes}"
    );
    assert!(!notes.contains("networkMapper"), "not the operator's: {notes}");
}

#[test]
fn the_references_environment_variables_configure_and_holts_win() {
    let root = repo("");
    let mode = |vars: &[(&str, &str)]| {
        let output = Command::new(env!("CARGO_BIN_EXE_holt"))
            .current_dir(&root)
            .args(["plan", "examples/shop", "--config", "examples/shop-config.yaml"])
            .envs(vars.iter().copied())
            .output()
            .expect("holt runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("Mode "))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(mode(&[]).contains("defaultShadow"), "{}", mode(&[]));
    let otterize = mode(&[("OTTERIZE_ENFORCEMENT_DEFAULT_STATE", "true")]);
    assert!(
        otterize.contains("defaultActive"),
        "OTTERIZE_* overrides the file: {otterize}"
    );
    let both = mode(&[
        ("OTTERIZE_ENFORCEMENT_DEFAULT_STATE", "true"),
        ("HOLT_MODE", "defaultShadow"),
    ]);
    assert!(both.contains("defaultShadow"), "HOLT_* wins: {both}");
}
