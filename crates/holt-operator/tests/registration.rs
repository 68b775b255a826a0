//! The webhook's registration against the real kube-apiserver: starting with CRDs someone else installed
//! (`kubectl apply -f deploy/crds/`, client-side and server-side as a chart or GitOps tool would), with a URL
//! target and with a Service target, and repairing the registration when someone changes it.
//!
//! CRDs and the ValidatingWebhookConfiguration are cluster-wide, so each test has a control plane of its own.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_operator::webhook::{
    CertificateSource, KubeNeighbourhood, VALIDATING_WEBHOOK_CONFIGURATION, Webhook, WebhookOptions,
    WebhookTarget, cert_store,
};
use holt_testenv::{ControlPlane, ControlPlaneOptions};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceSpec};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);
/// How long a repair may take before the test fails (the figures measured are printed and in
/// docs/architecture.md).
const REPAIR_LIMIT: Duration = Duration::from_secs(5);
const CRD_NAMES: [&str; 3] = [
    "clientintents.k8s.otterize.com",
    "protectedservices.k8s.otterize.com",
    "kafkaserverconfigs.k8s.otterize.com",
];

/// How the CRDs get into the cluster before the operator starts.
#[derive(Clone, Copy, Debug)]
enum Installer {
    /// `kubectl apply -f deploy/crds/` (client-side apply: field manager `kubectl-client-side-apply`).
    KubectlClientSide,
    /// `kubectl apply --server-side --field-manager helm -f deploy/crds/`, as Helm 4 or a GitOps tool does.
    ServerSideAsHelm,
}

impl Installer {
    fn manager(self) -> &'static str {
        match self {
            Installer::KubectlClientSide => "kubectl-client-side-apply",
            Installer::ServerSideAsHelm => "helm",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Installer::KubectlClientSide => &["apply"],
            Installer::ServerSideAsHelm => &["apply", "--server-side", "--field-manager", "helm"],
        }
    }
}

fn deploy_crds() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds")
}

