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

/// Runs one of Kafka's Java tools `class` against the broker as `client` (its certificate, over mTLS).
async fn run_as(
    kafka: &Kafka,
    client: &KafkaClient,
    class: &str,
    args: &[&str],
) -> Result<String, holt_testenv::Error> {
    let properties = client.properties.display().to_string();
    let mut all = vec![
        "--bootstrap-server",
        kafka.bootstrap(),
        "--command-config",
        &properties,
    ];
    all.extend_from_slice(args);
    kafka.run_tool(class, &all).await
}

/// AclCommand's arguments adding an ACL that allows `principal` the `operation` on `topic`.
fn allow<'a>(principal: &'a str, operation: &'a str, topic: &'a str) -> [&'a str; 7] {
    [
        "--add",
        "--allow-principal",
        principal,
        "--operation",
        operation,
        "--topic",
        topic,
    ]
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
    let out = run_as(kafka, kafka.admin(), OFFSETS, &["--topic", topic]).await?;
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{topic}:0:")))
        .context(out.clone())?;
    Ok(line.rsplit(':').next().context("offset")?.trim().parse()?)
}

#[tokio::test]
async fn acl_created_over_mtls_denies_unauthorised_produce_and_allows_authorised() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let topic = "orders";
    run_as(kafka, kafka.admin(), TOPICS, &["--create", "--topic", topic]).await?;
    let writer = kafka.client("orders-writer")?;
    let intruder = kafka.client("intruder")?;

    // No ACL yet, and allow.everyone.if.no.acl.found=false: nobody but the super user may write.
    let before = produce_one(kafka, &writer, topic).await?;
    ensure!(
        matches!(&before, Sent::Failed(e) if e.contains("TopicAuthorizationException")),
        "{before:?}"
    );

    // The super user creates the ACL over the mTLS listener.
    run_as(
        kafka,
        kafka.admin(),
        ACL,
        &allow(&writer.principal, "Write", topic),
    )
    .await?;
    let listed = run_as(kafka, kafka.admin(), ACL, &["--list", "--topic", topic]).await?;
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
    let refused = run_as(kafka, &mallory, ACL, &allow("User:CN=mallory", "All", "*")).await;
    // AclCommand may report the refusal with a failing exit status or only in its output.
    let message = match refused {
        Ok(output) => output,
        Err(error) => error.to_string(),
    };
    ensure!(message.contains("ClusterAuthorizationException"), "{message}");
    let listed = run_as(kafka, kafka.admin(), ACL, &["--list"]).await?;
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
