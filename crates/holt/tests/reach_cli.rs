//! `holt reach` as a user runs it: the built binary on manifests with a Deployment (its template stands for
//! its pods), Pods and a NetworkPolicy with a named port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reach")
        .join(name)
}

fn holt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .arg("reach")
        .arg(data("shop.yaml"))
        .args(args)
        .output()
        .expect("holt runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[test]
fn one_flow_prints_the_verdict_and_why_and_exits_zero_either_way() {
    let allowed = holt(&["--from", "shop/client", "--to", "shop/web", "--port", "8080"]);
    assert!(allowed.status.success());
    assert_eq!(
        text(&allowed.stdout),
        "shop/client -> shop/web 8080/TCP: allowed\n  egress: no policy isolates the source\n  ingress: isolated by shop/web-from-client; admitted by shop/web-from-client ingress rule 0\n"
    );
    let denied = holt(&[
        "--from",
        "shop/intruder",
        "--to",
        "shop/web",
        "--port",
        "8080/tcp",
    ]);
    assert!(denied.status.success(), "a denied flow is not an error");
    assert!(text(&denied.stdout).starts_with("shop/intruder -> shop/web 8080/TCP: denied\n"));
    let other_port = holt(&["--from", "shop/client", "--to", "shop/web", "--port", "8081"]);
    assert!(
        text(&other_port.stdout).contains(": denied\n"),
        "the named port is 8080 only"
    );
}

#[test]
fn a_flows_file_gives_one_json_line_per_flow() {
    let output = holt(&[
        "--flows",
        data("flows.jsonl").to_str().expect("path"),
        "-o",
        "json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let verdicts: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["from"].as_str().expect("from"),
                l["verdict"].as_str().expect("verdict"),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("shop/client", "allow"),
            ("shop/intruder", "deny"),
            ("203.0.113.4", "deny")
        ]
    );
    assert_eq!(lines[0]["ingress"]["by"]["policy"]["name"], "web-from-client");
    assert_eq!(lines[2]["egress"]["state"], "outside_cluster");
    assert!(
        lines[1]["reason"]
            .as_str()
            .expect("reason")
            .contains("no ingress rule admits this flow")
    );
}

#[test]
fn bad_input_fails_with_a_message_naming_what_is_wrong() {
    let unknown = holt(&["--from", "shop/nobody", "--to", "shop/web", "--port", "80"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("--from: no pod shop/nobody in the manifests"));
    let port = holt(&["--from", "shop/client", "--to", "shop/web", "--port", "80/ICMP"]);
    assert!(!port.status.success());
    assert!(text(&port.stderr).contains("--port: `80/ICMP`"));

    let dir = tempfile::tempdir().expect("temp dir");
    let flows = dir.path().join("flows.jsonl");
    std::fs::write(&flows, "{\"from\":\"shop/client\",\"to\":\"shop/web\",\"port\":80}\n{\"from\":\"shop/client\",\"to\":\"shop/web\",\"port\":\"x\"}\n")
        .expect("write");
    let bad_line = holt(&["--flows", flows.to_str().expect("path"), "-o", "json"]);
    assert!(!bad_line.status.success());
    let message = text(&bad_line.stderr);
    assert!(message.contains("flows.jsonl:2: invalid type"), "{message}");
}

#[test]
fn holt_plan_still_says_it_does_not_use_network_policies() {
    let output = Command::new(env!("CARGO_BIN_EXE_holt"))
        .arg("plan")
        .arg(data("shop.yaml"))
        .output()
        .expect("holt runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(
            "NetworkPolicy shop/web-from-client is not used by holt plan (holt reach and holt plan --traffic evaluate it)"
        ),
        "{}",
        text(&output.stderr)
    );
}

fn holt_mesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .arg("reach")
        .arg(data("mesh.yaml"))
        .args(args)
        .output()
        .expect("holt runs")
}

#[test]
fn istio_policies_in_the_manifests_decide_requests_by_principal_method_and_path() {
    let call = |from: &str, method: &str, path: &str| {
        let output = holt_mesh(&[
            "--from", from, "--to", "mesh/web", "--port", "8080", "--method", method, "--path", path,
        ]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let declared = call("mesh/client", "GET", "/orders/17");
    assert!(
        declared.starts_with("mesh/client -> mesh/web 8080/TCP GET /orders/17: allowed\n"),
        "{declared}"
    );
    assert!(
        declared.contains("istio: allowed by ALLOW policy mesh/web-orders rule 0"),
        "{declared}"
    );
    for (from, method, path) in [
        ("mesh/client", "DELETE", "/orders/17"),
        ("mesh/client", "GET", "/admin"),
        ("mesh/intruder", "GET", "/orders/17"),
        // Without a sidecar the caller presents no principal, whatever its service account.
        ("mesh/plain", "GET", "/orders/17"),
    ] {
        let denied = call(from, method, path);
        assert!(denied.contains(": denied\n"), "{from} {method} {path}: {denied}");
        assert!(
            denied.contains(
                "istio: ALLOW policies select the destination (mesh/web-orders); none of their rules matches"
            ),
            "{denied}"
        );
    }
    // Plain TCP to a workload whose only ALLOW rule names HTTP operations: no rule matches.
    let tcp = holt_mesh(&["--from", "mesh/client", "--to", "mesh/web", "--port", "8080"]);
    assert!(text(&tcp.stdout).contains(": denied\n"), "{}", text(&tcp.stdout));
}

#[test]
fn flows_files_carry_http_requests_and_the_json_names_the_mesh_verdict() {
    let dir = std::env::temp_dir().join(format!("holt-reach-mesh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let flows = dir.join("flows.jsonl");
    std::fs::write(
        &flows,
        concat!(
            r#"{"from":"mesh/client","to":"mesh/web","port":8080,"method":"POST","path":"/orders"}"#,
            "\n",
            r#"{"from":"mesh/intruder","to":"mesh/web","port":8080,"method":"POST","path":"/orders"}"#,
            "\n",
        ),
    )
    .expect("flows");
    let output = holt_mesh(&["--flows", flows.to_str().expect("path"), "-o", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["verdict"], "allow");
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["istio"]["decision"]["state"], "allowed");
    assert_eq!(lines[1]["verdict"], "deny");
    assert_eq!(lines[1]["istio"]["decision"]["state"], "no_allow_rule_matches");
    assert_eq!(
        lines[1]["ingress"]["admitted_by"],
        Value::Null,
        "no NetworkPolicy isolates web"
    );

    std::fs::write(
        &flows,
        r#"{"from":"mesh/client","to":"mesh/web","port":8080,"method":"POST"}"#,
    )
    .expect("flows");
    let half = holt_mesh(&["--flows", flows.to_str().expect("path")]);
    assert!(!half.status.success(), "a method without a path is bad input");
    assert!(
        text(&half.stderr).contains("flows.jsonl:1: method: given without path"),
        "{}",
        text(&half.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn manifests_without_istio_policies_print_no_mesh_verdict() {
    let output = holt(&[
        "--from",
        "shop/client",
        "--to",
        "shop/web",
        "--port",
        "8080",
        "-o",
        "json",
    ]);
    let line: Value = serde_json::from_str(text(&output.stdout).trim()).expect("JSON");
    assert!(line.get("istio").is_none(), "{line}");
}
