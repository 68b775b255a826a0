//! The webhook against the real kube-apiserver: conversion between versions through the API server,
//! admission denials naming the field, uniqueness, and the certificate kept in a Secret.
//!
//! One webhook server serves this test binary (the CRDs are cluster-wide); it runs on a runtime of its own
//! so it outlives every test's runtime. Each test works in its own namespace.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail, ensure};
use holt_operator::webhook::{
    CertificateBundle, CertificateOptions, CertificateSource, KubeNeighbourhood, StaticNeighbourhood,
    Webhook, WebhookOptions, WebhookTarget, cert_store, ensure_registration,
};
use holt_testenv::{ControlPlane, install_crds};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The webhook server shared by this binary, registered with the API server.
#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    ca_bundle: Vec<u8>,
}

static SHARED: tokio::sync::OnceCell<Result<Shared, String>> = tokio::sync::OnceCell::const_new();

async fn shared_webhook() -> anyhow::Result<&'static Shared> {
    let shared = SHARED
        .get_or_init(|| async {
            let (started, ready) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started.send(Err(format!("runtime: {error}")));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start_shared().await {
                        Ok((webhook, shared)) => {
                            let _ = started.send(Ok(shared));
                            // Serve until the test process ends.
                            std::future::pending::<()>().await;
                            drop(webhook);
                        }
                        Err(error) => {
                            let _ = started.send(Err(format!("{error:#}")));
                        }
                    }
                });
            });
            ready
                .await
                .unwrap_or_else(|_| Err("the webhook thread ended".to_owned()))
        })
        .await;
    shared
        .as_ref()
        .map_err(|message| anyhow::anyhow!("shared webhook failed to start: {message}"))
}

async fn start_shared() -> anyhow::Result<(Webhook, Shared)> {
    let cp = ControlPlane::shared().await?;
    let client = cp.client().await?;
    let ns = cp.create_namespace(&client, "webhook-system").await?;
    let mut options = WebhookOptions::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        "holt-webhook",
        &ns,
        cert_store::DEFAULT_SECRET_NAME,
    );
    if let CertificateSource::Secret { options, .. } = &mut options.certificate {
        options.loopback = true;
    }
    let webhook = Webhook::start(client.clone(), KubeNeighbourhood::new(client.clone()), options).await?;
    let addr = webhook.local_addr();
    let ca_bundle = webhook.ca_bundle();
    let base = format!("https://127.0.0.1:{}", addr.port());

    // The CRDs as a user installs them, pointing at this server; then the operator's registration on top.
    let crds = holt_api::crds::crds_with_webhook_url(&format!("{base}/convert"), &ca_bundle)?;
    let yaml = crds
        .iter()
        .map(holt_api::crds::to_yaml)
        .collect::<Result<Vec<_>, _>>()?
        .join("---\n");
    install_crds(&client, &yaml).await?;
    ensure_registration(&client, &WebhookTarget::Url(base.clone()), &ca_bundle).await?;
    // Again, as a restarted operator (or a second replica) does: registering must be repeatable.
    ensure_registration(&client, &WebhookTarget::Url(base), &ca_bundle).await?;
    Ok((webhook, Shared { addr, ca_bundle }))
}

/// The API server, an admin client, a fresh namespace, and the webhook serving and registered.
async fn setup(prefix: &str) -> anyhow::Result<(kube::Client, String)> {
    let cp = ControlPlane::shared().await?;
    shared_webhook().await?;
    let client = cp.client().await?;
    let ns = cp.create_namespace(&client, prefix).await?;
    wait_until_effective(&client, &ns).await?;
    Ok((client, ns))
}

