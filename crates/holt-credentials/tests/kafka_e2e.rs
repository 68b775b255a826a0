//! End to end with Kafka: the credentials operator issues `client` a certificate from the built-in CA, the
//! intents operator turns `client → topic orders [produce]` into ACLs on a real broker that trusts that CA,
//! and the certificate then produces to `orders`, is refused on a topic it did not declare, and a workload
//! without intents (its own Holt certificate) is refused everywhere.

mod support;

use anyhow::Context;
use holt_testenv::{Kafka, KafkaOptions, install_crds_without_conversion};
use support::kafka_intents::{
    assert_declared_topic_only, declare_client_produces, kafka_client, start_intents_operator,
};
use support::{Running, Scene};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

#[tokio::test]
async fn a_holt_certificate_produces_to_its_declared_topic_only() -> anyhow::Result<()> {
    let scene = Scene::new("kafka-e2e").await?;
    let mut crds = String::new();
    crds.push_str(&holt_api::crds::crds_yaml()?);
    install_crds_without_conversion(&scene.client, &crds).await?;
    let ns = scene.namespace.clone();

    // Certificates for `client` and `stranger` from the built-in CA.
    let credentials = Running::start(&scene.client, scene.options()).await?;
    scene.deployment("client", 1, &[(SECRET, "client-tls")]).await?;
    scene
        .deployment("stranger", 1, &[(SECRET, "stranger-tls")])
        .await?;
    let client_secret = scene.secret_with("client-tls", "cert.pem").await?;
    let stranger_secret = scene.secret_with("stranger-tls", "cert.pem").await?;
    let holt_ca = String::from_utf8(
        client_secret
            .data
            .as_ref()
            .context("data")?
            .get("ca.pem")
            .context("ca.pem")?
            .0
            .clone(),
    )?;

    // A broker of this test's own that also trusts Holt's CA (restarted to read its truststore again).
    let mut kafka = Kafka::start(KafkaOptions::default()).await?;
    let mut truststore = std::fs::read_to_string(kafka.ca_file())?;
    truststore.push_str(&holt_ca);
    std::fs::write(kafka.ca_file(), truststore)?;
    kafka.stop();
    kafka.restart().await?;
    let orders = format!("{ns}-orders");
    let payments = format!("{ns}-payments");
    kafka.create_topic(&orders).await?;
    kafka.create_topic(&payments).await?;

    // The intents operator, with the broker's KafkaServerConfig and `client`'s intents.
    let operator = start_intents_operator(&scene.client, &ns).await?;
    let admin = kafka.admin().keystore.display().to_string();
    declare_client_produces(&scene.client, &ns, &kafka, &admin, &orders).await?;

    let dir = tempfile::tempdir()?;
    let as_client = kafka_client(dir.path(), "client", &client_secret, &kafka)?;
    let as_stranger = kafka_client(dir.path(), "stranger", &stranger_secret, &kafka)?;
    assert_declared_topic_only(&kafka, &as_client, &as_stranger, &orders, &payments).await?;
    operator.abort();
    credentials.task.abort();
    Ok(())
}
