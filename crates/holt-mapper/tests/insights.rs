//! The mapper's shadow-mode insights (`GET /v1/insights`) against a real kube-apiserver: the `holt-mapper`
//! binary, started with an operator configuration in `defaultShadow` mode, watches the declared state while
//! sniffer reports come in. The shadow-mode tutorial, step by step: with no intents the clients' calls would
//! be blocked once the server is protected and the server is not ready; once ClientIntents declare every
//! client it is ready; a third, undeclared client makes it not ready, and after a ProtectedService that call
//! is blocked now, by Holt's policy. Another team's NetworkPolicy blocks a call by itself, named as theirs;
//! one labelled as Holt's is not counted (Holt's are rendered from the declared state). Without
//! `--operator-config` the endpoint says how to turn the insights on; past `--max-declared-objects` it
//! refuses to answer rather than answer wrong.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use holt_insights::{CallInsight, Direction, Insights, Outcome, ServerInsight, WorkloadName};
use holt_mapper::shared::now_ms;
use holt_testenv::{ControlPlane, deployment_serving, eventually};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::PostParams;
use kube::{Api, Client};
use pretty_assertions::assert_eq;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn cluster() -> anyhow::Result<(Client, &'static ControlPlane)> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await?;
    Ok((client, plane))
}

async fn client_intents(client: &Client, ns: &str, name: &str) -> anyhow::Result<()> {
    let intents = json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
        "metadata": {"name": name},
        "spec": {"workload": {"name": name, "kind": "Deployment"},
                 "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]}
    });
    Ok(holt_testenv::create_custom_object(client, ns, "clientintents", intents).await?)
}

async fn network_policy(client: &Client, ns: &str, body: serde_json::Value) -> anyhow::Result<()> {
    let policy: NetworkPolicy = serde_json::from_value(body)?;
    Api::<NetworkPolicy>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &policy)
        .await?;
    Ok(())
}

/// `GET /v1/insights` with `query`, parsed; an error carries the status and body.
fn insights(mapper: &support::Mapper, query: &str) -> anyhow::Result<Insights> {
    let (status, body) = mapper.get(&format!("/v1/insights{query}"))?;
    ensure!(status == 200, "insights answered {status}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// Polls the insights of namespace `ns` until `ready` holds.
async fn insights_until(
    mapper: &support::Mapper,
    ns: &str,
    what: &str,
    ready: impl Fn(&Insights) -> bool,
) -> anyhow::Result<Insights> {
    let query = format!("?namespace={ns}");
    eventually(what, TIMEOUT, || async {
        let insights = insights(mapper, &query)?;
        Ok(ready(&insights).then_some(insights))
    })
    .await
    .with_context(|| format!("last insights: {:?}", insights(mapper, &query)))
}

/// The call of `client` to the server.
fn call<'a>(insights: &'a Insights, client: &str) -> &'a CallInsight {
    insights
        .call(client, "server")
        .unwrap_or_else(|| panic!("no call of {client} in {insights:#?}"))
}

/// The server's row.
fn server(insights: &Insights) -> &ServerInsight {
    insights
        .server("server")
        .unwrap_or_else(|| panic!("no server row in {insights:#?}"))
}

fn names(list: &[WorkloadName]) -> Vec<&str> {
    list.iter().map(|w| w.name.as_str()).collect()
}

