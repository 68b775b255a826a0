//! The built-in CA on the real API server: two replicas starting at once end with one CA; a Secret of the
//! CA's name that Holt did not create is refused, never overwritten; a user's CA is used as it is; and a CA
//! rotates with overlap — the new CA joins the trust bundle before it signs, leaves move to it while the old
//! one is still trusted, and the old one leaves the bundle when it ends.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use holt_credentials::ca::{CaCertificate, RotationPolicy};
use holt_credentials::ca_store::{CaStore, CaStoreError, CaStoreOptions};
use holt_testenv::eventually;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::{Running, Scene, certificates, file, signed_by};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

fn store(scene: &Scene, name: &str, user_supplied: bool) -> CaStore {
    CaStore::new(
        scene.client.clone(),
        CaStoreOptions {
            namespace: scene.operator_namespace.clone(),
            name: name.to_owned(),
            user_supplied,
            policy: RotationPolicy::default(),
        },
    )
}

#[tokio::test]
async fn two_replicas_starting_at_once_share_one_ca() -> anyhow::Result<()> {
    let scene = Scene::new("ca-race").await?;
    let now = jiff::Timestamp::now();
    let replicas = [
        store(&scene, "race-ca", false),
        store(&scene, "race-ca", false),
        store(&scene, "race-ca", false),
    ];
    let (a, b, c) = tokio::join!(
        replicas[0].load(now),
        replicas[1].load(now),
        replicas[2].load(now)
    );
    let loads = [a?, b?, c?];
    let created = loads.iter().filter(|l| l.created).count();
    assert_eq!(created, 1, "one of them created the CA, the others read it");
    for load in &loads {
        assert_eq!(load.cas, loads[0].cas);
    }
    Ok(())
}

#[tokio::test]
async fn a_foreign_secret_of_the_cas_name_is_refused_and_a_users_ca_is_used_as_is() -> anyhow::Result<()> {
    let scene = Scene::new("ca-user").await?;
    let secrets: Api<Secret> = Api::namespaced(scene.client.clone(), &scene.operator_namespace);
    let foreign: Secret = serde_json::from_value(json!({
        "metadata": {"name": "not-holts"},
        "stringData": {"tls.crt": "x", "tls.key": "y"}
    }))?;
    let foreign = secrets.create(&PostParams::default(), &foreign).await?;
    let error = store(&scene, "not-holts", false)
        .load(jiff::Timestamp::now())
        .await
        .expect_err("not Holt's");
    ensure!(matches!(error, CaStoreError::NotHolts { .. }), "{error}");
    ensure!(error.to_string().contains("--user-ca-secret-name"), "{error}");
    assert_eq!(
        secrets.get("not-holts").await?.metadata.resource_version,
        foreign.metadata.resource_version,
        "not written"
    );
    let nowhere = CaStore::new(
        scene.client.clone(),
        CaStoreOptions {
            namespace: "no-such-namespace".into(),
            name: "holt-credentials-ca".into(),
            user_supplied: false,
            policy: RotationPolicy::default(),
        },
    );
    let error = nowhere
        .load(jiff::Timestamp::now())
        .await
        .expect_err("no namespace");
    ensure!(
        error
            .to_string()
            .starts_with("the operator's namespace no-such-namespace does not exist"),
        "{error}"
    );
    let missing = store(&scene, "absent", true)
        .load(jiff::Timestamp::now())
        .await
        .expect_err("missing");
    ensure!(matches!(missing, CaStoreError::Missing { .. }), "{missing}");

    // The user's CA signs the workloads' certificates and is never written.
    let ca = CaCertificate::generate(jiff::Timestamp::now(), Duration::from_secs(30 * 86_400))?;
    let user: Secret = serde_json::from_value(json!({
        "metadata": {"name": "corp-ca"},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": ca.cert_pem, "tls.key": ca.key_pem()}
    }))?;
    let user = secrets.create(&PostParams::default(), &user).await?;
    let mut options = scene.options();
    options.ca.name = "corp-ca".into();
    options.ca.user_supplied = true;
    let _running = Running::start(&scene.client, options).await?;
    scene.deployment("api", 1, &[(SECRET, "api-tls")]).await?;
    let secret = scene.secret_with("api-tls", "cert.pem").await?;
    let cert = certificates(file(&secret, "cert.pem")?)?;
    ensure!(signed_by(&cert[0], &ca.cert_der)?, "signed by the user's CA");
    assert_eq!(
        certificates(file(&secret, "ca.pem")?)?,
        std::slice::from_ref(&ca.cert_der)
    );
    assert_eq!(
        secrets.get("corp-ca").await?.metadata.resource_version,
        user.metadata.resource_version
    );
    Ok(())
}

