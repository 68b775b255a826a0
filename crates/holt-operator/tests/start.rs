//! The `holt-operator` binary's start against a real kube-apiserver: without its own namespace it says in one
//! line what to create, instead of failing later on its first write there.

mod support;

use std::process::Stdio;

use support::*;

#[tokio::test]
async fn without_its_namespace_the_operator_says_what_to_create() {
    let (_client, plane) = cluster().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_holt-operator"))
        .env("KUBECONFIG", plane.kubeconfig())
        .env("RUST_BACKTRACE", "0")
        .args([
            "--operator-namespace",
            "holt-test-no-such-namespace",
            "--health-probe-bind-address",
            "127.0.0.1:0",
            "--webhook-bind-address",
            "127.0.0.1:0",
            "--log-format",
            "text",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(TIMEOUT, output)
        .await
        .expect("exits in time")
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Error:"))
        .unwrap_or_else(|| panic!("an error line in {stderr}"));
    assert_eq!(
        line,
        "Error: the operator's namespace holt-test-no-such-namespace does not exist: create it \
         (`kubectl create namespace holt-test-no-such-namespace`) or name another with --operator-namespace"
    );
}
