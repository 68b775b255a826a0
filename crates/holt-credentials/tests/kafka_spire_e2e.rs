//! End to end with Kafka and SPIRE: the credentials operator (`spire`) issues X.509-SVIDs from the real SPIRE
//! server to `client`, `stranger` and the intents operator's own workload; a real broker trusts the SPIRE
//! bundle and takes the intents operator's SVID as a super user; the intents operator, reaching the broker
//! with that SVID, writes `client → topic orders [produce]` as ACLs, and `client`'s SVID then produces to
//! `orders`, is refused on a topic it did not declare, and `stranger` (no intents) is refused everywhere.
//!
//! The SVIDs' subject is the CSR's, `CN=<workload>.<namespace>` only (the server's `MintX509SVID` keeps it;
//! no `O=SPIRE,C=US`), so the principals are the same as with the built-in CA: `User:CN=client.<ns>`, the
//! intents operator deriving the suffix from its own SVID (none).

mod support;

use anyhow::{Context, ensure};
use holt_credentials::provider::spire::{SpiffeId, Spire, SpireAddress};
use holt_testenv::{Kafka, KafkaOptions, SpireServer, install_crds_without_conversion};
use support::kafka_intents::{
    assert_declared_topic_only, declare_client_produces, kafka_client, keystore, start_intents_operator,
};
use support::{Running, Scene, certificates, file, names};

const SECRET: &str = "credentials-operator.otterize.com/tls-secret-name";

#[tokio::test]
async fn a_spire_svid_produces_to_its_declared_topic_only() -> anyhow::Result<()> {
    let server = SpireServer::shared().await?;
    let scene = Scene::new("kafka-spire").await?;
    install_crds_without_conversion(&scene.client, &holt_api::crds::crds_yaml()?).await?;
    let ns = scene.namespace.clone();

    // SVIDs for `client`, `stranger` and the intents operator's own workload.
    let address = SpireAddress::parse(&format!("unix://{}", server.socket_path().display()))?;
    let parent = SpiffeId::parse(&format!(
        "spiffe://{}/holt/kafka-{}",
        server.trust_domain(),
        std::process::id()
    ))?;
    let mut options = scene.options();
    options.trust_domain = holt_credentials::subject::TrustDomain::new(server.trust_domain())?;
    options.spire = Some(Spire::connect(&address, parent)?);
    let credentials = Running::start(&scene.client, options).await?;
    for name in ["client", "stranger", "intents-operator"] {
        scene
            .deployment(name, 1, &[(SECRET, &format!("{name}-tls"))])
            .await?;
    }
    let client_secret = scene.secret_with("client-tls", "cert.pem").await?;
    let stranger_secret = scene.secret_with("stranger-tls", "cert.pem").await?;
    let operator_secret = scene.secret_with("intents-operator-tls", "cert.pem").await?;
    let leaf = certificates(file(&client_secret, "cert.pem")?)?
        .into_iter()
        .next()
        .context("a certificate")?;
    let (subject, _, _) = names(&leaf)?;
    ensure!(
        subject == format!("CN=client.{ns}"),
        "the minted subject: {subject}"
    );

    // A broker of this test's own that trusts the SPIRE bundle and takes the intents operator's SVID as a
    // super user (restarted to read both again).
    let mut kafka = Kafka::start(KafkaOptions::default()).await?;
    let mut truststore = std::fs::read_to_string(kafka.ca_file())?;
    truststore.push_str(std::str::from_utf8(file(&client_secret, "ca.pem")?)?);
    std::fs::write(kafka.ca_file(), truststore)?;
    let operator_principal = format!("User:CN=intents-operator.{ns}");
    let properties = kafka.dir().join("server.properties");
    let config = std::fs::read_to_string(&properties)?;
    let config = config
        .lines()
        .map(|line| match line.starts_with("super.users=") {
            true => format!("{line};{operator_principal}"),
            false => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&properties, config + "\n")?;
    kafka.stop();
    kafka.restart().await?;
    let orders = format!("{ns}-orders");
    let payments = format!("{ns}-payments");
    kafka.create_topic(&orders).await?;
    kafka.create_topic(&payments).await?;

    // The intents operator reaches the broker with its SVID.
    let dir = tempfile::tempdir()?;
    let operator_keystore = keystore(dir.path(), "intents-operator", &operator_secret)?
        .display()
        .to_string();
    let operator = start_intents_operator(&scene.client, &ns).await?;
    declare_client_produces(&scene.client, &ns, &kafka, &operator_keystore, &orders).await?;

    let as_client = kafka_client(dir.path(), "client", &client_secret, &kafka)?;
    let as_stranger = kafka_client(dir.path(), "stranger", &stranger_secret, &kafka)?;
    assert_declared_topic_only(&kafka, &as_client, &as_stranger, &orders, &payments).await?;
    let acls = kafka.acl_tool(&["--list", "--topic", &orders]).await?;
    ensure!(
        acls.contains(&format!("principal=User:CN=client.{ns},")),
        "the ACL names the SVID's subject: {acls}"
    );
    operator.abort();
    credentials.task.abort();
    Ok(())
}
