//! The admission webhook's uniqueness lookups against the real kube-apiserver: answered from the
//! watch-backed index once it has listed, confirmed by a list when the index reports a duplicate, the
//! webhook's own admissions seen before the watch shows them, the per-review list when the index is over its
//! budget, and a lookup that cannot be answered is an error (the review is then denied).
//!
//! The CRDs are installed without a conversion webhook (objects are written in the storage version), so this
//! binary needs no webhook server: the lookups are called directly.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_api::v2alpha1;
use holt_operator::webhook::{Claim, KubeNeighbourhood, Neighbourhood};
use holt_testenv::ControlPlane;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;

mod support;

const TIMEOUT: Duration = Duration::from_secs(30);

async fn setup(prefix: &str) -> anyhow::Result<(kube::Client, String)> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await;
    let ns = plane.create_namespace(&client, prefix).await?;
    Ok((client, ns))
}

async fn create_intents(client: &kube::Client, ns: &str, name: &str, workload: &str) -> anyhow::Result<()> {
    let object: v2alpha1::ClientIntents = serde_json::from_value(json!({
        "apiVersion": "k8s.otterize.com/v2alpha1", "kind": "ClientIntents",
        "metadata": { "name": name },
        "spec": { "workload": { "name": workload }, "targets": [{ "kubernetes": { "name": "server" } }] },
    }))?;
    Api::<v2alpha1::ClientIntents>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &object)
        .await?;
    Ok(())
}

async fn wait_ready(neighbourhood: &KubeNeighbourhood) -> anyhow::Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    while !neighbourhood.is_ready() {
        if Instant::now() > deadline {
            bail!("the index did not list within {TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn claim<'a>(ns: &'a str, object: &'a str, workload: &'a str) -> Claim<'a> {
    Claim {
        namespace: ns,
        object,
        identity: workload,
        kind: None,
    }
}

fn names(found: &[holt_api::v2beta1::ClientIntents]) -> Vec<String> {
    found.iter().filter_map(|o| o.metadata.name.clone()).collect()
}

#[tokio::test]
async fn lookups_are_answered_from_the_index_and_duplicates_confirmed_by_a_list() -> anyhow::Result<()> {
    let (client, ns) = setup("index").await?;
    create_intents(&client, &ns, "frontend", "frontend").await?;
    let neighbourhood = KubeNeighbourhood::new(client.clone());
    wait_ready(&neighbourhood).await?;

    // Listed before the index existed: found, through a confirming list.
    let found = neighbourhood
        .client_intents(&claim(&ns, "frontend-2", "frontend"))
        .await?;
    assert_eq!(names(&found), ["frontend"]);
    assert_eq!(neighbourhood.stats().listed, 1);

    // A workload nobody claims, and the object itself: answered from memory, no list.
    let before = neighbourhood.stats();
    for _ in 0..100 {
        let found = neighbourhood
            .client_intents(&claim(&ns, "checkout", "checkout"))
            .await?;
        ensure!(found.is_empty(), "{found:?}");
        let found = neighbourhood
            .client_intents(&claim(&ns, "frontend", "frontend"))
            .await?;
        ensure!(found.is_empty(), "not its own duplicate: {found:?}");
    }
    let after = neighbourhood.stats();
    assert_eq!(after.from_index - before.from_index, 200);
    assert_eq!(after.listed, before.listed, "no list for a unique claim");

    // Created after the index listed: the watch brings it in.
    create_intents(&client, &ns, "cart", "cart").await?;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let found = neighbourhood
            .client_intents(&claim(&ns, "cart-2", "cart"))
            .await?;
        if names(&found) == ["cart"] {
            break;
        }
        ensure!(Instant::now() < deadline, "the watch did not bring the object in");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Deleted: whatever the index still holds, the confirming list frees the workload at once.
    Api::<v2alpha1::ClientIntents>::namespaced(client.clone(), &ns)
        .delete("cart", &DeleteParams::default())
        .await?;
    let found = neighbourhood
        .client_intents(&claim(&ns, "cart-2", "cart"))
        .await?;
    assert!(found.is_empty(), "a deleted object is no duplicate: {found:?}");
    Ok(())
}

#[tokio::test]
async fn an_admitted_claim_counts_before_the_watch_shows_it() -> anyhow::Result<()> {
    let (client, ns) = setup("admitted").await?;
    let neighbourhood = KubeNeighbourhood::new(client.clone());
    wait_ready(&neighbourhood).await?;
    neighbourhood.admitted(holt_api::Kind::ClientIntents, &claim(&ns, "frontend", "frontend"));
    let before = neighbourhood.stats();
    let found = neighbourhood
        .client_intents(&claim(&ns, "frontend-2", "frontend"))
        .await?;
    assert_eq!(names(&found), ["frontend"]);
    assert_eq!(
        neighbourhood.stats().listed,
        before.listed,
        "answered from memory"
    );
    // Other namespaces and other workloads are not affected.
    let elsewhere = neighbourhood
        .client_intents(&claim("elsewhere", "frontend-2", "frontend"))
        .await?;
    assert!(elsewhere.is_empty());
    Ok(())
}

#[tokio::test]
async fn over_its_budget_the_index_gives_way_to_a_list_per_review() -> anyhow::Result<()> {
    let (client, ns) = setup("budget").await?;
    create_intents(&client, &ns, "frontend", "frontend").await?;
    // Too small for a single entry.
    let neighbourhood = KubeNeighbourhood::with_budget(client.clone(), 64);
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(!neighbourhood.is_ready(), "never complete");
    for _ in 0..3 {
        let found = neighbourhood
            .client_intents(&claim(&ns, "frontend-2", "frontend"))
            .await?;
        assert_eq!(names(&found), ["frontend"]);
        let found = neighbourhood
            .client_intents(&claim(&ns, "checkout", "checkout"))
            .await?;
        assert!(found.is_empty());
    }
    assert_eq!(neighbourhood.stats().from_index, 0);
    assert_eq!(neighbourhood.stats().listed, 6);
    Ok(())
}

#[tokio::test]
async fn neighbours_that_cannot_be_known_are_an_error() -> anyhow::Result<()> {
    // An API server that does not answer: nothing was ever listed, and listing fails.
    let mut config = kube::Config::new("https://127.0.0.1:1".parse().context("url")?);
    config.connect_timeout = Some(Duration::from_secs(1));
    let client = kube::Client::try_from(config)?;
    let neighbourhood = KubeNeighbourhood::new(client);
    let error = neighbourhood
        .client_intents(&claim("shop", "frontend", "frontend"))
        .await
        .expect_err("cannot be known");
    assert!(
        error
            .to_string()
            .contains("cannot list the ClientIntents of namespace shop"),
        "{error}"
    );
    Ok(())
}
