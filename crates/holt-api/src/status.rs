//! Status shapes shared by every served version of the kinds.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// ClientIntents status: the reference's fields plus standard `conditions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientIntentsStatus {
    /// True once every mechanism has been reconciled for `observedGeneration`.
    #[serde(default)]
    pub up_to_date: bool,
    #[serde(default)]
    pub observed_generation: i64,
    /// Addresses the network mapper saw each internet domain of the intents resolve to.
    #[serde(default, rename = "resolvedIPs", skip_serializing_if = "Vec::is_empty")]
    pub resolved_ips: Vec<ResolvedIps>,
    /// `Ready`, `Enforced` and per-mechanism conditions (Holt addition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedIps {
    pub dns: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
}

/// ProtectedService and KafkaServerConfig status: the reference has none; Holt reports conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionsStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

/// `conditions` as a list map keyed by `type`, so server-side apply merges conditions per type.
fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    let object = schema.ensure_object();
    object.insert("x-kubernetes-list-type".into(), "map".into());
    object.insert("x-kubernetes-list-map-keys".into(), serde_json::json!(["type"]));
    schema
}