/// Waits until the API server calls both webhooks: a v1alpha3 object can be written (conversion to the
/// storage version) and an invalid one is denied by Holt (validation). Dry runs: nothing is stored.
async fn wait_until_effective(client: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let api = Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), ns);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let valid: holt_api::v1alpha3::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "probe" },
        "spec": { "service": { "name": "probe" }, "calls": [{ "name": "server" }] },
    }))?;
    let invalid: holt_api::v1alpha3::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "probe" },
        "spec": { "service": { "name": "probe" }, "calls": [{ "name": "a.b.c" }] },
    }))?;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let converted = api.create(&dry_run, &valid).await;
        let denied = api.create(&dry_run, &invalid).await;
        let denied_by_us =
            matches!(&denied, Err(kube::Error::Api(s)) if s.message.contains("spec.calls[0].name"));
        if converted.is_ok() && denied_by_us {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("webhooks not effective after {TIMEOUT:?}: valid → {converted:?}, invalid → {denied:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn from_json<T: DeserializeOwned>(value: Value) -> anyhow::Result<T> {
    Ok(serde_json::from_value(value)?)
}

fn api_error(result: Result<impl std::fmt::Debug, kube::Error>) -> anyhow::Result<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => Ok(*status),
        other => bail!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn v1alpha3_intents_are_read_back_as_v2beta1() -> anyhow::Result<()> {
    let (client, ns) = setup("convert-v1").await?;
    // The reference's documented example.
    let intents: holt_api::v1alpha3::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3",
        "kind": "ClientIntents",
        "metadata": { "name": "client-intents-for-frontend" },
        "spec": {
            "service": { "name": "frontend" },
            "calls": [{ "name": "adservice" }, { "name": "cartservice" }],
        },
    }))?;
    Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &intents)
        .await?;

    let hub = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns)
        .get("client-intents-for-frontend")
        .await?;
    assert_eq!(hub.spec.workload.name, "frontend");
    let targets = serde_json::to_value(&hub.spec.targets)?;
    assert_eq!(
        targets,
        json!([{ "kubernetes": { "name": "adservice" } }, { "kubernetes": { "name": "cartservice" } }])
    );

    // Every served version reads it.
    for version in holt_api::Version::ALL {
        let resource = kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(holt_api::GROUP, version.as_str(), "ClientIntents"),
            "clientintents",
        );
        let object = Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), &ns, &resource)
            .get("client-intents-for-frontend")
            .await
            .with_context(|| format!("read as {version}"))?;
        ensure!(
            object.types.as_ref().map(|t| t.api_version.as_str()) == Some(version.api_version().as_str()),
            "{version}: {object:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn v2beta1_intents_are_read_back_as_v1alpha3() -> anyhow::Result<()> {
    let (client, ns) = setup("convert-v2").await?;
    let intents: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1",
        "kind": "ClientIntents",
        "metadata": { "name": "checkout" },
        "spec": {
            "workload": { "name": "checkout", "kind": "Deployment" },
            "targets": [
                { "service": { "name": "cartservice" } },
                { "kubernetes": { "name": "kubernetes.default" } },
                { "kubernetes": { "name": "payments", "kind": "StatefulSet" } },
            ],
        },
    }))?;
    Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &intents)
        .await?;

    let v1 = Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), &ns)
        .get("checkout")
        .await?;
    let spec = serde_json::to_value(&v1.spec)?;
    assert_eq!(
        spec["service"],
        json!({ "name": "checkout", "kind": "Deployment" })
    );
    assert_eq!(
        spec["calls"],
        json!([
            { "name": "cartservice", "kind": "Service" },
            { "name": "svc:kubernetes.default" },
            { "name": "payments", "kind": "StatefulSet" },
        ])
    );
    Ok(())
}

