//! The reference's network-policy tutorial on a real dataplane: the `holt-operator` binary writes
//! NetworkPolicies to the test API server, kube-router enforces them on the traffic between network
//! namespaces that stand for the tutorial's pods (holt-testenv's `Dataplane`), and the prober observes which
//! calls get through — not the objects Holt writes, the packets.
//!
//! The tutorial: Deployments `client`, `client-other` and `server` (each pod listening on TCP 80), and
//! `client` declaring `client → server`. Before any intents every pod reaches every other. In
//! `defaultActive` mode the intents make `server` admit `client` only; deleting them opens it again. In
//! `defaultShadow` mode the same intents block nothing (the operator has labelled the pods, and the matrix
//! holds for several times the enforcement delay) until a ProtectedService names `server`. Each test logs
//! how long the dataplane took from the API write to enforcement.

mod support;

use std::time::{Duration, Instant};

use anyhow::bail;
use holt_api::v2beta1::{ClientIntents, ProtectedService};
use holt_testenv::{ControlPlane, Dataplane, DataplanePod, HoltOperator, Port, Prober, Reachability};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use support::dataplane::{ENFORCEMENT, holt_operator, tutorial_intents};
use support::{access_labels, cluster, policy_names};

/// The tutorial's server port.
const HTTP: Port = Port::tcp(80);
/// How long "nothing is blocked" must hold in shadow mode: many times the enforcement delay measured here.
const SHADOW_HOLD: Duration = Duration::from_secs(5);

/// The tutorial's ProtectedService for `server`.
fn protect_server(ns: &str) -> anyhow::Result<ProtectedService> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ProtectedService
metadata:
  name: server-protectedservice
  namespace: {ns}
spec:
  name: server
"
    ))?)
}

/// The tutorial's namespace on a dataplane: its three pods and a prober over them.
struct Tutorial {
    ns: String,
    prober: Prober,
    // Dropped last: the pods' namespaces go with it.
    _pods: Vec<DataplanePod>,
    dataplane: Dataplane,
}

impl Tutorial {
    async fn start(client: &Client, plane: &ControlPlane, prefix: &str) -> anyhow::Result<Tutorial> {
        let ns = plane.create_namespace(client, prefix).await?;
        let dataplane = Dataplane::start(plane).await?;
        let mut pods = Vec::new();
        for name in ["client", "client-other", "server"] {
            pods.push(dataplane.deployment(client, &ns, name, &[HTTP]).await?);
        }
        let prober = Prober::new(&pods.iter().collect::<Vec<_>>(), &[HTTP])?;
        Ok(Tutorial {
            ns,
            prober,
            _pods: pods,
            dataplane,
        })
    }

    /// Every pod reaches every other.
    fn everyone(&self) -> Reachability {
        self.prober.all(true)
    }

    /// Only `client-other → server` is blocked.
    fn only_client_reaches_server(&self) -> Reachability {
        self.everyone().with("client-other", "server", HTTP, false)
    }

    /// Probes until the matrix is `expected`, then logs how long that took from `since` (the API write).
    async fn enforced(
        &self,
        expected: &Reachability,
        what: &str,
        since: Instant,
    ) -> anyhow::Result<Duration> {
        Ok(self
            .dataplane
            .enforced(&self.prober, expected, ENFORCEMENT, what, since)
            .await?)
    }
}

/// The `holt-operator` binary of this package, watching the tutorial's namespace in `mode`.
async fn operator(plane: &ControlPlane, ns: &str, mode: &str) -> anyhow::Result<HoltOperator> {
    holt_operator(plane, ns, mode, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_active_mode_the_intents_let_exactly_client_reach_server_until_they_are_deleted()
-> anyhow::Result<()> {
    let (client, plane) = cluster().await;
    let tutorial = Tutorial::start(&client, plane, "npol-active").await?;
    tutorial
        .prober
        .converge(&tutorial.everyone(), ENFORCEMENT)
        .await?;
    let _operator = operator(plane, &tutorial.ns, "defaultActive").await?;
    // The operator alone changes nothing on the wire.
    tutorial
        .prober
        .converge(&tutorial.everyone(), ENFORCEMENT)
        .await?;

    let intents: Api<ClientIntents> = Api::namespaced(client.clone(), &tutorial.ns);
    let applied = Instant::now();
    intents
        .create(&PostParams::default(), &tutorial_intents(&tutorial.ns)?)
        .await?;
    tutorial
        .enforced(
            &tutorial.only_client_reaches_server(),
            "client → server intents (active)",
            applied,
        )
        .await?;
    assert_eq!(
        policy_names(&client, &tutorial.ns).await,
        vec!["server-deployment-access"],
        "one policy, for server"
    );

    let deleted = Instant::now();
    intents.delete("client", &DeleteParams::default()).await?;
    tutorial
        .enforced(&tutorial.everyone(), "deleting the intents", deleted)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_shadow_mode_nothing_is_blocked_until_a_protected_service_names_the_server() -> anyhow::Result<()>
{
    let (client, plane) = cluster().await;
    let tutorial = Tutorial::start(&client, plane, "npol-shadow").await?;
    tutorial
        .prober
        .converge(&tutorial.everyone(), ENFORCEMENT)
        .await?;
    let _operator = operator(plane, &tutorial.ns, "defaultShadow").await?;

    let intents: Api<ClientIntents> = Api::namespaced(client.clone(), &tutorial.ns);
    intents
        .create(&PostParams::default(), &tutorial_intents(&tutorial.ns)?)
        .await?;
    // The operator has acted on the intents (the client's pod carries its access label) ...
    let labelled = Instant::now();
    while access_labels(&client, &tutorial.ns, "client").await.is_empty() {
        if labelled.elapsed() > ENFORCEMENT {
            bail!("the operator never labelled client's pod");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ... and still nothing is blocked, for many times the time enforcement takes.
    tutorial.prober.hold(&tutorial.everyone(), SHADOW_HOLD).await?;
    assert!(
        policy_names(&client, &tutorial.ns).await.is_empty(),
        "shadow mode writes no policy"
    );

    let protected: Api<ProtectedService> = Api::namespaced(client.clone(), &tutorial.ns);
    let applied = Instant::now();
    protected
        .create(&PostParams::default(), &protect_server(&tutorial.ns)?)
        .await?;
    tutorial
        .enforced(
            &tutorial.only_client_reaches_server(),
            "a ProtectedService for server (shadow)",
            applied,
        )
        .await?;
    assert_eq!(
        policy_names(&client, &tutorial.ns).await,
        vec!["default-deny-server", "server-deployment-access"]
    );
    Ok(())
}
