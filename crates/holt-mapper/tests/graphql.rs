//! The reference's GraphQL API on the `holt-mapper` binary, against a real API server: the documents the
//! reference's CLI (`otterize network-mapper list|export|visualize|reset`) and its agents send, posted as
//! they send them, answer the tutorial's discovered intents — the same ones Holt's JSON API answers — and a
//! reset empties them. Who may ask: queries need the read verb (or nothing, with
//! `--graphql-allow-anonymous-reads`, as the reference CLI sends no credential), `resetCapture` the reset
//! verb.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::ensure;
use holt_mapper::shared::now_ms;
use holt_mapper_api::DiscoveredIntent;
use holt_testenv::{ControlPlane, deployment_serving, eventually};
use serde_json::{Value, json};

// The documents below are the reference CLI's and agents' requests, field for field (its mapper client's
// operations), so that a regression in any field they select shows here.

/// The reference CLI's `list`/`export`/`visualize` against mappers up to v0.1.7.
const SERVICE_INTENTS: &str = "query ServiceIntentsUpToMapperV017($namespaces: [String!]) {
    serviceIntents(namespaces: $namespaces) {
        client { ...NamespacedNameFragment }
        intents { ...NamespacedNameFragment }
    }
}
fragment NamespacedNameFragment on OtterizeServiceIdentity { name namespace }";

/// The reference CLI's `list`/`export`/`visualize` with `--distinct-by-label`.
const SERVICE_INTENTS_WITH_LABELS: &str = "query ServiceIntentsWithLabels($namespaces: [String!], $includedLabels: [String!]) {
    serviceIntents(namespaces: $namespaces, includeLabels: $includedLabels) {
        client { ...NamespacedNameWithLabelsFragment }
        intents { ...NamespacedNameWithLabelsFragment }
    }
}
fragment NamespacedNameFragment on OtterizeServiceIdentity { name namespace }
fragment LabelsFragment on OtterizeServiceIdentity { labels { key value } }
fragment NamespacedNameWithLabelsFragment on OtterizeServiceIdentity { ...NamespacedNameFragment ...LabelsFragment }";

/// The reference CLI's `list`/`export`/`visualize` against current mappers.
const INTENTS: &str = "query Intents($namespaces: [String!], $includedLabels: [String!], $excludeServiceWithLabels: [String!], $serverName: String) {
    intents(namespaces: $namespaces, includeLabels: $includedLabels, excludeServiceWithLabels: $excludeServiceWithLabels, serverName: $serverName) {
        client { ...NamespacedNameWithLabelsFragment }
        server { ...NamespacedNameWithLabelsFragment }
        type
        kafkaTopics { name operations }
        httpResources { path methods }
    }
}
fragment NamespacedNameFragment on OtterizeServiceIdentity { name namespace }
fragment LabelsFragment on OtterizeServiceIdentity { labels { key value } }
fragment NamespacedNameWithLabelsFragment on OtterizeServiceIdentity { ...NamespacedNameFragment ...LabelsFragment }";

/// The reference sniffer's liveness check.
const HEALTH: &str = "query Health { health }";

/// The reference CLI's `reset`.
const RESET_CAPTURE: &str = "mutation ResetCapture { resetCapture }";

fn request(query: &str, variables: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"query": query, "variables": variables})).expect("JSON")
}

