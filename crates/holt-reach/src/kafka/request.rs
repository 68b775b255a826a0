//! What is asked of a Kafka broker's authorizer: may this principal, connecting from this host, perform this
//! operation on this topic (or consumer group)?

use std::fmt;

use holt_render::kafka::{AclOperation, AclResourceType};

/// One authorization question, as the broker asks it of its authorizer for each request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaRequest {
    /// `User:CN=client.namespace` for Holt's mTLS clients, `User:ANONYMOUS` without a client certificate.
    pub principal: String,
    /// The client's address, as ACL hosts name it (`*` in an ACL matches every host).
    pub host: String,
    /// One concrete operation (never `ALL`).
    pub operation: AclOperation,
    pub resource_type: AclResourceType,
    /// The topic or group name.
    pub resource_name: String,
}

impl KafkaRequest {
    /// `principal` may `operation` the topic `topic`, from any host.
    pub fn topic(principal: &str, host: &str, operation: AclOperation, topic: &str) -> Self {
        Self {
            principal: principal.to_owned(),
            host: host.to_owned(),
            operation,
            resource_type: AclResourceType::Topic,
            resource_name: topic.to_owned(),
        }
    }
}

/// A question that cannot be asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KafkaRequestError {
    #[error("operation: ALL is not one operation a client performs; ask for READ, WRITE, ...")]
    AllOperation,
    #[error("principal: `{0}` is not of the form `Type:name` (e.g. `User:CN=client.namespace`)")]
    Principal(String),
    #[error("resource_name: empty")]
    EmptyResourceName,
}

impl fmt::Display for KafkaRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} from {} {:?} {:?} {}",
            self.principal, self.host, self.operation, self.resource_type, self.resource_name
        )
    }
}
