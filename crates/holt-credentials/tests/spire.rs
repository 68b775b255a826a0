//! The SPIRE provider against the real SPIRE server of the test harness, through its admin socket: a
//! workload's entry is created with the reference's SPIFFE ID and selectors, left alone when it matches,
//! updated when it differs and deleted when the workload is gone; entries Holt did not create survive every
//! step; a minted X.509-SVID names the workload and chains to the server's bundle. The server's own CLI
//! reads the entries back.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use holt_credentials::provider::spire::{Registration, SpiffeId, Spire, SpireAddress, WorkloadEntry};
use holt_credentials::subject::{Subject, TrustDomain};
use holt_testenv::SpireServer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

const HOUR: Duration = Duration::from_secs(3600);

/// A namespace and parent ID of this test's own: the server is shared by the tests of this binary.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn connect(server: &SpireServer, parent: &str) -> anyhow::Result<Spire> {
    let address = SpireAddress::parse(&format!("unix://{}", server.socket_path().display()))?;
    let parent = SpiffeId::parse(&format!("spiffe://{}/holt/{parent}", server.trust_domain()))?;
    Ok(Spire::connect(&address, parent)?)
}

fn workload(
    server: &SpireServer,
    namespace: &str,
    name: &str,
    dns: &[&str],
    ttl: Duration,
    spire: &Spire,
) -> anyhow::Result<(Subject, WorkloadEntry)> {
    let domain = TrustDomain::new(server.trust_domain())?;
    let extra: Vec<String> = dns.iter().map(|&d| d.to_owned()).collect();
    let subject = Subject::new(name, namespace, &extra, &domain);
    let entry = WorkloadEntry::new(&subject, name, namespace, spire.parent_id(), ttl)?;
    Ok((subject, entry))
}