#[tokio::test]
async fn the_ca_rotates_with_overlap() -> anyhow::Result<()> {
    let scene = Scene::new("ca-rotate").await?;
    let mut options = scene.options();
    // A CA ends 60 s after it is made and is replaced 20 s before: the second CA appears at 40 s and signs
    // from 44 s; the leaf, issued again at 40 s for the new bundle (by the first CA, until its end at 60 s),
    // is renewed at about 53 s by the second; the first leaves the bundle at 60 s; the third CA comes at
    // 80 s.
    options.ca.policy = RotationPolicy {
        validity: Duration::from_secs(60),
        rotate_before: Duration::from_secs(20),
        propagation: Duration::from_secs(4),
    };
    options.ca.name = "rotating-ca".into();
    let running = Running::start(&scene.client, options).await?;
    scene
        .deployment(
            "svc",
            1,
            &[
                (SECRET, "svc-tls"),
                ("credentials-operator.otterize.com/cert-ttl", "600"),
            ],
        )
        .await?;
    let first = scene.secret_with("svc-tls", "cert.pem").await?;
    let first_bundle = certificates(file(&first, "ca.pem")?)?;
    assert_eq!(first_bundle.len(), 1);
    let old_ca = first_bundle[0].clone();
    let secrets = scene.secrets();
    let cas: Api<Secret> = Api::namespaced(scene.client.clone(), &scene.operator_namespace);

    // The rotation: a second CA in the CA Secret and in the workload's trust bundle, the old one still there.
    let overlap = eventually("two CAs in the trust bundle", Duration::from_secs(60), || async {
        let secret = secrets.get("svc-tls").await?;
        let bundle = certificates(file(&secret, "ca.pem")?)?;
        Ok((bundle.len() == 2).then_some(secret))
    })
    .await?;
    let bundle = certificates(file(&overlap, "ca.pem")?)?;
    ensure!(bundle.contains(&old_ca), "the old CA is still trusted");
    let new_ca = bundle
        .iter()
        .find(|c| **c != old_ca)
        .context("the new CA")?
        .clone();
    let ca_secret = cas.get("rotating-ca").await?;
    assert_eq!(
        certificates(file(&ca_secret, "tls.crt")?)?,
        std::slice::from_ref(&new_ca)
    );
    assert_eq!(
        certificates(file(&ca_secret, "previous-tls.crt")?)?,
        std::slice::from_ref(&old_ca)
    );

    // The leaf moves to the new CA while the old one is still trusted.
    let moved = eventually(
        "a certificate signed by the new CA",
        Duration::from_secs(60),
        || async {
            let secret = secrets.get("svc-tls").await?;
            let cert = certificates(file(&secret, "cert.pem")?)?.remove(0);
            Ok(signed_by(&cert, &new_ca)?.then_some(secret))
        },
    )
    .await?;
    let bundle_then = certificates(file(&moved, "ca.pem")?)?;
    ensure!(
        bundle_then.contains(&old_ca) && bundle_then.contains(&new_ca),
        "the new CA signs only while both are trusted: {} CAs",
        bundle_then.len()
    );
    // Once the old CA has ended, the bundle holds the new one only.
    eventually(
        "the old CA gone from the bundle",
        Duration::from_secs(60),
        || async {
            let secret = secrets.get("svc-tls").await?;
            let bundle = certificates(file(&secret, "ca.pem")?)?;
            Ok((bundle == [new_ca.clone()]).then_some(()))
        },
    )
    .await?;
    ensure!(
        running.now().ca_rotations >= 2,
        "created, then rotated: {:?}",
        running.now()
    );
    Ok(())
}
