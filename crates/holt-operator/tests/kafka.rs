//! Kafka ACLs from intents on a real Kafka 4 broker (KRaft, StandardAuthorizer, mTLS) and a real
//! kube-apiserver: what the operator grants really authorises the client and nothing more, ACLs it did not
//! create survive, shadow mode and ProtectedService gate ACLs as they gate NetworkPolicies, and a broker
//! that crashes is reported and converged after it returns, with nothing lost.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use holt_api::v2beta1::{
    ClientIntents, KafkaOperation, KafkaServerConfig, KafkaTarget, KafkaTopic, ProtectedService,
    ProtectedServiceSpec, Target,
};
use holt_kafka::{AclFilter, AclOperation, AclPermission};
use holt_model::Mode;
use holt_operator::controller::Options;
use holt_operator::kafka::KafkaSettings;
use holt_testenv::{Kafka, KafkaOptions, Produced};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use support::kafka_broker::{acls_of, admin, server_config, topic_acl};
use support::*;

fn options(namespace: &str) -> Options {
    Options {
        kafka: KafkaSettings {
            ledger_namespace: namespace.to_owned(),
            first_retry: Duration::from_millis(200),
            max_retry: Duration::from_secs(2),
            ..KafkaSettings::default()
        },
        // These tests are about ACLs Holt finds and must leave alone; adopting the reference operator's ACLs
        // at the switch is tested in tests/migration_kafka.rs.
        adopt_reference_objects: false,
        ..Options::default()
    }
}

fn kafka_target(topics: &[(&str, KafkaOperation)]) -> Target {
    Target {
        kafka: Some(KafkaTarget {
            name: "kafka".into(),
            topics: topics
                .iter()
                .map(|(name, operation)| KafkaTopic {
                    name: (*name).to_owned(),
                    operations: vec![*operation],
                })
                .collect(),
        }),
        ..Default::default()
    }
}

fn kafka_intents(ns: &str, topics: &[(&str, KafkaOperation)]) -> ClientIntents {
    let mut intents = intents(ns, "client", "unused");
    intents.spec.targets = vec![kafka_target(topics)];
    intents
}

/// The `Ready` condition's (status, reason) once the status is for the current generation.
async fn ready(api: &Api<ClientIntents>, name: &str) -> Option<(String, String, bool)> {
    let intents = api.get(name).await.ok()?;
    let status = intents.status?;
    if Some(status.observed_generation) != intents.metadata.generation {
        return None;
    }
    let ready = status.conditions.into_iter().find(|c| c.type_ == "Ready")?;
    Some((ready.status, ready.reason, status.up_to_date))
}

async fn event_on_config(client: &Client, ns: &str, reason: &str) -> Option<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    let list = events.list(&ListParams::default()).await.ok()?;
    list.items.into_iter().find_map(|e| {
        let regarding = e.regarding?;
        (e.reason.as_deref() == Some(reason) && regarding.kind.as_deref() == Some("KafkaServerConfig"))
            .then(|| e.note.unwrap_or_default())
    })
}

