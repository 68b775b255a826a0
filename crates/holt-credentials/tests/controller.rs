//! The credentials operator on the real API server (etcd, kube-apiserver and kube-controller-manager from
//! holt-testenv): Deployments whose pods ask for certificates get Secrets that verify against the CA they
//! carry, in PEM or Java keystores; a malformed annotation is a Warning Event that stalls no other pod; a
//! Secret Holt did not create is left alone; short-lived certificates are renewed while the old one is still
//! valid (and the workload restarted when asked); deleting the workload removes its Secret.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_testenv::eventually;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{Running, Scene, TIMEOUT, certificates, file, names, signed_by, validity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

/// `GET path` on `address`: the status line and body.
async fn http_get(address: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn a_deployments_pods_share_a_secret_that_verifies_against_its_ca() -> anyhow::Result<()> {
    let scene = Scene::new("creds-pem").await?;
    let running = Running::start(&scene.client, scene.options()).await?;
    let deployment = scene
        .deployment(
            "cart",
            2,
            &[
                (SECRET, "cart-tls"),
                (
                    "credentials-operator.otterize.com/dns-names",
                    "cart.example.com,cart.shop.svc",
                ),
            ],
        )
        .await?;
    let pods = scene.pods_of("cart", 2).await?;
    let secret = scene.secret_with("cart-tls", "cert.pem").await?;

    // The certificate names the workload and verifies against the CA in the Secret.
    let cert = certificates(file(&secret, "cert.pem")?)?;
    let bundle = certificates(file(&secret, "ca.pem")?)?;
    ensure!(cert.len() == 1 && bundle.len() == 1, "one certificate, one CA");
    ensure!(
        signed_by(&cert[0], &bundle[0])?,
        "the certificate is signed by the CA in ca.pem"
    );
    let (subject, dns, uris) = names(&cert[0])?;
    let namespace = &scene.namespace;
    assert_eq!(subject, format!("CN=cart.{namespace}"));
    assert_eq!(
        dns,
        [
            format!("cart.{namespace}"),
            "cart.example.com".to_owned(),
            "cart.shop.svc".to_owned()
        ]
    );
    assert_eq!(
        uris,
        [format!(
            "spiffe://holt.test/otterize/namespace/{namespace}/service/cart"
        )]
    );
    // The key is the certificate's.
    let key = rcgen::KeyPair::from_pem(std::str::from_utf8(file(&secret, "key.pem")?)?)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert[0])?;
    ensure!(parsed.public_key().subject_public_key.data.as_ref() == key.public_key_raw());
    // The CA is the one in the operator's namespace.
    let ca_secret: Secret = kube::Api::namespaced(scene.client.clone(), &scene.operator_namespace)
        .get("holt-credentials-ca")
        .await?;
    assert_eq!(certificates(file(&ca_secret, "tls.crt")?)?, bundle);

    // Labels, annotations and the owner: the Deployment, so the Secret goes with it.
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "holt");
    assert_eq!(labels["credentials-operator.otterize.com/secret-type"], "TLS");
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations["credentials-operator.otterize.com/registered-service-name"],
        "cart"
    );
    let (_, not_after) = validity(&cert[0])?;
    let expires: jiff::Timestamp =
        annotations["credentials-operator.otterize.com/svid-expires-at"].parse()?;
    assert_eq!(expires.as_second(), not_after);
    let owners = secret.metadata.owner_references.clone().unwrap_or_default();
    ensure!(owners.len() == 1, "{owners:?}");
    assert_eq!(
        (
            owners[0].kind.as_str(),
            owners[0].name.as_str(),
            owners[0].uid.as_str()
        ),
        (
            "Deployment",
            "cart",
            deployment.metadata.uid.as_deref().unwrap_or_default()
        )
    );

    // The pods were told (those there when it was issued: the second may have come later), and two pods
    // cost one certificate.
    let note = eventually("Event EnsuredPodTLS on a pod of cart", TIMEOUT, || async {
        for pod in &pods {
            if let Some(event) = scene.events(pod, "EnsuredPodTLS").await?.first() {
                return Ok(Some(event.note.clone().unwrap_or_default()));
            }
        }
        Ok(None)
    })
    .await?;
    ensure!(
        note.contains(&format!("cart.{namespace}")) && note.contains("cart-tls"),
        "{note}"
    );
    let progress = running.now();
    assert_eq!((progress.issued, progress.secrets, progress.pods), (1, 1, 2));

    // More pods of the workload change nothing: the Secret is not written again.
    let version = secret.metadata.resource_version.clone();
    scene
        .deployments()
        .patch(
            "cart",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await?;
    scene.pods_of("cart", 3).await?;
    let mut progress = running.progress.clone();
    tokio::time::timeout(TIMEOUT, progress.wait_for(|p| p.pods == 3)).await??;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = scene.secrets().get("cart-tls").await?;
    assert_eq!(
        again.metadata.resource_version, version,
        "the Secret was not rewritten"
    );
    assert_eq!(running.now().issued, 1);

    // The probes and the metrics page.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(holt_credentials::health::serve_on(
        listener,
        running.progress.clone(),
    ));
    let ready = http_get(address, "/readyz").await?;
    ensure!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let metrics = http_get(address, "/metrics").await?;
    for line in [
        "holt_credentials_certificates_issued_total 1\n",
        "holt_credentials_renewals_total 0\n",
        "holt_credentials_failures_total 0\n",
        "holt_credentials_secrets 1\n",
    ] {
        ensure!(metrics.contains(line), "{line} not in {metrics}");
    }
    let expiry_line = metrics
        .lines()
        .find(|l| l.starts_with("holt_credentials_earliest_expiry_seconds "))
        .context("expiry gauge")?;
    let seconds: u64 = expiry_line.rsplit(' ').next().unwrap_or_default().parse()?;
    ensure!(
        (86_000..=86_400).contains(&seconds),
        "a day's certificate: {expiry_line}"
    );
    server.abort();
    Ok(())
}

