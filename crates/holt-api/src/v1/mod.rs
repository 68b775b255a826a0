//! Types shared by the two `v1` versions (`v1alpha3` and `v1beta1`): a client `service` and its `calls`.
//! The sub-types of a call (HTTP resources, Kafka topics, database resources, internet, Key Vault policy) have
//! the same JSON shape as in `v2` and are the `v2` types; only the call itself and the roots are v1-specific.

mod roots;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) use roots::v1_roots;

/// What a v1 call is about. No type means a plain in-cluster call (any port, any path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallType {
    /// An in-cluster call restricted to `HTTPResources`.
    Http,
    /// A Kafka broker (`name`) and its `kafkaTopics`.
    Kafka,
    /// A database instance (`name`) and its `databaseResources`.
    Database,
    /// An AWS resource (`name` is the ARN) and its `awsActions`.
    Aws,
    /// A GCP resource (`name`) and its `gcpPermissions`.
    Gcp,
    /// An Azure scope (`name`) and its roles, actions or Key Vault policy.
    Azure,
    /// Egress to outside the cluster, described by `internet`.
    Internet,
}

impl CallType {
    /// The YAML value, e.g. `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Http => "http",
            CallType::Kafka => "kafka",
            CallType::Database => "database",
            CallType::Aws => "aws",
            CallType::Gcp => "gcp",
            CallType::Azure => "azure",
            CallType::Internet => "internet",
        }
    }
}

/// The prefix a v1 call name uses to say "a Kubernetes Service": `svc:name` or `svc:name.namespace`.
pub const SERVICE_PREFIX: &str = "svc:";