#[tokio::test]
async fn intents_become_acls_that_authorise_exactly_the_declared_topic_and_foreign_acls_survive() {
    let (client, plane) = cluster().await;
    let kafka = Kafka::shared().await.expect("kafka");
    let ns = plane
        .create_namespace(&client, "kafka-acls")
        .await
        .expect("namespace");
    deployment(&client, &ns, "client").await;
    let (orders, payments) = (format!("{ns}-orders"), format!("{ns}-payments"));
    kafka.create_topic(&orders).await.expect("topic");
    kafka.create_topic(&payments).await.expect("topic");
    let principal = format!("User:CN=client.{ns}");
    let client_cert = kafka.client(&format!("client.{ns}")).expect("client certificate");

    // Before Holt: someone else's ACL, and one equal to an ACL Holt will want (it is not Holt's).
    let someone = format!("User:CN=someone-else.{ns}");
    let preexisting = topic_acl(&principal, &orders, AclOperation::Read);
    let foreign = topic_acl(&someone, &orders, AclOperation::Read);
    admin(kafka)
        .await
        .create_acls(&[preexisting.clone(), foreign.clone()])
        .await
        .expect("foreign ACLs");
    // Described by the broker before Holt starts (DescribeAcls may lag CreateAcls a little): Holt's first
    // look at the broker must find them there, as it would in a cluster.
    eventually("the ACLs made before Holt described", || async {
        (acls_of(kafka, &principal).await == BTreeSet::from([preexisting.clone()])
            && acls_of(kafka, &someone).await == BTreeSet::from([foreign.clone()]))
        .then_some(())
    })
    .await;

    let operator = Operator::start_with(&client, &ns, Mode::DefaultActive, options(&ns)).await;
    Api::<KafkaServerConfig>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &server_config(&ns, kafka))
        .await
        .expect("KafkaServerConfig");
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    let declared = [
        (orders.as_str(), KafkaOperation::Produce),
        (orders.as_str(), KafkaOperation::Consume),
    ];
    api.create(&PostParams::default(), &kafka_intents(&ns, &declared))
        .await
        .expect("intents");

    let (reason, up_to_date) = eventually("intents ready", || async {
        ready(&api, "client")
            .await
            .filter(|(s, _, _)| s == "True")
            .map(|(_, reason, up_to_date)| (reason, up_to_date))
    })
    .await;
    assert_eq!((reason.as_str(), up_to_date), ("Applied", true));
    // The broker applies committed ACL changes to its authorizer asynchronously: read until they show.
    let write = topic_acl(&principal, &orders, AclOperation::Write);
    let granted = BTreeSet::from([write.clone(), preexisting.clone()]);
    eventually("the declared produce and consume, nothing more", || async {
        (acls_of(kafka, &principal).await == granted).then_some(())
    })
    .await;
    eventually("the server default refusing anonymous clients", || async {
        acls_of(kafka, "User:ANONYMOUS")
            .await
            .iter()
            .any(|a| a.resource_name == "*" && a.permission == AclPermission::Deny)
            .then_some(())
    })
    .await;
    // Kafka's own AclCommand (the Java AdminClient) sees the same ACL.
    let listed = kafka
        .acl_tool(&["--list", "--principal", &principal])
        .await
        .expect("AclCommand");
    assert!(
        listed.contains(&format!(
            "(principal={principal}, host=*, operation=WRITE, permissionType=ALLOW)"
        )),
        "{listed}"
    );
    // The grant really authorises the declared topic, and only that one.
    assert_eq!(
        kafka.produce_one(&client_cert, &orders).await.expect("produce"),
        Produced::Acked
    );
    let refused = kafka.produce_one(&client_cert, &payments).await.expect("produce");
    assert!(refused.is_unauthorized(), "{refused:?}");
    let note = eventually("an AppliedKafkaACLs Event", || {
        event_on_config(&client, &ns, "AppliedKafkaACLs")
    })
    .await;
    assert!(note.contains("created"), "{note}");

    // Deleting the intents removes what Holt granted; what it found there stays.
    api.delete("client", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the client's grant removed", || async {
        (acls_of(kafka, &principal).await == BTreeSet::from([preexisting.clone()])).then_some(())
    })
    .await;
    assert_eq!(acls_of(kafka, &someone).await, BTreeSet::from([foreign.clone()]));

    assert_eq!(operator.progress.borrow().kafka_broker_tasks, 1);
    // Deleting the KafkaServerConfig removes the server defaults Holt created, and its ledger.
    Api::<KafkaServerConfig>::namespaced(client.clone(), &ns)
        .delete("kafka-config", &DeleteParams::default())
        .await
        .expect("delete KafkaServerConfig");
    let ledgers: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    eventually("the ledger removed", || async {
        let list = ledgers
            .list(&ListParams::default().labels("holt.otterize.com/kafka-acl-ledger=true"))
            .await
            .ok()?;
        list.items.is_empty().then_some(())
    })
    .await;
    eventually("the server defaults removed", || async {
        acls_of(kafka, "User:ANONYMOUS").await.is_empty().then_some(())
    })
    .await;
    // With nothing of Holt's left on the broker, its task ends.
    eventually("the broker's task ended", || async {
        (operator.progress.borrow().kafka_broker_tasks == 0).then_some(())
    })
    .await;
    // ... and stays ended: no new job for a broker with nothing to do.
    let reconciles = operator.progress.borrow().kafka_reconciles;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let progress = operator.progress.borrow().clone();
    assert_eq!(
        (progress.kafka_reconciles, progress.kafka_broker_tasks),
        (reconciles, 0)
    );
    assert_eq!(acls_of(kafka, &someone).await, BTreeSet::from([foreign]));
    assert_eq!(acls_of(kafka, &principal).await, BTreeSet::from([preexisting]));
    operator.stop();
}