async fn kubectl(plane: &ControlPlane, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(plane.kubeconfig())
        .args(args)
        .output()
        .await
        .context("run kubectl")?;
    ensure!(
        output.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Installs `deploy/crds/` with `installer` and waits until the CRDs are Established.
async fn install(plane: &ControlPlane, installer: Installer) -> anyhow::Result<()> {
    let dir = deploy_crds();
    let dir = dir.to_str().context("path")?;
    let mut args = installer.args().to_vec();
    args.extend(["-f", dir]);
    kubectl(plane, &args).await?;
    kubectl(
        plane,
        &["wait", "--for=condition=Established", "--timeout=60s", "-f", dir],
    )
    .await?;
    Ok(())
}

fn plane_options() -> ControlPlaneOptions {
    ControlPlaneOptions {
        controller_manager: false,
        ..ControlPlaneOptions::default()
    }
}

/// Where the webhook is registered.
#[derive(Clone, Copy, Debug)]
enum TargetKind {
    Url,
    /// The Service `holt-webhook` in `holt-system` (as `deploy/crds` names it), an ExternalName pointing at
    /// 127.0.0.1 so the API server reaches the test's server through the Service reference.
    Service,
}

/// Starts the webhook (with its certificate Secret in `holt-system`) on `port` (a free one when 0),
/// registered at a target of `kind`.
async fn start_webhook(
    client: &kube::Client,
    kind: TargetKind,
    port: u16,
) -> anyhow::Result<(Webhook, WebhookTarget)> {
    let namespace = "holt-system";
    let namespaces = Api::<Namespace>::all(client.clone());
    if namespaces.get_opt(namespace).await?.is_none() {
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces.create(&PostParams::default(), &object).await?;
    }
    // Bind first to learn the port the registration must name.
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let addr = listener.local_addr()?;
    drop(listener);
    let target = match kind {
        TargetKind::Url => WebhookTarget::Url(format!("https://127.0.0.1:{}", addr.port())),
        TargetKind::Service => {
            let service = Service {
                metadata: ObjectMeta {
                    name: Some("holt-webhook".to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(ServiceSpec {
                    type_: Some("ExternalName".to_owned()),
                    external_name: Some("127.0.0.1".to_owned()),
                    ..ServiceSpec::default()
                }),
                ..Service::default()
            };
            let services = Api::<Service>::namespaced(client.clone(), namespace);
            if services.get_opt("holt-webhook").await?.is_none() {
                services.create(&PostParams::default(), &service).await?;
            }
            WebhookTarget::Service {
                name: "holt-webhook".to_owned(),
                namespace: namespace.to_owned(),
                port: Some(i32::from(addr.port())),
            }
        }
    };
    let mut options = WebhookOptions::new(addr, "holt-webhook", namespace, cert_store::DEFAULT_SECRET_NAME);
    if let CertificateSource::Secret { options, .. } = &mut options.certificate {
        options.loopback = true;
    }
    options.registration = Some(target.clone());
    let webhook = Webhook::start(client.clone(), KubeNeighbourhood::new(client.clone()), options).await?;
    Ok((webhook, target))
}

/// The conversion clientConfig of every Holt CRD.
async fn client_configs(client: &kube::Client) -> anyhow::Result<Vec<WebhookClientConfig>> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let mut configs = Vec::new();
    for name in CRD_NAMES {
        let crd = api.get(name).await?;
        let config = crd
            .spec
            .conversion
            .and_then(|c| c.webhook)
            .and_then(|w| w.client_config)
            .with_context(|| format!("{name}: no clientConfig"))?;
        configs.push(config);
    }
    Ok(configs)
}

/// Waits until both webhooks are effective: a v1alpha3 object can be written and read back as v2beta1 (the
/// conversion webhook, both ways) and an invalid one is denied by Holt. Returns the round-tripped workload.
async fn conversion_and_validation_work(client: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let v1 = Api::<holt_api::v1alpha3::ClientIntents>::namespaced(client.clone(), ns);
    let invalid: holt_api::v1alpha3::ClientIntents = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "probe" },
        "spec": { "service": { "name": "probe" }, "calls": [{ "name": "a.b.c" }] },
    }))?;
    let valid: holt_api::v1alpha3::ClientIntents = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v1alpha3", "kind": "ClientIntents",
        "metadata": { "name": "frontend" },
        "spec": { "service": { "name": "frontend" }, "calls": [{ "name": "cartservice" }] },
    }))?;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let denied = v1.create(&PostParams::default(), &invalid).await;
        let denied_by_holt =
            matches!(&denied, Err(kube::Error::Api(s)) if s.message.contains("spec.calls[0].name"));
        let created = match v1.get_opt("frontend").await {
            Ok(Some(_)) => Ok(()),
            _ => v1.create(&PostParams::default(), &valid).await.map(|_| ()),
        };
        if denied_by_holt && created.is_ok() {
            break;
        }
        if Instant::now() > deadline {
            bail!("webhooks not effective: invalid → {denied:?}, valid → {created:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hub = Api::<holt_api::v2beta1::ClientIntents>::namespaced(client.clone(), ns)
        .get("frontend")
        .await?;
    assert_eq!(hub.spec.workload.name, "frontend");
    let targets = serde_json::to_value(&hub.spec.targets)?;
    assert_eq!(targets, json!([{ "kubernetes": { "name": "cartservice" } }]));
    Ok(())
}

/// Which managers own each CRD's `spec.versions`.
async fn schema_managers(client: &kube::Client) -> anyhow::Result<Vec<Vec<String>>> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let mut all = Vec::new();
    for name in CRD_NAMES {
        let crd = api.get(name).await?;
        let mut managers: Vec<String> = crd
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                e.fields_v1
                    .as_ref()
                    .and_then(|f| f.0.get("f:spec"))
                    .and_then(|s| s.get("f:versions"))
                    .is_some()
            })
            .filter_map(|e| e.manager)
            .collect();
        managers.sort();
        all.push(managers);
    }
    Ok(all)
}

