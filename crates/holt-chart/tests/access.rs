//! Who may apply intents, on the real API server with real users (client certificates): the chart's
//! `holt-intents-edit` / `holt-intents-view`, aggregated into the built-in `edit`/`admin` and `view` roles by
//! kube-controller-manager, and their switches. Installed from a values file of the reference's shape,
//! whose keys Holt does not act on are named by the install notes. And the operator's writes, with
//! `watchedNamespaces`, allowed in those namespaces only.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_chart::chart::Helm;
use holt_testenv::{ControlPlane, eventually};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

mod support;
use support::{Release, account_client, can, is_forbidden, list_is_forbidden, otterize_api};

const WAIT: Duration = Duration::from_secs(60);

/// Holt's objects of `kind` in v2alpha1, the stored version: no operator runs here to convert.
fn holt_api(client: &Client, namespace: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    otterize_api(client, namespace, "v2alpha1", kind, plural)
}

fn object(kind: &str, name: &str, spec: serde_json::Value) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": kind,
        "metadata": {"name": name}, "spec": spec,
    }))?)
}

/// Tries to create one object of each of Holt's kinds in `namespace`; returns which were allowed.
async fn creatable(client: &Client, namespace: &str, suffix: &str) -> anyhow::Result<[bool; 3]> {
    let attempts = [
        (
            holt_api(client, namespace, "ClientIntents", "clientintents"),
            object(
                "ClientIntents",
                &format!("ci-{suffix}"),
                json!({"workload": {"name": format!("w-{suffix}")}}),
            )?,
        ),
        (
            holt_api(client, namespace, "ProtectedService", "protectedservices"),
            object(
                "ProtectedService",
                &format!("ps-{suffix}"),
                json!({"name": format!("s-{suffix}")}),
            )?,
        ),
        (
            holt_api(client, namespace, "KafkaServerConfig", "kafkaserverconfigs"),
            object(
                "KafkaServerConfig",
                &format!("ksc-{suffix}"),
                json!({"workload": {"name": "kafka"}}),
            )?,
        ),
    ];
    let mut allowed = [false; 3];
    for (slot, (api, object)) in allowed.iter_mut().zip(attempts) {
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => *slot = true,
            Err(kube::Error::Api(status)) if status.code == 403 => {}
            Err(other) => return Err(other).context("creating a Holt object"),
        }
    }
    Ok(allowed)
}

