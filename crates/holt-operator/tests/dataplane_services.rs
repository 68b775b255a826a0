//! Service targets, calls across namespaces, named ports, external traffic and a ProtectedService's
//! default-deny on a real dataplane: the `holt-operator` binary writes NetworkPolicies, kube-router enforces
//! them on the traffic between network namespaces standing for the pods, and the prober observes every
//! call — one dataplane, two operators (one per mode), one converge each.
//!
//! Active mode, namespaces `front` (callers) and `back` (servers), every pod listening on TCP 8080 and 9090,
//! and `lb`, a host outside the pods' range routed by the node (a load balancer or another node; there is
//! no kube-proxy here, so it calls pod addresses directly, as traffic arrives after a node port's DNAT).
//! `client` in `front` declares, across namespaces:
//!
//! - `service: api.back` — Service `api` (ClusterIP) whose `targetPort` is the container port *named*
//!   `http` (8080): `client` reaches api on 8080 only;
//! - `kubernetes: web.back, kind: Service` — Service `web`, a **NodePort**, target port 8080;
//! - `kubernetes: shop.back, kind: Deployment` — a workload target (every port), behind a **LoadBalancer**;
//! - `kubernetes: db.back, kind: Deployment` — a workload target behind a **ClusterIP** Service.
//!
//! The servers admit `client` only, except for what Holt's external-traffic policies
//! (`automateThirdPartyNetworkPolicies`, default `ifBlockedByOtterize`) open: web's and shop's target port
//! 8080 to every source — `lb`, and pods too, since such a policy names no source — while db (ClusterIP)
//! and api stay closed to `lb`. Pods nobody declared stay open to all.
//!
//! Shadow mode, namespace `guarded`: `caller` declares `ledger`, and a ProtectedService names `vault`,
//! which no one declared: nobody reaches vault (not even `lb`), and ledger, unprotected, stays open to
//! everyone. Each converge logs the time from the API writes to enforcement.

mod support;

use std::net::Ipv4Addr;
use std::time::Instant;

use anyhow::ensure;
use holt_api::v2beta1::{ClientIntents, ProtectedService};
use holt_testenv::{Dataplane, DataplanePod, Endpoint, Port, Prober, Reachability};
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::dataplane::{ENFORCEMENT, deployment_with_ports, holt_operator};
use support::{cluster, policy_names};

/// The port the servers serve on (named `http` in their containers).
const APP: Port = Port::tcp(8080);
/// Another port every pod listens on, which no Service exposes.
const ADMIN: Port = Port::tcp(9090);
const PORTS: [Port; 2] = [APP, ADMIN];
/// The outside host (a load balancer or a node), outside the pods' range.
const LB_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

/// Service `name` selecting `app: name`, of `kind` (ClusterIP, NodePort, LoadBalancer), port 80 to
/// `target_port` (a number or a container port's name).
fn service(name: &str, kind: &str, target_port: serde_json::Value) -> anyhow::Result<Service> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "type": kind,
            "selector": {"app": name},
            "ports": [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": target_port}],
        }
    }))?)
}

fn client_intents(ns: &str, back: &str) -> anyhow::Result<ClientIntents> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata:
  name: client
  namespace: {ns}
spec:
  workload:
    name: client
    kind: Deployment
  targets:
  - service:
      name: api.{back}
  - kubernetes:
      name: web.{back}
      kind: Service
  - kubernetes:
      name: shop.{back}
      kind: Deployment
  - kubernetes:
      name: db.{back}
      kind: Deployment
"
    ))?)
}

fn caller_intents(ns: &str) -> anyhow::Result<ClientIntents> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ClientIntents
metadata:
  name: caller
  namespace: {ns}
spec:
  workload:
    name: caller
    kind: Deployment
  targets:
  - kubernetes:
      name: ledger
      kind: Deployment
"
    ))?)
}

fn protect_vault(ns: &str) -> anyhow::Result<ProtectedService> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: k8s.otterize.com/v2beta1
kind: ProtectedService
metadata:
  name: vault
  namespace: {ns}
spec:
  name: vault
"
    ))?)
}

