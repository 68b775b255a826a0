//! The credentials operator with exactly its roles (`holt_credentials::rbac`, which the chart grants) and
//! nothing more, as a user of the real API server: it issues, renews, restarts the workload, publishes
//! Events and holds its Lease. In a namespace where it may not write Secrets, the failure is retried and
//! reported on the pod, and the other namespace is served all the same.

mod support;

use std::time::Duration;

use anyhow::ensure;
use holt_credentials::provider::ProviderKind;
use holt_credentials::rbac::{LEASE_NAME, own_namespace_rules, read_rules, write_rules};
use holt_runtime::leader::{self, LeaseOptions};
use k8s_openapi::api::rbac::v1::PolicyRule;
use support::{Running, Scene, TIMEOUT, certificates, file, grant};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

#[tokio::test]
async fn the_controller_works_with_its_roles_alone_and_a_forbidden_namespace_stalls_nothing()
-> anyhow::Result<()> {
    let scene = Scene::new("creds-rbac").await?;
    let other = scene
        .plane
        .create_namespace(&scene.client, "creds-rbac-denied")
        .await?;
    let name = format!("holt-credentials-{}", scene.namespace);
    let user = scene.plane.user(&name, None)?;
    let admin = &scene.client;
    grant(admin, &scene.namespace, "read", read_rules(), &name).await?;
    grant(
        admin,
        &scene.namespace,
        "write",
        write_rules(ProviderKind::BuiltIn),
        &name,
    )
    .await?;
    grant(
        admin,
        &scene.operator_namespace,
        "own",
        own_namespace_rules(ProviderKind::BuiltIn, "holt-credentials-ca", false),
        &name,
    )
    .await?;
    // The other namespace: pods may be read and Events written, Secrets not.
    grant(admin, &other, "read", read_rules(), &name).await?;
    let events_only: Vec<PolicyRule> = write_rules(ProviderKind::BuiltIn)
        .into_iter()
        .filter(|r| r.api_groups.as_deref() == Some(&["events.k8s.io".to_owned()][..]))
        .collect();
    grant(admin, &other, "events", events_only, &name).await?;
    let client = user.client().await?;

    // The Lease, with the same account.
    let lease = tokio::time::timeout(
        TIMEOUT,
        leader::acquire(
            client.clone(),
            LeaseOptions::named(LEASE_NAME, &scene.operator_namespace, "replica-1"),
        ),
    )
    .await?;
    lease.release().await;

    let mut options = scene.options();
    options.namespaces = [scene.namespace.clone(), other.clone()].into();
    let running = Running::start(&client, options).await?;
    scene
        .deployment(
            "pay",
            1,
            &[
                (SECRET, "pay-tls"),
                ("credentials-operator.otterize.com/cert-ttl", "24"),
                (
                    "credentials-operator.otterize.com/restart-pod-on-certificate-renewal",
                    "true",
                ),
            ],
        )
        .await?;
    let denied = Scene {
        client: scene.client.clone(),
        plane: scene.plane,
        namespace: other.clone(),
        operator_namespace: scene.operator_namespace.clone(),
    };
    denied
        .deployment("blocked", 1, &[(SECRET, "blocked-tls")])
        .await?;

    let first = scene.secret_with("pay-tls", "cert.pem").await?;
    let blocked = denied.pods_of("blocked", 1).await?;
    let note = denied.event(&blocked[0], "EnsuringPodTLSFailed").await?;
    ensure!(
        note.contains("blocked-tls") && note.contains("forbidden"),
        "{note}"
    );

    // Renewed and restarted with the same roles, while the other Secret keeps failing.
    let mut progress = running.progress.clone();
    tokio::time::timeout(
        Duration::from_secs(60),
        progress.wait_for(|p| p.renewals >= 1 && p.restarts >= 1),
    )
    .await??;
    let renewed = scene.secrets().get("pay-tls").await?;
    ensure!(certificates(file(&renewed, "cert.pem")?)? != certificates(file(&first, "cert.pem")?)?);
    let now = running.now();
    assert_eq!(now.failing, 1, "{now:?}");
    ensure!(now.failures >= 2, "the forbidden Secret is retried: {now:?}");
    ensure!(denied.secrets().get_opt("blocked-tls").await?.is_none());
    Ok(())
}