/// Posts a GraphQL request with `token` (or none); the status and the JSON answer.
fn post(mapper: &support::Mapper, body: &[u8], token: Option<&str>) -> anyhow::Result<(u16, Value)> {
    let (status, text) = mapper.send("POST", "/query", body, token)?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// `(client, server)` pairs of a `serviceIntents` or `intents` answer.
fn pairs(answer: &Value, field: &str) -> BTreeSet<(String, String)> {
    let name = |identity: &Value| {
        format!(
            "{}.{}",
            identity["name"].as_str().unwrap_or("?"),
            identity["namespace"].as_str().unwrap_or("?")
        )
    };
    let mut pairs = BTreeSet::new();
    for entry in answer["data"][field].as_array().into_iter().flatten() {
        match field {
            "serviceIntents" => {
                for server in entry["intents"].as_array().into_iter().flatten() {
                    pairs.insert((name(&entry["client"]), name(server)));
                }
            }
            _ => {
                pairs.insert((name(&entry["client"]), name(&entry["server"])));
            }
        }
    }
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_clis_documents_read_the_tutorial_and_reset_it() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    support::install_crds(&client).await?;
    let ns = plane.create_namespace(&client, "graphql-tutorial").await?;
    let ip = |host: u8| format!("10.246.1.{host}");
    for (name, host) in [("client", 1), ("client2", 2), ("server", 3)] {
        deployment_serving(&client, &ns, name, &[ip(host).as_str()], &[80]).await?;
    }
    let state = tempfile::tempdir()?;
    let (mapper, _) = support::Mapper::start(
        plane,
        &state.path().join("state"),
        &[("HOLT_MAPPER_GRAPHQL_ALLOW_ANONYMOUS_READS", "true")],
    )
    .await?;
    let server_ip: std::net::IpAddr = ip(3).parse()?;
    for host in [1, 2] {
        let mut report = support::connections_report(&ip(host), [server_ip], now_ms());
        if host == 2 {
            // client2's call carries an HTTP request: its intent is `HTTP` with the path.
            report.http.push(holt_mapper_api::HttpRequest {
                src_ip: ip(host).parse()?,
                dst_ip: server_ip,
                dst_port: 443,
                method: "GET".into(),
                path: "/orders/17".into(),
                last_seen_ms: now_ms(),
            });
        }
        mapper.report(&report)?;
    }
    let tutorial: BTreeSet<(String, String)> = ["client", "client2"]
        .iter()
        .map(|c| (format!("{c}.{ns}"), format!("server.{ns}")))
        .collect();
    let reader = mapper.callers.reader.clone();
    let namespaces = json!({"namespaces": [ns]});

    // The JSON API's answer, for comparison.
    let json_api = eventually("both calls discovered", Duration::from_secs(60), || {
        let answer = mapper.get(&format!("/v1/intents?namespace={ns}"));
        async move {
            let (status, body) = answer?;
            ensure!(status == 200, "{status}: {body}");
            let intents: Vec<DiscoveredIntent> = serde_json::from_str(&body)?;
            Ok((intents.len() == 2).then_some(intents))
        }
    })
    .await?;
    let from_json_api: BTreeSet<(String, String)> = json_api
        .iter()
        .map(|i| match &i.target {
            holt_mapper_api::Target::Kubernetes { server, .. } => (i.client.to_string(), server.to_string()),
            other => (i.client.to_string(), format!("{other:?}")),
        })
        .collect();
    assert_eq!(from_json_api, tutorial);

    let (status, answer) = post(
        &mapper,
        &request(SERVICE_INTENTS, namespaces.clone()),
        Some(&reader),
    )?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(pairs(&answer, "serviceIntents"), tutorial, "{answer}");

    let labelled = json!({"namespaces": [ns], "includedLabels": ["app"]});
    let (_, answer) = post(
        &mapper,
        &request(SERVICE_INTENTS_WITH_LABELS, labelled),
        Some(&reader),
    )?;
    assert_eq!(pairs(&answer, "serviceIntents"), tutorial, "{answer}");
    let client_labels = &answer["data"]["serviceIntents"][0]["client"]["labels"];
    assert_eq!(
        client_labels,
        &json!([{"key": "app", "value": "client"}]),
        "{answer}"
    );

    let all =
        json!({"namespaces": [ns], "includedLabels": [], "excludeServiceWithLabels": [], "serverName": null});
    let (_, answer) = post(&mapper, &request(INTENTS, all), Some(&reader))?;
    assert_eq!(pairs(&answer, "intents"), tutorial, "{answer}");
    let first = &answer["data"]["intents"][0];
    assert_eq!(first["type"], Value::Null, "{answer}");
    let with_http = &answer["data"]["intents"][1];
    assert_eq!(with_http["client"]["name"], "client2", "{answer}");
    assert_eq!(with_http["type"], "HTTP", "{answer}");
    assert_eq!(
        with_http["httpResources"],
        json!([{"path": "/orders/*", "methods": ["GET"]}]),
        "the JSON API's path, folded"
    );
    assert_eq!(
        first["server"]["labels"],
        Value::Null,
        "no labels asked: {answer}"
    );
    let excluded = json!({"namespaces": [ns], "excludeServiceWithLabels": ["app=client2"]});
    let (_, answer) = post(&mapper, &request(INTENTS, excluded), Some(&reader))?;
    assert_eq!(
        pairs(&answer, "intents"),
        BTreeSet::from([(format!("client.{ns}"), format!("server.{ns}"))]),
        "{answer}"
    );

    // The reference CLI sends no credential: with the flag its queries are answered, never its reset.
    let (status, answer) = post(&mapper, &request(SERVICE_INTENTS, namespaces.clone()), None)?;
    assert_eq!(
        (status, pairs(&answer, "serviceIntents")),
        (200, tutorial.clone()),
        "{answer}"
    );
    let (status, answer) = post(&mapper, &request(HEALTH, json!({})), None)?;
    assert_eq!((status, &answer), (200, &json!({"data": {"health": true}})));
    let (status, _) = post(&mapper, &request(RESET_CAPTURE, json!({})), None)?;
    assert_eq!(status, 401, "an anonymous reset is refused");
    let (status, _) = post(&mapper, &request(RESET_CAPTURE, json!({})), Some(&reader))?;
    assert_eq!(status, 403, "reading does not allow resetting");
    let (status, _) = post(
        &mapper,
        &request(SERVICE_INTENTS, namespaces.clone()),
        Some(&mapper.callers.stranger),
    )?;
    assert_eq!(
        status, 403,
        "a credential without the read verb is refused, even with anonymous reads on"
    );

    let admin = mapper.callers.admin.clone();
    let (status, answer) = post(&mapper, &request(RESET_CAPTURE, json!({})), Some(&admin))?;
    assert_eq!((status, &answer), (200, &json!({"data": {"resetCapture": true}})));
    let (_, answer) = post(&mapper, &request(SERVICE_INTENTS, namespaces), Some(&reader))?;
    assert_eq!(answer, json!({"data": {"serviceIntents": []}}));

    // Bad input: a body that is not a GraphQL request, and a query the schema does not have.
    let (status, _) = post(&mapper, b"{not json", Some(&reader))?;
    assert_eq!(status, 400);
    let (status, answer) = post(&mapper, &request("{ nothing }", json!({})), Some(&reader))?;
    assert_eq!(status, 200, "GraphQL answers errors in the body");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nothing"),
        "{answer}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_flag_an_anonymous_query_is_refused() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let state = tempfile::tempdir()?;
    let (mapper, _) = support::Mapper::start(plane, &state.path().join("state"), &[]).await?;
    let (status, _) = post(&mapper, &request(HEALTH, json!({})), None)?;
    assert_eq!(status, 401);
    let (status, answer) = post(
        &mapper,
        &request(HEALTH, json!({})),
        Some(&mapper.callers.reader.clone()),
    )?;
    assert_eq!((status, answer), (200, json!({"data": {"health": true}})));
    Ok(())
}
