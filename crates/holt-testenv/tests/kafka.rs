//! The real Kafka broker's authorizer, driven by Kafka's own Java tools over the mTLS listener.

use anyhow::{Context, ensure};
use holt_testenv::{Kafka, KafkaClient};

const ACL: &str = "org.apache.kafka.tools.AclCommand";
const TOPICS: &str = "org.apache.kafka.tools.TopicCommand";
const PRODUCER: &str = "org.apache.kafka.tools.VerifiableProducer";
const OFFSETS: &str = "org.apache.kafka.tools.GetOffsetShell";

/// What one VerifiableProducer run of one message reported.
#[derive(Debug, PartialEq)]
enum Sent {
    Acked,
    Failed(String),
}

/// Produces one message to `topic` as `client` with Kafka's VerifiableProducer, which prints one JSON
/// line per send outcome.
async fn produce_one(kafka: &Kafka, client: &KafkaClient, topic: &str) -> anyhow::Result<Sent> {
    let output = kafka
        .tool(PRODUCER)
        .args([
            "--bootstrap-server",
            kafka.bootstrap(),
            "--topic",
            topic,
            "--max-messages",
            "1",
        ])
        .arg("--command-config")
        .arg(&client.properties)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let event: serde_json::Value = serde_json::from_str(line)?;
        match event["name"].as_str() {
            Some("producer_send_success") => return Ok(Sent::Acked),
            Some("producer_send_error") => {
                return Ok(Sent::Failed(
                    event["exception"].as_str().unwrap_or_default().to_owned(),
                ));
            }
            _ => {}
        }
    }
    anyhow::bail!(
        "the producer reported no send outcome (status {}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The end offset of partition 0 of `topic`, read as the super user.
async fn end_offset(kafka: &Kafka, topic: &str) -> anyhow::Result<u64> {
    let admin = kafka.admin().properties.display().to_string();
    let out = kafka
        .run_tool(
            OFFSETS,
            &[
                "--bootstrap-server",
                kafka.bootstrap(),
                "--command-config",
                &admin,
                "--topic",
                topic,
            ],
        )
        .await?;
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{topic}:0:")))
        .context(out.clone())?;
    Ok(line.rsplit(':').next().context("offset")?.trim().parse()?)
}

#[tokio::test]
async fn acl_created_over_mtls_denies_unauthorised_produce_and_allows_authorised() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let admin = kafka.admin().properties.display().to_string();
    let bootstrap = kafka.bootstrap();
    let topic = "orders";
    kafka
        .run_tool(
            TOPICS,
            &[
                "--bootstrap-server",
                bootstrap,
                "--command-config",
                &admin,
                "--create",
                "--topic",
                topic,
            ],
        )
        .await?;
    let writer = kafka.client("orders-writer")?;
    let intruder = kafka.client("intruder")?;

    // No ACL yet, and allow.everyone.if.no.acl.found=false: nobody but the super user may write.
    let before = produce_one(kafka, &writer, topic).await?;
    ensure!(
        matches!(&before, Sent::Failed(e) if e.contains("TopicAuthorizationException")),
        "{before:?}"
    );

    // The super user creates the ACL over the mTLS listener.
    kafka
        .run_tool(
            ACL,
            &[
                "--bootstrap-server",
                bootstrap,
                "--command-config",
                &admin,
                "--add",
                "--allow-principal",
                &writer.principal,
                "--operation",
                "Write",
                "--topic",
                topic,
            ],
        )
        .await?;
    let listed = kafka
        .run_tool(
            ACL,
            &[
                "--bootstrap-server",
                bootstrap,
                "--command-config",
                &admin,
                "--list",
                "--topic",
                topic,
            ],
        )
        .await?;
    ensure!(
        listed.contains("principal=User:CN=orders-writer") && listed.contains("operation=WRITE"),
        "{listed}"
    );

    assert_eq!(produce_one(kafka, &writer, topic).await?, Sent::Acked);
    let denied = produce_one(kafka, &intruder, topic).await?;
    ensure!(
        matches!(&denied, Sent::Failed(e) if e.contains("TopicAuthorizationException")),
        "{denied:?}"
    );
    // Exactly the one authorised message reached the log.
    assert_eq!(end_offset(kafka, topic).await?, 1);
    Ok(())
}

#[tokio::test]
async fn an_unprivileged_client_cannot_create_acls() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let mallory = kafka.client("mallory")?;
    let props = mallory.properties.display().to_string();
    let refused = kafka
        .run_tool(
            ACL,
            &[
                "--bootstrap-server",
                kafka.bootstrap(),
                "--command-config",
                &props,
                "--add",
                "--allow-principal",
                "User:CN=mallory",
                "--operation",
                "All",
                "--topic",
                "*",
            ],
        )
        .await;
    // AclCommand may report the refusal with a failing exit status or only in its output.
    let message = match refused {
        Ok(output) => output,
        Err(error) => error.to_string(),
    };
    ensure!(message.contains("ClusterAuthorizationException"), "{message}");
    let admin = kafka.admin().properties.display().to_string();
    let listed = kafka
        .run_tool(
            ACL,
            &[
                "--bootstrap-server",
                kafka.bootstrap(),
                "--command-config",
                &admin,
                "--list",
            ],
        )
        .await?;
    ensure!(!listed.contains("CN=mallory"), "mallory's ACL exists:\n{listed}");
    Ok(())
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let dir = tempfile::tempdir()?;
    let props = dir.path().join("no-cert.properties");
    std::fs::write(
        &props,
        format!(
            "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\n",
            kafka.ca_file().display()
        ),
    )?;
    let output = kafka
        .tool(TOPICS)
        .args([
            "--bootstrap-server",
            kafka.bootstrap(),
            "--list",
            "--command-config",
        ])
        .arg(&props)
        .output()
        .await?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        !output.status.success(),
        "listing topics without a client certificate succeeded:\n{all}"
    );
    ensure!(
        all.contains("SslAuthenticationException") || all.contains("SSL handshake failed"),
        "{all}"
    );
    Ok(())
}