#[tokio::test]
async fn jks_stores_are_listed_by_keytool_with_the_password() -> anyhow::Result<()> {
    let scene = Scene::new("creds-jks").await?;
    let _running = Running::start(&scene.client, scene.options()).await?;
    scene
        .deployment(
            "orders",
            1,
            &[
                (SECRET, "orders-jks"),
                ("credentials-operator.otterize.com/cert-type", "jks"),
                ("credentials-operator.otterize.com/jks-password", "kafka-secret"),
            ],
        )
        .await?;
    let secret = scene.secret_with("orders-jks", "keystore.jks").await?;
    let dir = tempfile::tempdir()?;
    for store in ["keystore.jks", "truststore.jks"] {
        std::fs::write(dir.path().join(store), file(&secret, store)?)?;
    }
    let list = |store: &str| {
        std::process::Command::new("keytool")
            .args([
                "-list",
                "-v",
                "-storetype",
                "JKS",
                "-storepass",
                "kafka-secret",
                "-keystore",
            ])
            .arg(dir.path().join(store))
            .env("LC_ALL", "C")
            .output()
            .context("running keytool (Java's): it must be installed for this test")
    };
    let keystore = list("keystore.jks")?;
    let text = String::from_utf8_lossy(&keystore.stdout);
    ensure!(
        keystore.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&keystore.stderr)
    );
    let namespace = &scene.namespace;
    for expected in [
        "Alias name: pkey".to_owned(),
        "Entry type: PrivateKeyEntry".to_owned(),
        "Certificate chain length: 2".to_owned(),
        format!("Owner: CN=orders.{namespace}"),
        format!("URIName: spiffe://holt.test/otterize/namespace/{namespace}/service/orders"),
    ] {
        ensure!(text.contains(&expected), "{expected} not in:\n{text}");
    }
    let truststore = list("truststore.jks")?;
    let text = String::from_utf8_lossy(&truststore.stdout);
    ensure!(truststore.status.success(), "{text}");
    ensure!(
        text.contains("Alias name: ca-0") && text.contains("trustedCertEntry"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn a_bad_cert_type_is_a_warning_event_and_other_pods_still_get_theirs() -> anyhow::Result<()> {
    let scene = Scene::new("creds-bad").await?;
    let running = Running::start(&scene.client, scene.options()).await?;
    scene
        .deployment(
            "broken",
            1,
            &[
                (SECRET, "broken-tls"),
                ("credentials-operator.otterize.com/cert-type", "pkcs12"),
            ],
        )
        .await?;
    scene.deployment("fine", 1, &[(SECRET, "fine-tls")]).await?;
    let broken = scene.pods_of("broken", 1).await?;
    scene.secret_with("fine-tls", "cert.pem").await?;
    let note = scene.event(&broken[0], "EnsuringPodTLSFailed").await?;
    ensure!(
        note.contains("credentials-operator.otterize.com/cert-type") && note.contains("pkcs12"),
        "the Event names the annotation and its value: {note}"
    );
    let events = scene.events(&broken[0], "EnsuringPodTLSFailed").await?;
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    ensure!(
        scene.secrets().get_opt("broken-tls").await?.is_none(),
        "nothing written for it"
    );
    let progress = running.now();
    assert_eq!((progress.invalid_pods, progress.pods), (1, 1));

    // Fixing the annotation (a new template) serves the workload.
    scene
        .deployments()
        .patch(
            "broken",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {
                "credentials-operator.otterize.com/cert-type": "pem"
            }}}}})),
        )
        .await?;
    scene.secret_with("broken-tls", "cert.pem").await?;
    Ok(())
}

