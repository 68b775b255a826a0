//! The parts of a KafkaServerConfig spec shared by every version.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Paths, inside the operator's pod, of the mTLS material used to reach the broker. All three are required
/// when `tls` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTls {
    pub cert_file: String,
    pub key_file: String,
    #[serde(rename = "rootCAFile")]
    pub root_ca_file: String,
}

/// Defaults for a topic (or topic prefix) on the broker: whether anonymous clients are refused and whether
/// clients need declared intents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTopicConfig {
    pub topic: String,
    pub pattern: TopicPattern,
    #[serde(default)]
    pub client_identity_required: bool,
    #[serde(default)]
    pub intents_required: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TopicPattern {
    #[default]
    Literal,
    Prefix,
}