/// `spire-server entry show -spiffeID <id>`, its `Key : value` lines as `Key: value` (the CLI pads keys).
async fn show(server: &SpireServer, id: &str) -> anyhow::Result<String> {
    let printed = server.run(&["entry", "show"], &["-spiffeID", id]).await?;
    Ok(printed
        .lines()
        .map(|line| match line.split_once(" : ") {
            Some((key, value)) => format!("{}: {}", key.trim(), value.trim()),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

#[tokio::test]
async fn entries_are_created_updated_and_deleted_and_foreign_ones_survive() -> anyhow::Result<()> {
    let server = SpireServer::shared().await?;
    let namespace = unique("shop");
    let spire = connect(server, &unique("operator")).await?;
    let domain = server.trust_domain();
    let cart_id = format!("spiffe://{domain}/otterize/namespace/{namespace}/service/cart");

    let (_, cart) = workload(server, &namespace, "cart", &[], HOUR, &spire)?;
    assert_eq!(spire.register(&cart).await?, Registration::Created);
    let shown = show(server, &cart_id).await?;
    ensure!(
        shown.contains(&format!("Selector: k8s:ns:{namespace}")),
        "{shown}"
    );
    ensure!(
        shown.contains("k8s:pod-label:credentials-operator.otterize.com/registered-service-name=cart"),
        "{shown}"
    );
    ensure!(shown.contains(&format!("DNS name: cart.{namespace}")), "{shown}");
    ensure!(shown.contains("X509-SVID TTL: 3600"), "{shown}");
    ensure!(shown.contains("Hint: holt-credentials"), "{shown}");
    assert_eq!(spire.register(&cart).await?, Registration::Unchanged);

    let (_, changed) = workload(
        server,
        &namespace,
        "cart",
        &["cart.example.com"],
        2 * HOUR,
        &spire,
    )?;
    assert_eq!(spire.register(&changed).await?, Registration::Updated);
    let shown = show(server, &cart_id).await?;
    ensure!(shown.contains("DNS name: cart.example.com"), "{shown}");
    ensure!(shown.contains("X509-SVID TTL: 7200"), "{shown}");
    ensure!(
        shown.matches("Entry ID").count() == 1,
        "one entry, updated in place: {shown}"
    );

    // Someone else's entries: one for an ID Holt would register, one for another workload.
    let taken_id = format!("spiffe://{domain}/otterize/namespace/{namespace}/service/taken");
    let other_id = format!("spiffe://{domain}/otterize/namespace/{namespace}/service/other");
    for id in [&taken_id, &other_id] {
        server
            .run(
                &["entry", "create"],
                &[
                    "-spiffeID",
                    id,
                    "-parentID",
                    &format!("spiffe://{domain}/someone"),
                    "-selector",
                    "k8s:ns:elsewhere",
                ],
            )
            .await?;
    }
    let (_, taken) = workload(server, &namespace, "taken", &[], HOUR, &spire)?;
    assert_eq!(spire.register(&taken).await?, Registration::Foreign);
    ensure!(
        show(server, &taken_id).await?.contains("k8s:ns:elsewhere"),
        "the foreign entry is as it was"
    );

    let holts = spire.holt_entries().await?;
    assert_eq!(holts.len(), 1, "only the entry Holt created is Holt's: {holts:?}");
    // The workload is gone: nothing is kept.
    assert_eq!(spire.prune(|_| false).await?, 1);
    let shown = show(server, &cart_id).await?;
    ensure!(
        shown.contains("Found 0 entries"),
        "cart's entry is deleted: {shown}"
    );
    for id in [&taken_id, &other_id] {
        let shown = show(server, id).await?;
        ensure!(shown.contains("Found 1 entry"), "{id} survives: {shown}");
    }
    Ok(())
}

#[tokio::test]
async fn a_minted_svid_names_the_workload_and_chains_to_the_bundle() -> anyhow::Result<()> {
    let server = SpireServer::shared().await?;
    let namespace = unique("mint");
    let spire = connect(server, &unique("operator")).await?;
    let (subject, _) = workload(
        server,
        &namespace,
        "client",
        &["client.example.com"],
        HOUR,
        &spire,
    )?;
    let issued = spire.mint(&subject, Duration::from_secs(600)).await?;
    let (_, cert) = X509Certificate::from_der(&issued.cert_der).context("the SVID")?;
    let names: Vec<String> = cert
        .subject_alternative_name()?
        .context("SANs")?
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::URI(uri) => format!("URI:{uri}"),
            other => format!("{other:?}"),
        })
        .collect();
    ensure!(names.contains(&format!("URI:{}", subject.spiffe_id)), "{names:?}");
    ensure!(names.contains(&format!("DNS:client.{namespace}")), "{names:?}");
    ensure!(names.contains(&"DNS:client.example.com".to_owned()), "{names:?}");
    ensure!(
        cert.subject()
            .to_string()
            .contains(&format!("CN=client.{namespace}")),
        "{}",
        cert.subject()
    );
    let lifetime = issued.not_after.as_second() - issued.not_before.as_second();
    ensure!((590..=610).contains(&lifetime), "lifetime {lifetime}s");
    ensure!(issued.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));

    let bundle = spire.trust_bundle().await?;
    ensure!(!bundle.der.is_empty());
    let signed = bundle.der.iter().chain(issued.chain_der.iter()).any(|ca| {
        X509Certificate::from_der(ca)
            .ok()
            .is_some_and(|(_, ca)| cert.verify_signature(Some(ca.public_key())).is_ok())
    });
    ensure!(signed, "the SVID is signed by the bundle's CA or its chain");
    // The chain's top is signed by a bundle authority.
    let top = issued.chain_der.last().unwrap_or(&issued.cert_der);
    let (_, top) = X509Certificate::from_der(top)?;
    let anchored = bundle.der.iter().any(|ca| {
        X509Certificate::from_der(ca)
            .ok()
            .is_some_and(|(_, ca)| top.verify_signature(Some(ca.public_key())).is_ok())
    });
    ensure!(anchored, "the chain ends at the server's bundle");
    Ok(())
}

#[tokio::test]
async fn a_server_that_is_down_fails_calls_clearly_and_its_entries_are_there_after_a_restart()
-> anyhow::Result<()> {
    // Down at start: nothing listens on the socket yet; connecting is lazy, the call fails.
    let scratch = tempfile::tempdir()?;
    let absent = SpireAddress::parse(&scratch.path().join("api.sock").display().to_string())?;
    let early = Spire::connect(&absent, SpiffeId::parse("spiffe://holt.test/holt/operator")?)?;
    let error = early.holt_entries().await.expect_err("no server");
    ensure!(
        error.to_string().contains(&format!(
            "the SPIRE server at unix://{} refused to list entries",
            scratch.path().join("api.sock").display()
        )),
        "{error}"
    );

    // Down mid-way: the test's own server, stopped and started again by its process handle.
    let mut server = SpireServer::start(holt_testenv::SpireOptions::default()).await?;
    let spire = connect(&server, "operator").await?;
    let (subject, cart) = workload(&server, "shop", "cart", &[], HOUR, &spire)?;
    assert_eq!(spire.register(&cart).await?, Registration::Created);
    let pid = server.process().context("running")?.pid;
    server.stop();
    ensure!(server.process().is_none());
    ensure!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} is gone"
    );
    let error = spire.register(&cart).await.expect_err("server down");
    ensure!(error.to_string().contains("SPIRE server"), "{error}");
    let error = spire.mint(&subject, HOUR).await.expect_err("server down");
    ensure!(error.to_string().contains("mint an X.509-SVID"), "{error}");

    server.restart().await?;
    // The same client reconnects; the entry outlived the outage, nothing was deleted.
    let registered = holt_testenv::eventually(
        "the restarted server answers",
        Duration::from_secs(20),
        || async { Ok(spire.register(&cart).await.ok()) },
    )
    .await?;
    assert_eq!(registered, Registration::Unchanged);
    assert_eq!(spire.holt_entries().await?.len(), 1);
    spire.mint(&subject, HOUR).await?;
    Ok(())
}

