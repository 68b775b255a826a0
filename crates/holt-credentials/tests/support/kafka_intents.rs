//! What the Kafka end-to-end tests share: the intents operator on the test's namespace, the broker's
//! KafkaServerConfig and a client's ClientIntents for one topic, and the outcome every such test asserts
//! (the client produces to its declared topic only; a workload without intents is refused everywhere), with
//! Kafka clients made from the Secrets the credentials operator wrote.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::ensure;
use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KafkaOperation, KafkaServerConfig, KafkaServerConfigSpec, KafkaTarget,
    KafkaTls, KafkaTopic, Target, Workload,
};
use holt_model::{Config, Mode};
use holt_operator::kafka::KafkaSettings;
use holt_testenv::{Kafka, KafkaClient, Produced};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::task::JoinHandle;

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ns.to_owned()),
        ..ObjectMeta::default()
    }
}

/// The Secret's key and certificate (`key.pem`, `cert.pem`) as one PEM keystore file `dir/<name>.pem`.
pub fn keystore(dir: &Path, name: &str, secret: &Secret) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.pem"));
    let mut pem = super::file(secret, "key.pem")?.to_vec();
    pem.extend_from_slice(super::file(secret, "cert.pem")?);
    std::fs::write(&path, pem)?;
    Ok(path)
}

/// A Kafka client presenting the Secret's certificate and trusting the broker's CA.
pub fn kafka_client(dir: &Path, name: &str, secret: &Secret, kafka: &Kafka) -> anyhow::Result<KafkaClient> {
    let keystore = keystore(dir, name, secret)?;
    let properties = dir.join(format!("{name}.properties"));
    std::fs::write(
        &properties,
        format!(
            "security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location={}\n\
             ssl.truststore.type=PEM\nssl.truststore.location={}\n",
            keystore.display(),
            kafka.ca_file().display()
        ),
    )?;
    let mut client = kafka.admin().clone();
    client.properties = properties;
    client.keystore = keystore;
    client.common_name = name.to_owned();
    Ok(client)
}

/// The intents operator in active mode for `ns` only (its Kafka ledger there, short retries), once ready.
pub async fn start_intents_operator(client: &Client, ns: &str) -> anyhow::Result<JoinHandle<()>> {
    let config = Config {
        mode: Mode::DefaultActive,
        watched_namespaces: [ns.to_owned()].into(),
        ..Config::default()
    };
    let options = holt_operator::controller::Options {
        kafka: KafkaSettings {
            ledger_namespace: ns.to_owned(),
            first_retry: Duration::from_millis(200),
            max_retry: Duration::from_secs(2),
            ..KafkaSettings::default()
        },
        ..holt_operator::controller::Options::default()
    };
    let (operator, mut progress) = holt_operator::start(client.clone(), config, options).await;
    tokio::time::timeout(super::TIMEOUT, progress.wait_for(|p| p.ready)).await??;
    Ok(operator)
}

/// The broker's KafkaServerConfig `kafka` (the operator reaches it with the PEM keystore `keystore`, key and
/// certificate in one file) and `client`'s ClientIntents: produce to `topic`.
pub async fn declare_client_produces(
    client: &Client,
    ns: &str,
    kafka: &Kafka,
    keystore: &str,
    topic: &str,
) -> anyhow::Result<()> {
    let workload = |name: &str| Workload {
        name: name.into(),
        kind: None,
    };
    Api::<KafkaServerConfig>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &KafkaServerConfig {
                metadata: meta(ns, "kafka-config"),
                spec: KafkaServerConfigSpec {
                    workload: workload("kafka"),
                    addr: Some(kafka.bootstrap().to_owned()),
                    no_auto_create_intents_for_operator: false,
                    tls: Some(KafkaTls {
                        cert_file: keystore.to_owned(),
                        key_file: keystore.to_owned(),
                        root_ca_file: kafka.ca_file().display().to_string(),
                    }),
                    topics: vec![],
                },
                status: None,
            },
        )
        .await?;
    Api::<ClientIntents>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &ClientIntents {
                metadata: meta(ns, "client"),
                spec: ClientIntentsSpec {
                    workload: workload("client"),
                    targets: vec![Target {
                        kafka: Some(KafkaTarget {
                            name: "kafka".into(),
                            topics: vec![KafkaTopic {
                                name: topic.to_owned(),
                                operations: vec![KafkaOperation::Produce],
                            }],
                        }),
                        ..Target::default()
                    }],
                },
                status: None,
            },
        )
        .await?;
    Ok(())
}

/// `client` produces to `declared` (retried while the broker applies the ACLs, up to 90 s) and is refused on
/// `other`; `stranger` is refused on both.
pub async fn assert_declared_topic_only(
    kafka: &Kafka,
    client: &KafkaClient,
    stranger: &KafkaClient,
    declared: &str,
    other: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let outcome = kafka.produce_one(client, declared).await?;
        if outcome == Produced::Acked {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "client never produced to {declared}: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let refused = kafka.produce_one(client, other).await?;
    ensure!(
        refused.is_unauthorized(),
        "client on an undeclared topic: {refused:?}"
    );
    for topic in [declared, other] {
        let refused = kafka.produce_one(stranger, topic).await?;
        ensure!(
            refused.is_unauthorized(),
            "a workload without intents on {topic}: {refused:?}"
        );
    }
    Ok(())
}
