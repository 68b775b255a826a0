//! holt-kafka against a real Kafka 4.x broker (KRaft, StandardAuthorizer, mTLS only), checked
//! independently with Kafka's own Java tools. Every test uses its own principals and topics: they share
//! one broker.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use holt_kafka::{
    AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType, Category, Error, KafkaAcl,
    KafkaAdmin, KafkaConfig, RetryPolicy, TlsIdentity,
};
use holt_runtime::Backoff;
use holt_testenv::{CertificateAuthority, Kafka, KafkaClient, Produced};
use kafka_protocol_versions::*;

/// API keys and the versions kafka-protocol 0.18 speaks, as the broker should negotiate them.
mod kafka_protocol_versions {
    pub const METADATA: i16 = 3;
    pub const API_VERSIONS: i16 = 18;
    pub const DESCRIBE_ACLS: i16 = 29;
    pub const CREATE_ACLS: i16 = 30;
    pub const DELETE_ACLS: i16 = 31;
}

fn identity(kafka: &Kafka, client: &KafkaClient) -> anyhow::Result<TlsIdentity> {
    Ok(TlsIdentity::from_pem(
        &client.cert.cert_pem,
        &client.cert.key_pem,
        kafka.ca_pem(),
    )?)
}

fn config(kafka: &Kafka, client: &KafkaClient) -> anyhow::Result<KafkaConfig> {
    Ok(KafkaConfig::new([kafka.bootstrap()], identity(kafka, client)?))
}

async fn admin(kafka: &Kafka) -> anyhow::Result<KafkaAdmin> {
    Ok(KafkaAdmin::connect(config(kafka, kafka.admin())?).await?)
}

fn topic_acl(principal: &str, topic: &str, operation: AclOperation) -> KafkaAcl {
    KafkaAcl::allow_topic(topic, AclPatternType::Literal, principal, operation)
}

/// The lines of AclCommand's `--list` output that describe one ACL of `principal`.
/// The broker's ACLs matching `filter` once `settled` accepts them, or what it describes after 5 s. A
/// describe right after a create or delete may still answer from before it: the broker applies committed
/// ACL changes to its authorizer asynchronously.
async fn described_when(
    admin: &KafkaAdmin,
    filter: &AclFilter,
    settled: impl Fn(&BTreeSet<KafkaAcl>) -> bool,
) -> anyhow::Result<BTreeSet<KafkaAcl>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let described: BTreeSet<KafkaAcl> = admin.describe_acls(filter).await?.into_iter().collect();
        if settled(&described) || Instant::now() >= deadline {
            return Ok(described);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn listed_for(output: &str, principal: &str) -> BTreeSet<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(&format!("principal={principal},")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn negotiates_versions_and_reads_metadata_from_the_real_broker() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    // From files, as the operator reads them: the keystore holds the key followed by the certificate.
    let keystore = &kafka.admin().keystore;
    let tls = TlsIdentity::from_files(keystore, keystore, kafka.ca_file())?;
    let admin = KafkaAdmin::connect(KafkaConfig::new([kafka.bootstrap()], tls)).await?;

    let versions = admin.api_versions().await?;
    ensure!(
        versions.len() > 50,
        "a Kafka 4 broker announces many APIs: {versions:?}"
    );
    let (_, api_versions_max) = versions.range(API_VERSIONS).context("ApiVersions")?;
    ensure!(api_versions_max >= 4, "{versions:?}");
    // The codecs speak CreateAcls/DescribeAcls/DeleteAcls 1..3 and Metadata 0..13; Kafka 4.2 supports them
    // all, so the negotiated versions are the codecs' highest.
    for (key, ours) in [
        (CREATE_ACLS, 3),
        (DESCRIBE_ACLS, 3),
        (DELETE_ACLS, 3),
        (METADATA, 13),
    ] {
        let (min, max) = versions.range(key).context("the broker supports it")?;
        ensure!(min <= ours && ours <= max, "key {key}: broker {min}..{max}");
    }
    assert_eq!(
        versions.negotiate::<kafka_protocol::messages::CreateAclsRequest>(),
        Some(3)
    );
    assert_eq!(
        versions.negotiate::<kafka_protocol::messages::MetadataRequest>(),
        Some(13)
    );

    let metadata = admin.metadata().await?;
    assert_eq!(metadata.brokers.len(), 1, "{metadata:?}");
    assert_eq!(metadata.brokers[0].node_id, 1);
    assert_eq!(metadata.brokers[0].address(), kafka.bootstrap());
    ensure!(
        metadata.cluster_id.as_deref().is_some_and(|id| id.len() == 22),
        "{metadata:?}"
    );
    assert_eq!(admin.connected_to().await.as_deref(), Some(kafka.bootstrap()));
    Ok(())
}

#[tokio::test]
async fn the_broker_certificate_is_verified_against_the_name_we_expect() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    // The broker's certificate names 127.0.0.1 and localhost: both verify.
    let mut by_name = config(kafka, kafka.admin())?;
    by_name.tls_server_name = Some("localhost".to_owned());
    KafkaAdmin::connect(by_name).await?;

    let mut wrong = config(kafka, kafka.admin())?;
    wrong.tls_server_name = Some("kafka.elsewhere.example".to_owned());
    wrong.retry = RetryPolicy::none();
    let error = KafkaAdmin::connect(wrong).await.err().context("connected")?;
    eprintln!("{error}");
    assert_eq!(error.category(), Category::Tls, "{error}");
    ensure!(error.to_string().contains("certificate"), "{error}");
    ensure!(!error.is_retryable());
    Ok(())
}

