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

use anyhow::ensure;
use holt_testenv::{ControlPlane, Kafka, Produced, deployment_with_pod_ips, eventually};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brokers_authorizer_log_becomes_kafka_targets_and_denied_attempts() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let client = plane.client().await?;
    let ns = plane.create_namespace(&client, "kafka-topics").await?;
    deployment_with_pod_ips(&client, &ns, "producer", &["10.247.1.1"]).await?;
    deployment_with_pod_ips(&client, &ns, "consumer", &["10.247.1.2"]).await?;

    let kafka = Kafka::shared().await?;
    let topic = format!("orders.{ns}");
    let group = format!("billing.{ns}");
    kafka.create_topic(&topic).await?;
    let producer = kafka.client(&format!("producer.{ns}"))?;
    let consumer = kafka.client(&format!("consumer.{ns}"))?;
    let intruder = kafka.client(&format!("intruder.{ns}"))?;
    // The producer may write the topic; the consumer may read it in its group.
    let write = ["--operation", "Write", "--topic", &topic];
    let read = ["--operation", "Read", "--topic", &topic, "--group", &group];
    for (principal, rights) in [
        (&producer.principal, &write[..]),
        (&consumer.principal, &read[..]),
    ] {
        let mut args = vec!["--add", "--allow-principal", principal];
        args.extend_from_slice(rights);
        kafka.acl_tool(&args).await?;
    }

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

    // ACLs reach the authorizer asynchronously: produce until acknowledged.
    eventually(
        "the producer's message acknowledged",
        Duration::from_secs(60),
        || async { Ok((kafka.produce_one(&producer, &topic).await? == Produced::Acked).then_some(())) },
    )
    .await?;
    let consumed = kafka.consume_one(&consumer, &topic, &group).await?;
    ensure!(consumed == 1, "the consumer read {consumed} messages");
    let refused = kafka.produce_one(&intruder, &topic).await?;
    ensure!(refused.is_unauthorized(), "{refused:?}");

    let uses: Vec<Value> = eventually(
        "the three clients' topic use",
        Duration::from_secs(30),
        || async {
            let (status, body) = mapper.get(&format!("/v1/kafka?namespace={ns}"))?;
            ensure!(status == 200, "{status}: {body}");
            let uses: Vec<Value> = serde_json::from_str(&body)?;
            let denied_seen = uses.iter().any(|u| {
                u["client"]["name"] == "intruder" && u["denied"].as_array().is_some_and(|d| !d.is_empty())
            });
            let consumed_seen = uses
                .iter()
                .any(|u| u["client"]["name"] == "consumer" && operations(&u["allowed"]).contains("consume"));
            Ok((denied_seen && consumed_seen).then_some(uses))
        },
    )
    .await?;
    let by_client = |name: &str| {
        uses.iter()
            .find(|u| u["client"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {uses:?}"))
    };
    let produced = by_client("producer");
    assert_eq!(produced["broker"], format!("kafka.{ns}"));
    assert_eq!(produced["topic"], topic.as_str());
    assert_eq!(
        produced["client"]["kind"], "Deployment",
        "the kind of the workload's pods"
    );
    assert!(operations(&produced["allowed"]).contains("produce"), "{produced}");
    assert!(operations(&by_client("consumer")["allowed"]).contains("consume"));
    let intruded = by_client("intruder");
    assert_eq!(
        operations(&intruded["denied"]),
        BTreeSet::from(["describe".to_owned()])
    );
    assert!(intruded["allowed"].is_null(), "nothing allowed: {intruded}");

    // The export: each client's ClientIntents with a `kafka` target naming the broker, the topic and every
    // operation it used.
    let (status, export) = mapper.get(&format!("/v1/export?format=json&namespace={ns}"))?;
    ensure!(status == 200, "{status}: {export}");
    let objects: Vec<Value> = serde_json::from_str(&export)?;
    let kafka_target = |name: &str| -> Value {
        let object = objects
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {export}"));
        object["spec"]["targets"][0]["kafka"].clone()
    };
    let target = kafka_target("producer");
    assert_eq!(target["name"], format!("kafka.{ns}"));
    assert_eq!(target["topics"][0]["name"], topic.as_str());
    assert_eq!(
        operations(&target["topics"][0]["operations"]),
        BTreeSet::from(["describe".to_owned(), "produce".to_owned()])
    );
    assert_eq!(
        operations(&kafka_target("consumer")["topics"][0]["operations"]),
        BTreeSet::from(["consume".to_owned(), "describe".to_owned()])
    );
    assert_eq!(
        operations(&kafka_target("intruder")["topics"][0]["operations"]),
        BTreeSet::from(["describe".to_owned()]),
        "what the intruder tried is what it would have to declare"
    );

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
    let before = mapper.get(&format!("/v1/kafka?namespace={ns}"))?.1;
    let stopped = mapper.stop().await?;
    ensure!(stopped.success(), "the mapper stopped with {stopped}");
    let (restarted, _) = support::Mapper::start(plane, &state.path().join("state"), &[]).await?;
    let (status, after) = restarted.get(&format!("/v1/kafka?namespace={ns}"))?;
    ensure!(status == 200, "{status}: {after}");
    assert_eq!(
        serde_json::from_str::<Value>(&after)?,
        serde_json::from_str::<Value>(&before)?
    );
    Ok(())
}

/// The operations of a JSON list (none for `null`).
fn operations(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
