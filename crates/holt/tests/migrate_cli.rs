//! `holt migrate --dry-run` against a real API server (holt-testenv's control plane, through its
//! kubeconfig): the reference operator's policies are listed with what the operator would do — adopt the one
//! Holt wants, delete the stale one, keep one of a family Holt does not render — a hand-written policy is not listed, the stale pod label is listed for
//! removal after the first pass, and nothing in the cluster changes. The reference's objects are written
//! from its documented formats (docs/reference-behaviour.md), as in the operator's migration test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use holt_model::Identity;
use holt_model::labels::access_label;
use holt_testenv::ControlPlane;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

async fn install_crds(client: &Client) -> anyhow::Result<()> {
    holt_testenv::install_crds_without_conversion(client, &holt_api::crds::crds_yaml()?).await?;
    Ok(())
}

fn deployment(name: &str) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "example/app:1"}]},
            },
        },
    }))?)
}

/// An access policy as the reference writes it for Deployment `server` in `ns`.
fn reference_access_policy(ns: &str, server: &str) -> anyhow::Result<NetworkPolicy> {
    let identity = Identity::new(ns, server, Some("Deployment"));
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": format!("{server}-deployment-access"),
            "labels": {"intents.otterize.com/network-policy": identity.label_value_with_kind()},
        },
        "spec": {
            "podSelector": {"matchLabels": {
                "intents.otterize.com/owner-kind": "Deployment",
                "intents.otterize.com/service": identity.label_value(),
            }},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {access_label(&identity): "true"}}}]}],
        },
    }))?)
}

async fn resource_versions(policies: &Api<NetworkPolicy>) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(policies
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|p| {
            (
                p.metadata.name.unwrap_or_default(),
                p.metadata.resource_version.unwrap_or_default(),
            )
        })
        .collect())
}

fn holt(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_holt"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("HOLT_OUTPUT")
        .output()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_lists_what_the_operator_would_adopt_and_delete_and_changes_nothing() -> anyhow::Result<()>
{
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    install_crds(&client).await?;
    let ns = plane.create_namespace(&client, "migrate-cli").await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    for name in ["client", "server"] {
        deployments
            .create(&PostParams::default(), &deployment(name)?)
            .await?;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pods_up = holt_testenv::eventually("two pods", Duration::from_secs(60), || async {
        let list = pods.list(&ListParams::default()).await?;
        Ok((list.items.len() == 2).then_some(list.items))
    })
    .await?;
    let client_pod = pods_up
        .iter()
        .find(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .map(String::as_str)
                == Some("client")
        })
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| anyhow::anyhow!("no client pod"))?;
    let stale = access_label(&Identity::new(&ns, "retired", Some("Deployment")));
    pods.patch(
        &client_pod,
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {stale.clone(): "true"}}})),
    )
    .await?;

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    for policy in [
        reference_access_policy(&ns, "server")?,
        reference_access_policy(&ns, "retired")?,
        serde_json::from_value(json!({
            "metadata": {"name": "hand-written", "labels": {"intents.otterize.com/service": "x"}},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }))?,
        serde_json::from_value(json!({
            "metadata": {"name": "metrics-collection-access-to-server",
                         "labels": {"intents.otterize.com/network-policy-metrics-collectors": "server"}},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }))?,
    ] {
        policies.create(&PostParams::default(), &policy).await?;
    }
    let intents: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2beta1",
        "kind": "ClientIntents",
        "metadata": {"name": "client", "namespace": ns},
        "spec": {"workload": {"name": "client", "kind": "Deployment"},
                 "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]},
    }))?;
    let resource = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("k8s.otterize.com", "v2beta1", "ClientIntents"),
        "clientintents",
    );
    Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource)
        .create(&PostParams::default(), &intents)
        .await?;
    let before = resource_versions(&policies).await?;

    let output = holt(
        plane.kubeconfig(),
        &["migrate", "--dry-run", "-o", "json", "--watched-namespaces", &ns],
    )?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let survey: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(
        survey["objects"],
        json!([
            {"action": "adopt", "kind": "NetworkPolicy", "namespace": ns, "name": "server-deployment-access"},
            {"action": "delete", "kind": "NetworkPolicy", "namespace": ns, "name": "retired-deployment-access"},
            {"action": "keep", "kind": "NetworkPolicy", "namespace": ns,
             "name": "metrics-collection-access-to-server"},
        ]),
        "{survey:#}"
    );
    let relabelled = survey["pods"]
        .as_array()
        .and_then(|pods| pods.iter().find(|p| p["name"] == client_pod.as_str()))
        .ok_or_else(|| anyhow::anyhow!("the client pod is not listed: {survey:#}"))?;
    assert_eq!(relabelled["remove"], json!([stale]), "{survey:#}");
    assert_eq!(
        resource_versions(&policies).await?,
        before,
        "the dry run wrote nothing"
    );

    let table = holt(
        plane.kubeconfig(),
        &["migrate", "--dry-run", "--watched-namespaces", &ns],
    )?;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("delete after the first pass") && text.contains("retired-deployment-access"),
        "{text}"
    );

    let refused = holt(plane.kubeconfig(), &["migrate", "--watched-namespaces", &ns])?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--dry-run"));
    Ok(())
}
