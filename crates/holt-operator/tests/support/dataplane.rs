//! What the operator's tests on a real dataplane share (holt-testenv's `Dataplane`, kube-router enforcing
//! what the `holt-operator` binary writes): the binary started against the control plane, how long
//! enforcement may take, and the Deployments they run, with named container ports.

use std::path::Path;
use std::time::Duration;

use holt_api::v2beta1::ClientIntents;
use holt_testenv::{ControlPlane, HoltOperator, Port, Protocol};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

/// How long the dataplane may take to enforce a change (measured: well under a second).
pub const ENFORCEMENT: Duration = Duration::from_secs(30);

/// The `holt-operator` binary of this package, watching `watched` (comma-separated namespaces) in `mode`,
/// with `flags` after the harness's own.
pub async fn holt_operator(
    plane: &ControlPlane,
    watched: &str,
    mode: &str,
    flags: &[&str],
) -> anyhow::Result<HoltOperator> {
    let binary = Path::new(env!("CARGO_BIN_EXE_holt-operator"));
    Ok(HoltOperator::start_with_flags(binary, plane, watched, mode, flags).await?)
}

/// Deployment `name` (one replica, pods labelled `app: <name>`) whose container declares `ports` under
/// their names, so that a Service's `targetPort` and a NetworkPolicy can name them.
pub fn deployment_with_ports(name: &str, ports: &[(&str, Port)]) -> anyhow::Result<Deployment> {
    let ports: Vec<_> = ports
        .iter()
        .map(|(port_name, port)| {
            let protocol = match port.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
            };
            json!({"name": port_name, "containerPort": port.number, "protocol": protocol})
        })
        .collect();
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": name,
                    "image": "registry.example/holt-dataplane:1",
                    "ports": ports,
                }]}
            }
        }
    }))?)
}

/// The tutorial's ClientIntents, as its YAML reads.
pub fn tutorial_intents(ns: &str) -> anyhow::Result<ClientIntents> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata:
  name: client
  namespace: {ns}
spec:
  workload:
    name: client
    kind: Deployment
  targets:
  - kubernetes:
      name: server
      kind: Deployment
"
    ))?)
}
