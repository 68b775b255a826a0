//! `holt plan --traffic` as a user runs it in CI: the built binary on the tutorial (examples/tutorial, where
//! only `client` declares its call to `server`) with the mapper's export of both clients' calls
//! (examples/traffic/tutorial.yaml), in YAML and as the JSON list the export writes; an export without
//! `client`'s call shows its declared call as declared, not seen.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn plan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .arg("plan")
        .arg(repo("examples/tutorial"))
        .args(args)
        .output()
        .expect("holt runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn traffic() -> String {
    repo("examples/traffic/tutorial.yaml")
        .to_string_lossy()
        .into_owned()
}

/// `(client, now state, if_protected state)` of each call in the JSON output.
fn states(output: &Output) -> Vec<(String, String, String)> {
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    json["insights"]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["client"]["name"].as_str().expect("client").to_owned(),
                c["now"]["state"].as_str().expect("now").to_owned(),
                c["if_protected"]["state"]
                    .as_str()
                    .expect("if_protected")
                    .to_owned(),
            )
        })
        .collect()
}

fn state(client: &str, now: &str, protected: &str) -> (String, String, String) {
    (client.into(), now.into(), protected.into())
}

#[test]
fn in_active_mode_the_plan_blocks_the_undeclared_client_and_fails_listing_it() {
    let output = plan(&["--traffic", &traffic()]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("2 call(s), 1 blocked by this plan"), "{stdout}");
    assert!(
        stdout.contains(
            "otterize-tutorial-npol/client-other -> otterize-tutorial-npol/server: blocked on 80/TCP by otterize-tutorial-npol/server-access (Holt's, ingress)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("otterize-tutorial-npol/client -> "), "{stdout}");
}

#[test]
fn in_shadow_mode_nothing_is_blocked_but_the_server_is_not_ready() {
    let output = plan(&["--traffic", &traffic(), "--mode", "defaultShadow", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        states(&output),
        vec![
            state("client", "allowed", "allowed"),
            state("client-other", "allowed", "blocked"),
        ]
    );
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let server = &json["insights"]["servers"][0];
    assert_eq!(server["ready_to_protect"], Value::Bool(false));
    assert_eq!(server["enforcement"]["state"], "shadow");
    assert_eq!(server["undeclared_clients"][0]["name"], "client-other");
    assert!(
        json["objects"].is_array(),
        "the plan's objects stay in the JSON output"
    );
}

#[test]
fn the_json_export_reads_like_the_yaml_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("export.json");
    let export = r#"[
      {"kind": "ClientIntents", "apiVersion": "k8s.otterize.com/v2beta1",
       "metadata": {"name": "client-other", "namespace": "otterize-tutorial-npol", "creationTimestamp": null},
       "spec": {"workload": {"name": "client-other", "kind": "Deployment"},
                "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]},
       "status": {"upToDate": false, "observedGeneration": 0}}
    ]"#;
    std::fs::write(&file, export).expect("write");
    let output = plan(&["--traffic", file.to_str().expect("path"), "-o", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(states(&output), vec![state("client-other", "blocked", "blocked")]);
    // Only client-other was seen: client's declared call to the server is declared, not seen.
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let not_seen = &json["insights"]["declared_not_seen"];
    assert_eq!(
        (
            not_seen.as_array().map(Vec::len),
            &not_seen[0]["client"]["name"],
            &not_seen[0]["server"]["name"]
        ),
        (Some(1), &Value::from("client"), &Value::from("server"))
    );
    let table = text(&plan(&["--traffic", file.to_str().expect("path")]).stdout);
    assert!(
        table.contains(
            "Declared, not seen: 1 call(s).\notterize-tutorial-npol/client -> otterize-tutorial-npol/server\n"
        ),
        "{table}"
    );
}

#[test]
fn a_traffic_file_that_is_not_an_export_exits_2_naming_the_file() {
    let missing = plan(&["--traffic", "/nonexistent/traffic.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("traffic file /nonexistent/traffic.yaml"),
        "{}",
        text(&missing.stderr)
    );

    let not_intents = repo("examples/tutorial/service.yaml");
    let output = plan(&["--traffic", not_intents.to_str().expect("path")]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("service.yaml") && stderr.contains("is not a ClientIntents"),
        "{stderr}"
    );
}

#[test]
fn without_traffic_the_plan_is_unchanged() {
    let output = plan(&["-o", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(json.is_array(), "a JSON list, as before");
}
