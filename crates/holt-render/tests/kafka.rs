//! Kafka ACL sets (docs/reference-behaviour.md#kafka-acls).

mod common;

use std::collections::BTreeSet;

use common::*;
use holt_api::v2beta1::{KafkaOperation, KafkaTopicConfig, TopicPattern};
use holt_model::{Config, Index, ObjectKey};
use holt_render::Reason;
use holt_render::kafka::{
    AclOperation, AclPatternType, AclPermission, AclResourceType, KafkaAcl, KafkaOptions, render_broker,
};
use pretty_assertions::assert_eq;

fn acl(
    resource_type: AclResourceType,
    name: &str,
    pattern: AclPatternType,
    principal: &str,
    operation: AclOperation,
    permission: AclPermission,
) -> KafkaAcl {
    KafkaAcl {
        resource_type,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: principal.into(),
        host: "*".into(),
        operation,
        permission,
    }
}

fn topic(name: &str, principal: &str, operation: AclOperation) -> KafkaAcl {
    acl(
        AclResourceType::Topic,
        name,
        AclPatternType::Literal,
        principal,
        operation,
        AclPermission::Allow,
    )
}

fn group_wildcard() -> [KafkaAcl; 2] {
    [AclOperation::Describe, AclOperation::Read].map(|op| {
        acl(
            AclResourceType::Group,
            "*",
            AclPatternType::Literal,
            "User:*",
            op,
            AclPermission::Allow,
        )
    })
}

fn orders(config: Config, topics: Vec<KafkaTopicConfig>) -> Index {
    index(
        config,
        vec![
            kafka_config("kafka", "kafka", topics),
            intents_v2(
                "shop",
                "producer",
                vec![kafka(
                    "kafka.kafka",
                    &[("orders", &[KafkaOperation::Produce, KafkaOperation::Describe])],
                )],
            ),
            intents_v2(
                "web",
                "consumer",
                vec![kafka("kafka.kafka", &[("orders", &[KafkaOperation::Consume])])],
            ),
        ],
    )
}

fn acls(index: &Index, options: &KafkaOptions) -> BTreeSet<KafkaAcl> {
    render_broker(index, &id("kafka", "kafka", None), options)
        .value
        .expect("broker known")
        .acls
}

#[test]
fn clients_get_topic_acls_and_the_default_server_config_denies_anonymous_users() {
    let index = orders(Config::default(), vec![]);
    let rendered = render_broker(&index, &id("kafka", "kafka", None), &KafkaOptions::default());
    let value = rendered.value.expect("broker known");
    assert_eq!(value.configs, vec![ObjectKey::new("kafka", "kafka")]);
    let mut expected: BTreeSet<KafkaAcl> = [
        topic("orders", "User:CN=producer.shop", AclOperation::Write),
        topic("orders", "User:CN=producer.shop", AclOperation::Describe),
        topic("orders", "User:CN=consumer.web", AclOperation::Read),
        acl(
            AclResourceType::Topic,
            "*",
            AclPatternType::Literal,
            "User:ANONYMOUS",
            AclOperation::All,
            AclPermission::Deny,
        ),
    ]
    .into();
    expected.extend(group_wildcard());
    assert_eq!(value.acls, expected);
    assert!(rendered.notices.is_empty(), "{:?}", rendered.notices);
}

#[test]
fn topic_configs_allow_anonymous_and_everyone_when_not_required() {
    let topics = vec![
        KafkaTopicConfig {
            topic: "public-".into(),
            pattern: TopicPattern::Prefix,
            client_identity_required: false,
            intents_required: false,
        },
        KafkaTopicConfig {
            topic: "orders".into(),
            pattern: TopicPattern::Literal,
            client_identity_required: true,
            intents_required: false,
        },
    ];
    let all = acls(&orders(Config::default(), topics), &KafkaOptions::default());
    let server: BTreeSet<&KafkaAcl> = all
        .iter()
        .filter(|a| !a.principal.starts_with("User:CN=") && a.resource_type == AclResourceType::Topic)
        .collect();
    let expected = [
        acl(
            AclResourceType::Topic,
            "public-",
            AclPatternType::Prefixed,
            "User:ANONYMOUS",
            AclOperation::All,
            AclPermission::Allow,
        ),
        acl(
            AclResourceType::Topic,
            "public-",
            AclPatternType::Prefixed,
            "User:*",
            AclOperation::All,
            AclPermission::Allow,
        ),
        acl(
            AclResourceType::Topic,
            "orders",
            AclPatternType::Literal,
            "User:ANONYMOUS",
            AclOperation::All,
            AclPermission::Deny,
        ),
        acl(
            AclResourceType::Topic,
            "orders",
            AclPatternType::Literal,
            "User:*",
            AclOperation::All,
            AclPermission::Allow,
        ),
    ];
    assert_eq!(server, expected.iter().collect());
}

