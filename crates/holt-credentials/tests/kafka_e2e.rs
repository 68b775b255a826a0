//! End to end with Kafka: the credentials operator issues `client` a certificate from the built-in CA, the
//! intents operator turns `client → topic orders [produce]` into ACLs on a real broker that trusts that CA,
//! and the certificate then produces to `orders`, is refused on a topic it did not declare, and a workload
//! without intents (its own Holt certificate) is refused everywhere.

mod support;

use std::time::Duration;

use anyhow::{Context, ensure};
use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KafkaOperation, KafkaServerConfig, KafkaServerConfigSpec, KafkaTarget,
    KafkaTls, KafkaTopic, Target, Workload,
};
use holt_model::{Config, Mode};
use holt_operator::kafka::KafkaSettings;
use holt_testenv::{Kafka, KafkaOptions, Produced, install_crds_without_conversion};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use support::{Running, Scene};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ns.to_owned()),
        ..ObjectMeta::default()
    }
}

/// The Secret's certificate and key as a PEM keystore and a client properties file trusting the broker.
fn client_files(
    dir: &std::path::Path,
    name: &str,
    secret: &k8s_openapi::api::core::v1::Secret,
    kafka: &Kafka,
) -> anyhow::Result<std::path::PathBuf> {
    let data = secret.data.as_ref().context("Secret data")?;
    let text = |file: &str| -> anyhow::Result<String> {
        Ok(String::from_utf8(
            data.get(file).context(file.to_owned())?.0.clone(),
        )?)
    };
    let keystore = dir.join(format!("{name}.pem"));
    std::fs::write(&keystore, format!("{}{}", text("key.pem")?, text("cert.pem")?))?;
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
    Ok(properties)
}

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
    let config = Config {
        mode: Mode::DefaultActive,
        watched_namespaces: [ns.clone()].into(),
        ..Config::default()
    };
    let options = holt_operator::controller::Options {
        kafka: KafkaSettings {
            ledger_namespace: ns.clone(),
            first_retry: Duration::from_millis(200),
            max_retry: Duration::from_secs(2),
            ..KafkaSettings::default()
        },
        ..holt_operator::controller::Options::default()
    };
    let (operator, mut progress) = holt_operator::start(scene.client.clone(), config, options).await;
    tokio::time::timeout(support::TIMEOUT, progress.wait_for(|p| p.ready)).await??;
    let admin = kafka.admin().keystore.display().to_string();
    Api::<KafkaServerConfig>::namespaced(scene.client.clone(), &ns)
        .create(
            &PostParams::default(),
            &KafkaServerConfig {
                metadata: meta(&ns, "kafka-config"),
                spec: KafkaServerConfigSpec {
                    workload: Workload {
                        name: "kafka".into(),
                        kind: None,
                    },
                    addr: Some(kafka.bootstrap().to_owned()),
                    no_auto_create_intents_for_operator: false,
                    tls: Some(KafkaTls {
                        cert_file: admin.clone(),
                        key_file: admin,
                        root_ca_file: kafka.ca_file().display().to_string(),
                    }),
                    topics: vec![],
                },
                status: None,
            },
        )
        .await?;
    Api::<ClientIntents>::namespaced(scene.client.clone(), &ns)
        .create(
            &PostParams::default(),
            &ClientIntents {
                metadata: meta(&ns, "client"),
                spec: ClientIntentsSpec {
                    workload: Workload {
                        name: "client".into(),
                        kind: None,
                    },
                    targets: vec![Target {
                        kafka: Some(KafkaTarget {
                            name: "kafka".into(),
                            topics: vec![KafkaTopic {
                                name: orders.clone(),
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

    let dir = tempfile::tempdir()?;
    let client = client_files(dir.path(), "client", &client_secret, &kafka)?;
    let stranger = client_files(dir.path(), "stranger", &stranger_secret, &kafka)?;
    let mut as_client = kafka.admin().clone();
    as_client.properties = client;
    as_client.common_name = format!("client.{ns}");
    let mut as_stranger = kafka.admin().clone();
    as_stranger.properties = stranger;
    as_stranger.common_name = format!("stranger.{ns}");

    // The broker applies ACLs asynchronously: produce until acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let outcome = kafka.produce_one(&as_client, &orders).await?;
        if outcome == Produced::Acked {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "client never produced to orders: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let refused = kafka.produce_one(&as_client, &payments).await?;
    ensure!(
        refused.is_unauthorized(),
        "client on an undeclared topic: {refused:?}"
    );
    for topic in [&orders, &payments] {
        let refused = kafka.produce_one(&as_stranger, topic).await?;
        ensure!(
            refused.is_unauthorized(),
            "a workload without intents on {topic}: {refused:?}"
        );
    }
    operator.abort();
    credentials.task.abort();
    Ok(())
}