#[tokio::test]
async fn invalid_intents_are_denied_with_the_field_path() -> anyhow::Result<()> {
    let (client, ns) = setup("deny").await?;
    let api = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns);

    let too_many_dots: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "frontend" },
        "spec": { "workload": { "name": "frontend" }, "targets": [{ "kubernetes": { "name": "a.b.c" } }] },
    }))?;
    let status = api_error(api.create(&PostParams::default(), &too_many_dots).await)?;
    ensure!(
        status.message.contains("spec.targets[0].kubernetes.name"),
        "{}",
        status.message
    );
    ensure!(
        status.message.contains(&format!("ClientIntents {ns}/frontend")),
        "{}",
        status.message
    );

    let no_key: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "frontend" },
        "spec": { "workload": { "name": "frontend" }, "targets": [{ "kubernetes": { "name": "ok" } }, {}] },
    }))?;
    let status = api_error(api.create(&PostParams::default(), &no_key).await)?;
    ensure!(status.message.contains("spec.targets[1]"), "{}", status.message);
    ensure!(status.message.contains("exactly one of"), "{}", status.message);

    // Nothing was stored; a valid object is admitted, and an update that breaks it is denied too.
    ensure!(
        api.get_opt("frontend").await?.is_none(),
        "denied objects are not stored"
    );
    let valid: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "frontend" },
        "spec": { "workload": { "name": "frontend" }, "targets": [{ "kubernetes": { "name": "ok" } }] },
    }))?;
    let created = api.create(&PostParams::default(), &valid).await?;
    let mut broken = created.clone();
    broken.spec.targets[0]
        .kubernetes
        .as_mut()
        .context("kubernetes target")?
        .name = "x.y.z".to_owned();
    let status = api_error(api.replace("frontend", &PostParams::default(), &broken).await)?;
    ensure!(
        status.message.contains("spec.targets[0].kubernetes.name"),
        "{}",
        status.message
    );
    Ok(())
}

#[tokio::test]
async fn names_too_long_for_the_objects_holt_derives_are_denied_with_the_field() -> anyhow::Result<()> {
    let (client, ns) = setup("long-names").await?;
    let api = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns);
    let long = "a".repeat(260);

    let long_workload: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "long-workload" },
        "spec": { "workload": { "name": long, "kind": "Deployment" }, "targets": [{ "kubernetes": { "name": "server" } }] },
    }))?;
    let status = api_error(api.create(&PostParams::default(), &long_workload).await)?;
    ensure!(
        status.message.contains(&format!(
            "ClientIntents {ns}/long-workload: spec.workload.name: `aaaaaaaaaaaaaaaa…` is 260 characters, over the 234 \
             that fit: Holt names this workload's NetworkPolicy `<name>-deployment-ingress`, and object names are \
             DNS-1123 subdomains of at most 253 characters"
        )),
        "{}",
        status.message
    );

    let long_target: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "long-target" },
        "spec": { "workload": { "name": "frontend" }, "targets": [
            { "kubernetes": { "name": "server" } },
            { "service": { "name": "cart" } },
            { "kubernetes": { "name": long } },
        ] },
    }))?;
    let status = api_error(api.create(&PostParams::default(), &long_target).await)?;
    ensure!(
        status
            .message
            .contains("spec.targets[2].kubernetes.name: `aaaaaaaaaaaaaaaa…` is 260 characters, over the 245"),
        "{}",
        status.message
    );
    ensure!(status.message.contains("253 characters"), "{}", status.message);

    // Written in v1alpha3, the same name is named by its v1 field.
    let v1: holt_api::v1alpha3::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "long-call" },
        "spec": { "service": { "name": "frontend" }, "calls": [{ "name": format!("svc:{}", "b".repeat(64)) }] },
    }))?;
    let status = api_error(
        Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &v1)
            .await,
    )?;
    ensure!(
        status.message.contains(
            "spec.calls[0].name: `bbbbbbbbbbbbbbbb…` is 64 characters, over the 63 that fit: it \
             names a Kubernetes Service"
        ),
        "{}",
        status.message
    );
    ensure!(
        api.list(&Default::default()).await?.items.is_empty(),
        "denied objects are not stored"
    );
    Ok(())
}