#[tokio::test]
async fn created_acls_are_described_exactly_and_listed_by_kafkas_own_tool() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let admin = admin(kafka).await?;
    let principal = "User:CN=describe-check.team";
    let mut group = topic_acl(principal, "describe-check-", AclOperation::Read);
    group.resource_type = AclResourceType::Group;
    group.pattern_type = AclPatternType::Prefixed;
    let mut denied = topic_acl(principal, "describe-secret", AclOperation::All);
    denied.permission = AclPermission::Deny;
    denied.host = "10.0.0.1".to_owned();
    let wanted = BTreeSet::from([
        topic_acl(principal, "describe-orders", AclOperation::Write),
        topic_acl(principal, "describe-orders", AclOperation::Describe),
        group,
        denied,
    ]);
    let list: Vec<_> = wanted.iter().cloned().collect();
    admin.create_acls(&list).await?;
    // Creating them again is not an error.
    admin.create_acls(&list).await?;

    let described = described_when(&admin, &AclFilter::principal(principal), |d| *d == wanted).await?;
    assert_eq!(described, wanted);
    let topics_only = admin
        .describe_acls(&AclFilter {
            principal: Some(principal.to_owned()),
            resource_type: Some(AclResourceType::Topic),
            permission: Some(AclPermission::Allow),
            ..AclFilter::default()
        })
        .await?;
    assert_eq!(topics_only.len(), 2, "{topics_only:?}");

    let listed = kafka.acl_tool(&["--list", "--principal", principal]).await?;
    let lines = listed_for(&listed, principal);
    assert_eq!(lines.len(), 4, "{listed}");
    for expected in [
        "operation=WRITE, permissionType=ALLOW",
        "operation=DESCRIBE, permissionType=ALLOW",
        "operation=READ, permissionType=ALLOW",
        "host=10.0.0.1, operation=ALL, permissionType=DENY",
    ] {
        ensure!(
            lines.iter().any(|l| l.contains(expected)),
            "{expected} in {listed}"
        );
    }
    ensure!(
        listed.contains("resourceType=GROUP, name=describe-check-, patternType=PREFIXED"),
        "{listed}"
    );

    let deleted = admin.delete_acls(&[AclFilter::principal(principal)]).await?;
    assert_eq!(deleted.into_iter().collect::<BTreeSet<_>>(), wanted);
    let described = described_when(&admin, &AclFilter::principal(principal), BTreeSet::is_empty).await?;
    assert!(described.is_empty(), "{described:?}");
    let listed = kafka.acl_tool(&["--list", "--principal", principal]).await?;
    assert!(listed_for(&listed, principal).is_empty(), "{listed}");
    Ok(())
}

#[tokio::test]
async fn an_acl_we_create_really_authorises_produce_and_nothing_else() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let admin = admin(kafka).await?;
    kafka.create_topic("orders").await?;
    kafka.create_topic("payments").await?;
    let client_a = kafka.client("client-a")?;
    admin
        .create_acls(&[topic_acl(&client_a.principal, "orders", AclOperation::Write)])
        .await?;

    assert_eq!(kafka.produce_one(&client_a, "orders").await?, Produced::Acked);
    let refused = kafka.produce_one(&client_a, "payments").await?;
    ensure!(refused.is_unauthorized(), "{refused:?}");

    // Deleting the ACL takes the permission away again.
    admin
        .delete_acls(&[AclFilter::principal(&client_a.principal)])
        .await?;
    let revoked = kafka.produce_one(&client_a, "orders").await?;
    ensure!(revoked.is_unauthorized(), "{revoked:?}");
    Ok(())
}