async fn bind(admin: &Client, namespace: &str, user: &str, role: &str) -> anyhow::Result<()> {
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-{role}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// Waits until the API server answers `allowed` to whether the client may create Holt's `resource` in
/// `namespace`: role aggregation and upgrades take effect a moment after they are applied.
async fn until_create_allowed_is(
    what: &str,
    client: &Client,
    resource: &str,
    namespace: &str,
    allowed: bool,
) -> anyhow::Result<()> {
    eventually(what, WAIT, || async {
        let answer = can(client, "create", "k8s.otterize.com", resource, Some(namespace)).await?;
        Ok((answer == allowed).then_some(()))
    })
    .await
}

#[tokio::test]
async fn namespace_roles_govern_who_writes_intents_and_watched_namespaces_limit_the_operator()
-> anyhow::Result<()> {
    let cp = ControlPlane::shared().await?;
    let admin = cp.client().await?;
    let team_a = cp.create_namespace(&admin, "team-a").await?;
    let team_b = cp.create_namespace(&admin, "team-b").await?;
    let helm = Helm::new()?;
    let release = Release::new(&helm, cp.kubeconfig());
    let values = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/values/reference-defaults.yaml");

    // A platform team's values file for the reference installs, and the notes say what does not carry over
    // (never the values themselves).
    let notes = release
        .install(&["--create-namespace", "--values", &values.display().to_string()])
        .await?;
    for ignored in [
        "intentsOperator.operator.autoGenerateTLSUsingCredentialsOperator",
        "global.telemetry.enabled: Holt sends no telemetry",
        "global.spire.serverServiceName: Holt installs no SPIRE",
    ] {
        ensure!(
            notes.contains(ignored),
            "the notes do not name {ignored}:\n{notes}"
        );
    }
    ensure!(
        !notes.contains("clientSecret"),
        "empty keys are not reported:\n{notes}"
    );
    ensure!(
        !notes.contains("intentsOperator.operator.mode:"),
        "mode is acted on:\n{notes}"
    );
    // The reference's credentials operator switch and trust domain are acted on: Holt's built-in CA.
    for acted in [
        "global.deployment.credentialsOperator:",
        "global.spiffe.trustDomain:",
    ] {
        ensure!(!notes.contains(acted), "{acted} is acted on:\n{notes}");
    }
    ensure!(
        notes.contains("Credentials operator: certificates from Holt's built-in CA")
            && notes.contains("trust domain example.org"),
        "{notes}"
    );

    let alice = cp.user("alice", None)?; // edits team-a
    let bob = cp.user("bob", None)?; // views team-a
    let carol = cp.user("carol", None)?; // administers team-a
    bind(&admin, &team_a, "alice", "edit").await?;
    bind(&admin, &team_a, "bob", "view").await?;
    bind(&admin, &team_a, "carol", "admin").await?;
    let (alice, bob, carol) = (alice.client().await?, bob.client().await?, carol.client().await?);

    // The built-in roles gain Holt's rules once kube-controller-manager aggregates them.
    let started = std::time::Instant::now();
    until_create_allowed_is(
        "edit aggregated holt-intents-edit",
        &alice,
        "clientintents",
        &team_a,
        true,
    )
    .await?;
    eprintln!("aggregated after {:?}", started.elapsed());

    // An editor writes ClientIntents in her namespace only; ProtectedServices and KafkaServerConfigs stay
    // with cluster administrators; the status is not hers.
    assert_eq!(creatable(&alice, &team_a, "alice").await?, [true, false, false]);
    assert_eq!(creatable(&alice, &team_b, "alice").await?, [false, false, false]);
    let status = holt_api(&alice, &team_a, "ClientIntents", "clientintents")
        .patch_status(
            "ci-alice",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"upToDate": true}})),
        )
        .await;
    ensure!(is_forbidden(&status), "{status:?}");
    // A namespace admin has what editors have.
    assert_eq!(creatable(&carol, &team_a, "carol").await?, [true, false, false]);
    // A viewer reads them all, and writes none.
    for (kind, plural) in [
        ("ClientIntents", "clientintents"),
        ("ProtectedService", "protectedservices"),
        ("KafkaServerConfig", "kafkaserverconfigs"),
    ] {
        holt_api(&bob, &team_a, kind, plural)
            .list(&ListParams::default())
            .await
            .with_context(|| format!("bob lists {plural}"))?;
        ensure!(
            list_is_forbidden(&holt_api(&bob, &team_b, kind, plural)).await,
            "bob lists {plural} in team-b"
        );
    }
    assert_eq!(creatable(&bob, &team_a, "bob").await?, [false, false, false]);
    let delete = holt_api(&bob, &team_a, "ClientIntents", "clientintents")
        .delete("ci-alice", &Default::default())
        .await;
    ensure!(is_forbidden(&delete));

    // The cluster admin lets editors protect their services: ProtectedServices, not KafkaServerConfigs.
    release
        .upgrade_setting("intentsAccess.editorsMayWriteProtectedServices=true")
        .await?;
    until_create_allowed_is(
        "editors may write ProtectedServices",
        &alice,
        "protectedservices",
        &team_a,
        true,
    )
    .await?;
    assert_eq!(creatable(&alice, &team_a, "alice2").await?, [true, true, false]);

    // Switched off: editors lose Holt's kinds, viewers keep reading them.
    release
        .upgrade_setting("intentsAccess.aggregateToEdit=false")
        .await?;
    until_create_allowed_is(
        "edit no longer aggregates holt-intents-edit",
        &alice,
        "clientintents",
        &team_a,
        false,
    )
    .await?;
    assert_eq!(creatable(&alice, &team_a, "alice3").await?, [false, false, false]);
    ensure!(can(&bob, "list", "k8s.otterize.com", "clientintents", Some(&team_a)).await?);

    // With watchedNamespaces, the operator's account writes only there (RoleBindings), and still reads
    // everywhere (its watches are cluster-wide).
    let before = account_client(&admin, cp, "holt-operator").await?;
    ensure!(
        can(
            &before,
            "create",
            "networking.k8s.io",
            "networkpolicies",
            Some(&team_b)
        )
        .await?
    );
    release
        .upgrade_setting(&format!("intentsOperator.watchedNamespaces={{{team_a}}}"))
        .await?;
    let after = account_client(&admin, cp, "holt-operator").await?;
    for (verb, group, resource) in [
        ("create", "networking.k8s.io", "networkpolicies"),
        ("delete", "networking.k8s.io", "networkpolicies"),
        ("patch", "", "pods"),
        ("patch", "k8s.otterize.com", "clientintents"),
        ("create", "events.k8s.io", "events"),
    ] {
        ensure!(
            can(&after, verb, group, resource, Some(&team_a)).await?,
            "{verb} {resource} in team-a"
        );
        ensure!(
            !can(&after, verb, group, resource, Some(&team_b)).await?,
            "{verb} {resource} in team-b"
        );
    }
    for resource in ["pods", "services", "namespaces"] {
        ensure!(
            can(&after, "watch", "", resource, None).await?,
            "watch {resource} everywhere"
        );
    }
    ensure!(!can(&after, "get", "", "secrets", Some(&team_a)).await?);

    release.uninstall().await?;
    Ok(())
}
