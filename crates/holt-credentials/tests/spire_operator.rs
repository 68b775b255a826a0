//! `--certificate-provider spire` end to end on the real API server and the real SPIRE server of the test
//! harness: Deployments' pods get Secrets with SVIDs that chain to the server's bundle (PEM, and JKS that
//! Java's `keytool` lists with the password), are labelled for the entries' selector, and the workload's
//! entry goes when the workload goes while an entry Holt did not create stays — the operator running with
//! exactly its roles for `spire`. A server that is down at
//! start and mid-way is reported (Events naming the server, metrics, readiness), retried, and nothing is
//! deleted while it is down.

mod support;

use anyhow::{Context, ensure};
use holt_credentials::events::reason;
use holt_credentials::provider::ProviderKind;
use holt_credentials::provider::spire::{REGISTERED_SERVICE_NAME_LABEL, SpiffeId, Spire, SpireAddress};
use holt_credentials::rbac::{own_namespace_rules, read_rules, write_rules};
use holt_testenv::{SpireServer, eventually};
use kube::api::{DeleteParams, ListParams};
use support::{Running, Scene, TIMEOUT, certificates, file, grant, names, signed_by};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn connect(server: &SpireServer, parent: &str) -> anyhow::Result<Spire> {
    let address = SpireAddress::parse(&format!("unix://{}", server.socket_path().display()))?;
    let parent = SpiffeId::parse(&format!("spiffe://{}/holt/{parent}", server.trust_domain()))?;
    Ok(Spire::connect(&address, parent)?)
}