/// The scenario of issue 11, item 5: CRDs from `deploy/crds` installed by `installer`, then the webhook
/// started with a target of `kind`.
async fn starts_with_preinstalled_crds(installer: Installer, kind: TargetKind) -> anyhow::Result<()> {
    let plane = ControlPlane::start(plane_options()).await?;
    let client = plane.client().await?;
    install(&plane, installer).await?;

    let (webhook, target) = start_webhook(&client, kind, 0).await?;
    let ca = webhook.ca_bundle();

    // Exactly one of url and service, Holt's CA bundle, and the installer's schema left alone.
    for config in client_configs(&client).await? {
        match &target {
            WebhookTarget::Url(base) => {
                assert_eq!(config.url, Some(format!("{base}/convert")));
                assert!(config.service.is_none(), "{config:?}");
            }
            WebhookTarget::Service { port, .. } => {
                assert!(config.url.is_none(), "{config:?}");
                let service = config.service.as_ref().context("service")?;
                assert_eq!(
                    (
                        service.name.as_str(),
                        service.namespace.as_str(),
                        service.path.as_deref(),
                        service.port
                    ),
                    ("holt-webhook", "holt-system", Some("/convert"), *port)
                );
            }
        }
        assert_eq!(config.ca_bundle.map(|b| b.0), Some(ca.clone()));
    }
    let registration = webhook.registration().context("registered")?;
    for crd in &registration.crds {
        assert!(!crd.created, "{crd:?}");
        assert_eq!(crd.schema_owners, [installer.manager()], "{crd:?}");
        assert!(crd.schema_current, "deploy/crds is this build's schema: {crd:?}");
        assert!(
            crd.conversion_repaired
                .contains(&"spec.conversion.webhook.clientConfig.caBundle".to_owned()),
            "{crd:?}"
        );
    }
    assert!(registration.configuration_created);
    for managers in schema_managers(&client).await? {
        assert_eq!(
            managers,
            [installer.manager()],
            "Holt did not take the schema over"
        );
    }

    let ns = plane.create_namespace(&client, "converted").await?;
    conversion_and_validation_work(&client, &ns).await?;

    // The installer applies the same files again (a GitOps re-sync, `helm upgrade`). With a URL target the
    // files' `service` contradicts Holt's `url`: the API server refuses the re-apply and Holt's settings stay.
    if let TargetKind::Url = kind {
        let refused = install(&plane, installer).await.expect_err("refused");
        ensure!(
            refused.to_string().contains("exactly one of url or service"),
            "{refused:#}"
        );
        ensure!(client_configs(&client).await?.iter().all(|c| c.service.is_none()));
    }
    // With a Service target (what deploy/crds names) it succeeds and keeps Holt's settings; a restarted
    // operator then writes nothing.
    if let TargetKind::Service = kind {
        install(&plane, installer).await?;
        let after = client_configs(&client).await?;
        for config in &after {
            assert!(config.url.is_none());
            assert_eq!(config.ca_bundle.as_ref().map(|b| &b.0), Some(&ca));
        }
        let port = webhook.local_addr().port();
        webhook.shutdown().await;
        let (restarted, _) = start_webhook(&client, kind, port).await?;
        let registration = restarted.registration().context("registered")?;
        for crd in &registration.crds {
            // The port is Holt's: the test's server does not listen on 443.
            assert!(crd.conversion_repaired.is_empty(), "{crd:?}");
        }
        assert!(registration.configuration_repaired.is_empty());
        let ns = plane.create_namespace(&client, "after-resync").await?;
        conversion_and_validation_work(&client, &ns).await?;
    }
    Ok(())
}

#[tokio::test]
async fn starts_with_crds_applied_by_kubectl_and_a_url() -> anyhow::Result<()> {
    starts_with_preinstalled_crds(Installer::KubectlClientSide, TargetKind::Url).await
}

#[tokio::test]
async fn starts_with_crds_applied_by_kubectl_and_a_service() -> anyhow::Result<()> {
    starts_with_preinstalled_crds(Installer::KubectlClientSide, TargetKind::Service).await
}

#[tokio::test]
async fn starts_with_crds_applied_server_side_by_helm_and_a_url() -> anyhow::Result<()> {
    starts_with_preinstalled_crds(Installer::ServerSideAsHelm, TargetKind::Url).await
}

#[tokio::test]
async fn starts_with_crds_applied_server_side_by_helm_and_a_service() -> anyhow::Result<()> {
    starts_with_preinstalled_crds(Installer::ServerSideAsHelm, TargetKind::Service).await
}