#[tokio::test]
async fn reconcile_converges_and_never_touches_foreign_acls() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let admin = admin(kafka).await?;
    let ours = |acl: &KafkaAcl| acl.principal.starts_with("User:CN=rec-holt-");
    let foreign = "User:CN=rec-someone-else";
    // Someone else's ACLs, made with Kafka's own tool: on a topic we also manage, and one that our
    // predicate would not own even though it is on the same principal pattern's topic.
    kafka
        .acl_tool(&[
            "--add",
            "--allow-principal",
            foreign,
            "--operation",
            "Read",
            "--topic",
            "rec-orders",
        ])
        .await?;
    let foreign_before = listed_for(
        &kafka.acl_tool(&["--list", "--principal", foreign]).await?,
        foreign,
    );
    assert_eq!(foreign_before.len(), 1, "{foreign_before:?}");
    // A stale ACL of ours, from an earlier life.
    let stale = topic_acl("User:CN=rec-holt-gone.ns", "rec-orders", AclOperation::Write);
    admin.create_acls(std::slice::from_ref(&stale)).await?;
    // The broker answers CreateAcls once the controller has committed it, but DescribeAcls reads the
    // broker's copy of the metadata log, which may lag a little: each step below starts from what the
    // broker already describes, as an operator's next pass would.
    let ours_described = |wanted: BTreeSet<KafkaAcl>| {
        let admin = &admin;
        async move {
            let settled = |d: &BTreeSet<KafkaAcl>| d.iter().filter(|acl| ours(acl)).eq(wanted.iter());
            let described = described_when(admin, &AclFilter::any(), settled).await?;
            anyhow::Ok(described.into_iter().filter(ours).collect::<BTreeSet<_>>())
        }
    };
    ours_described(BTreeSet::from([stale.clone()])).await?;

    let a = "User:CN=rec-holt-a.ns";
    let mut group = topic_acl(a, "rec-group", AclOperation::Read);
    group.resource_type = AclResourceType::Group;
    let mut desired = BTreeSet::from([
        topic_acl(a, "rec-orders", AclOperation::Write),
        topic_acl(a, "rec-orders", AclOperation::Describe),
        group,
    ]);

    let first = admin.reconcile(&desired, ours).await?;
    assert_eq!(first.created, desired);
    assert_eq!(first.deleted, BTreeSet::from([stale.clone()]));
    assert_eq!(first.unchanged, 0);
    ensure!(first.foreign >= 1, "{first:?}");
    assert_eq!(ours_described(desired.clone()).await?, desired);

    let second = admin.reconcile(&desired, ours).await?;
    ensure!(
        second.is_empty(),
        "the second reconcile changed something: {second:?}"
    );
    assert_eq!(second.unchanged, 3);

    // Narrow the desired set: exactly the dropped ACL goes.
    let dropped = topic_acl(a, "rec-orders", AclOperation::Describe);
    desired.remove(&dropped);
    let third = admin.reconcile(&desired, ours).await?;
    assert!(third.created.is_empty(), "{third:?}");
    assert_eq!(third.deleted, BTreeSet::from([dropped]));
    assert_eq!(ours_described(desired.clone()).await?, desired);

    // Everything desired away: all of ours go, the foreign ACL stays.
    let fourth = admin.reconcile(&BTreeSet::new(), ours).await?;
    assert_eq!(fourth.deleted, desired);
    let ours_left = ours_described(BTreeSet::new()).await?;
    assert!(ours_left.is_empty(), "{ours_left:?}");
    let fifth = admin.reconcile(&BTreeSet::new(), ours).await?;
    ensure!(fifth.is_empty(), "{fifth:?}");

    // The foreign ACL survived every reconcile, as Kafka's own tool sees it.
    let foreign_after = listed_for(
        &kafka.acl_tool(&["--list", "--principal", foreign]).await?,
        foreign,
    );
    assert_eq!(foreign_after, foreign_before);
    Ok(())
}

#[tokio::test]
async fn a_closed_port_is_a_retryable_connect_error_within_the_timeout() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.to_string()
    };
    let mut config = KafkaConfig::new([closed.clone()], identity(kafka, kafka.admin())?);
    config.connect_timeout = Duration::from_secs(2);
    config.retry = RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::exponential(Duration::from_millis(50), Duration::from_millis(100)).with_jitter(),
    };
    let began = Instant::now();
    let error = KafkaAdmin::connect(config).await.err().context("connected")?;
    eprintln!("{error}");
    let took = began.elapsed();
    assert!(
        matches!(&error, Error::Connect { address, .. } if *address == closed),
        "{error:?}"
    );
    assert_eq!(error.category(), Category::Connect);
    assert!(error.is_retryable());
    // Three refused attempts and two back-offs (50 + 100 ms, jitter takes up to half off each), far below
    // one connect timeout.
    ensure!(took < Duration::from_secs(2), "took {took:?}");
    ensure!(took >= Duration::from_millis(75), "did not back off: {took:?}");
    Ok(())
}