#[tokio::test]
async fn azure_actions_survive_a_write_through_v1alpha3() -> anyhow::Result<()> {
    let (client, ns) = setup("convert-azure").await?;
    let v2 = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns);
    let v1 = Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), &ns);
    let azure = json!({ "azure": {
        "scope": "/subscriptions/s/resourceGroups/g",
        "actions": ["Microsoft.Storage/storageAccounts/read"],
        "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
    } });
    let intents: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "uploader", "annotations": { "team": "storage" } },
        "spec": { "workload": { "name": "uploader" }, "targets": [{ "service": { "name": "cart" } }, azure] },
    }))?;
    v2.create(&PostParams::default(), &intents).await?;

    // Read as v1alpha3 (which has no field for the actions), change nothing the version shows, write it back.
    let read = v1.get("uploader").await?;
    ensure!(
        read.spec.calls[1].call_type == Some(holt_api::v1alpha3::CallType::Azure),
        "{:?}",
        read.spec.calls
    );
    let kept = read
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(holt_api::convert::HIDDEN_V1BETA1_CALLS));
    ensure!(
        kept.is_some_and(|k| k.contains("Microsoft.Storage/storageAccounts/read")),
        "the v1alpha3 object keeps the actions in an annotation: {:?}",
        read.metadata.annotations
    );
    let mut written = read.clone();
    written
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("touched".to_owned(), "v1alpha3".to_owned());
    v1.replace("uploader", &PostParams::default(), &written).await?;

    // And again with a call added in front, as `kubectl edit` in v1alpha3 would.
    let mut edited = v1.get("uploader").await?;
    edited
        .spec
        .calls
        .insert(0, from_json(json!({ "name": "inventory" }))?);
    v1.replace("uploader", &PostParams::default(), &edited).await?;

    let back = v2.get("uploader").await?;
    let targets = serde_json::to_value(&back.spec.targets)?;
    ensure!(
        targets
            == json!([{ "kubernetes": { "name": "inventory" } }, { "service": { "name": "cart" } }, azure]),
        "the actions and the service target are intact: {targets}"
    );
    let annotations = back.metadata.annotations.unwrap_or_default();
    ensure!(
        annotations.get("team").map(String::as_str) == Some("storage")
            && !annotations
                .keys()
                .any(|k| k.starts_with("conversion.k8s.otterize.com/")),
        "the v2 object carries only the user's annotations: {annotations:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_intents_for_the_same_workload_is_denied() -> anyhow::Result<()> {
    let (client, ns) = setup("dup-intents").await?;
    let v2 = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns);
    let first: holt_api::v2beta1::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": { "name": "frontend" },
        "spec": { "workload": { "name": "frontend" }, "targets": [{ "kubernetes": { "name": "cartservice" } }] },
    }))?;
    v2.create(&PostParams::default(), &first).await?;

    // Same workload, written in v1alpha3 this time: still a duplicate.
    let second: holt_api::v1alpha3::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "frontend-more" },
        "spec": { "service": { "name": "frontend" }, "calls": [{ "name": "adservice" }] },
    }))?;
    let v1 = Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), &ns);
    let status = api_error(v1.create(&PostParams::default(), &second).await)?;
    ensure!(status.message.contains("frontend"), "{}", status.message);
    ensure!(
        status.message.contains("merge the two objects"),
        "{}",
        status.message
    );

    // Another workload is fine, and so is updating the first object.
    let other: holt_api::v1alpha3::ClientIntents = from_json(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "checkout" },
        "spec": { "service": { "name": "checkout" }, "calls": [{ "name": "adservice" }] },
    }))?;
    v1.create(&PostParams::default(), &other).await?;
    let mut updated = v2.get("frontend").await?;
    updated
        .spec
        .targets
        .push(from_json(json!({ "kubernetes": { "name": "adservice" } }))?);
    v2.replace("frontend", &PostParams::default(), &updated).await?;
    Ok(())
}

/// Uniqueness end to end, as a client sees it: a duplicate created right after the first object is denied
/// (whether the index's watch has shown the first yet or the webhook remembers admitting it), and a deleted
/// object frees its workload at once (the index's report of a duplicate is confirmed by a list).
#[tokio::test]
async fn a_duplicate_created_right_after_the_first_is_denied_and_a_deletion_frees_the_workload()
-> anyhow::Result<()> {
    let (client, ns) = setup("dup-at-once").await?;
    let api = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), &ns);
    let object = |name: &str, workload: &str| -> anyhow::Result<holt_api::v2beta1::ClientIntents> {
        from_json(json!({
            "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
            "metadata": { "name": name },
            "spec": { "workload": { "name": workload }, "targets": [{ "kubernetes": { "name": "server" } }] },
        }))
    };
    for i in 0..20 {
        let workload = format!("client-{i}");
        api.create(&PostParams::default(), &object(&format!("first-{i}"), &workload)?)
            .await?;
        let status = api_error(
            api.create(
                &PostParams::default(),
                &object(&format!("second-{i}"), &workload)?,
            )
            .await,
        )?;
        ensure!(
            status.message.contains(&format!("first-{i}")),
            "{i}: {}",
            status.message
        );
    }
    for i in 0..5 {
        api.delete(&format!("first-{i}"), &Default::default()).await?;
        api.create(
            &PostParams::default(),
            &object(&format!("second-{i}"), &format!("client-{i}"))?,
        )
        .await
        .with_context(|| format!("{i}: the workload is free once the first is deleted"))?;
    }
    Ok(())
}

