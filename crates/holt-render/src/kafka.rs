//! Kafka ACLs (docs/reference-behaviour.md#kafka-acls): the complete set of ACLs Holt wants on one broker —
//! topic ACLs for each client's declared topics, and the server defaults from the broker's KafkaServerConfigs
//! (anonymous users denied or allowed, everyone allowed where intents are not required, consumer groups open
//! to all). Plain ordered data, so an applier diffs desired against listed ACLs with set operations.

use std::collections::BTreeSet;

use holt_api::v2beta1::{KafkaOperation, KafkaTopicConfig, TopicPattern};
use holt_model::{Identity, Index, ObjectKey};
use serde::{Deserialize, Serialize, Serializer};

use crate::desired::Rendered;
use crate::notice::{Notice, Reason, Subject};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AclResourceType {
    Topic,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AclPatternType {
    Literal,
    Prefixed,
}

/// Kafka ACL operations, named as Kafka names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

impl From<KafkaOperation> for AclOperation {
    fn from(operation: KafkaOperation) -> Self {
        match operation {
            KafkaOperation::All => AclOperation::All,
            KafkaOperation::Consume => AclOperation::Read,
            KafkaOperation::Produce => AclOperation::Write,
            KafkaOperation::Create => AclOperation::Create,
            KafkaOperation::Alter => AclOperation::Alter,
            KafkaOperation::Delete => AclOperation::Delete,
            KafkaOperation::Describe => AclOperation::Describe,
            KafkaOperation::ClusterAction => AclOperation::ClusterAction,
            KafkaOperation::DescribeConfigs => AclOperation::DescribeConfigs,
            KafkaOperation::AlterConfigs => AclOperation::AlterConfigs,
            KafkaOperation::IdempotentWrite => AclOperation::IdempotentWrite,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AclPermission {
    Allow,
    Deny,
}

/// One ACL binding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaAcl {
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl KafkaAcl {
    /// Allows `principal` to `operation` the topics `topic` names (by `pattern`), from any host.
    pub fn allow_topic(
        topic: &str,
        pattern: AclPatternType,
        principal: &str,
        operation: AclOperation,
    ) -> Self {
        KafkaAcl {
            resource_type: AclResourceType::Topic,
            resource_name: topic.to_owned(),
            pattern_type: pattern,
            principal: principal.to_owned(),
            host: "*".to_owned(),
            operation,
            permission: AclPermission::Allow,
        }
    }
}

/// The principal of anonymous (unauthenticated) connections.
pub const ANONYMOUS: &str = "User:ANONYMOUS";
/// Every principal.
pub const ANY_USER: &str = "User:*";

/// How principals are written, which depends on the certificates the operator and clients use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaOptions {
    /// Appended to `CN=<client>.<namespace>` in every client principal: the RDNs after CN in the operator's
    /// own certificate subject, e.g. `,O=SPIRE,C=US` (empty by default).
    pub principal_rdn_suffix: String,
    /// The operator's own workload: unless a KafkaServerConfig sets `noAutoCreateIntentsForOperator`, it may
    /// describe and alter every topic (the reference creates ClientIntents for itself to the same effect).
    pub operator: Option<Identity>,
}

impl KafkaOptions {
    /// `User:CN=<name>.<namespace><suffix>`.
    pub fn principal(&self, client: &Identity) -> String {
        format!(
            "User:CN={}.{}{}",
            client.name, client.namespace, self.principal_rdn_suffix
        )
    }
}

/// The ACLs Holt wants on one broker. When `configs` is empty no KafkaServerConfig says how to reach the
/// broker, so the set cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaAcls {
    pub broker: Identity,
    pub configs: Vec<ObjectKey>,
    pub acls: BTreeSet<KafkaAcl>,
}

impl Serialize for KafkaAcls {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            broker: String,
            configs: Vec<String>,
            acls: &'a BTreeSet<KafkaAcl>,
        }
        View {
            broker: format!("{}.{}", self.broker.name, self.broker.namespace),
            configs: self.configs.iter().map(ToString::to_string).collect(),
            acls: &self.acls,
        }
        .serialize(serializer)
    }
}

