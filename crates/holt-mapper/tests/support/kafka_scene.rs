//! The Kafka tests' scene on the harness's real broker: a topic and a consumer group of a namespace, a
//! producer allowed to write the topic, a consumer allowed to read it in its group (each with its own
//! certificate) and an intruder the ACLs refuse; what they do, and what the mapper must then show.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_testenv::{Kafka, KafkaClient, Produced, eventually};
use serde_json::Value;

use super::Mapper;

pub struct KafkaScene {
    pub ns: String,
    pub topic: String,
    pub group: String,
    pub producer: KafkaClient,
    pub consumer: KafkaClient,
    pub intruder: KafkaClient,
}

impl KafkaScene {
    /// Creates the topic, the clients' certificates, and the producer's and consumer's ACLs.
    pub async fn new(kafka: &Kafka, ns: &str) -> anyhow::Result<KafkaScene> {
        let topic = format!("orders.{ns}");
        let group = format!("billing.{ns}");
        kafka.create_topic(&topic).await?;
        let scene = KafkaScene {
            producer: kafka.client(&format!("producer.{ns}"))?,
            consumer: kafka.client(&format!("consumer.{ns}"))?,
            intruder: kafka.client(&format!("intruder.{ns}"))?,
            ns: ns.to_owned(),
            topic,
            group,
        };
        let write = ["--operation", "Write", "--topic", &scene.topic];
        let read = [
            "--operation",
            "Read",
            "--topic",
            &scene.topic,
            "--group",
            &scene.group,
        ];
        for (principal, rights) in [
            (&scene.producer.principal, &write[..]),
            (&scene.consumer.principal, &read[..]),
        ] {
            let mut args = vec!["--add", "--allow-principal", principal];
            args.extend_from_slice(rights);
            kafka.acl_tool(&args).await?;
        }
        Ok(scene)
    }

    /// The producer writes a message (ACLs reach the authorizer asynchronously: until acknowledged), the
    /// consumer reads it, the intruder is refused.
    pub async fn play(&self, kafka: &Kafka) -> anyhow::Result<()> {
        self.produce(kafka).await?;
        let consumed = kafka
            .consume_one(&self.consumer, &self.topic, &self.group)
            .await?;
        ensure!(consumed == 1, "the consumer read {consumed} messages");
        let refused = kafka.produce_one(&self.intruder, &self.topic).await?;
        ensure!(refused.is_unauthorized(), "{refused:?}");
        Ok(())
    }

    /// The producer writes one message, acknowledged.
    pub async fn produce(&self, kafka: &Kafka) -> anyhow::Result<()> {
        eventually(
            "the producer's message acknowledged",
            Duration::from_secs(60),
            || async {
                Ok((kafka.produce_one(&self.producer, &self.topic).await? == Produced::Acked).then_some(()))
            },
        )
        .await
    }

    /// `GET /v1/kafka` of the scene's namespace, once it shows the consumer's `consume` and the intruder's
    /// denied attempt; every record names `broker` and the topic.
    pub async fn uses_seen(
        &self,
        mapper: &Mapper,
        broker: &str,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Value>> {
        let uses = eventually("the three clients' topic use", timeout, || async {
            let uses = kafka_uses(mapper, &self.ns)?;
            let denied_seen = uses.iter().any(|u| {
                u["client"]["name"] == "intruder" && u["denied"].as_array().is_some_and(|d| !d.is_empty())
            });
            let consumed_seen = uses
                .iter()
                .any(|u| u["client"]["name"] == "consumer" && operations(&u["allowed"]).contains("consume"));
            Ok((denied_seen && consumed_seen).then_some(uses))
        })
        .await
        .with_context(|| mapper.log_text())?;
        for u in &uses {
            assert_eq!(u["broker"], broker, "{u}");
            assert_eq!(u["topic"], self.topic.as_str(), "{u}");
        }
        let by_client = |name: &str| {
            uses.iter()
                .find(|u| u["client"]["name"] == name)
                .unwrap_or_else(|| panic!("{name} missing from {uses:?}"))
        };
        assert!(operations(&by_client("producer")["allowed"]).contains("produce"));
        assert!(operations(&by_client("consumer")["allowed"]).contains("consume"));
        let intruded = by_client("intruder");
        assert_eq!(
            operations(&intruded["denied"]),
            BTreeSet::from(["describe".to_owned()])
        );
        assert!(intruded["allowed"].is_null(), "nothing allowed: {intruded}");
        Ok(uses)
    }

    /// The export: each client's ClientIntents with a `kafka` target naming `broker`, the topic and every
    /// operation it used (what the intruder tried is what it would have to declare).
    pub fn assert_exported(&self, mapper: &Mapper, broker: &str) -> anyhow::Result<()> {
        let (status, export) = mapper.get(&format!("/v1/export?format=json&namespace={}", self.ns))?;
        ensure!(status == 200, "{status}: {export}");
        let objects: Vec<Value> = serde_json::from_str(&export)?;
        let kafka_target = |name: &str| -> Value {
            let object = objects
                .iter()
                .find(|o| o["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{name} missing from {export}"));
            object["spec"]["targets"][0]["kafka"].clone()
        };
        for (client, expected) in [
            ("producer", &["describe", "produce"][..]),
            ("consumer", &["consume", "describe"][..]),
            ("intruder", &["describe"][..]),
        ] {
            let target = kafka_target(client);
            assert_eq!(target["name"], broker, "{client}: {target}");
            assert_eq!(
                target["topics"][0]["name"],
                self.topic.as_str(),
                "{client}: {target}"
            );
            let expected: BTreeSet<String> = expected.iter().map(|o| o.to_string()).collect();
            assert_eq!(
                operations(&target["topics"][0]["operations"]),
                expected,
                "{client}"
            );
        }
        Ok(())
    }
}

/// `GET /v1/kafka?namespace=<ns>`.
pub fn kafka_uses(mapper: &Mapper, ns: &str) -> anyhow::Result<Vec<Value>> {
    let (status, body) = mapper.get(&format!("/v1/kafka?namespace={ns}"))?;
    ensure!(status == 200, "{status}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// The operations of a JSON list (none for `null`).
pub fn operations(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