#[tokio::test]
async fn a_secret_holt_did_not_create_is_left_alone() -> anyhow::Result<()> {
    let scene = Scene::new("creds-foreign").await?;
    let running = Running::start(&scene.client, scene.options()).await?;
    let mine: Secret = serde_json::from_value(json!({
        "metadata": {"name": "taken-tls", "labels": {"app": "mine"}},
        "data": {"cert.pem": "bWluZQ=="}
    }))?;
    let mine = scene.secrets().create(&PostParams::default(), &mine).await?;
    scene.deployment("web", 1, &[(SECRET, "taken-tls")]).await?;
    let pods = scene.pods_of("web", 1).await?;
    let note = scene.event(&pods[0], "TLSSecretNameTaken").await?;
    ensure!(
        note.contains("taken-tls") && note.contains("did not create"),
        "{note}"
    );
    let mut progress = running.progress.clone();
    tokio::time::timeout(TIMEOUT, progress.wait_for(|p| p.names_taken == 1)).await??;
    // Looked at again every second (the test's setting): still untouched after a few rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = scene.secrets().get("taken-tls").await?;
    assert_eq!(now.metadata.resource_version, mine.metadata.resource_version);
    assert_eq!(
        now.data,
        Some([("cert.pem".to_owned(), ByteString(b"mine".to_vec()))].into())
    );
    assert_eq!(running.now().issued, 0);
    Ok(())
}

#[tokio::test]
async fn a_short_lived_certificate_is_renewed_while_the_old_one_is_valid_and_the_workload_restarts()
-> anyhow::Result<()> {
    let scene = Scene::new("creds-renew").await?;
    let running = Running::start(&scene.client, scene.options()).await?;
    scene
        .deployment(
            "ticker",
            1,
            &[
                (SECRET, "ticker-tls"),
                ("credentials-operator.otterize.com/cert-ttl", "24"),
                (
                    "credentials-operator.otterize.com/restart-pod-on-certificate-renewal",
                    "true",
                ),
            ],
        )
        .await?;
    let first = scene.secret_with("ticker-tls", "cert.pem").await?;
    let first_cert = certificates(file(&first, "cert.pem")?)?.remove(0);
    let (issued, old_end) = validity(&first_cert)?;
    // 24 s from issue (notBefore is 10 s earlier); renewed after two thirds, 16 s in.
    assert_eq!(old_end - issued, 34);
    let secrets = scene.secrets();
    let renewed = eventually("the renewed certificate", Duration::from_secs(40), || async {
        let secret = secrets.get("ticker-tls").await?;
        let cert = certificates(file(&secret, "cert.pem")?)?.remove(0);
        Ok((cert != first_cert).then_some(cert))
    })
    .await?;
    let seen = jiff::Timestamp::now().as_second();
    ensure!(
        seen < old_end,
        "renewed at {seen}, before the old certificate ended ({old_end})"
    );
    let (new_start, new_end) = validity(&renewed)?;
    ensure!(
        new_start <= seen && new_end > old_end,
        "the new one is valid now and lasts longer"
    );
    ensure!(
        seen >= old_end - 24 + 16 - 2,
        "not renewed long before two thirds of its life ({seen})"
    );
    // The job ends after the restart, which follows the write.
    let mut progress = running.progress.clone();
    tokio::time::timeout(TIMEOUT, progress.wait_for(|p| p.renewals >= 1 && p.restarts >= 1)).await??;
    // The workload's pod template carries the restart annotation.
    let deployment = scene.deployments().get("ticker").await?;
    let template = deployment
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .unwrap_or_default();
    ensure!(
        template.contains_key("credentials-operator.otterize.com/restart-time-after-renewal"),
        "{template:?}"
    );
    let note = scene.event("ticker", "CertificateRenewed").await?;
    ensure!(note.contains("ticker-tls"), "{note}");
    Ok(())
}

#[tokio::test]
async fn deleting_the_workload_removes_its_secret() -> anyhow::Result<()> {
    let scene = Scene::new("creds-gc").await?;
    let _running = Running::start(&scene.client, scene.options()).await?;
    scene.deployment("gone", 1, &[(SECRET, "gone-tls")]).await?;
    scene.secret_with("gone-tls", "cert.pem").await?;
    // A bare pod owns its Secret itself.
    let bare: Pod = serde_json::from_value(json!({
        "metadata": {"name": "toolbox", "annotations": {SECRET: "toolbox-tls"}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
    }))?;
    let bare = scene.pods().create(&PostParams::default(), &bare).await?;
    let toolbox = scene.secret_with("toolbox-tls", "cert.pem").await?;
    let owners = toolbox.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (owners[0].kind.as_str(), owners[0].uid.as_str()),
        ("Pod", bare.metadata.uid.as_deref().unwrap_or_default())
    );
    let (_, _, uris) = names(&certificates(file(&toolbox, "cert.pem")?)?[0])?;
    ensure!(uris[0].ends_with("/service/toolbox"), "{uris:?}");

    // The test control plane runs kube-controller-manager's garbage collector: owners' deletion removes
    // the Secrets.
    scene
        .deployments()
        .delete("gone", &DeleteParams::default())
        .await?;
    scene.pods().delete("toolbox", &DeleteParams::default()).await?;
    let secrets = scene.secrets();
    eventually("both Secrets gone", TIMEOUT, || async {
        let left: BTreeSet<String> = secrets
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .filter(|n| n == "gone-tls" || n == "toolbox-tls")
            .collect();
        Ok(left.is_empty().then_some(()))
    })
    .await?;
    Ok(())
}