#[tokio::test]
async fn a_duplicate_protected_service_is_denied() -> anyhow::Result<()> {
    let (client, ns) = setup("dup-protected").await?;
    let api = Api::<holt_api::v2beta1::ProtectedService>::namespaced(client.clone(), &ns);
    let protect = |name: &str| -> anyhow::Result<holt_api::v2beta1::ProtectedService> {
        from_json(json!({
            "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ProtectedService",
            "metadata": { "name": name },
            "spec": { "name": "payments" },
        }))
    };
    api.create(&PostParams::default(), &protect("payments")?).await?;
    let status = api_error(
        api.create(&PostParams::default(), &protect("payments-again")?)
            .await,
    )?;
    ensure!(status.message.contains("ProtectedService"), "{}", status.message);
    ensure!(status.message.contains("spec.name"), "{}", status.message);
    Ok(())
}

#[tokio::test]
async fn the_registration_is_what_the_reference_declares() -> anyhow::Result<()> {
    let shared = shared_webhook().await?;
    let client = ControlPlane::shared().await?.client().await?;
    let configuration = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(holt_operator::webhook::VALIDATING_WEBHOOK_CONFIGURATION)
        .await?;
    let labels = configuration.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("app.kubernetes.io/managed-by").map(String::as_str),
        Some("holt")
    );
    let webhooks = configuration.webhooks.unwrap_or_default();
    assert_eq!(webhooks.len(), 3);
    for webhook in &webhooks {
        assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(webhook.match_policy.as_deref(), Some("Equivalent"));
        assert_eq!(webhook.admission_review_versions, ["v1"]);
        assert_eq!(
            webhook.client_config.ca_bundle.as_ref().map(|b| b.0.clone()),
            Some(shared.ca_bundle.clone())
        );
    }
    for crd in Api::<CustomResourceDefinition>::all(client)
        .list(&Default::default())
        .await?
    {
        if crd.spec.group != holt_api::GROUP {
            continue;
        }
        let conversion = crd.spec.conversion.context("conversion")?;
        assert_eq!(conversion.strategy, "Webhook");
        let config = conversion
            .webhook
            .and_then(|w| w.client_config)
            .context("clientConfig")?;
        assert_eq!(
            config.url.as_deref(),
            Some(format!("https://127.0.0.1:{}/convert", shared.addr.port()).as_str())
        );
        assert_eq!(config.ca_bundle.map(|b| b.0), Some(shared.ca_bundle.clone()));
    }
    Ok(())
}

/// A client clock set to a fixed time, to check a certificate as of a later date.
#[derive(Debug)]
struct Clock(SystemTime);

impl rustls::time_provider::TimeProvider for Clock {
    fn current_time(&self) -> Option<rustls_pki_types::UnixTime> {
        Some(rustls_pki_types::UnixTime::since_unix_epoch(
            self.0.duration_since(SystemTime::UNIX_EPOCH).ok()?,
        ))
    }
}

/// `GET /healthz` over TLS trusting `ca_pem` as `server_name`, verifying certificates as of `at`; returns
/// the response and the served certificate.
async fn healthz(
    addr: SocketAddr,
    ca_pem: &str,
    server_name: &str,
    at: SystemTime,
) -> anyhow::Result<(String, Vec<u8>)> {
    https(addr, ca_pem, server_name, at, "GET", "/healthz", "").await
}

