//! The cert-manager provider on the real API server with cert-manager's own Certificate CRD: the API server
//! accepts the Certificates Holt writes (PEM and JKS, Issuer and ClusterIssuer), they name the requested
//! Secret, the workload and the issuer, are owned by the workload, and go away with it (the garbage
//! collector of the real controller-manager). Issuing is cert-manager's job and is not run here. The
//! controller with `--certificate-provider cert-manager`, running with its roles alone, writes them for a
//! Deployment's pods.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use holt_credentials::provider::ProviderKind;
use holt_credentials::provider::cert_manager::{CertManager, Issuer, certificate_resource};
use holt_credentials::rbac::{own_namespace_rules, read_rules, write_rules};
use holt_credentials::request::CertificateRequest;
use holt_credentials::settings::Format;
use holt_credentials::subject::{Subject, TrustDomain};
use holt_testenv::{cert_manager_crds, eventually, install_crds};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Api;
use kube::api::{DeleteParams, DynamicObject, PropagationPolicy};
use support::{Running, Scene, TIMEOUT, TRUST_DOMAIN, grant};

fn request(
    scene: &Scene,
    deployment: &k8s_openapi::api::apps::v1::Deployment,
    secret: &str,
    format: Format,
) -> anyhow::Result<CertificateRequest> {
    let name = deployment.metadata.name.clone().context("name")?;
    let owner = OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: "Deployment".to_owned(),
        name: name.clone(),
        uid: deployment.metadata.uid.clone().context("uid")?,
        ..OwnerReference::default()
    };
    Ok(CertificateRequest {
        namespace: scene.namespace.clone(),
        secret_name: secret.to_owned(),
        workload: name.clone(),
        subject: Subject::new(&name, &scene.namespace, &[], &TrustDomain::new(TRUST_DOMAIN)?),
        ttl: Some(Duration::from_secs(7200)),
        format,
        restart_on_renewal: false,
        owners: vec![owner],
        pods: Vec::new(),
    })
}

#[tokio::test]
async fn certificates_are_accepted_owned_and_collected_with_their_workload() -> anyhow::Result<()> {
    let scene = Scene::new("certmgr").await?;
    install_crds(&scene.client, cert_manager_crds()).await?;
    let certificates: Api<DynamicObject> =
        Api::namespaced_with(scene.client.clone(), &scene.namespace, &certificate_resource());

    let cart = scene.deployment("cart", 1, &[]).await?;
    let pem = Format::Pem {
        cert_file: "cert.pem".to_owned(),
        ca_file: "ca.pem".to_owned(),
        key_file: "key.pem".to_owned(),
    };
    let issuer = Issuer {
        name: "holt-ca".to_owned(),
        cluster_issuer: true,
    };
    let provider = CertManager::new(scene.client.clone(), issuer);
    provider
        .apply(&request(&scene, &cart, "cart-tls", pem.clone())?)
        .await?;
    // Applying again is a no-op, not an error.
    provider.apply(&request(&scene, &cart, "cart-tls", pem)?).await?;
    let written = certificates.get("cart-tls").await?;
    let spec = &written.data["spec"];
    ensure!(spec["secretName"] == "cart-tls", "{spec}");
    ensure!(
        spec["commonName"] == format!("cart.{}", scene.namespace),
        "{spec}"
    );
    ensure!(
        spec["dnsNames"][0] == format!("cart.{}", scene.namespace),
        "{spec}"
    );
    ensure!(
        spec["duration"] == "2h0m0s" || spec["duration"] == "7200s",
        "{spec}"
    );
    ensure!(
        spec["issuerRef"]["kind"] == "ClusterIssuer" && spec["issuerRef"]["name"] == "holt-ca",
        "{spec}"
    );
    let owners = written.metadata.owner_references.clone().unwrap_or_default();
    ensure!(
        owners.len() == 1 && owners[0].uid == cart.metadata.uid.clone().unwrap_or_default(),
        "{owners:?}"
    );

    let kafka = scene.deployment("kafka-client", 1, &[]).await?;
    let jks = Format::Jks {
        keystore_file: "keystore.jks".to_owned(),
        truststore_file: "truststore.jks".to_owned(),
        password: "s3cret".to_owned(),
    };
    let provider = CertManager::new(
        scene.client.clone(),
        Issuer {
            name: "ns-ca".to_owned(),
            cluster_issuer: false,
        },
    );
    provider
        .apply(&request(&scene, &kafka, "kafka-tls", jks)?)
        .await?;
    let written = certificates.get("kafka-tls").await?;
    ensure!(
        written.data["spec"]["keystores"]["jks"]["create"] == true,
        "{}",
        written.data
    );
    ensure!(
        written.data["spec"]["issuerRef"]["kind"] == "Issuer",
        "{}",
        written.data
    );
    let password = scene.secrets().get("kafka-tls-jks-password").await?;
    let data = password.data.context("password data")?;
    ensure!(
        data["password"].0 == b"s3cret",
        "the password Secret holds the annotation's password"
    );

    // A Certificate the schema refuses is refused: cert-manager's CRD is really checking.
    let mut bad = holt_credentials::provider::cert_manager::certificate(
        &request(
            &scene,
            &cart,
            "bad",
            Format::Pem {
                cert_file: "a".to_owned(),
                ca_file: "b".to_owned(),
                key_file: "c".to_owned(),
            },
        )?,
        &Issuer {
            name: "x".to_owned(),
            cluster_issuer: false,
        },
    );
    bad["spec"]["privateKey"]["rotationPolicy"] = serde_json::json!("Sometimes");
    let refused = certificates
        .create(&Default::default(), &serde_json::from_value(bad)?)
        .await
        .expect_err("the CRD's enum refuses it");
    ensure!(refused.to_string().contains("rotationPolicy"), "{refused}");

    // The workload goes: its Certificate goes with it; the other stays.
    scene
        .deployments()
        .delete(
            "cart",
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            },
        )
        .await?;
    eventually("cart's Certificate collected", TIMEOUT, || async {
        Ok(certificates.get_opt("cart-tls").await?.is_none().then_some(()))
    })
    .await?;
    ensure!(
        certificates.get_opt("kafka-tls").await?.is_some(),
        "kafka-client's Certificate stays"
    );
    Ok(())
}