/// Every cell from or to `server` in `matrix` set to blocked, except the calls in `admitted`.
fn isolate(
    mut matrix: Reachability,
    callers: &[&str],
    server: &str,
    admitted: &[(&str, Port)],
) -> Reachability {
    for caller in callers.iter().filter(|caller| **caller != server) {
        for port in PORTS {
            let open = admitted.contains(&(*caller, port));
            matrix.set(caller, server, port, open);
        }
    }
    matrix
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_targets_named_ports_external_traffic_and_a_protected_default_deny_are_enforced()
-> anyhow::Result<()> {
    let (client, plane) = cluster().await;
    let front = plane.create_namespace(&client, "dp-front").await?;
    let back = plane.create_namespace(&client, "dp-back").await?;
    let guarded = plane.create_namespace(&client, "dp-guarded").await?;
    let dataplane = Dataplane::start(plane).await?;
    let named = [("http", APP), ("admin", ADMIN)];

    let mut pods: Vec<DataplanePod> = Vec::new();
    for (ns, name) in [
        (&front, "client"),
        (&front, "client-other"),
        (&back, "api"),
        (&back, "web"),
        (&back, "shop"),
        (&back, "db"),
        (&guarded, "caller"),
        (&guarded, "ledger"),
        (&guarded, "vault"),
    ] {
        let deployment = deployment_with_ports(name, &named)?;
        pods.push(dataplane.deploy(&client, ns, &deployment, &PORTS).await?);
    }
    let services: Api<Service> = Api::namespaced(client.clone(), &back);
    for service in [
        service("api", "ClusterIP", json!("http"))?,
        service("web", "NodePort", json!(8080))?,
        service("shop", "LoadBalancer", json!(8080))?,
        service("db", "ClusterIP", json!(8080))?,
    ] {
        services.create(&PostParams::default(), &service).await?;
    }
    let lb = dataplane.outside_host("lb", LB_IP, &PORTS)?;

    let in_namespaces = |namespaces: &[&str]| -> Vec<&Endpoint> {
        pods.iter()
            .filter(|pod| namespaces.contains(&pod.namespace()))
            .map(DataplanePod::endpoint)
            .chain([lb.endpoint()])
            .collect()
    };
    let active = Prober::new(&in_namespaces(&[&front, &back]), &PORTS)?;
    let shadow = Prober::new(&in_namespaces(&[&guarded]), &PORTS)?;
    let (everyone_active, everyone_shadow) = (active.all(true), shadow.all(true));
    tokio::try_join!(
        active.converge(&everyone_active, ENFORCEMENT),
        shadow.converge(&everyone_shadow, ENFORCEMENT),
    )?;

    let watched_by_active = format!("{front},{back}");
    let (_active_operator, _shadow_operator) = tokio::try_join!(
        holt_operator(plane, &watched_by_active, "defaultActive", &[]),
        holt_operator(plane, &guarded, "defaultShadow", &[]),
    )?;

    // What the intents imply, written out per server.
    let callers = ["client", "client-other", "api", "web", "shop", "db", "lb"];
    let mut expected_active = everyone_active.clone();
    expected_active = isolate(expected_active, &callers, "api", &[("client", APP)]);
    let web_admitted = callers.map(|caller| (caller, APP));
    expected_active = isolate(expected_active, &callers, "web", &web_admitted);
    let mut shop_admitted = callers.map(|caller| (caller, APP)).to_vec();
    shop_admitted.push(("client", ADMIN));
    expected_active = isolate(expected_active, &callers, "shop", &shop_admitted);
    expected_active = isolate(
        expected_active,
        &callers,
        "db",
        &[("client", APP), ("client", ADMIN)],
    );
    let expected_shadow = isolate(
        everyone_shadow.clone(),
        &["caller", "ledger", "vault", "lb"],
        "vault",
        &[],
    );

    let written = Instant::now();
    Api::<ClientIntents>::namespaced(client.clone(), &front)
        .create(&PostParams::default(), &client_intents(&front, &back)?)
        .await?;
    Api::<ClientIntents>::namespaced(client.clone(), &guarded)
        .create(&PostParams::default(), &caller_intents(&guarded)?)
        .await?;
    Api::<ProtectedService>::namespaced(client.clone(), &guarded)
        .create(&PostParams::default(), &protect_vault(&guarded)?)
        .await?;
    tokio::try_join!(
        dataplane.enforced(
            &active,
            &expected_active,
            ENFORCEMENT,
            "Service, cross-namespace and named-port targets with external traffic (active)",
            written
        ),
        dataplane.enforced(
            &shadow,
            &expected_shadow,
            ENFORCEMENT,
            "a ProtectedService's default-deny (shadow)",
            written
        ),
    )?;

    // The policies behind the packets: external access only for the NodePort and the LoadBalancer.
    let in_back = policy_names(&client, &back).await;
    for name in ["external-access-to-web", "external-access-to-shop"] {
        ensure!(in_back.contains(&name.to_owned()), "no {name}: {in_back:?}");
    }
    ensure!(
        !in_back
            .iter()
            .any(|name| name.contains("external-access-to-db") || name.contains("external-access-to-api")),
        "a ClusterIP Service got an external-access policy: {in_back:?}"
    );
    ensure!(
        policy_names(&client, &guarded).await == vec!["default-deny-vault".to_owned()],
        "shadow mode writes the default-deny only (ledger is not protected)"
    );
    Ok(())
}