#[test]
fn principals_carry_the_rdn_suffix_and_the_operator_may_manage_topics() {
    let operator = id("holt-system", "holt-operator", None);
    let options = KafkaOptions {
        principal_rdn_suffix: ",O=SPIRE,C=US".into(),
        operator: Some(operator),
    };
    let all = acls(&orders(Config::default(), vec![]), &options);
    assert!(all.contains(&topic(
        "orders",
        "User:CN=consumer.web,O=SPIRE,C=US",
        AclOperation::Read
    )));
    assert!(all.contains(&topic(
        "*",
        "User:CN=holt-operator.holt-system,O=SPIRE,C=US",
        AclOperation::Describe
    )));
    assert!(all.contains(&topic(
        "*",
        "User:CN=holt-operator.holt-system,O=SPIRE,C=US",
        AclOperation::Alter
    )));

    let mut index = orders(Config::default(), vec![]);
    let mut config = holt_api::v2beta1::KafkaServerConfig {
        metadata: meta("kafka", "kafka"),
        spec: Default::default(),
        status: None,
    };
    config.spec.workload.name = "kafka".into();
    config.spec.no_auto_create_intents_for_operator = true;
    index.apply(holt_model::Object::KafkaServerConfig(config));
    let all = acls(&index, &options);
    assert!(
        all.iter().all(|a| !a.principal.contains("holt-operator")),
        "{all:?}"
    );
}

#[test]
fn disabled_acl_creation_renders_an_empty_set_and_says_so() {
    let config = Config {
        enable_kafka_acl_creation: false,
        ..Config::default()
    };
    let index = orders(config, vec![]);
    let rendered = render_broker(&index, &id("kafka", "kafka", None), &KafkaOptions::default());
    assert!(rendered.value.expect("broker known").acls.is_empty());
    assert_eq!(rendered.notices[0].reason, Reason::KafkaACLCreationDisabled);
}

#[test]
fn shadow_brokers_get_no_acls_until_protected() {
    assert!(acls(&orders(shadow(), vec![]), &KafkaOptions::default()).is_empty());
    let mut index = orders(shadow(), vec![]);
    index.apply(protected("kafka", "kafka", None));
    let all = acls(&index, &KafkaOptions::default());
    assert!(all.contains(&topic("orders", "User:CN=consumer.web", AclOperation::Read)));
}

#[test]
fn brokers_without_server_config_are_reported_but_client_acls_are_computed() {
    let index = index(
        Config::default(),
        vec![intents_v2(
            "shop",
            "producer",
            vec![kafka("kafka.kafka", &[("orders", &[KafkaOperation::Produce])])],
        )],
    );
    let rendered = render_broker(&index, &id("kafka", "kafka", None), &KafkaOptions::default());
    let value = rendered.value.expect("broker known");
    assert!(value.configs.is_empty(), "cannot be applied");
    assert_eq!(
        value.acls,
        BTreeSet::from([topic("orders", "User:CN=producer.shop", AclOperation::Write)])
    );
    assert_eq!(rendered.notices.len(), 1);
    assert_eq!(rendered.notices[0].reason, Reason::KafkaServerNotConfigured);
    assert_eq!(rendered.notices[0].subject.to_string(), "producer.shop");
}

#[test]
fn every_intents_operation_maps_to_its_kafka_operation() {
    let table = [
        (KafkaOperation::All, AclOperation::All),
        (KafkaOperation::Consume, AclOperation::Read),
        (KafkaOperation::Produce, AclOperation::Write),
        (KafkaOperation::Create, AclOperation::Create),
        (KafkaOperation::Alter, AclOperation::Alter),
        (KafkaOperation::Delete, AclOperation::Delete),
        (KafkaOperation::Describe, AclOperation::Describe),
        (KafkaOperation::ClusterAction, AclOperation::ClusterAction),
        (KafkaOperation::DescribeConfigs, AclOperation::DescribeConfigs),
        (KafkaOperation::AlterConfigs, AclOperation::AlterConfigs),
        (KafkaOperation::IdempotentWrite, AclOperation::IdempotentWrite),
    ];
    let ops: Vec<KafkaOperation> = table.iter().map(|(op, _)| *op).collect();
    let index = index(
        Config::default(),
        vec![
            kafka_config("kafka", "kafka", vec![]),
            intents_v2("shop", "c", vec![kafka("kafka.kafka", &[("t", &ops)])]),
        ],
    );
    let client: BTreeSet<AclOperation> = acls(&index, &KafkaOptions::default())
        .into_iter()
        .filter(|a| a.principal == "User:CN=c.shop")
        .map(|a| a.operation)
        .collect();
    assert_eq!(client, table.iter().map(|(_, acl)| *acl).collect());
}

#[test]
fn unknown_brokers_render_nothing() {
    let index = index(Config::default(), vec![]);
    assert!(
        render_broker(&index, &id("kafka", "kafka", None), &KafkaOptions::default())
            .value
            .is_none()
    );
}