#[tokio::test]
async fn the_controller_writes_certificates_for_a_deployments_pods_with_its_roles_alone() -> anyhow::Result<()>
{
    let scene = Scene::new("certmgr-ctl").await?;
    install_crds(&scene.client, cert_manager_crds()).await?;
    let name = format!("holt-credentials-{}", scene.namespace);
    let user = scene.plane.user(&name, None)?;
    let provider = ProviderKind::CertManager;
    grant(&scene.client, &scene.namespace, "read", read_rules(), &name).await?;
    grant(
        &scene.client,
        &scene.namespace,
        "write",
        write_rules(provider),
        &name,
    )
    .await?;
    grant(
        &scene.client,
        &scene.operator_namespace,
        "own",
        own_namespace_rules(provider, "holt-credentials-ca", false),
        &name,
    )
    .await?;
    let mut options = scene.options();
    options.cert_manager = Some(Issuer {
        name: "ns-ca".to_owned(),
        cluster_issuer: false,
    });
    let running = Running::start(&user.client().await?, options).await?;
    let cart = scene
        .deployment(
            "cart",
            2,
            &[
                ("credentials-operator.otterize.com/tls-secret-name", "cart-tls"),
                ("credentials-operator.otterize.com/cert-ttl", "3600"),
            ],
        )
        .await?;
    scene
        .deployment(
            "ledger",
            1,
            &[
                ("credentials-operator.otterize.com/tls-secret-name", "ledger-tls"),
                ("credentials-operator.otterize.com/cert-type", "jks"),
                ("credentials-operator.otterize.com/jks-password", "s3cret"),
            ],
        )
        .await?;
    let certificates: Api<DynamicObject> =
        Api::namespaced_with(scene.client.clone(), &scene.namespace, &certificate_resource());
    let pod = scene.pods_of("cart", 1).await?.remove(0);
    let written = eventually("cart's Certificate", TIMEOUT, || async {
        Ok(certificates.get_opt("cart-tls").await?)
    })
    .await;
    let events = scene.events(&pod, "EnsuringPodTLSFailed").await?;
    let notes: Vec<Option<String>> = events.into_iter().map(|e| e.note).collect();
    let written = written.with_context(|| format!("failures reported: {notes:?}"))?;
    let spec = &written.data["spec"];
    ensure!(spec["secretName"] == "cart-tls", "{spec}");
    ensure!(
        spec["commonName"] == format!("cart.{}", scene.namespace),
        "{spec}"
    );
    ensure!(
        spec["uris"][0]
            == format!(
                "spiffe://{TRUST_DOMAIN}/otterize/namespace/{}/service/cart",
                scene.namespace
            ),
        "{spec}"
    );
    ensure!(
        spec["duration"] == "1h0m0s" || spec["duration"] == "3600s",
        "{spec}"
    );
    ensure!(
        spec["issuerRef"]["kind"] == "Issuer" && spec["issuerRef"]["name"] == "ns-ca",
        "{spec}"
    );
    let owners = written.metadata.owner_references.clone().unwrap_or_default();
    ensure!(
        owners.len() == 1
            && owners[0].kind == "Deployment"
            && owners[0].uid == cart.metadata.uid.clone().unwrap_or_default(),
        "{owners:?}"
    );
    let ledger = eventually("ledger's Certificate", TIMEOUT, || async {
        Ok(certificates.get_opt("ledger-tls").await?)
    })
    .await?;
    ensure!(
        ledger.data["spec"]["keystores"]["jks"]["create"] == true,
        "{}",
        ledger.data
    );
    let password = scene.secrets().get("ledger-tls-jks-password").await?;
    ensure!(password.data.context("password")?["password"].0 == b"s3cret");
    // The Secret itself is cert-manager's to write.
    ensure!(scene.secrets().get_opt("cart-tls").await?.is_none());
    let now = running.now();
    ensure!(now.failures == 0 && now.writes >= 3, "{now:?}");

    scene
        .deployments()
        .delete(
            "cart",
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            },
        )
        .await?;
    eventually("cart's Certificate collected", TIMEOUT, || async {
        Ok(certificates.get_opt("cart-tls").await?.is_none().then_some(()))
    })
    .await?;
    ensure!(certificates.get_opt("ledger-tls").await?.is_some());
    Ok(())
}