/// The ACL set of `broker` (a workload identity without kind, as Kafka targets name it), or `None` when
/// neither intents nor a KafkaServerConfig name it. ACLs are only desired when ACL creation is enabled and the
/// broker is enforced (docs/reference-behaviour.md#enforcement); otherwise the set is empty, so an applier
/// removes what Holt created earlier.
pub fn render_broker(
    index: &Index,
    broker: &Identity,
    options: &KafkaOptions,
) -> Rendered<Option<KafkaAcls>> {
    let mut notices = Vec::new();
    let Some(access) = index.broker(broker) else {
        return Rendered::new(None, notices);
    };
    let config = index.config();
    if access.configs.is_empty() {
        for client in access.clients.keys() {
            notices.push(Notice::new(
                Subject::identity(client),
                Reason::KafkaServerNotConfigured,
                format!(
                    "no KafkaServerConfig describes broker {}.{}: its topic ACLs cannot be applied",
                    broker.name, broker.namespace
                ),
            ));
        }
    }
    let mut acls = BTreeSet::new();
    if !config.enable_kafka_acl_creation {
        notices.push(Notice::new(
            Subject::identity(broker),
            Reason::KafkaACLCreationDisabled,
            "Kafka ACL creation is disabled: no ACL is rendered",
        ));
    } else if access.enforcement.is_enforced() {
        for (client, topics) in &access.clients {
            let principal = options.principal(client);
            for (topic, operations) in topics {
                for operation in operations {
                    acls.insert(KafkaAcl::allow_topic(
                        topic,
                        AclPatternType::Literal,
                        &principal,
                        (*operation).into(),
                    ));
                }
            }
        }
        let mut operator_acls = false;
        for key in &access.configs {
            let Some(spec) = index.kafka_config(key) else {
                continue;
            };
            for topic in topic_configs(&spec.topics) {
                server_defaults(&topic, &mut acls);
            }
            operator_acls |= !spec.no_auto_create_intents_for_operator;
        }
        if !access.configs.is_empty() {
            for operation in [AclOperation::Describe, AclOperation::Read] {
                acls.insert(KafkaAcl {
                    resource_type: AclResourceType::Group,
                    resource_name: "*".to_owned(),
                    pattern_type: AclPatternType::Literal,
                    principal: ANY_USER.to_owned(),
                    host: "*".to_owned(),
                    operation,
                    permission: AclPermission::Allow,
                });
            }
        }
        if let Some(operator) = options.operator.as_ref().filter(|_| operator_acls) {
            let principal = options.principal(operator);
            for operation in [AclOperation::Describe, AclOperation::Alter] {
                acls.insert(KafkaAcl::allow_topic(
                    "*",
                    AclPatternType::Literal,
                    &principal,
                    operation,
                ));
            }
        }
    }
    let value = KafkaAcls {
        broker: broker.clone(),
        configs: access.configs.clone(),
        acls,
    };
    Rendered::new(Some(value), notices)
}

/// The configured topic defaults, or the reference's default: every topic needs a client identity and
/// intents.
fn topic_configs(configured: &[KafkaTopicConfig]) -> Vec<KafkaTopicConfig> {
    if configured.is_empty() {
        vec![KafkaTopicConfig {
            topic: "*".to_owned(),
            pattern: TopicPattern::Literal,
            client_identity_required: true,
            intents_required: true,
        }]
    } else {
        configured.to_vec()
    }
}

/// Anonymous users denied (or allowed, when no client identity is required) every operation; and everyone
/// allowed when intents are not required.
fn server_defaults(topic: &KafkaTopicConfig, acls: &mut BTreeSet<KafkaAcl>) {
    let pattern = match topic.pattern {
        TopicPattern::Literal => AclPatternType::Literal,
        TopicPattern::Prefix => AclPatternType::Prefixed,
    };
    let mut anonymous = KafkaAcl::allow_topic(&topic.topic, pattern, ANONYMOUS, AclOperation::All);
    if topic.client_identity_required {
        anonymous.permission = AclPermission::Deny;
    }
    acls.insert(anonymous);
    if !topic.intents_required {
        acls.insert(KafkaAcl::allow_topic(
            &topic.topic,
            pattern,
            ANY_USER,
            AclOperation::All,
        ));
    }
}