/// Polls every 10 ms until `restored` says yes; returns how long it took.
async fn time_until<F, Fut>(what: &str, mut restored: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let started = Instant::now();
    loop {
        if restored().await.unwrap_or(false) {
            let took = started.elapsed();
            println!("repair: {what}: {took:?}");
            return Ok(took);
        }
        if started.elapsed() > TIMEOUT {
            bail!("{what}: not restored after {TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn as_editor() -> PatchParams {
    PatchParams {
        field_manager: Some("kubectl-edit".to_owned()),
        ..PatchParams::default()
    }
}

/// True when the configuration holds Holt's three webhooks, failing closed, with no selector, trusting `ca`.
async fn configuration_is_holts(client: &kube::Client, ca: &[u8]) -> anyhow::Result<bool> {
    let Some(configuration) = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get_opt(VALIDATING_WEBHOOK_CONFIGURATION)
        .await?
    else {
        return Ok(false);
    };
    let webhooks = configuration.webhooks.unwrap_or_default();
    let holts: Vec<_> = webhooks
        .iter()
        .filter(|w| w.name.ends_with(".k8s.otterize.com"))
        .collect();
    Ok(holts.len() == 3
        && holts.iter().all(|w| {
            w.failure_policy.as_deref() == Some("Fail")
                && w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()) == Some(ca)
                && w.namespace_selector
                    .as_ref()
                    .is_none_or(|s| s.match_labels.as_ref().is_none_or(|l| l.is_empty()))
        }))
}

/// True when every Holt CRD's conversion points at `target`'s URL only, trusting `ca`.
async fn conversion_is_holts(client: &kube::Client, url: &str, ca: &[u8]) -> anyhow::Result<bool> {
    Ok(client_configs(client).await?.iter().all(|c| {
        c.url.as_deref() == Some(url)
            && c.service.is_none()
            && c.ca_bundle.as_ref().map(|b| b.0.as_slice()) == Some(ca)
    }))
}

#[tokio::test]
async fn changes_to_the_registration_are_repaired_within_seconds() -> anyhow::Result<()> {
    let plane = ControlPlane::start(plane_options()).await?;
    let client = plane.client().await?;
    install(&plane, Installer::KubectlClientSide).await?;
    let (webhook, target) = start_webhook(&client, TargetKind::Url, 0).await?;
    let WebhookTarget::Url(base) = &target else {
        bail!("a URL target");
    };
    let url = format!("{base}/convert");
    let ca = webhook.ca_bundle();
    let configurations = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    ensure!(configuration_is_holts(&client, &ca).await?);
    ensure!(conversion_is_holts(&client, &url, &ca).await?);
    let mut took = Vec::new();

    // The whole configuration deleted.
    configurations
        .delete(VALIDATING_WEBHOOK_CONFIGURATION, &DeleteParams::default())
        .await?;
    took.push(time_until("configuration deleted", || configuration_is_holts(&client, &ca)).await?);

    // One webhook weakened to fail open, another limited to labelled namespaces, a third's CA replaced.
    let mut edited = configurations.get(VALIDATING_WEBHOOK_CONFIGURATION).await?;
    edited.metadata.managed_fields = None;
    let webhooks = edited.webhooks.as_mut().context("webhooks")?;
    webhooks[0].failure_policy = Some("Ignore".to_owned());
    webhooks[1].namespace_selector = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some([("validate".to_owned(), "yes".to_owned())].into()),
        ..Default::default()
    });
    webhooks[2].client_config.ca_bundle = Some(k8s_openapi::ByteString(b"not Holt's".to_vec()));
    configurations
        .replace(
            VALIDATING_WEBHOOK_CONFIGURATION,
            &PostParams {
                field_manager: Some("kubectl-edit".to_owned()),
                ..PostParams::default()
            },
            &edited,
        )
        .await?;
    took.push(time_until("configuration edited", || configuration_is_holts(&client, &ca)).await?);

    // One webhook removed (a JSON patch, as `kubectl edit` deleting the entry).
    let remove = json!([{ "op": "remove", "path": "/webhooks/0" }]);
    configurations
        .patch(
            VALIDATING_WEBHOOK_CONFIGURATION,
            &as_editor(),
            &Patch::Json::<()>(serde_json::from_value(remove)?),
        )
        .await?;
    took.push(time_until("webhook removed", || configuration_is_holts(&client, &ca)).await?);

    // A CRD's conversion pointed elsewhere, and another's switched to a Service.
    let elsewhere = json!({ "spec": { "conversion": { "webhook": { "clientConfig": { "url": "https://127.0.0.1:1/convert" } } } } });
    crds.patch(CRD_NAMES[0], &as_editor(), &Patch::Merge(&elsewhere))
        .await?;
    took.push(
        time_until("conversion url changed", || {
            conversion_is_holts(&client, &url, &ca)
        })
        .await?,
    );
    let to_service = json!({ "spec": { "conversion": { "webhook": { "clientConfig": {
        "url": null, "service": { "name": "somebody", "namespace": "default", "path": "/convert" } } } } } });
    crds.patch(CRD_NAMES[1], &as_editor(), &Patch::Merge(&to_service))
        .await?;
    took.push(
        time_until("conversion switched to a service", || {
            conversion_is_holts(&client, &url, &ca)
        })
        .await?,
    );
    let no_ca = json!({ "spec": { "conversion": { "webhook": { "clientConfig": { "caBundle": null } } } } });
    crds.patch(CRD_NAMES[2], &as_editor(), &Patch::Merge(&no_ca))
        .await?;
    took.push(
        time_until("conversion caBundle removed", || {
            conversion_is_holts(&client, &url, &ca)
        })
        .await?,
    );

    for repair in &took {
        ensure!(*repair < REPAIR_LIMIT, "repairs took {took:?}");
    }
    let ns = plane.create_namespace(&client, "after-repairs").await?;
    conversion_and_validation_work(&client, &ns).await?;

    // A change to something that is not Holt's is left alone and causes no write: the resourceVersions stay.
    let note = json!({ "metadata": { "annotations": { "example.com/note": "mine" } } });
    let annotated = configurations
        .patch(
            VALIDATING_WEBHOOK_CONFIGURATION,
            &as_editor(),
            &Patch::Merge(&note),
        )
        .await?;
    let crd_annotated = crds
        .patch(CRD_NAMES[0], &as_editor(), &Patch::Merge(&note))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let configuration = configurations.get(VALIDATING_WEBHOOK_CONFIGURATION).await?;
    assert_eq!(
        configuration.metadata.resource_version, annotated.metadata.resource_version,
        "no write when nothing of Holt's differs"
    );
    assert_eq!(
        configuration
            .metadata
            .annotations
            .unwrap_or_default()
            .get("example.com/note")
            .map(String::as_str),
        Some("mine")
    );
    assert_eq!(
        crds.get(CRD_NAMES[0]).await?.metadata.resource_version,
        crd_annotated.metadata.resource_version
    );

    // A CRD deleted is not created again while running (an uninstall), and nothing else breaks.
    crds.delete(CRD_NAMES[2], &DeleteParams::default()).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        crds.get_opt(CRD_NAMES[2]).await?.is_none(),
        "a deleted CRD stays deleted"
    );
    ensure!(configuration_is_holts(&client, &ca).await?);
    drop(webhook);
    Ok(())
}

