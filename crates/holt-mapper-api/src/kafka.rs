//! Kafka topic use the mapper read from brokers' authorizer logs, as `GET` [`KAFKA_PATH`] answers it (the
//! same filters as the intents: `namespace`, `client`, and `server` as the broker).

use serde::{Deserialize, Serialize};

use crate::intents::Workload;

/// `GET`: every [`KafkaTopicUse`] the filters select, sorted by client, broker and topic.
pub const KAFKA_PATH: &str = "/v1/kafka";

/// One client's use of one topic of one broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTopicUse {
    pub client: Workload,
    /// The broker, `name.namespace` as a ClientIntents' `kafka` target names it.
    pub broker: String,
    pub topic: String,
    /// Operations the broker allowed, spelled as ClientIntents spell them (`produce`, `consume`,
    /// `describe`, ...), each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// Operations the broker denied: calls that are blocked now, or would be once the broker enforces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
}