#[tokio::test]
async fn shadow_mode_gates_acls_and_a_crashed_broker_converges_with_nothing_lost() {
    let (client, plane) = cluster().await;
    // A broker of its own: it is killed and restarted.
    let mut kafka = Kafka::start(KafkaOptions::default()).await.expect("kafka");
    let ns = plane
        .create_namespace(&client, "kafka-shadow")
        .await
        .expect("namespace");
    deployment(&client, &ns, "client").await;
    let principal = format!("User:CN=client.{ns}");
    let operator = Operator::start_with(&client, &ns, Mode::DefaultShadow, options(&ns)).await;
    Api::<KafkaServerConfig>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &server_config(&ns, &kafka))
        .await
        .expect("KafkaServerConfig");
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(
        &PostParams::default(),
        &kafka_intents(&ns, &[("orders", KafkaOperation::Produce)]),
    )
    .await
    .expect("intents");

    // Shadow mode: nothing on the broker, the intents say why.
    eventually("intents ready", || async {
        ready(&api, "client").await.filter(|(s, _, _)| s == "True")
    })
    .await;
    let status = api.get("client").await.expect("intents").status.expect("status");
    let enforced = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Enforced")
        .expect("Enforced");
    assert_eq!(enforced.reason, "Shadow");
    // The broker applies ACL changes asynchronously: after the broker's first reconcile, the broker must
    // show none for a while, not just once.
    eventually("a Kafka reconcile", || async {
        (operator.progress.borrow().kafka_reconciles >= 1).then_some(())
    })
    .await;
    let admin_client = admin(&kafka).await;
    for _ in 0..10 {
        let all = admin_client
            .describe_acls(&AclFilter::any())
            .await
            .expect("describe");
        assert!(all.is_empty(), "shadow mode writes no ACL: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Protecting the broker enforces it: the client's grant appears.
    let protect = ProtectedService {
        metadata: meta(&ns, "protect-kafka"),
        spec: ProtectedServiceSpec {
            name: "kafka".into(),
            kind: None,
        },
        status: None,
    };
    let protected: Api<ProtectedService> = Api::namespaced(client.clone(), &ns);
    protected
        .create(&PostParams::default(), &protect)
        .await
        .expect("ProtectedService");
    let write_orders = topic_acl(&principal, "orders", AclOperation::Write);
    eventually("the grant once protected", || async {
        acls_of(&kafka, &principal)
            .await
            .contains(&write_orders)
            .then_some(())
    })
    .await;

    // The broker crashes; a change arrives meanwhile: reported, and retried.
    kafka.stop();
    let more = [
        ("orders", KafkaOperation::Produce),
        ("audit", KafkaOperation::Consume),
    ];
    let mut changed = kafka_intents(&ns, &more);
    changed.metadata.resource_version = None;
    api.patch(
        "client",
        &PatchParams::apply("holt-test").force(),
        &Patch::Apply(&serde_json::json!({
            "apiVersion": "k8s.otterize.com/v2beta1",
            "kind": "ClientIntents",
            "spec": changed.spec,
        })),
    )
    .await
    .expect("change intents");
    // First `ApplyingKafkaACLs` while the job is pending, then the failure once the connection is refused.
    let (_, _, up_to_date) = eventually("the unreachable broker reported", || async {
        ready(&api, "client")
            .await
            .filter(|(s, reason, _)| s == "False" && reason == "CouldNotConnectToKafkaServer")
    })
    .await;
    assert!(!up_to_date);
    let note = eventually("a CouldNotConnectToKafkaServer Event", || {
        event_on_config(&client, &ns, "CouldNotConnectToKafkaServer")
    })
    .await;
    assert!(note.contains(kafka.bootstrap()), "{note}");

    kafka.restart().await.expect("broker back");
    let read_audit = topic_acl(&principal, "audit", AclOperation::Read);
    eventually("converged after the restart", || async {
        (acls_of(&kafka, &principal).await == BTreeSet::from([write_orders.clone(), read_audit.clone()]))
            .then_some(())
    })
    .await;
    eventually("intents ready again", || async {
        ready(&api, "client").await.filter(|(s, _, _)| s == "True")
    })
    .await;

    // Unprotected again: the grant goes, as a NetworkPolicy would.
    protected
        .delete("protect-kafka", &DeleteParams::default())
        .await
        .expect("delete ProtectedService");
    eventually("the grant removed in shadow mode", || async {
        acls_of(&kafka, &principal).await.is_empty().then_some(())
    })
    .await;
    operator.stop();
}
