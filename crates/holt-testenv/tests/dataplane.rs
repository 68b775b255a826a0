//! The dataplane itself, without Holt: kube-router, running in a node namespace against the test API
//! server, enforces a hand-written NetworkPolicy on the bridged traffic between namespace pods and on the
//! traffic the node routes to them from a host outside the cluster — exactly the declared call gets
//! through, on the declared port and protocol only — and lifts it when the policy is deleted; everything it
//! made stays inside its namespaces and goes away with the dataplane.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use holt_testenv::{ControlPlane, Dataplane, Endpoint, NAMESPACE_PREFIX, Port, ProbeError, Prober};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

const ENFORCEMENT: Duration = Duration::from_secs(30);
const HTTP: Port = Port::tcp(80);
const DNS: Port = Port::udp(53);

/// `c` admits `a` on TCP 80 only.
fn a_to_c_on_http(ns: &str) -> anyhow::Result<NetworkPolicy> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": "c-admits-a-on-http", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": "c"}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"app": "a"}}}],
                "ports": [{"protocol": "TCP", "port": 80}],
            }],
        },
    }))?)
}

/// Names of this process's dataplane namespaces that still exist.
fn our_namespaces() -> Vec<String> {
    let prefix = format!("{NAMESPACE_PREFIX}{}-", std::process::id());
    std::fs::read_dir("/run/netns")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_router_enforces_a_network_policy_on_the_bridge_and_leaves_nothing_behind() -> anyhow::Result<()>
{
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "dataplane").await?;
    let dataplane = Dataplane::start(plane).await?;
    eprintln!(
        "kube-router healthy {:.2} s after its start",
        dataplane.kube_router_startup().as_secs_f64()
    );
    let mut pods = Vec::new();
    for name in ["a", "b", "c"] {
        pods.push(dataplane.deployment(&client, &ns, name, &[HTTP, DNS]).await?);
    }
    // A host outside the pods' range, routed by the node (a load balancer, say).
    let outside = dataplane.outside_host("x", Ipv4Addr::new(198, 51, 100, 7), &[HTTP, DNS])?;
    let mut endpoints: Vec<&Endpoint> = pods.iter().map(|pod| pod.endpoint()).collect();
    endpoints.push(outside.endpoint());
    let prober = Prober::new(&endpoints, &[HTTP, DNS])?;

    // No policy: every pod (and the outside host) reaches every other on both ports.
    let open = prober.all(true);
    prober.converge(&open, ENFORCEMENT).await?;

    // The policy: only a → c on TCP 80 gets into c; the routed traffic from outside is held too.
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    let applied = Instant::now();
    policies
        .create(&PostParams::default(), &a_to_c_on_http(&ns)?)
        .await?;
    let enforced = open
        .clone()
        .with_pair("b", "c", false)
        .with_pair("x", "c", false)
        .with("a", "c", DNS, false);
    let converged = prober.converge(&enforced, ENFORCEMENT).await?;
    eprintln!(
        "a NetworkPolicy was enforced {:.3} s after its create",
        applied.elapsed().as_secs_f64()
    );
    assert!(converged.rounds >= 1);

    // The expectation without the policy is now wrong, and the prober says where.
    let stale = prober.converge(&open, Duration::from_millis(300)).await;
    let Err(ProbeError::NotConverged { diff, .. }) = stale else {
        panic!("the open matrix should no longer match: {stale:?}");
    };
    let report = diff.to_string();
    eprintln!("what a failed check prints:\n{report}");
    assert!(
        report.contains("b -> c:80/TCP: expected reachable, observed blocked"),
        "{report}"
    );

    // kube-router's chains and sets are in the node's namespace, not on the machine.
    let node_rules = dataplane
        .node_namespace()
        .run("iptables-save", &["-t", "filter"])?;
    assert!(node_rules.contains(":KUBE-ROUTER-FORWARD"), "{node_rules}");
    assert!(node_rules.contains("KUBE-NWPLCY-"), "{node_rules}");
    let host_rules = String::from_utf8(
        std::process::Command::new("iptables-save")
            .arg("-t")
            .arg("filter")
            .output()?
            .stdout,
    )?;
    assert!(
        !host_rules.contains("KUBE-ROUTER-"),
        "kube-router touched the machine's filter table"
    );
    let host_sets = String::from_utf8(
        std::process::Command::new("ipset")
            .args(["list", "-n"])
            .output()?
            .stdout,
    )?;
    assert!(
        !host_sets.contains("KUBE-"),
        "kube-router made ipsets on the machine: {host_sets}"
    );

    // Deleting the policy restores every call.
    policies
        .delete("c-admits-a-on-http", &DeleteParams::default())
        .await?;
    prober.converge(&open, ENFORCEMENT).await?;

    let kube_router = dataplane.kube_router();
    let node_namespace = dataplane.node_namespace().name().to_owned();
    assert!(our_namespaces().contains(&node_namespace));
    drop(endpoints);
    drop(pods);
    drop(outside);
    drop(dataplane);
    assert!(our_namespaces().is_empty(), "left behind: {:?}", our_namespaces());
    assert!(
        !Path::new(&format!("/proc/{}", kube_router.pid)).exists(),
        "kube-router still runs"
    );
    Ok(())
}
