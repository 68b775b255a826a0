//! The harness's Kafka broker as the Kafka tests see it: its ACLs read by Holt's own admin client, and the
//! KafkaServerConfig that points the operator at it.

use std::collections::BTreeSet;

use holt_api::v2beta1::{KafkaServerConfig, KafkaServerConfigSpec, KafkaTls, Workload};
use holt_kafka::{AclFilter, AclOperation, AclPatternType, KafkaAcl, KafkaAdmin, KafkaConfig, TlsIdentity};
use holt_testenv::Kafka;

use super::meta;

/// An admin connection to the broker as its super user.
pub async fn admin(kafka: &Kafka) -> KafkaAdmin {
    let keystore = &kafka.admin().keystore;
    let tls = TlsIdentity::from_files(keystore, keystore, kafka.ca_file()).expect("admin TLS");
    KafkaAdmin::connect(KafkaConfig::new([kafka.bootstrap()], tls))
        .await
        .expect("admin connection")
}

/// The broker's ACLs for `principal`, read by our own admin client.
pub async fn acls_of(kafka: &Kafka, principal: &str) -> BTreeSet<KafkaAcl> {
    admin(kafka)
        .await
        .describe_acls(&AclFilter::principal(principal))
        .await
        .expect("describe ACLs")
        .into_iter()
        .collect()
}

/// An ALLOW ACL for `principal` on the literal topic `topic`.
pub fn topic_acl(principal: &str, topic: &str, operation: AclOperation) -> KafkaAcl {
    KafkaAcl::allow_topic(topic, AclPatternType::Literal, principal, operation)
}

/// A KafkaServerConfig for the broker workload `kafka`, reached with the broker's super-user certificate.
pub fn server_config(ns: &str, kafka: &Kafka) -> KafkaServerConfig {
    let keystore = kafka.admin().keystore.display().to_string();
    KafkaServerConfig {
        metadata: meta(ns, "kafka-config"),
        spec: KafkaServerConfigSpec {
            workload: Workload {
                name: "kafka".into(),
                kind: None,
            },
            addr: Some(kafka.bootstrap().to_owned()),
            no_auto_create_intents_for_operator: false,
            tls: Some(KafkaTls {
                cert_file: keystore.clone(),
                key_file: keystore,
                root_ca_file: kafka.ca_file().display().to_string(),
            }),
            topics: vec![],
        },
        status: None,
    }
}
