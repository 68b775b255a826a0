//! `holt diff` as a user runs it: the built binary on two trees of manifests (a shop namespace with a `web`
//! Deployment serving port 8080 through a Service, and two callers `client` and `intruder`), with and without
//! a ClientIntents declaring `client -> web` and a NetworkPolicy denying all ingress in the namespace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/diff")
        .join(name)
}

fn holt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .arg("diff")
        .args(args)
        .output()
        .expect("holt runs")
}

fn diff(old: &str, new: &str, extra: &[&str]) -> Output {
    let (old, new) = (tree(old), tree(new));
    let mut args = vec![old.to_str().expect("path"), new.to_str().expect("path")];
    args.extend_from_slice(extra);
    holt(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn json_lines(output: &Output) -> Vec<Value> {
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// `(change, from, to, port)` of each JSON line.
fn calls(output: &Output) -> Vec<(String, String, String, u64)> {
    json_lines(output)
        .iter()
        .map(|line| {
            (
                line["change"].as_str().expect("change").to_owned(),
                line["from"].as_str().expect("from").to_owned(),
                line["to"].as_str().expect("to").to_owned(),
                line["port"].as_u64().expect("port"),
            )
        })
        .collect()
}

fn call(change: &str, from: &str, to: &str, port: u64) -> (String, String, String, u64) {
    (change.into(), from.into(), to.into(), port)
}

#[test]
fn adding_client_intents_in_active_mode_blocks_the_undeclared_caller_only() {
    let output = diff("before", "with-intents", &["-o", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        calls(&output),
        [call("blocked", "shop/intruder", "shop/web", 8080)],
        "the declared client keeps its access"
    );
    let line = &json_lines(&output)[0];
    assert_eq!(line["denied_on"], "new");
    assert_eq!(line["protocol"], "TCP");
    assert_eq!(line["ingress"]["state"], "denied");
    assert_eq!(
        line["reason"],
        "ingress: isolated by shop/web-service-access; no ingress rule admits this flow"
    );

    let table = diff("before", "with-intents", &[]);
    assert_eq!(
        text(&table.stdout),
        "CHANGE   FROM           TO        PORT      DENIED ON: WHY\n\
         blocked  shop/intruder  shop/web  8080/TCP  new: ingress: isolated by shop/web-service-access; no ingress rule admits this flow\n\
         \n0 call(s) become allowed, 1 become blocked\n"
    );
}

#[test]
fn adding_client_intents_next_to_a_deny_all_policy_allows_the_declared_caller() {
    let output = diff("deny-all", "deny-all-with-intents", &["-o", "json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(calls(&output), [call("allowed", "shop/client", "shop/web", 8080)]);
    let line = &json_lines(&output)[0];
    assert_eq!(line["denied_on"], "old");
    assert_eq!(
        line["reason"],
        "ingress: isolated by shop/deny-all; no ingress rule admits this flow"
    );
}

#[test]
fn in_shadow_mode_the_same_intents_change_no_access() {
    let output = diff("before", "with-intents", &["--mode", "defaultShadow"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "no change in access\n");
}

#[test]
fn removing_a_network_policy_opens_access() {
    let output = diff("deny-all", "before", &["-o", "json", "--fail-on-blocked"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        calls(&output),
        [
            call("allowed", "shop/client", "shop/web", 8080),
            call("allowed", "shop/intruder", "shop/web", 8080),
        ]
    );
}

#[test]
fn identical_trees_print_no_change() {
    let table = diff("with-intents", "with-intents", &["--fail-on-blocked"]);
    assert!(table.status.success());
    assert_eq!(text(&table.stdout), "no change in access\n");
    let json = diff("with-intents", "with-intents", &["-o", "json"]);
    assert!(json.status.success());
    assert_eq!(text(&json.stdout), "", "no change, no line");
}

#[test]
fn fail_on_blocked_exits_one_only_when_a_call_becomes_blocked() {
    assert_eq!(
        diff("before", "with-intents", &["--fail-on-blocked"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        diff("before", "with-intents", &[]).status.code(),
        Some(0),
        "only with the flag"
    );
    assert_eq!(
        diff("with-intents", "before", &["--fail-on-blocked"])
            .status
            .code(),
        Some(0),
        "opening access is not a failure"
    );
}

#[test]
fn old_and_new_may_each_be_several_paths() {
    let before = tree("before/shop.yaml");
    let intents = tree("with-intents/intents.yaml");
    let output = holt(&[
        "--old",
        before.to_str().expect("path"),
        "--new",
        before.to_str().expect("path"),
        intents.to_str().expect("path"),
        "-o",
        "json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        calls(&output),
        [call("blocked", "shop/intruder", "shop/web", 8080)]
    );
}

#[test]
fn a_bad_path_is_a_clear_error_and_not_a_blocked_call() {
    let missing = tree("no-such-tree");
    let output = holt(&[
        tree("before").to_str().expect("path"),
        missing.to_str().expect("path"),
        "--fail-on-blocked",
    ]);
    assert_eq!(output.status.code(), Some(2), "bad input is not status 1");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("the new manifests"), "{stderr}");
    assert!(stderr.contains("no-such-tree"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn the_two_sides_must_both_be_given_once() {
    let before = tree("before");
    let before = before.to_str().expect("path");
    for args in [
        vec![before],
        vec![before, before, before],
        vec!["--old", before],
        vec![before, before, "--old", before, "--new", before],
    ] {
        let output = holt(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
