//! Switching from the reference operator to Holt on a real Kafka broker: the ACLs the reference created for
//! intents Holt now serves are adopted (recorded in Holt's ledger, so Holt removes them when the intents go),
//! and the reference's ACLs Holt does not want are left alone (they carry no owner mark: see
//! docs/migrating-from-otterize.md).
//!
//! The reference's operator is not built in this harness: its ACLs are written here as it writes them for a
//! client's topic intents — principal `User:CN=<client>.<namespace>` (no certificate suffix here), `produce`
//! as WRITE and `consume` as READ on the literal topic.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use holt_api::v2beta1::{ClientIntents, KafkaOperation, KafkaServerConfig, KafkaTarget, KafkaTopic, Target};
use holt_kafka::{AclOperation, KafkaAcl};
use holt_model::Mode;
use holt_operator::controller::Options;
use holt_operator::kafka::KafkaSettings;
use holt_operator::kafka::ledger::Ledger;
use holt_testenv::Kafka;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use support::kafka_broker::{acls_of, admin, server_config, topic_acl};
use support::*;

fn kafka_intents(ns: &str, topic: &str) -> ClientIntents {
    let mut intents = intents(ns, "client", "unused");
    intents.spec.targets = vec![Target {
        kafka: Some(KafkaTarget {
            name: "kafka".into(),
            topics: vec![KafkaTopic {
                name: topic.to_owned(),
                operations: vec![KafkaOperation::Produce, KafkaOperation::Consume],
            }],
        }),
        ..Default::default()
    }];
    intents
}

/// The ACLs of the ledger ConfigMaps in `ns` (Holt's record of what it owns on the broker).
async fn ledger_acls(client: &Client, ns: &str) -> Option<BTreeSet<KafkaAcl>> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let list = maps
        .list(&ListParams::default().labels("holt.otterize.com/kafka-acl-ledger=true"))
        .await
        .ok()?;
    let text = list.items.into_iter().next()?.data?.remove("ledger.json")?;
    let ledger: Ledger = serde_json::from_str(&text).ok()?;
    Some(ledger.acls)
}

#[tokio::test]
async fn the_references_acls_for_served_intents_are_adopted_and_removed_with_the_intents() {
    let (client, plane) = cluster().await;
    let kafka = Kafka::shared().await.expect("kafka");
    let ns = plane
        .create_namespace(&client, "migrate-kafka")
        .await
        .expect("namespace");
    deployment(&client, &ns, "client").await;
    let (orders, retired) = (format!("{ns}-orders"), format!("{ns}-retired"));
    kafka.create_topic(&orders).await.expect("topic");
    let principal = format!("User:CN=client.{ns}");

    // Before: what the reference left — the client's grant for its intents, and a grant for a topic its
    // intents no longer name.
    let write = topic_acl(&principal, &orders, AclOperation::Write);
    let read = topic_acl(&principal, &orders, AclOperation::Read);
    let stale = topic_acl(&principal, &retired, AclOperation::Read);
    admin(kafka)
        .await
        .create_acls(&[write.clone(), read.clone(), stale.clone()])
        .await
        .expect("the reference's ACLs");
    // Described by the broker before Holt starts (DescribeAcls may lag CreateAcls a little).
    let left = BTreeSet::from([write.clone(), read.clone(), stale.clone()]);
    eventually("the reference's ACLs described", || async {
        (acls_of(kafka, &principal).await == left).then_some(())
    })
    .await;
    Api::<KafkaServerConfig>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &server_config(&ns, kafka))
        .await
        .expect("KafkaServerConfig");
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &kafka_intents(&ns, &orders))
        .await
        .expect("intents");

    // Holt starts with the same values.
    let options = Options {
        kafka: KafkaSettings {
            ledger_namespace: ns.clone(),
            first_retry: Duration::from_millis(200),
            max_retry: Duration::from_secs(2),
            ..KafkaSettings::default()
        },
        ..Options::default()
    };
    let operator = Operator::start_with(&client, &ns, Mode::DefaultActive, options).await;
    let granted = BTreeSet::from([write.clone(), read.clone()]);
    let owned = eventually("the reference's grant recorded as Holt's", || async {
        let acls = ledger_acls(&client, &ns).await?;
        granted.is_subset(&acls).then_some(acls)
    })
    .await;
    // Exactly what a fresh install records for this client (plus the broker's server defaults).
    let client_owned: BTreeSet<KafkaAcl> = owned
        .into_iter()
        .filter(|acl| acl.principal == principal)
        .collect();
    assert_eq!(
        client_owned, granted,
        "no duplicate, and the stale grant is not Holt's"
    );
    // Nothing was lost on the way: the grant is there, unchanged.
    assert_eq!(
        acls_of(kafka, &principal).await,
        BTreeSet::from([write.clone(), read.clone(), stale.clone()])
    );

    // Holt owns the adopted grant: deleting the intents removes it; the stale one is left alone.
    api.delete("client", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the adopted grant removed with the intents", || async {
        (acls_of(kafka, &principal).await == BTreeSet::from([stale.clone()])).then_some(())
    })
    .await;
    operator.stop();
}
