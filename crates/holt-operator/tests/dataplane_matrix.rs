//! A generated cluster on a real dataplane: the observed probe matrix equals the matrix its declared
//! intents imply, in both modes.
//!
//! A seed ([`SEED_VARIABLE`]; a fixed one by default, so CI always runs the same cluster) generates eight
//! workloads in three namespaces with random ClientIntents between them, Services exposing some of three
//! ports by number or by name, and two ProtectedServices (`support/generated_cluster.rs`, which also states
//! the rules the expected matrix follows). The cluster is deployed twice on one dataplane — once in three
//! namespaces watched by a `holt-operator` binary in `defaultActive` mode, once in three more watched by
//! one in `defaultShadow` mode (where the ProtectedServices go) — and after the writes each prober
//! converges once: every pod to every other pod on every port, 168 probes a round per cluster. A failure
//! names the seed, prints the cluster and the grids; the time from the writes to enforcement is logged.

mod support;

#[path = "support/generated_cluster.rs"]
mod generated_cluster;

use std::time::Instant;

use anyhow::{Context, bail};
use futures::future::try_join_all;
use generated_cluster::{GeneratedCluster, Mode, NAMESPACES, PORTS};
use holt_api::v2beta1::{ClientIntents, ProtectedService};
use holt_testenv::{ControlPlane, Dataplane, DataplanePod, Port, Prober};
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use kube::{Api, Client};
use support::cluster;
use support::dataplane::{ENFORCEMENT, holt_operator};

/// The environment variable that picks the seed: a number, or `random` for a new one each run.
const SEED_VARIABLE: &str = "HOLT_DATAPLANE_SEED";
/// The seed CI runs.
const DEFAULT_SEED: u64 = 16;

/// The seed: [`SEED_VARIABLE`], or [`DEFAULT_SEED`].
fn seed() -> anyhow::Result<u64> {
    match std::env::var(SEED_VARIABLE) {
        Err(_) => Ok(DEFAULT_SEED),
        Ok(value) if value == "random" => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64),
        Ok(value) => value
            .parse()
            .with_context(|| format!("{SEED_VARIABLE}={value:?}: not a number or `random`")),
    }
}

/// One copy of the generated cluster: its namespaces, pods and prober.
struct Deployed {
    mode: Mode,
    namespaces: Vec<String>,
    prober: Prober,
    _pods: Vec<DataplanePod>,
}

/// Creates the cluster's namespaces, Deployments (attached to the dataplane) and Services for `mode`.
async fn deploy(
    client: &Client,
    plane: &ControlPlane,
    dataplane: &Dataplane,
    generated: &GeneratedCluster,
    mode: Mode,
) -> anyhow::Result<Deployed> {
    let mut namespaces = Vec::new();
    for index in 0..NAMESPACES {
        let prefix = format!("gen-{}-{index}", mode.flag().to_lowercase());
        namespaces.push(plane.create_namespace(client, &prefix).await?);
    }
    let ports: Vec<Port> = PORTS.iter().map(|(_, port)| *port).collect();
    let pods = try_join_all(generated.workloads.iter().map(|workload| {
        let namespace = &namespaces[workload.namespace];
        let ports = &ports;
        async move {
            let deployment = generated.deployment(workload)?;
            let pod = dataplane.deploy(client, namespace, &deployment, ports).await?;
            Api::<Service>::namespaced(client.clone(), namespace)
                .create(&PostParams::default(), &generated.service(workload)?)
                .await?;
            anyhow::Ok(pod)
        }
    }))
    .await?;
    let prober = Prober::new(&pods.iter().collect::<Vec<_>>(), &ports)?;
    Ok(Deployed {
        mode,
        namespaces,
        prober,
        _pods: pods,
    })
}

/// Writes the cluster's ClientIntents (and, in shadow mode, its ProtectedServices).
async fn declare(client: &Client, generated: &GeneratedCluster, deployed: &Deployed) -> anyhow::Result<()> {
    for (namespace, intents) in generated.client_intents(&deployed.namespaces)? {
        Api::<ClientIntents>::namespaced(client.clone(), &namespace)
            .create(&PostParams::default(), &intents)
            .await?;
    }
    if deployed.mode == Mode::Shadow {
        for (namespace, protected) in generated.protected_services(&deployed.namespaces)? {
            Api::<ProtectedService>::namespaced(client.clone(), &namespace)
                .create(&PostParams::default(), &protected)
                .await?;
        }
    }
    Ok(())
}

async fn run(generated: &GeneratedCluster) -> anyhow::Result<()> {
    let (client, plane) = cluster().await;
    let dataplane = Dataplane::start(plane).await?;
    let (active, shadow) = tokio::try_join!(
        deploy(&client, plane, &dataplane, generated, Mode::Active),
        deploy(&client, plane, &dataplane, generated, Mode::Shadow),
    )?;
    let everyone = active.prober.all(true);
    tokio::try_join!(
        active.prober.converge(&everyone, ENFORCEMENT),
        shadow.prober.converge(&everyone, ENFORCEMENT),
    )?;
    let (watched_active, watched_shadow) = (active.namespaces.join(","), shadow.namespaces.join(","));
    let _operators = tokio::try_join!(
        holt_operator(plane, &watched_active, Mode::Active.flag(), &[]),
        holt_operator(plane, &watched_shadow, Mode::Shadow.flag(), &[]),
    )?;

    let (expected_active, expected_shadow) =
        (generated.expected(Mode::Active), generated.expected(Mode::Shadow));
    for (mode, expected) in [(Mode::Active, &expected_active), (Mode::Shadow, &expected_shadow)] {
        let (reachable, blocked) = expected.counts();
        eprintln!(
            "expected in {}: {reachable} reachable, {blocked} blocked",
            mode.flag()
        );
    }
    let written = Instant::now();
    tokio::try_join!(
        declare(&client, generated, &active),
        declare(&client, generated, &shadow),
    )?;
    tokio::try_join!(
        dataplane.enforced(
            &active.prober,
            &expected_active,
            ENFORCEMENT,
            "the generated cluster's intents (active)",
            written
        ),
        dataplane.enforced(
            &shadow.prober,
            &expected_shadow,
            ENFORCEMENT,
            "the generated cluster's intents and ProtectedServices (shadow)",
            written
        ),
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_clusters_observed_matrix_is_what_its_intents_imply_in_both_modes() -> anyhow::Result<()>
{
    let seed = seed()?;
    let generated = GeneratedCluster::generate(seed);
    eprintln!("{}", generated.describe());
    if let Err(error) = run(&generated).await {
        bail!(
            "{error:#}\n{}\nseed {seed}: {SEED_VARIABLE}={seed} generates this cluster again",
            generated.describe()
        );
    }
    Ok(())
}