#[tokio::test]
async fn a_silent_peer_is_a_retryable_timeout() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    // Accepts connections and never says a word: the TLS handshake cannot finish.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = KafkaConfig::new([address], identity(kafka, kafka.admin())?);
    config.connect_timeout = Duration::from_millis(500);
    config.retry = RetryPolicy::none();
    let began = Instant::now();
    let error = KafkaAdmin::connect(config).await.err().context("connected")?;
    eprintln!("{error}");
    silent.abort();
    assert!(
        matches!(&error, Error::Timeout { operation, .. } if operation == "TLS handshake"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    ensure!(began.elapsed() < Duration::from_secs(2), "{:?}", began.elapsed());
    Ok(())
}

#[tokio::test]
async fn a_client_certificate_the_broker_does_not_trust_is_a_tls_error() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let rogue = CertificateAuthority::new("rogue-ca")?;
    let cert = rogue.issue_client("rogue-client", None)?;
    // We trust the broker; the broker does not trust our certificate.
    let tls = TlsIdentity::from_pem(&cert.cert_pem, &cert.key_pem, kafka.ca_pem())?;
    let mut config = KafkaConfig::new([kafka.bootstrap()], tls);
    config.retry = RetryPolicy::none();
    let error = KafkaAdmin::connect(config).await.err().context("connected")?;
    eprintln!("{error}");
    assert_eq!(error.category(), Category::Tls, "{error:?}");
    ensure!(!error.is_retryable());
    Ok(())
}

#[tokio::test]
async fn a_broker_certificate_we_do_not_trust_is_a_tls_error() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let rogue = CertificateAuthority::new("other-ca")?;
    let client = kafka.admin();
    let tls = TlsIdentity::from_pem(&client.cert.cert_pem, &client.cert.key_pem, rogue.cert_pem())?;
    let mut config = KafkaConfig::new([kafka.bootstrap()], tls);
    config.retry = RetryPolicy::none();
    let error = KafkaAdmin::connect(config).await.err().context("connected")?;
    eprintln!("{error}");
    assert_eq!(error.category(), Category::Tls, "{error:?}");
    ensure!(error.to_string().contains("UnknownIssuer"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_principal_without_permission_gets_authorization_errors() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let nobody = kafka.client("not-a-super-user")?;
    let client = KafkaAdmin::connect(config(kafka, &nobody)?).await?;

    let error = client
        .describe_acls(&AclFilter::any())
        .await
        .err()
        .context("described")?;
    eprintln!("{error}");
    assert_eq!(error.category(), Category::Authorization, "{error:?}");
    let Error::Authorization { api, error: broker } = &error else {
        anyhow::bail!("{error:?}");
    };
    assert_eq!(*api, "DescribeAcls");
    assert_eq!(broker.name, "CLUSTER_AUTHORIZATION_FAILED");
    assert!(!error.is_retryable());

    let acl = topic_acl(&nobody.principal, "anything", AclOperation::All);
    let error = client
        .create_acls(std::slice::from_ref(&acl))
        .await
        .err()
        .context("created")?;
    eprintln!("{error}");
    assert_eq!(error.category(), Category::Authorization, "{error:?}");
    let Error::AclsRejected { failures, .. } = &error else {
        anyhow::bail!("{error:?}");
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].acl, acl);
    assert_eq!(failures[0].error.code, 31);

    let error = client
        .delete_acls(&[AclFilter::principal(&nobody.principal)])
        .await
        .err()
        .context("deleted")?;
    assert_eq!(error.category(), Category::Authorization, "{error:?}");

    // The super user confirms nothing was created.
    let admin = admin(kafka).await?;
    assert!(
        admin
            .describe_acls(&AclFilter::principal(&nobody.principal))
            .await?
            .is_empty()
    );
    Ok(())
}

/// A TCP forwarder to the broker whose connections the test can cut, or freeze (keep open, forward
/// nothing more).
struct Forwarder {
    address: String,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
    frozen: tokio::sync::watch::Sender<bool>,
}