/// One HTTP/1.1 request over TLS; returns the whole response and the served certificate.
async fn https(
    addr: SocketAddr,
    ca_pem: &str,
    server_name: &str,
    at: SystemTime,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(String, Vec<u8>)> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_details(provider, Arc::new(Clock(at)))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from(server_name.to_owned())?;
    let mut tls = connector.connect(name, tcp).await?;
    let served = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .context("no peer certificate")?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok((response, served))
}

#[tokio::test]
async fn the_reference_paths_are_served_and_unreadable_reviews_get_an_answer() -> anyhow::Result<()> {
    let shared = shared_webhook().await?;
    let ca = String::from_utf8(shared.ca_bundle.clone())?;
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0b5d0d7e-0000-4000-8000-000000000002",
            "kind": { "group": "k8s.otterize.com", "version": "v1alpha3", "kind": "ClientIntents" },
            "resource": { "group": "k8s.otterize.com", "version": "v1alpha3", "resource": "clientintents" },
            "name": "frontend", "namespace": "default", "operation": "CREATE",
            "userInfo": { "username": "alice" },
            "object": {
                "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
                "metadata": { "name": "frontend", "namespace": "default" },
                "spec": { "service": { "name": "frontend" }, "calls": [{}] },
            },
        },
    })
    .to_string();
    let now = SystemTime::now();
    let path = holt_operator::webhook::reference_validate_path(
        holt_api::Version::V1alpha3,
        holt_api::Kind::ClientIntents,
    );
    assert_eq!(path, "/validate-k8s-otterize-com-v1alpha3-clientintents");
    let (response, _) = https(shared.addr, &ca, "127.0.0.1", now, "POST", &path, &review).await?;
    ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
    ensure!(response.contains(r#""allowed":false"#), "{response}");
    ensure!(response.contains("spec.calls[0].name"), "{response}");

    let (response, _) = https(
        shared.addr,
        &ca,
        "127.0.0.1",
        now,
        "POST",
        "/convert",
        "{not json",
    )
    .await?;
    ensure!(response.starts_with("HTTP/1.1 400"), "{response}");
    ensure!(response.contains(r#""status":"Failure""#), "{response}");
    ensure!(
        response.contains("cannot read the ConversionReview"),
        "{response}"
    );

    let (response, _) = https(shared.addr, &ca, "127.0.0.1", now, "POST", "/elsewhere", "{}").await?;
    ensure!(response.starts_with("HTTP/1.1 404"), "{response}");
    Ok(())
}

fn der(pem: &str) -> anyhow::Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    Ok(rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())?.to_vec())
}

#[tokio::test]
async fn the_certificate_is_kept_in_a_secret_reused_and_rotated() -> anyhow::Result<()> {
    let cp = ControlPlane::shared().await?;
    let client = cp.client().await?;
    let ns = cp.create_namespace(&client, "webhook-cert").await?;
    let options = || {
        let mut options = WebhookOptions::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            "holt-webhook",
            &ns,
            "holt-webhook-cert",
        );
        if let CertificateSource::Secret { options, .. } = &mut options.certificate {
            options.loopback = true;
        }
        options
    };

    // Two replicas start at once: one creates the Secret, both serve the same CA.
    let (first, second) = tokio::join!(
        Webhook::start(client.clone(), StaticNeighbourhood::default(), options()),
        Webhook::start(client.clone(), StaticNeighbourhood::default(), options()),
    );
    let (first, second) = (first?, second?);
    assert_eq!(first.ca_bundle(), second.ca_bundle(), "same CA for both replicas");
    assert_eq!(first.certificate(), second.certificate());

    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("holt-webhook-cert")
        .await?;
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let stored = cert_store::from_secret(&secret).context("bundle in the Secret")?;
    assert_eq!(stored, first.certificate());
    assert!(stored.ca_key_pem.is_some());

    // Both serve it over TLS, trusted through the CA bundle, for the Service names and loopback.
    let ca = first.certificate().ca_cert_pem;
    for (webhook, name) in [
        (&first, "127.0.0.1"),
        (&second, &*format!("holt-webhook.{ns}.svc")),
    ] {
        let (response, served) = healthz(webhook.local_addr(), &ca, name, SystemTime::now()).await?;
        ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
        ensure!(response.ends_with("ok"), "{response}");
        assert_eq!(served, der(&stored.cert_pem)?);
    }

    // A restart reuses the Secret.
    drop(second);
    let restarted = Webhook::start(client.clone(), StaticNeighbourhood::default(), options()).await?;
    assert_eq!(restarted.certificate(), stored);

    // Eleven months on, the serving certificate is due: re-issued by the same CA, written to the Secret,
    // served without a restart; the other replica picks it up from the Secret.
    let later = SystemTime::now() + Duration::from_secs(335 * 24 * 60 * 60);
    ensure!(first.refresh(later).await?, "rotation expected");
    let rotated = first.certificate();
    assert_ne!(rotated.cert_pem, stored.cert_pem);
    assert_eq!(
        rotated.ca_cert_pem, stored.ca_cert_pem,
        "the CA bundle does not change"
    );
    let secret = Api::<Secret>::namespaced(client.clone(), &ns)
        .get("holt-webhook-cert")
        .await?;
    assert_eq!(cert_store::from_secret(&secret), Some(rotated.clone()));
    let (_, served) = healthz(first.local_addr(), &ca, "localhost", later).await?;
    assert_eq!(served, der(&rotated.cert_pem)?, "the new certificate is served");

    ensure!(
        restarted.refresh(SystemTime::now()).await?,
        "the other replica reloads"
    );
    assert_eq!(restarted.certificate(), rotated);
    ensure!(!first.refresh(SystemTime::now()).await?, "nothing more to do");
    Ok(())
}

