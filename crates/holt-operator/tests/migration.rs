//! Switching from the reference operator (Otterize's intents operator) to Holt on a real API server and a
//! real dataplane, with nothing lost.
//!
//! The reference's operator is not built in this harness: its objects are written here from its documented
//! formats (docs/reference-behaviour.md, "Access NetworkPolicies" and "Pod labels"), as it leaves them for
//! the tutorial — `client` calling Deployment `server`, `client-other` calling nothing: the access policy
//! `server-deployment-access` labelled `intents.otterize.com/network-policy`, the pods' `service`,
//! `owner-kind`, `client` and `access-…` labels. It also leaves what a stale reference leaves: a policy for a
//! workload no intent names any more and an access label nothing wants. Beside them stand a hand-written
//! policy and one another tool manages (`app.kubernetes.io/managed-by: Helm`), which are not the reference's.
//!
//! Then Holt starts with the same values, and:
//! - every call allowed before is allowed at every moment: the prober probes the tutorial's pods round after
//!   round from before Holt starts until after it has adopted and pruned, and every round must show the
//!   matrix the reference's policy enforced (`client-other → server` blocked, everything else open);
//! - at the end the namespace holds exactly what a fresh Holt install holds: the same policies and pod labels
//!   as a second run of Holt on the same namespace after everything of Holt's and the reference's is removed;
//! - the hand-written and the other tool's policies are untouched.
//!
//! With `--adopt-reference-objects=false` the reference's objects are left alone (the name Holt wants is
//! reported as taken); the reference's policies of a family Holt does not render are kept; its Istio
//! AuthorizationPolicies (Istio's CRD installed) are adopted in place (same UID) or deleted the same way.
//! Kafka ACLs: tests/migration_kafka.rs.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use holt_api::v2beta1::ClientIntents;
use holt_model::labels::access_label;
use holt_model::{Identity, Mode};
use holt_operator::controller::Options;
use holt_render::pod_labels::PodLabels;
use holt_testenv::{Dataplane, Port, Prober, Reachability};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use support::dataplane::{ENFORCEMENT, holt_operator, tutorial_intents};
use support::{Operator, cluster, eventually};

const HTTP: Port = Port::tcp(80);
/// How long the prober keeps probing while Holt starts, adopts and prunes (it is ready in about a second).
const TAKEOVER: Duration = Duration::from_secs(12);

fn deployment(ns: &str, name: &str) -> Identity {
    Identity::new(ns, name, Some("Deployment"))
}

/// An access policy as the reference writes it for Deployment `server` admitting its clients in `ns`.
fn reference_access_policy(ns: &str, server: &str) -> anyhow::Result<NetworkPolicy> {
    let identity = deployment(ns, server);
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
            "ingress": [{"from": [{
                "podSelector": {"matchLabels": {access_label(&identity): "true"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            }]}],
        },
    }))?)
}

/// A policy selecting nothing, with `labels`.
fn policy_with_labels(name: &str, labels: Value) -> anyhow::Result<NetworkPolicy> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"podSelector": {"matchLabels": {"app": "nobody"}}, "policyTypes": ["Ingress"]},
    }))?)
}

/// The pod labels the reference sets on the tutorial's pods, plus a stale access label on `client-other`.
fn reference_pod_labels(ns: &str, app: &str) -> BTreeMap<String, String> {
    let identity = deployment(ns, app);
    let mut labels = BTreeMap::from([
        ("intents.otterize.com/service".to_owned(), identity.label_value()),
        (
            "intents.otterize.com/owner-kind".to_owned(),
            "Deployment".to_owned(),
        ),
    ]);
    match app {
        "client" => {
            labels.insert(access_label(&deployment(ns, "server")), "true".to_owned());
            labels.insert("intents.otterize.com/client".to_owned(), identity.label_value());
        }
        "client-other" => {
            labels.insert(access_label(&deployment(ns, "retired")), "true".to_owned());
        }
        _ => {}
    }
    labels
}

