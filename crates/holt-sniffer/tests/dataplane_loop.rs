//! The whole loop on a real dataplane: discover → export → apply → enforce → probe.
//!
//! The tutorial's pods (`client`, `client-other`, `server`, each listening on TCP 80) are network namespaces
//! of holt-testenv's `Dataplane`, where kube-router enforces NetworkPolicies. The `holt-sniffer` binary runs
//! in the node's namespace and reports, through a relay, to a mapper served in-process that resolves pod
//! addresses through the test API server. Two calls happen: `client → server` and `client-other → client`.
//! `holt mapper export` must turn them into ClientIntents; those, applied exactly as exported with the
//! `holt-operator` binary in `defaultActive` mode, must keep both observed calls working and block every call
//! into a called pod that was never observed (`client-other → server`, `server → client`), while pods nobody
//! was seen calling stay open. The time from applying the export to enforcement is logged.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_api::v2beta1::ClientIntents;
use holt_testenv::{ControlPlane, Dataplane, HoltOperator, Port, Prober};
use kube::Api;
use kube::api::PostParams;
use support::access::MapperAccess;
use support::discovery::{Discovery, install_holt_crds};

const HTTP: Port = Port::tcp(80);
const TIMEOUT: Duration = Duration::from_secs(30);
/// The calls the workloads make (and the sniffer sees): (caller, called).
const OBSERVED: [(&str, &str); 2] = [("client", "server"), ("client-other", "client")];

/// The ClientIntents documents of `holt mapper export`'s output.
fn exported_intents(yaml: &str) -> anyhow::Result<Vec<ClientIntents>> {
    yaml.split("\n---\n")
        .filter(|document| !document.trim().is_empty())
        .map(|document| {
            serde_yaml::from_str(document).with_context(|| format!("an exported document:\n{document}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_intents_keep_every_observed_call_and_block_the_calls_never_seen() -> anyhow::Result<()> {
    let binaries =
        tokio::task::spawn_blocking(|| holt_testenv::build_binaries(&["holt", "holt-operator"])).await??;
    let (holt, holt_operator) = (
        binaries.get("holt").context("the holt binary")?,
        binaries
            .get("holt-operator")
            .context("the holt-operator binary")?,
    );
    let plane = ControlPlane::shared().await?;
    let kube = plane.client().await?;
    install_holt_crds(&kube).await?;
    let ns = plane.create_namespace(&kube, "full-loop").await?;

    let dataplane = Dataplane::start(plane).await?;
    let mut pods = Vec::new();
    for name in ["client", "client-other", "server"] {
        pods.push(dataplane.deployment(&kube, &ns, name, &[HTTP]).await?);
    }
    let pod = |label: &str| {
        pods.iter()
            .find(|pod| pod.label() == label)
            .context("a tutorial pod")
    };
    let prober = Prober::new(&pods.iter().collect::<Vec<_>>(), &[HTTP])?;
    prober.converge(&prober.all(true), TIMEOUT).await?;

    // Discover: the mapper on the machine's loopback, the sniffer on the node reporting through a relay.
    let access = MapperAccess::new(plane).await?;
    let discovery = Discovery::start(plane, &dataplane, &access).await?;
    let mapper_url = discovery.mapper_url.clone();
    for (from, to) in OBSERVED {
        let (from, to) = (pod(from)?, pod(to)?);
        ensure!(
            from.call(to, HTTP, Duration::from_secs(1))?,
            "{} could not call {} before any policy",
            from.label(),
            to.label()
        );
    }

    // Export: `holt mapper export` until both callers are there.
    let export = || -> anyhow::Result<String> {
        let output = Command::new(holt)
            .args(["mapper", "export", "--url", &mapper_url, "-n", &ns])
            .env("HOLT_MAPPER_TOKEN", &access.reader)
            .output()
            .context("running holt mapper export")?;
        ensure!(
            output.status.success(),
            "holt mapper export failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    };
    let deadline = Instant::now() + TIMEOUT;
    let exported = loop {
        let yaml = tokio::task::block_in_place(export)?;
        if yaml.contains("name: client\n") && yaml.contains("name: client-other\n") {
            break yaml;
        }
        if Instant::now() > deadline {
            bail!("holt mapper export never showed both callers within {TIMEOUT:?}; last output:\n{yaml}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("holt mapper export:\n{exported}");
    // Discovery is done: the prober's own traffic must not be discovered.
    discovery.stop().await?;
    let intents = exported_intents(&exported)?;
    ensure!(intents.len() == 2, "one ClientIntents per caller:\n{exported}");

    // Apply exactly the export, with the operator enforcing in active mode.
    let _operator = HoltOperator::start(holt_operator, plane, &ns, "defaultActive").await?;
    let api: Api<ClientIntents> = Api::namespaced(kube.clone(), &ns);
    let applied = Instant::now();
    for object in &intents {
        api.create(&PostParams::default(), object).await?;
    }

    // Enforce, probe: the observed calls work; a pod that was seen being called admits only those callers;
    // a pod nobody was seen calling stays open.
    let mut expected = prober.all(true);
    let called: Vec<&str> = OBSERVED.iter().map(|(_, to)| *to).collect();
    for (probe, _) in prober.all(true).cells() {
        let seen = OBSERVED.contains(&(probe.from.as_str(), probe.to.as_str()));
        if called.contains(&probe.to.as_str()) && !seen {
            expected.set(&probe.from, &probe.to, probe.port, false);
        }
    }
    ensure!(
        expected.counts() == (4, 2),
        "client-other → server and server → client are the calls never seen"
    );
    prober.converge(&expected, TIMEOUT).await?;
    eprintln!(
        "dataplane: the exported intents were enforced {:.3} s after they were applied",
        applied.elapsed().as_secs_f64()
    );
    Ok(())
}