#[tokio::test]
async fn a_user_supplied_certificate_is_served_from_files() -> anyhow::Result<()> {
    let client = ControlPlane::shared().await?.client().await?;
    let dir = tempfile::tempdir()?;
    let mut cert_options = CertificateOptions::for_service("holt-webhook", "holt-system");
    cert_options.loopback = true;
    let bundle = CertificateBundle::generate(&cert_options, SystemTime::now())?;
    let (cert, key, ca) = (
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
        dir.path().join("ca.crt"),
    );
    std::fs::write(&cert, &bundle.cert_pem)?;
    std::fs::write(&key, &bundle.key_pem)?;
    std::fs::write(&ca, &bundle.ca_cert_pem)?;
    let mut options = WebhookOptions::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        "holt-webhook",
        "holt-system",
        "unused",
    );
    options.certificate = CertificateSource::Files { cert, key, ca };
    let webhook = Webhook::start(client, StaticNeighbourhood::default(), options).await?;
    assert_eq!(webhook.ca_bundle(), bundle.ca_bundle());
    let (response, served) = healthz(
        webhook.local_addr(),
        &bundle.ca_cert_pem,
        "127.0.0.1",
        SystemTime::now(),
    )
    .await?;
    ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(served, der(&bundle.cert_pem)?);
    ensure!(!webhook.refresh(SystemTime::now()).await?, "files unchanged");
    Ok(())
}

/// Registration creates missing CRDs; a restarted operator registers again. Both must leave valid CRDs (a
/// server-side apply of only `spec.conversion` by the manager that created the whole CRD would drop the
/// rest). Needs a control plane without Holt's CRDs, so a private one.
#[tokio::test]
async fn registering_again_keeps_the_crds_registration_created() -> anyhow::Result<()> {
    let options = holt_testenv::ControlPlaneOptions {
        controller_manager: false,
        ..Default::default()
    };
    let plane = ControlPlane::start(options).await?;
    let client = plane.client().await?;
    let target = WebhookTarget::Url("https://127.0.0.1:9443".into());
    let ca_bundle = plane.ca_pem().as_bytes().to_vec();
    ensure_registration(&client, &target, &ca_bundle).await?;
    ensure_registration(&client, &target, &ca_bundle).await?;
    let crds = Api::<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    >::all(client);
    for name in ["clientintents", "protectedservices", "kafkaserverconfigs"] {
        let crd = crds.get(&format!("{name}.k8s.otterize.com")).await?;
        assert_eq!(crd.spec.versions.len(), 4, "{name}: every served version kept");
        assert_eq!(
            crd.spec.conversion.map(|c| c.strategy).as_deref(),
            Some("Webhook")
        );
    }
    Ok(())
}