/// The policies blocking `outcome`: (name, Holt's, direction); empty when it is not blocked.
fn blockers(outcome: &Outcome) -> Vec<(String, bool, Direction)> {
    match outcome {
        Outcome::Blocked { by, .. } => by
            .iter()
            .map(|b| (b.policy.name.clone(), b.holt, b.direction))
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_tutorial_step_by_step_and_another_teams_policy() -> anyhow::Result<()> {
    let (client, plane) = cluster().await?;
    let ns = plane.create_namespace(&client, "insights-tutorial").await?;
    let ip = |host: u8| format!("10.245.1.{host}");
    for (name, host, ports) in [("client", 1, &[][..]), ("client2", 2, &[]), ("server", 3, &[80])] {
        deployment_serving(&client, &ns, name, &[ip(host).as_str()], ports).await?;
    }
    support::service(&client, &ns, "server", 80).await?;

    let state = tempfile::tempdir()?;
    let mapper = support::Mapper::start_in_shadow_mode(plane, state.path(), &[]).await?;
    let server_ip: std::net::IpAddr = ip(3).parse()?;
    for client in [1, 2] {
        mapper.report(&support::connections_report(&ip(client), [server_ip], now_ms()))?;
    }

    // 1. No intents: the calls pass now (shadow), would be blocked by Holt's policy once the server is
    // protected; the server is in shadow and not ready.
    let before = insights_until(&mapper, &ns, "both calls seen", |i| i.calls.len() == 2).await?;
    for client in ["client", "client2"] {
        let seen = call(&before, client);
        assert_eq!(
            (seen.server.name.as_str(), seen.declared, &seen.now, &seen.ports),
            ("server", false, &Outcome::Allowed, &vec![80]),
            "{client}"
        );
        let by = blockers(&seen.if_protected);
        assert!(
            !by.is_empty() && by.iter().all(|(_, holt, d)| *holt && *d == Direction::Ingress),
            "{client} if protected: {:?}",
            seen.if_protected
        );
    }
    let row = server(&before);
    assert_eq!(
        (
            row.enforcement.state.as_str(),
            names(&row.undeclared_clients),
            names(&row.blocked_if_protected),
            row.ready_to_protect
        ),
        (
            "shadow",
            vec!["client", "client2"],
            vec!["client", "client2"],
            false
        )
    );

    // 2. ClientIntents declare both clients: their calls pass even once protected; the server is ready.
    client_intents(&client, &ns, "client").await?;
    client_intents(&client, &ns, "client2").await?;
    let declared = insights_until(&mapper, &ns, "both clients declared", |i| {
        i.calls.iter().all(|c| c.declared)
    })
    .await?;
    for client in ["client", "client2"] {
        let seen = call(&declared, client);
        assert_eq!(
            (&seen.now, &seen.if_protected),
            (&Outcome::Allowed, &Outcome::Allowed),
            "{client}"
        );
    }
    let row = server(&declared);
    assert!(
        row.ready_to_protect && row.undeclared_clients.is_empty(),
        "{row:?}"
    );

    // 3. A third client, never declared, starts calling: the server is not ready any more; once a
    // ProtectedService names it, that call is blocked now, by Holt's policy on the server's ingress.
    deployment_serving(&client, &ns, "client3", &[ip(4).as_str()], &[]).await?;
    mapper.report(&support::connections_report(&ip(4), [server_ip], now_ms()))?;
    let third = insights_until(&mapper, &ns, "client3 seen", |i| i.calls.len() == 3).await?;
    assert_eq!(
        (
            names(&server(&third).undeclared_clients),
            server(&third).ready_to_protect
        ),
        (vec!["client3"], false)
    );
    let protect = json!({
        "apiVersion": "k8s.otterize.com/v2beta1", "kind": "ProtectedService",
        "metadata": {"name": "server-protect"}, "spec": {"name": "server"}
    });
    holt_testenv::create_custom_object(&client, &ns, "protectedservices", protect).await?;
    let protected = insights_until(&mapper, &ns, "the server enforced", |i| {
        server(i).enforcement.state == "enforced"
    })
    .await?;
    assert_eq!(
        server(&protected).enforcement.why,
        "ProtectedService server-protect"
    );
    let blocked = call(&protected, "client3");
    let by = blockers(&blocked.now);
    assert!(
        !by.is_empty() && by.iter().all(|(_, holt, d)| *holt && *d == Direction::Ingress),
        "client3 now: {:?}",
        blocked.now
    );
    for client in ["client", "client2"] {
        assert_eq!(call(&protected, client).now, Outcome::Allowed, "{client}");
    }

    // 4. Another team's policy isolating client2's egress blocks its call by itself, named as theirs; a
    // policy labelled as Holt's is left out (Holt's own come from the declared state), so client passes.
    // Holt's first: the watch delivers in order, so it has been seen once the other one has.
    network_policy(
        &client,
        &ns,
        json!({"metadata": {"name": "stale-holt-policy",
                            "labels": {"app.kubernetes.io/managed-by": "holt"}},
               "spec": {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]}}),
    )
    .await?;
    network_policy(
        &client,
        &ns,
        json!({"metadata": {"name": "client2-egress-lockdown"},
               "spec": {"podSelector": {"matchLabels": {"app": "client2"}}, "policyTypes": ["Egress"]}}),
    )
    .await?;
    let theirs = insights_until(&mapper, &ns, "client2 blocked now", |i| {
        call(i, "client2").now.is_blocked()
    })
    .await?;
    assert_eq!(
        blockers(&call(&theirs, "client2").now),
        [("client2-egress-lockdown".to_owned(), false, Direction::Egress)]
    );
    assert_eq!(call(&theirs, "client").now, Outcome::Allowed);

    // The filters: a server by name or name.namespace, a namespace with nothing in it.
    let by_name = insights(&mapper, &format!("?namespace={ns}&server=server"))?;
    assert_eq!(by_name, theirs);
    let qualified = insights(&mapper, &format!("?server=server.{ns}"))?;
    assert_eq!(qualified, theirs);
    let none = insights(&mapper, &format!("?namespace={ns}&server=client"))?;
    assert_eq!(none, Insights::default());
    let elsewhere = insights(&mapper, "?namespace=no-such-namespace")?;
    assert_eq!(elsewhere, Insights::default());
    // The wire format, as `holt plan --traffic -o json` writes it.
    let (_, raw) = mapper.get(&format!("/v1/insights?server=server.{ns}"))?;
    let raw: serde_json::Value = serde_json::from_str(&raw)?;
    let client3 = raw["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|c| c["client"]["name"] == "client3"))
        .context("client3 in the JSON")?;
    assert_eq!(client3["now"]["state"], "blocked");
    assert_eq!(client3["now"]["port"], 80);
    assert_eq!(client3["now"]["by"][0]["holt"], true);
    assert_eq!(raw["servers"][0]["ready_to_protect"], false);
    // Computations are counted.
    ensure!(mapper.metric("holt_mapper_insights_computations_total")? > 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_operators_configuration_the_insights_are_off_and_say_how_to_turn_them_on()
-> anyhow::Result<()> {
    let (_, plane) = cluster().await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = support::Mapper::start(plane, state.path(), &[]).await?;
    let (status, body) = mapper.get("/v1/insights")?;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("--operator-config") && body.contains("HOLT_MAPPER_OPERATOR_CONFIG"),
        "{body}"
    );
    // Reading them takes the read permission, as every read does.
    let (status, _) = mapper.send("GET", "/v1/insights", &[], Some(&mapper.callers.stranger))?;
    assert_eq!(status, 403);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_declared_objects_bound_the_insights_refuse_to_answer() -> anyhow::Result<()> {
    let (client, plane) = cluster().await?;
    // The cluster holds several Namespaces (kube-system, default, the callers' …): more than one.
    plane.create_namespace(&client, "insights-bound").await?;
    let state = tempfile::tempdir()?;
    let mapper = support::Mapper::start_in_shadow_mode(
        plane,
        state.path(),
        &[("HOLT_MAPPER_MAX_DECLARED_OBJECTS", "1")],
    )
    .await?;
    let (status, body) = mapper.get("/v1/insights")?;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("Namespace") && body.contains("--max-declared-objects (1)"),
        "{body}"
    );
    let refused = support::sample(
        &mapper.get("/metrics")?.1,
        "holt_mapper_declared_objects_refused_total{kind=\"Namespace\"}",
    )
    .context("the refused Namespaces are counted")?;
    ensure!(refused > 0);
    // A bad operator configuration stops the mapper at start, naming the file and the key.
    let bad = state.path().join("bad.yaml");
    std::fs::write(&bad, "mode: defaultShadow\nenableNetpols: true\n")?;
    let output = tokio::process::Command::new(support::binary())
        .args(["--operator-config", &bad.display().to_string()])
        .args(["--state-dir", &state.path().join("other").display().to_string()])
        .args(["--kubeconfig", &plane.kubeconfig().display().to_string()])
        .args(["--bind-address", "127.0.0.1:0"])
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(!output.status.success(), "started with a bad configuration");
    ensure!(
        stderr.contains("--operator-config")
            && stderr.contains("bad.yaml")
            && stderr.contains("enableNetpols"),
        "{stderr}"
    );
    Ok(())
}
