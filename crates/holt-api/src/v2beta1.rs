//! `k8s.otterize.com/v2beta1`: the newest served version and Holt's internal (hub) representation. Every
//! other version converts to and from these types ([`crate::convert`]); the model reads only these.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::status::{ClientIntentsStatus, ConditionsStatus, ResolvedIps};
pub use crate::v2::kafka_server_config::{KafkaTls, KafkaTopicConfig, TopicPattern};
pub use crate::v2::targets::*;

/// The calls a client workload declares.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "k8s.otterize.com", version = "v2beta1", kind = "ClientIntents", namespaced)]
#[kube(status = "ClientIntentsStatus", shortname = "ci", category = "otterize", category = "holt")]
#[kube(derive = "Default", derive = "PartialEq")]
#[kube(printcolumn(name = "Workload", type_ = "string", json_path = ".spec.workload.name"))]
#[kube(printcolumn(name = "Kind", type_ = "string", json_path = ".spec.workload.kind", priority = "1"))]
#[kube(printcolumn(
    name = "Ready",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Ready\")].status"
))]
#[kube(printcolumn(
    name = "Enforced",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Enforced\")].reason"
))]
#[kube(printcolumn(name = "Up-to-date", type_ = "boolean", json_path = ".status.upToDate", priority = "1"))]
#[kube(printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"))]
#[serde(rename_all = "camelCase")]
pub struct ClientIntentsSpec {
    pub workload: Workload,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
}

/// Turns enforcement on for one server when the operator runs in `defaultShadow` mode.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "k8s.otterize.com", version = "v2beta1", kind = "ProtectedService", namespaced)]
#[kube(status = "ConditionsStatus", shortname = "psvc", category = "otterize", category = "holt")]
#[kube(derive = "Default", derive = "PartialEq")]
#[kube(printcolumn(name = "Server", type_ = "string", json_path = ".spec.name"))]
#[kube(printcolumn(name = "Kind", type_ = "string", json_path = ".spec.kind"))]
#[kube(printcolumn(
    name = "Ready",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Ready\")].status"
))]
#[kube(printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"))]
#[serde(rename_all = "camelCase")]
pub struct ProtectedServiceSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Tells the operator how to reach a Kafka broker and which topic defaults to enforce on it.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "k8s.otterize.com", version = "v2beta1", kind = "KafkaServerConfig", namespaced)]
#[kube(status = "ConditionsStatus", shortname = "ksc", category = "otterize", category = "holt")]
#[kube(derive = "Default", derive = "PartialEq")]
#[kube(printcolumn(name = "Server", type_ = "string", json_path = ".spec.workload.name"))]
#[kube(printcolumn(name = "Address", type_ = "string", json_path = ".spec.addr"))]
#[kube(printcolumn(
    name = "Ready",
    type_ = "string",
    json_path = ".status.conditions[?(@.type==\"Ready\")].status"
))]
#[kube(printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"))]
#[serde(rename_all = "camelCase")]
pub struct KafkaServerConfigSpec {
    pub workload: Workload,
    /// Bootstrap address `host:port` the operator connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    #[serde(default)]
    pub no_auto_create_intents_for_operator: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTls>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<KafkaTopicConfig>,
}