impl Forwarder {
    async fn start(target: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (frozen, watch) = tokio::sync::watch::channel(false);
        let (target, held) = (target.to_owned(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, watch) = (target.clone(), watch.clone());
                let task = tokio::spawn(async move {
                    if let Ok(outbound) = tokio::net::TcpStream::connect(&target).await {
                        let (from_client, to_client) = inbound.into_split();
                        let (from_broker, to_broker) = outbound.into_split();
                        tokio::join!(
                            pump(from_client, to_broker, watch.clone()),
                            pump(from_broker, to_client, watch),
                        );
                    }
                });
                if let Ok(mut held) = held.lock() {
                    held.push(task);
                }
            }
        });
        Ok(Self {
            address,
            connections,
            accept,
            frozen,
        })
    }

    /// Stops forwarding; connections stay open.
    fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Closes every forwarded connection and stops accepting new ones.
    async fn cut(&self) {
        self.accept.abort();
        let tasks: Vec<_> = match self.connections.lock() {
            Ok(mut held) => held.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for task in tasks {
            task.abort();
            // Wait until the task, and with it both sockets, is gone.
            let _ = task.await;
        }
    }
}

/// Copies bytes one way until EOF; once frozen, holds what it read and forwards nothing more.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if *frozen.borrow() {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_broken_connection_is_reopened_to_an_advertised_broker() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let forwarder = Forwarder::start(kafka.bootstrap()).await?;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.to_string()
    };
    // A dead bootstrap address first, then one that reaches the broker through the forwarder.
    let mut config = KafkaConfig::new(
        [closed, forwarder.address.clone()],
        identity(kafka, kafka.admin())?,
    );
    config.retry = RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::exponential(Duration::from_millis(20), Duration::from_millis(100)).with_jitter(),
    };
    let admin = KafkaAdmin::connect(config.clone()).await?;
    assert_eq!(admin.connected_to().await, Some(forwarder.address.clone()));
    let principal = "User:CN=reconnect-check";
    admin
        .create_acls(&[topic_acl(principal, "reconnect", AclOperation::Read)])
        .await?;

    // The connection breaks while idle; the next request fails on it, is retried on a new connection, which
    // goes to the broker Metadata advertised rather than the bootstrap address.
    forwarder.cut().await;
    let described = admin.describe_acls(&AclFilter::principal(principal)).await?;
    assert_eq!(described.len(), 1, "{described:?}");
    assert_eq!(admin.connected_to().await.as_deref(), Some(kafka.bootstrap()));

    // Without retries the same break surfaces as a retryable connection error, and the call after it
    // reconnects.
    let forwarder = Forwarder::start(kafka.bootstrap()).await?;
    config.bootstrap = vec![forwarder.address.clone()];
    config.retry = RetryPolicy::none();
    let once = KafkaAdmin::connect(config).await?;
    forwarder.cut().await;
    let error = once
        .describe_acls(&AclFilter::principal(principal))
        .await
        .err()
        .context("described over a cut connection")?;
    eprintln!("{error}");
    assert_eq!(error.category(), Category::Connect, "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(
        once.describe_acls(&AclFilter::principal(principal)).await?.len(),
        1
    );

    admin.delete_acls(&[AclFilter::principal(principal)]).await?;
    Ok(())
}

#[tokio::test]
async fn a_broker_that_stops_answering_is_a_timeout_and_the_connection_is_replaced() -> anyhow::Result<()> {
    let kafka = Kafka::shared().await?;
    let forwarder = Forwarder::start(kafka.bootstrap()).await?;
    let mut config = KafkaConfig::new([forwarder.address.clone()], identity(kafka, kafka.admin())?);
    config.request_timeout = Duration::from_secs(1);
    config.retry = RetryPolicy::none();
    let admin = KafkaAdmin::connect(config).await?;
    assert_eq!(admin.connected_to().await, Some(forwarder.address.clone()));

    forwarder.freeze();
    let began = Instant::now();
    let error = admin
        .describe_acls(&AclFilter::any())
        .await
        .err()
        .context("described through a frozen connection")?;
    let took = began.elapsed();
    eprintln!("{error}");
    assert!(
        matches!(&error, Error::Timeout { operation, after, .. }
            if operation == "DescribeAcls" && *after == Duration::from_secs(1)),
        "{error:?}"
    );
    assert!(error.is_retryable());
    ensure!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "took {took:?}"
    );

    // The timed-out connection is dropped (a late answer must never be read as the next one's); the next
    // call connects afresh, to the broker Metadata advertised.
    admin
        .describe_acls(&AclFilter::principal("User:CN=nobody-at-all"))
        .await?;
    assert_eq!(admin.connected_to().await.as_deref(), Some(kafka.bootstrap()));
    forwarder.cut().await;
    Ok(())
}
