//! The real kube-apiserver (+ kube-controller-manager) through kube-rs: what the API server decides.
//! One control plane is shared by the tests of this binary; each test works in its own namespace.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::{StreamExt, TryStreamExt};
use holt_testenv::{ControlPlane, eventually, install_crds, istio_crds_file};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn setup(prefix: &str) -> anyhow::Result<(&'static ControlPlane, kube::Client, String)> {
    let cp = ControlPlane::shared().await?;
    let client = cp.client().await?;
    let ns = cp.create_namespace(&client, prefix).await?;
    Ok((cp, client, ns))
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> anyhow::Result<T> {
    Ok(serde_json::from_value(value)?)
}

fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

#[tokio::test]
async fn pod_ip_is_set_through_the_status_subresource() -> anyhow::Result<()> {
    let (_, client, ns) = setup("pod-ip").await?;
    let pods = Api::<Pod>::namespaced(client, &ns);
    let pod: Pod = from_json(json!({
        "metadata": { "name": "web", "labels": { "app": "web" } },
        "spec": { "containers": [{ "name": "web", "image": "example.invalid/web:1" }] },
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let created = pods.get("web").await?;
    ensure!(
        created.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_none(),
        "no kubelet, so no IP yet"
    );

    // Status written through the main resource is ignored by the apiserver...
    let status =
        json!({ "status": { "phase": "Running", "podIP": "10.1.2.3", "podIPs": [{ "ip": "10.1.2.3" }] } });
    pods.patch("web", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let after_main = pods.get("web").await?;
    ensure!(
        after_main
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_ref())
            .is_none(),
        "status must not change via the main resource"
    );

    // ...and taken through the status subresource, as a kubelet writes it.
    pods.patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let running = pods.get("web").await?;
    let status = running.status.context("pod has a status")?;
    assert_eq!(status.pod_ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(status.phase.as_deref(), Some("Running"));
    Ok(())
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testenv.holt.example
spec:
  group: testenv.holt.example
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: { type: integer, minimum: 1 }
            status:
              type: object
              properties:
                ready: { type: boolean }
"#;

fn widgets(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("testenv.holt.example", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(client, ns, &resource)
}

#[tokio::test]
async fn custom_resource_is_validated_and_stored() -> anyhow::Result<()> {
    let (_, client, ns) = setup("crd").await?;
    let installed = install_crds(&client, WIDGET_CRD).await?;
    assert_eq!(installed, ["widgets.testenv.holt.example"]);
    let api = widgets(client, &ns);

    let widget: DynamicObject = from_json(json!({
        "apiVersion": "testenv.holt.example/v1", "kind": "Widget",
        "metadata": { "name": "w1" }, "spec": { "size": 3 },
    }))?;
    api.create(&PostParams::default(), &widget).await?;
    let stored = api.get("w1").await?;
    assert_eq!(stored.data["spec"]["size"], 3);

    let invalid: DynamicObject = from_json(json!({
        "apiVersion": "testenv.holt.example/v1", "kind": "Widget",
        "metadata": { "name": "w2" }, "spec": { "size": 0 },
    }))?;
    let refused = api
        .create(&PostParams::default(), &invalid)
        .await
        .expect_err("size 0 is below the minimum");
    assert_eq!(status_code(&refused), Some(422), "{refused}");
    Ok(())
}

#[tokio::test]
async fn watcher_sees_a_change() -> anyhow::Result<()> {
    let (_, client, ns) = setup("watch").await?;
    let maps = Api::<ConfigMap>::namespaced(client, &ns);
    let config = watcher::Config::default().fields("metadata.name=watched");
    let mut stream = watcher(maps.clone(), config).applied_objects().boxed();

    let map: ConfigMap =
        from_json(json!({ "metadata": { "name": "watched" }, "data": { "colour": "red" } }))?;
    maps.create(&PostParams::default(), &map).await?;
    let seen = tokio::time::timeout(TIMEOUT, stream.try_next())
        .await??
        .context("stream ended")?;
    assert_eq!(
        seen.data.unwrap_or_default().get("colour").map(String::as_str),
        Some("red")
    );

    maps.patch(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(json!({ "data": { "colour": "blue" } })),
    )
    .await?;
    let changed = tokio::time::timeout(TIMEOUT, async {
        while let Some(map) = stream.try_next().await? {
            if map.data.unwrap_or_default().get("colour").map(String::as_str) == Some("blue") {
                return Ok(());
            }
        }
        anyhow::Ok(())
    })
    .await;
    ensure!(
        matches!(changed, Ok(Ok(()))),
        "the watcher did not see colour=blue: {changed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn rbac_refuses_an_unprivileged_user_until_a_role_binding_allows_it() -> anyhow::Result<()> {
    let (cp, admin, ns) = setup("rbac").await?;
    let group = format!("{ns}-readers");
    let user = cp.user("alice", Some(&group))?;
    let alice = user.client().await?;
    let pods_as_alice = Api::<Pod>::namespaced(alice.clone(), &ns);

    let refused = pods_as_alice
        .list(&ListParams::default())
        .await
        .expect_err("alice has no role yet");
    assert_eq!(status_code(&refused), Some(403), "{refused}");

    let role: Role = from_json(json!({
        "metadata": { "name": "pod-reader" },
        "rules": [{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] }],
    }))?;
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await?;
    // Bound to alice's group (the certificate's O), not to her name.
    let binding: RoleBinding = from_json(json!({
        "metadata": { "name": "pod-readers" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader" },
        "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group }],
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await?;

    // The authorizer learns of the binding through its informer: allow a moment.
    let listed = eventually("alice may list pods", TIMEOUT, || async {
        match pods_as_alice.list(&ListParams::default()).await {
            Ok(list) => Ok(Some(list.items.len())),
            Err(e) if status_code(&e) == Some(403) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    assert_eq!(listed, 0);

    // Still nothing beyond the role: no writes, and nothing in other namespaces.
    let pod: Pod = from_json(
        json!({ "metadata": { "name": "p" }, "spec": { "containers": [{ "name": "c", "image": "x" }] } }),
    )?;
    let write = pods_as_alice
        .create(&PostParams::default(), &pod)
        .await
        .expect_err("the role does not allow create");
    assert_eq!(status_code(&write), Some(403), "{write}");
    let elsewhere = Api::<Pod>::namespaced(alice, "default")
        .list(&ListParams::default())
        .await
        .expect_err("other namespace");
    assert_eq!(status_code(&elsewhere), Some(403), "{elsewhere}");
    Ok(())
}

#[tokio::test]
async fn garbage_collector_deletes_dependents_of_a_deleted_owner() -> anyhow::Result<()> {
    let (_, client, ns) = setup("gc").await?;
    let maps = Api::<ConfigMap>::namespaced(client, &ns);
    let owner = maps
        .create(
            &PostParams::default(),
            &from_json(json!({ "metadata": { "name": "owner" } }))?,
        )
        .await?;
    let uid = owner.metadata.uid.context("owner has a uid")?;
    let dependent: ConfigMap = from_json(json!({
        "metadata": {
            "name": "dependent",
            "ownerReferences": [{ "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid }],
        },
    }))?;
    maps.create(&PostParams::default(), &dependent).await?;

    maps.delete("owner", &DeleteParams::background()).await?;
    let started = Instant::now();
    eventually("the dependent is garbage-collected", TIMEOUT, || async {
        Ok(maps.get_opt("dependent").await?.is_none().then_some(()))
    })
    .await?;
    println!("garbage collection took {:?}", started.elapsed());
    Ok(())
}

#[tokio::test]
async fn deleting_a_namespace_completes() -> anyhow::Result<()> {
    let (_, client, ns) = setup("ns-delete").await?;
    let maps = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    maps.create(
        &PostParams::default(),
        &from_json(json!({ "metadata": { "name": "content" } }))?,
    )
    .await?;
    let namespaces = Api::<Namespace>::all(client);
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    let started = Instant::now();
    eventually("the namespace is gone", TIMEOUT, || async {
        Ok(namespaces.get_opt(&ns).await?.is_none().then_some(()))
    })
    .await?;
    println!("namespace deletion took {:?}", started.elapsed());
    Ok(())
}

#[tokio::test]
async fn kubectl_works_with_the_admin_kubeconfig() -> anyhow::Result<()> {
    let (cp, _, ns) = setup("kubectl").await?;
    let output = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(cp.kubeconfig())
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .await
        .context("run kubectl")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.lines().any(|l| l == format!("namespace/{ns}")), "{stdout}");
    assert!(stdout.lines().any(|l| l == "namespace/kube-system"), "{stdout}");
    Ok(())
}

#[tokio::test]
async fn istio_authorization_policy_crd_installs() -> anyhow::Result<()> {
    let (_, client, ns) = setup("istio").await?;
    let yaml = std::fs::read_to_string(istio_crds_file()?)?;
    let installed = install_crds(&client, &yaml).await?;
    ensure!(
        installed
            .iter()
            .any(|n| n == "authorizationpolicies.security.istio.io"),
        "{installed:?}"
    );

    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("security.istio.io", "v1", "AuthorizationPolicy"),
        "authorizationpolicies",
    );
    let api = Api::<DynamicObject>::namespaced_with(client, &ns, &resource);
    let policy: DynamicObject = from_json(json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": { "name": "allow-client" },
        "spec": {
            "selector": { "matchLabels": { "app": "server" } },
            "action": "ALLOW",
            "rules": [{ "from": [{ "source": { "principals": ["cluster.local/ns/x/sa/client"] } }] }],
        },
    }))?;
    api.create(&PostParams::default(), &policy).await?;
    let stored = api.get("allow-client").await?;
    assert_eq!(stored.data["spec"]["action"], "ALLOW");
    Ok(())
}

#[tokio::test]
async fn service_account_tokens_are_reviewed_for_their_audience_and_their_kubeconfig_works()
-> anyhow::Result<()> {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    let (plane, client, ns) = setup("tokens").await?;
    let review = |token: String, audiences: Option<Vec<String>>| {
        let client = client.clone();
        async move {
            let review = TokenReview {
                spec: TokenReviewSpec { token, audiences },
                ..TokenReview::default()
            };
            let answer = kube::Api::<TokenReview>::all(client)
                .create(&PostParams::default(), &review)
                .await?;
            anyhow::Ok(answer.status.unwrap_or_default())
        }
    };
    let for_service = holt_testenv::service_account_token(&client, &ns, "caller", &["some-service"]).await?;
    assert_eq!(for_service.user, format!("system:serviceaccount:{ns}:caller"));
    let accepted = review(for_service.token.clone(), Some(vec!["some-service".into()])).await?;
    assert_eq!(accepted.authenticated, Some(true), "{accepted:?}");
    assert_eq!(
        accepted.user.and_then(|u| u.username).as_deref(),
        Some(for_service.user.as_str())
    );
    let elsewhere = review(for_service.token, Some(vec!["another-service".into()])).await?;
    assert_ne!(elsewhere.authenticated, Some(true), "{elsewhere:?}");
    let not_for_the_api_server = review(
        holt_testenv::service_account_token(&client, &ns, "caller", &["some-service"])
            .await?
            .token,
        None,
    )
    .await?;
    assert_ne!(not_for_the_api_server.authenticated, Some(true));

    // A token for the API server, in a kubeconfig: the user the RBAC rules name.
    let for_api = holt_testenv::service_account_token(&client, &ns, "caller", &[]).await?;
    let rules = vec![k8s_openapi::api::rbac::v1::PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["configmaps".into()]),
        verbs: vec!["list".into()],
        ..Default::default()
    }];
    holt_testenv::bind_role(&client, &ns, "list-configmaps", rules, &[(ns.as_str(), "caller")]).await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = for_api.write_kubeconfig(
        &dir.path().join("caller.kubeconfig"),
        plane.url(),
        plane.ca_file(),
    )?;
    let caller = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig)?,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?,
    )?;
    kube::Api::<ConfigMap>::namespaced(caller.clone(), &ns)
        .list(&ListParams::default())
        .await
        .context("the bound Role lets the token's user list")?;
    let refused = kube::Api::<ConfigMap>::namespaced(caller, "default")
        .list(&ListParams::default())
        .await;
    ensure!(refused.is_err(), "nothing else is granted");
    Ok(())
}