#[tokio::test]
async fn the_controller_registers_the_workload_and_writes_its_svid_with_the_bundle() -> anyhow::Result<()> {
    let server = SpireServer::shared().await?;
    let scene = support::Scene::new("spire-ctl").await?;
    let spire = connect(server, &unique("operator")).await?;
    let mut options = scene.options();
    options.spire = Some(spire.clone());
    let _running = support::Running::start(&scene.client, options).await?;
    scene
        .deployment(
            "cart",
            1,
            &[("credentials-operator.otterize.com/tls-secret-name", "cart-tls")],
        )
        .await?;
    let secret = scene.secret_with("cart-tls", "cert.pem").await?;
    let data = secret.data.context("data")?;
    let bundle = spire.trust_bundle().await?;
    ensure!(
        data["ca.pem"].0 == bundle.pem.as_bytes(),
        "ca.pem is the SPIRE bundle"
    );
    let (_, pem) = x509_parser::pem::parse_x509_pem(&data["cert.pem"].0)?;
    let (_, cert) = X509Certificate::from_der(&pem.contents)?;
    let id = format!(
        "spiffe://{}/otterize/namespace/{}/service/cart",
        server.trust_domain(),
        scene.namespace
    );
    let uri = cert
        .subject_alternative_name()?
        .context("SANs")?
        .value
        .general_names
        .iter()
        .any(|name| matches!(name, GeneralName::URI(uri) if *uri == id));
    ensure!(uri, "the SVID names {id}");
    let shown = show(server, &id).await?;
    ensure!(
        shown.contains("Found 1 entry") && shown.contains("Hint: holt-credentials"),
        "{shown}"
    );
    Ok(())
}
