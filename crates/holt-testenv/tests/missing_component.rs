//! A component that is not built fails the test, naming the component and how to build it: the harness
//! never skips. The check runs this test binary again with the cache pointed at an empty directory.

use anyhow::ensure;
use holt_testenv::{Component, ControlPlane, ControlPlaneOptions, Kafka, KafkaOptions};

/// Run only by `a_missing_component_fails_the_test`, in a child process whose cache is empty.
#[tokio::test]
#[ignore = "runs in a child process with an empty component cache"]
async fn starts_with_an_empty_cache() -> anyhow::Result<()> {
    let which = std::env::var("HOLT_TESTENV_CHILD_COMPONENT")?;
    match which.as_str() {
        "kube" => drop(ControlPlane::start(ControlPlaneOptions::default()).await?),
        "kafka" => drop(Kafka::start(KafkaOptions::default()).await?),
        other => anyhow::bail!("unknown component {other}"),
    }
    Ok(())
}

fn run_child(component: &str, empty_cache: &std::path::Path) -> anyhow::Result<(bool, String)> {
    let output = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "starts_with_an_empty_cache",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOLT_TESTENV_CACHE", empty_cache)
        .env("HOLT_TESTENV_CHILD_COMPONENT", component)
        .output()?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), all))
}

#[test]
fn a_missing_component_fails_the_test() -> anyhow::Result<()> {
    let empty = tempfile::tempdir()?;
    for (component, first_needed) in [("kube", Component::Etcd), ("kafka", Component::Kafka)] {
        let (passed, output) = run_child(component, empty.path())?;
        ensure!(
            !passed,
            "the {component} test passed with an empty cache:\n{output}"
        );
        ensure!(
            output.contains("1 failed"),
            "not reported as a failure:\n{output}"
        );
        let hint = format!("build-test-components.sh {}", first_needed.build_arg());
        ensure!(output.contains(&hint), "no build hint '{hint}':\n{output}");
        ensure!(
            output.contains(&format!(
                "component {} {} is not built",
                first_needed,
                first_needed.version()
            )),
            "the message does not name the component:\n{output}"
        );
    }
    Ok(())
}
