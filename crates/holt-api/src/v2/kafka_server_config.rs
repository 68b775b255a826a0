//! The parts of a KafkaServerConfig spec shared by every version.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Paths, inside the operator's pod, of the mTLS material used to reach the broker. All three are required
/// when `tls` is set; [`crate::validate`] reports a partial one with its path instead of failing to parse it.
/// The reference always writes this object, with three empty strings when there is no TLS: that reads as
/// [`KafkaTls::is_empty`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTls {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    #[serde(default, rename = "rootCAFile", skip_serializing_if = "String::is_empty")]
    pub root_ca_file: String,
}

impl KafkaTls {
    /// True when no file is named: the same as no `tls` at all.
    pub fn is_empty(&self) -> bool {
        self.cert_file.is_empty() && self.key_file.is_empty() && self.root_ca_file.is_empty()
    }
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