/// Another writer that undoes every repair at once (a GitOps tool with its own idea of the configuration)
/// gets slower and slower repairs instead of a write storm.
#[tokio::test]
async fn a_writer_that_keeps_undoing_repairs_slows_them_down() -> anyhow::Result<()> {
    let plane = ControlPlane::start(plane_options()).await?;
    let client = plane.client().await?;
    let (webhook, _) = start_webhook(&client, TargetKind::Url, 0).await?;
    let ca = webhook.ca_bundle();
    let configurations = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let fail_open = json!([{ "op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore" }]);
    let fail_open: json_patch::Patch = serde_json::from_value(fail_open)?;
    let started = Instant::now();
    // Holt's configuration seen: the first time as registered, then after each repair.
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(8) {
        if configuration_is_holts(&client, &ca).await? {
            seen += 1;
            configurations
                .patch(
                    VALIDATING_WEBHOOK_CONFIGURATION,
                    &PatchParams {
                        field_manager: Some("gitops".to_owned()),
                        ..PatchParams::default()
                    },
                    &Patch::Json::<()>(fail_open.clone()),
                )
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let repairs = seen - 1;
    println!("repairs against a fighting writer in 8 s: {repairs}");
    // Immediate, then after 1, 2 and 4 s more: at most five in 8 s (at 20-200 ms each it would be dozens).
    ensure!((3..=5).contains(&repairs), "{repairs} repairs in 8 s");
    Ok(())
}
