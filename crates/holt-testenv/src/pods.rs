//! The kubelet's part in a test: the control plane runs no kubelet, so pods never get addresses of their
//! own. A test that needs a pod at a given address (the sniffer's and mapper's tests, whose traffic comes
//! from network namespaces) creates the workload and sets the pod's `status.podIP(s)` itself.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::eventually::eventually;

/// How long the controller-manager may take to create a Deployment's pod.
const POD_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates Deployment `name` (one replica, pods labelled `app: name`) and, once the controller-manager has
/// made its pod, gives that pod the addresses `ips` as [`set_pod_ips`] does. Returns the pod's name.
pub async fn deployment_with_pod_ips(
    client: &Client,
    namespace: &str,
    name: &str,
    ips: &[&str],
) -> anyhow::Result<String> {
    deployment_serving(client, namespace, name, ips, &[]).await
}

/// [`deployment_with_pod_ips`] whose container declares `ports` (TCP container ports): the ports its pod
/// serves, as NetworkPolicy evaluation reads them.
pub async fn deployment_serving(
    client: &Client,
    namespace: &str,
    name: &str,
    ips: &[&str],
    ports: &[u16],
) -> anyhow::Result<String> {
    let ports: Vec<serde_json::Value> = ports
        .iter()
        .map(|port| json!({"containerPort": port, "protocol": "TCP"}))
        .collect();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "registry.example/app:1", "ports": ports}]}
            }
        }
    }))?;
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await
        .with_context(|| format!("creating Deployment {namespace}/{name}"))?;
    set_pod_ips(client, namespace, name, ips).await
}

/// Waits for a pod labelled `app: <app>` and sets its status as a kubelet would: phase Running,
/// `status.podIPs` = `ips` and `status.podIP` = the first. Returns the pod's name.
pub async fn set_pod_ips(
    client: &Client,
    namespace: &str,
    app: &str,
    ips: &[&str],
) -> anyhow::Result<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("app={app}");
    let pod = eventually(&format!("a pod of {app}"), POD_TIMEOUT, || async {
        let list = pods.list(&ListParams::default().labels(&selector)).await?;
        Ok(list.items.first().and_then(|p| p.metadata.name.clone()))
    })
    .await?;
    let status = json!({"status": {
        "phase": "Running",
        "podIP": ips.first(),
        "podIPs": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
    }});
    pods.patch_status(&pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("setting the addresses of pod {namespace}/{pod}"))?;
    Ok(pod)
}