/// How many entries `spire-server entry show -spiffeID <id>` finds.
async fn entries(server: &SpireServer, id: &str) -> anyhow::Result<usize> {
    let printed = server.run(&["entry", "show"], &["-spiffeID", id]).await?;
    let count = printed
        .lines()
        .find_map(|line| line.strip_prefix("Found "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no count in {printed}"))?;
    Ok(count)
}

fn spiffe_id(server: &SpireServer, namespace: &str, workload: &str) -> String {
    format!(
        "spiffe://{}/otterize/namespace/{namespace}/service/{workload}",
        server.trust_domain()
    )
}

fn keytool_list(path: &std::path::Path, password: &str) -> anyhow::Result<(bool, String)> {
    let output = std::process::Command::new("keytool")
        .args([
            "-list",
            "-v",
            "-storetype",
            "JKS",
            "-storepass",
            password,
            "-keystore",
        ])
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .context("running keytool (Java's): it must be installed for this test")?;
    Ok((
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

#[tokio::test]
async fn deployments_get_svids_pem_and_jks_and_their_entries_go_with_them() -> anyhow::Result<()> {
    let server = SpireServer::shared().await?;
    let scene = Scene::new("spire-op").await?;
    let namespace = scene.namespace.clone();
    let spire = connect(server, &unique("operator"))?;
    // Someone else's entry in the same namespace's ID space: never touched.
    let foreign_id = spiffe_id(server, &namespace, "foreign");
    server
        .run(
            &["entry", "create"],
            &[
                "-spiffeID",
                &foreign_id,
                "-parentID",
                &format!("spiffe://{}/someone", server.trust_domain()),
                "-selector",
                "k8s:ns:elsewhere",
            ],
        )
        .await?;
    // The operator's account has exactly the roles the chart grants with `spire`.
    let name = format!("holt-credentials-{namespace}");
    let user = scene.plane.user(&name, None)?;
    let provider = ProviderKind::Spire;
    grant(&scene.client, &namespace, "read", read_rules(), &name).await?;
    grant(&scene.client, &namespace, "write", write_rules(provider), &name).await?;
    grant(
        &scene.client,
        &scene.operator_namespace,
        "own",
        own_namespace_rules(provider, "holt-credentials-ca", false),
        &name,
    )
    .await?;
    let mut options = scene.options();
    options.spire = Some(spire.clone());
    let running = Running::start(&user.client().await?, options).await?;
    scene
        .deployment(
            "cart",
            2,
            &[
                (SECRET, "cart-tls"),
                ("credentials-operator.otterize.com/dns-names", "cart.example.com"),
            ],
        )
        .await?;
    scene
        .deployment(
            "ledger",
            1,
            &[
                (SECRET, "ledger-tls"),
                ("credentials-operator.otterize.com/cert-type", "jks"),
                ("credentials-operator.otterize.com/jks-password", "s3cret"),
            ],
        )
        .await?;

    let secret = scene.secret_with("cart-tls", "cert.pem").await?;
    let bundle = spire.trust_bundle().await?;
    ensure!(
        file(&secret, "ca.pem")? == bundle.pem.as_bytes(),
        "ca.pem is the SPIRE bundle"
    );
    let leaf = certificates(file(&secret, "cert.pem")?)?
        .into_iter()
        .next()
        .context("a certificate")?;
    let mut anchored = false;
    for ca in &bundle.der {
        anchored |= signed_by(&leaf, ca)?;
    }
    ensure!(anchored, "the SVID is signed by an authority of the SPIRE bundle");
    let (subject, dns, uris) = names(&leaf)?;
    ensure!(subject.contains(&format!("CN=cart.{namespace}")), "{subject}");
    ensure!(
        dns.first() == Some(&format!("cart.{namespace}")) && dns.contains(&"cart.example.com".to_owned()),
        "{dns:?}"
    );
    let cart_id = spiffe_id(server, &namespace, "cart");
    ensure!(uris == [cart_id.clone()], "{uris:?}");
    ensure!(
        entries(server, &cart_id).await? == 1,
        "cart's entry is registered"
    );

    // The pods carry the label the entry selects on.
    let pods = scene
        .pods()
        .list(&ListParams::default().labels("app=cart"))
        .await?;
    ensure!(pods.items.len() == 2);
    for pod in &pods.items {
        let label = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(REGISTERED_SERVICE_NAME_LABEL));
        ensure!(
            label.map(String::as_str) == Some("cart"),
            "{:?}",
            pod.metadata.labels
        );
    }

    let jks = scene.secret_with("ledger-tls", "keystore.jks").await?;
    let dir = tempfile::tempdir()?;
    for store in ["keystore.jks", "truststore.jks"] {
        std::fs::write(dir.path().join(store), file(&jks, store)?)?;
    }
    let (ok, text) = keytool_list(&dir.path().join("keystore.jks"), "s3cret")?;
    ensure!(ok, "{text}");
    for expected in [
        "Entry type: PrivateKeyEntry".to_owned(),
        format!("Owner: CN=ledger.{namespace}"),
        format!("URIName: {}", spiffe_id(server, &namespace, "ledger")),
    ] {
        ensure!(text.contains(&expected), "{expected} not in:\n{text}");
    }
    let (ok, text) = keytool_list(&dir.path().join("truststore.jks"), "s3cret")?;
    ensure!(ok && text.contains("trustedCertEntry"), "{text}");
    let (ok, _) = keytool_list(&dir.path().join("keystore.jks"), "wrong")?;
    ensure!(!ok, "a wrong password is refused");

    // cart is deleted: its Secret (owned by the Deployment) and its entry go; ledger's and the foreign
    // entry stay.
    scene
        .deployments()
        .delete("cart", &DeleteParams::background())
        .await?;
    eventually("cart's entry deleted", TIMEOUT, || async {
        Ok((entries(server, &cart_id).await? == 0).then_some(()))
    })
    .await?;
    eventually("cart's Secret collected", TIMEOUT, || async {
        Ok(scene.secrets().get_opt("cart-tls").await?.is_none().then_some(()))
    })
    .await?;
    ensure!(entries(server, &spiffe_id(server, &namespace, "ledger")).await? == 1);
    ensure!(
        entries(server, &foreign_id).await? == 1,
        "the foreign entry survives"
    );
    ensure!(running.now().entries_pruned >= 1, "{:?}", running.now());
    Ok(())
}

#[tokio::test]
async fn a_server_down_at_start_and_mid_way_is_reported_retried_and_nothing_is_deleted() -> anyhow::Result<()>
{
    let mut server = SpireServer::start(holt_testenv::SpireOptions::default()).await?;
    let socket = format!("unix://{}", server.socket_path().display());
    server.stop();
    let scene = Scene::new("spire-down").await?;
    let mut options = scene.options();
    options.spire = Some(connect(&server, "operator")?);
    let (task, progress) = holt_credentials::start(scene.client.clone(), options);
    let _running = Running {
        task,
        progress: progress.clone(),
    };

    // Down at start: not ready, the error kept, the pod told which server fails.
    scene.deployment("cart", 1, &[(SECRET, "cart-tls")]).await?;
    let cart_pod = scene.pods_of("cart", 1).await?.remove(0);
    let note = scene.event(&cart_pod, reason::PROVIDER_UNAVAILABLE).await?;
    ensure!(note.contains(&format!("the SPIRE server at {socket}")), "{note}");
    let now = progress.borrow().clone();
    ensure!(
        !now.ready && now.provider_error.is_some() && now.provider_failures >= 1,
        "{now:?}"
    );
    let page = holt_credentials::health::metrics(&now, jiff::Timestamp::now());
    ensure!(page.contains("holt_credentials_provider_available 0\n"), "{page}");
    ensure!(scene.secrets().get_opt("cart-tls").await?.is_none());

    // Back: retried until it answers.
    server.restart().await?;
    scene.secret_with("cart-tls", "cert.pem").await?;
    eventually("ready", TIMEOUT, || async {
        Ok(progress.borrow().ready.then_some(()))
    })
    .await?;
    scene.deployment("ledger", 1, &[(SECRET, "ledger-tls")]).await?;
    scene.secret_with("ledger-tls", "cert.pem").await?;
    let ledger_id = spiffe_id(&server, &scene.namespace, "ledger");
    let cart_id = spiffe_id(&server, &scene.namespace, "cart");
    ensure!(entries(&server, &ledger_id).await? == 1);

    // Down mid-way: ledger goes (its entry cannot be deleted yet), a new workload fails, clearly.
    server.stop();
    scene
        .deployments()
        .delete("ledger", &DeleteParams::background())
        .await?;
    scene.deployment("late", 1, &[(SECRET, "late-tls")]).await?;
    let late_pod = scene.pods_of("late", 1).await?.remove(0);
    let note = scene.event(&late_pod, reason::FAILED).await?;
    ensure!(note.contains(&format!("the SPIRE server at {socket}")), "{note}");
    eventually("not ready", TIMEOUT, || async {
        Ok(progress.borrow().provider_error.clone())
    })
    .await?;
    ensure!(!progress.borrow().ready);
    ensure!(
        scene.secrets().get_opt("cart-tls").await?.is_some(),
        "cart's Secret stays"
    );

    // Back again: late is served, ledger's entry goes, cart's stays.
    server.restart().await?;
    scene.secret_with("late-tls", "cert.pem").await?;
    eventually("ledger's entry deleted", TIMEOUT, || async {
        Ok((entries(&server, &ledger_id).await? == 0).then_some(()))
    })
    .await?;
    ensure!(
        entries(&server, &cart_id).await? == 1,
        "cart's entry outlived both outages"
    );
    ensure!(progress.borrow().ready);
    Ok(())
}