/// Writes what the reference leaves behind for the tutorial in `ns` (pods already running).
async fn write_reference_state(client: &Client, ns: &str) -> anyhow::Result<()> {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    let post = PostParams::default();
    policies
        .create(&post, &reference_access_policy(ns, "server")?)
        .await?;
    // A stale access policy for a workload no intent names any more (it selects no pod).
    policies
        .create(&post, &reference_access_policy(ns, "retired")?)
        .await?;
    // Not the reference's: a hand-written policy using one of its pod label keys, and another tool's policy.
    policies
        .create(
            &post,
            &policy_with_labels(
                "team-allow-monitoring",
                json!({"intents.otterize.com/service": "x"}),
            )?,
        )
        .await?;
    policies
        .create(
            &post,
            &policy_with_labels(
                "helm-managed",
                json!({"intents.otterize.com/network-policy": "x", "app.kubernetes.io/managed-by": "Helm"}),
            )?,
        )
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for app in ["client", "client-other", "server"] {
        for pod in pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await?
            .items
        {
            let name = pod.metadata.name.unwrap_or_default();
            let patch = json!({"metadata": {"labels": reference_pod_labels(ns, app)}});
            pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Api::<ClientIntents>::namespaced(client.clone(), ns)
        .create(&post, &tutorial_intents(ns)?)
        .await?;
    Ok(())
}

/// What Holt controls in a namespace: each policy's labels and spec by name, and each pod's Holt-owned
/// labels by app.
#[derive(Debug, PartialEq, Eq)]
struct Holdings {
    policies: BTreeMap<String, (BTreeMap<String, String>, Value)>,
    pod_labels: BTreeMap<String, BTreeMap<String, String>>,
}

async fn holdings(client: &Client, ns: &str) -> anyhow::Result<Holdings> {
    let mut policies = BTreeMap::new();
    for policy in Api::<NetworkPolicy>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
    {
        let labels = policy.metadata.labels.clone().unwrap_or_default();
        let name = policy.metadata.name.clone().unwrap_or_default();
        policies.insert(name, (labels, serde_json::to_value(&policy.spec)?));
    }
    let mut pod_labels = BTreeMap::new();
    for pod in Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
    {
        let labels = pod.metadata.labels.unwrap_or_default();
        let app = labels.get("app").cloned().unwrap_or_default();
        let owned = labels
            .into_iter()
            .filter(|(k, _)| PodLabels::is_owned(k))
            .collect();
        pod_labels.insert(app, owned);
    }
    Ok(Holdings { policies, pod_labels })
}

/// Removes everything of Holt's and the reference's from `ns`: their policies and the pods' owned labels.
async fn clear(client: &Client, ns: &str) -> anyhow::Result<()> {
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    for name in ["server-deployment-access", "retired-deployment-access"] {
        let _ = policies.delete(name, &DeleteParams::default()).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for pod in pods.list(&ListParams::default()).await?.items {
        let removals: serde_json::Map<String, Value> = pod
            .metadata
            .labels
            .unwrap_or_default()
            .into_keys()
            .filter(|k| PodLabels::is_owned(k))
            .map(|k| (k, Value::Null))
            .collect();
        let patch = json!({"metadata": {"labels": removals}});
        let name = pod.metadata.name.unwrap_or_default();
        pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holt_takes_over_the_references_policies_and_labels_without_blocking_any_allowed_call()
-> anyhow::Result<()> {
    let (client, plane) = cluster().await;
    let ns = plane.create_namespace(&client, "migrate").await?;
    let dataplane = Dataplane::start(plane).await?;
    let mut pods = Vec::new();
    for name in ["client", "client-other", "server"] {
        pods.push(dataplane.deployment(&client, &ns, name, &[HTTP]).await?);
    }
    let prober = Prober::new(&pods.iter().collect::<Vec<_>>(), &[HTTP])?;
    let enforced: Reachability = prober.all(true).with("client-other", "server", HTTP, false);

    // Before: the reference's objects, enforced by the dataplane.
    write_reference_state(&client, &ns).await?;
    prober.converge(&enforced, ENFORCEMENT).await?;

    // The switch: the prober watches every moment of Holt's start, adoption and pruning.
    let holding = {
        let (prober, enforced) = (prober.clone(), enforced.clone());
        tokio::spawn(async move { prober.hold(&enforced, TAKEOVER).await })
    };
    let operator = holt_operator(plane, &ns, "defaultActive", &[]).await?;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    eventually("the stale reference policy deleted", || async {
        policies
            .get_opt("retired-deployment-access")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    let adopted = policies.get("server-deployment-access").await?;
    let labels = adopted.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("app.kubernetes.io/managed-by").map(String::as_str),
        Some("holt"),
        "the reference's policy is Holt's now: {labels:?}"
    );
    let stale = access_label(&deployment(&ns, "retired"));
    eventually("the stale access label removed", || async {
        let held = holdings(&client, &ns).await.ok()?;
        (!held.pod_labels.get("client-other")?.contains_key(&stale)).then_some(())
    })
    .await;
    let rounds = holding.await??;
    assert!(rounds >= 3, "the prober ran {rounds} rounds during the switch");
    let log = operator.log_tail();
    assert!(log.contains("adopted the reference operator's object"), "{log}");
    assert!(log.contains("deleted the reference operator's object"), "{log}");
    let migrated = holdings(&client, &ns).await?;
    assert!(
        migrated.policies.contains_key("team-allow-monitoring"),
        "hand-written policy kept"
    );
    assert!(
        migrated.policies.contains_key("helm-managed"),
        "another tool's policy kept"
    );
    drop(operator);

    // A fresh install on the same namespace: nothing of Holt's or the reference's, Holt started again.
    clear(&client, &ns).await?;
    let fresh_operator =
        holt_operator(plane, &ns, "defaultActive", &["--adopt-reference-objects=false"]).await?;
    let fresh = eventually("a fresh install's objects", || async {
        let held = holdings(&client, &ns).await.ok()?;
        let labelled = held.pod_labels.get("client")?.len() == migrated.pod_labels.get("client")?.len();
        (held.policies.contains_key("server-deployment-access") && labelled).then_some(held)
    })
    .await;
    assert_eq!(
        migrated, fresh,
        "after the switch the cluster holds what a fresh install holds"
    );
    prober.converge(&enforced, ENFORCEMENT).await?;
    drop(fresh_operator);
    drop(pods);
    Ok(())
}

#[tokio::test]
async fn with_adoption_off_the_references_objects_are_left_alone_and_the_name_reported_taken()
-> anyhow::Result<()> {
    let (client, plane) = cluster().await;
    let ns = support::tutorial(&client, plane, "migrate-off").await;
    let (server, retired) = (
        reference_access_policy(&ns, "server")?,
        reference_access_policy(&ns, "retired")?,
    );
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    for policy in [&server, &retired] {
        policies.create(&PostParams::default(), policy).await?;
    }
    Api::<ClientIntents>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &tutorial_intents(&ns)?)
        .await?;
    let options = Options {
        adopt_reference_objects: false,
        ..Options::default()
    };
    let operator = Operator::start_with(&client, &ns, Mode::DefaultActive, options).await;
    eventually("the name reported taken", || async {
        (operator.progress.borrow().names_taken == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for policy in [&server, &retired] {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let now = policies.get(&name).await?;
        assert_eq!(now.metadata.labels, policy.metadata.labels, "{name} untouched");
        assert_eq!(now.spec, policy.spec, "{name} untouched");
    }
    let progress = operator.progress.borrow().clone();
    assert_eq!((progress.reference_adopted, progress.reference_deleted), (0, 0));
    operator.stop();
    Ok(())
}

#[tokio::test]
async fn with_adoption_on_the_in_process_operator_counts_what_it_adopted_and_deleted() -> anyhow::Result<()> {
    let (client, plane) = cluster().await;
    let ns = support::tutorial(&client, plane, "migrate-on").await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    for policy in [
        reference_access_policy(&ns, "server")?,
        reference_access_policy(&ns, "retired")?,
        policy_with_labels(
            "team-allow-monitoring",
            json!({"intents.otterize.com/service": "x"}),
        )?,
        // The reference's, but of a family Holt does not render (it allows metrics scraping): kept.
        policy_with_labels(
            "metrics-collection-access-to-server",
            json!({"intents.otterize.com/network-policy-metrics-collectors": "server"}),
        )?,
    ] {
        policies.create(&PostParams::default(), &policy).await?;
    }
    Api::<ClientIntents>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &tutorial_intents(&ns)?)
        .await?;
    let operator = Operator::start_with(&client, &ns, Mode::DefaultActive, Options::default()).await;
    eventually("one adopted, one deleted", || async {
        let progress = operator.progress.borrow().clone();
        (progress.reference_adopted == 1 && progress.reference_deleted == 1).then_some(())
    })
    .await;
    assert_eq!(
        support::policy_names(&client, &ns).await,
        [
            "metrics-collection-access-to-server",
            "server-deployment-access",
            "team-allow-monitoring"
        ]
    );
    assert_eq!(operator.progress.borrow().names_taken, 0);
    operator.stop();
    Ok(())
}

#[tokio::test]
async fn the_references_istio_policy_holt_wants_is_adopted_in_place_and_a_stale_one_deleted()
-> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

    let (client, plane) = cluster().await;
    let file = holt_testenv::istio_crds_file()?;
    holt_testenv::install_crds(&client, &std::fs::read_to_string(file)?).await?;
    let ns = plane.create_namespace(&client, "migrate-istio").await?;
    for (name, account) in [("checkout", "shop"), ("payments", "payments")] {
        let spec = PodSpec {
            containers: vec![
                Container {
                    name: "main".into(),
                    image: Some("example/app:1".into()),
                    ..Default::default()
                },
                Container {
                    name: "istio-proxy".into(),
                    image: Some("istio/proxyv2:1".into()),
                    ..Default::default()
                },
            ],
            service_account_name: Some(account.into()),
            ..Default::default()
        };
        support::bare_pod(&client, &ns, name, spec, &[]).await;
    }
    support::service(&client, &ns, "payments").await;
    let gvk = GroupVersionKind::gvk("security.istio.io", "v1", "AuthorizationPolicy");
    let policies: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &ApiResource::from_gvk(&gvk));
    // As the reference writes them: the pair Holt will want, and a pair no intent names any more.
    let server = Identity::new(&ns, "payments", Some("Service"));
    let wanted = format!("authorization-policy-to-payments-service-from-checkout.{ns}");
    for (name, client_identity) in [
        (wanted.clone(), Identity::new(&ns, "checkout", None)),
        (
            format!("authorization-policy-to-payments-service-from-retired.{ns}"),
            Identity::new(&ns, "retired", None),
        ),
    ] {
        let policy: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "labels": {
                "intents.otterize.com/service": server.label_value_with_kind(),
                "intents.otterize.com/istio-client-with-kind": client_identity.label_value_with_kind(),
            }},
            "spec": {"action": "ALLOW", "selector": {"matchLabels": {"app": "payments"}}, "rules": [{}]},
        }))?;
        policies.create(&PostParams::default(), &policy).await?;
    }
    let uid_before = policies.get(&wanted).await?.metadata.uid;
    Api::<ClientIntents>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &support::intents(&ns, "checkout", "payments"),
        )
        .await?;

    let operator = Operator::start_with(&client, &ns, Mode::DefaultActive, Options::default()).await;
    eventually("one adopted, one deleted", || async {
        let progress = operator.progress.borrow().clone();
        (progress.reference_adopted == 1 && progress.reference_deleted == 1).then_some(())
    })
    .await;
    let left = policies.list(&ListParams::default()).await?.items;
    let names: Vec<String> = left.iter().filter_map(|p| p.metadata.name.clone()).collect();
    assert_eq!(names, vec![wanted]);
    let adopted = &left[0];
    assert_eq!(
        adopted.metadata.uid, uid_before,
        "replaced in place, never deleted"
    );
    assert_eq!(
        adopted
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/managed-by"))
            .map(String::as_str),
        Some("holt")
    );
    assert_eq!(
        adopted.data["spec"]["rules"][0]["from"][0]["source"]["principals"],
        json!([format!("cluster.local/ns/{ns}/sa/shop")]),
        "Holt's content"
    );
    operator.stop();
    Ok(())
}
