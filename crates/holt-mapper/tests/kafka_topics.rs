//! Kafka topic use discovered from a real broker's authorizer log (the test harness's broker, its
//! `kafka.authorizer.logger` at DEBUG into a file): clients with their own certificates produce to and
//! consume from a topic, and a client the ACLs refuse tries; the `holt-mapper` binary reads the file and
//! answers `GET /v1/kafka` (with the denied attempt), exports `kafka` targets with the topics and
//! operations, and serves the same topic use after a restart.
//!
//! The broker sees every client at 127.0.0.1 (no pod has that address), so clients are found by their
//! principal, `User:CN=<workload>.<namespace>`, as Holt's certificates name them.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_testenv::{ControlPlane, Kafka, deployment_with_pod_ips};
use serde_json::Value;
use support::kafka_scene::{KafkaScene, kafka_uses, operations};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brokers_authorizer_log_becomes_kafka_targets_and_denied_attempts() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "kafka-topics").await?;
    deployment_with_pod_ips(&client, &ns, "producer", &["10.247.1.1"]).await?;
    deployment_with_pod_ips(&client, &ns, "consumer", &["10.247.1.2"]).await?;

    let kafka = Kafka::shared().await?;
    let scene = KafkaScene::new(kafka, &ns).await?;
    let topic = &scene.topic;

    let state = tempfile::tempdir()?;
    let log = format!("kafka.{ns}={}", kafka.authorizer_log().display());
    let (mapper, _) = support::Mapper::start(
        plane,
        &state.path().join("state"),
        &[
            ("HOLT_MAPPER_KAFKA_AUTHORIZER_LOGS", log.as_str()),
            ("HOLT_MAPPER_KAFKA_LOG_INTERVAL_MS", "200"),
        ],
    )
    .await?;

    scene.play(kafka).await?;
    let broker = format!("kafka.{ns}");
    let uses = scene.uses_seen(&mapper, &broker, Duration::from_secs(30)).await?;
    let produced = uses
        .iter()
        .find(|u| u["client"]["name"] == "producer")
        .context("the producer's topic use")?;
    assert_eq!(
        produced["client"]["kind"], "Deployment",
        "the kind of the workload's pods"
    );
    scene.assert_exported(&mapper, &broker)?;

    // The reference CLI's `intents` document (its `list`/`export`): the Kafka use as `KAFKA` intents with
    // their topics, the broker as the server.
    let document = "query Intents($namespaces: [String!]) { intents(namespaces: $namespaces) { \
        client { name namespace } server { name namespace } type kafkaTopics { name operations } } }";
    let body =
        serde_json::to_vec(&serde_json::json!({"query": document, "variables": {"namespaces": [ns]}}))?;
    let (status, answer) = mapper.send("POST", "/query", &body, Some(&mapper.callers.admin))?;
    ensure!(status == 200, "{status}: {answer}");
    let answer: Value = serde_json::from_str(&answer)?;
    let produced = answer["data"]["intents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["client"]["name"] == "producer" && i["type"] == "KAFKA")
        .unwrap_or_else(|| panic!("no KAFKA intent of the producer in {answer}"));
    assert_eq!(
        produced["server"],
        serde_json::json!({"name": "kafka", "namespace": ns})
    );
    assert_eq!(produced["kafkaTopics"][0]["name"], topic.as_str());
    assert_eq!(
        operations(&produced["kafkaTopics"][0]["operations"]),
        BTreeSet::from(["DESCRIBE".to_owned(), "PRODUCE".to_owned()])
    );

    let metrics = mapper.get("/metrics")?.1;
    let incoming = support::sample(&metrics, "kafka_incoming_topics").unwrap_or(0);
    let reported = support::sample(&metrics, "kafka_reported_topics").unwrap_or(0);
    ensure!(
        incoming >= reported && reported >= 5,
        "incoming {incoming}, reported {reported}"
    );

    // Kept across a restart: a mapper on the same state directory, reading no log now, serves the same
    // topic use from its intent log.
    let before = kafka_uses(&mapper, &ns)?;
    let stopped = mapper.stop().await?;
    ensure!(stopped.success(), "the mapper stopped with {stopped}");
    let (restarted, _) = support::Mapper::start(plane, &state.path().join("state"), &[]).await?;
    assert_eq!(kafka_uses(&restarted, &ns)?, before);
    Ok(())
}
