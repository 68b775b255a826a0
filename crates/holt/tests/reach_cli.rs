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
