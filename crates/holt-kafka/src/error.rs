//! What can go wrong talking to a broker, sorted into categories the operator turns into status conditions,
//! Event reasons and metric labels, and whether trying again may help.

use std::fmt;
use std::time::Duration;

use holt_render::kafka::KafkaAcl;
use kafka_protocol::error::ResponseError;

/// A failure of the admin client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client's own configuration is unusable (bad PEM, no bootstrap address, ...). Never retryable.
    #[error("invalid Kafka client configuration: {what}: {reason}")]
    Config { what: String, reason: String },

    /// The TCP connection could not be opened (refused, unreachable, name resolution failed).
    #[error("could not connect to Kafka broker {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },

    /// The TLS handshake failed or the broker ended the session with a TLS alert (for example because it
    /// does not trust our client certificate), or its certificate did not verify.
    #[error("TLS with Kafka broker {address} failed: {reason}")]
    Tls { address: String, reason: String },

    /// Connecting, the handshake or one request took longer than allowed.
    #[error("{operation} with Kafka broker {address} timed out after {after:?}")]
    Timeout {
        address: String,
        operation: String,
        after: Duration,
    },

    /// An established connection broke (reset, closed) while a request was in flight.
    #[error("connection to Kafka broker {address} broke during {operation}: {source}")]
    Io {
        address: String,
        operation: String,
        #[source]
        source: std::io::Error,
    },

    /// The broker sent bytes we cannot make sense of (bad size, wrong correlation id, undecodable body).
    #[error("Kafka protocol error with broker {address} in {api}: {reason}")]
    Protocol {
        address: String,
        api: &'static str,
        reason: String,
    },

    /// The broker supports no version of an API that this client can speak.
    #[error("Kafka broker {address} supports no common version of {api} (ours {ours}, broker's {broker})")]
    UnsupportedVersion {
        address: String,
        api: &'static str,
        ours: String,
        broker: String,
    },

    /// The broker answered a request with an error code other than an authorization failure.
    #[error("Kafka broker refused {api}: {error}")]
    Broker { api: &'static str, error: BrokerError },

    /// The broker refused the request because our principal lacks the permission.
    #[error("Kafka broker denied {api} to our principal: {error}")]
    Authorization { api: &'static str, error: BrokerError },

    /// The broker refused some ACLs of a CreateAcls or DeleteAcls request, each with its own error code;
    /// it applied the others.
    #[error("Kafka broker refused {} of {requested} entries of {api}: {}", failures.len(), summary(failures))]
    AclsRejected {
        api: &'static str,
        requested: usize,
        failures: Vec<AclFailure>,
    },
}

/// A failure category: the reason of an Event, the label of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Config,
    Connect,
    Tls,
    Timeout,
    Protocol,
    Broker,
    Authorization,
}

impl Category {
    /// A stable CamelCase name, e.g. for an Event reason suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Config => "Config",
            Category::Connect => "Connect",
            Category::Tls => "Tls",
            Category::Timeout => "Timeout",
            Category::Protocol => "Protocol",
            Category::Broker => "Broker",
            Category::Authorization => "Authorization",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// Which category this failure belongs to.
    pub fn category(&self) -> Category {
        match self {
            Error::Config { .. } => Category::Config,
            Error::Connect { .. } | Error::Io { .. } => Category::Connect,
            Error::Tls { .. } => Category::Tls,
            Error::Timeout { .. } => Category::Timeout,
            Error::Protocol { .. } | Error::UnsupportedVersion { .. } => Category::Protocol,
            Error::Broker { .. } => Category::Broker,
            Error::Authorization { .. } => Category::Authorization,
            Error::AclsRejected { failures, .. } => {
                if failures.iter().any(|f| f.error.is_authorization()) {
                    Category::Authorization
                } else {
                    Category::Broker
                }
            }
        }
    }

    /// Whether the same request may succeed later: the broker was unreachable, slow, or busy (for example
    /// not the controller yet). Configuration, TLS, protocol and authorization failures need a change
    /// first; the operator still retries them, with its own slower back-off.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Io { .. } | Error::Timeout { .. } => true,
            Error::Broker { error, .. } => error.is_retryable(),
            Error::AclsRejected { failures, .. } => {
                !failures.is_empty() && failures.iter().all(|f| f.error.is_retryable())
            }
            Error::Config { .. }
            | Error::Tls { .. }
            | Error::Protocol { .. }
            | Error::UnsupportedVersion { .. }
            | Error::Authorization { .. } => false,
        }
    }

    /// The error for a non-zero `code` in the response to `api`, sorted into authorization or broker.
    pub(crate) fn from_code(api: &'static str, code: i16, message: Option<&str>) -> Self {
        let error = BrokerError::new(code, message);
        if error.is_authorization() {
            Error::Authorization { api, error }
        } else {
            Error::Broker { api, error }
        }
    }
}

/// An error code from a broker's response, with its Kafka name and the broker's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerError {
    /// The numeric code, e.g. 31.
    pub code: i16,
    /// Kafka's name for it in upper snake case, e.g. `CLUSTER_AUTHORIZATION_FAILED`, or `UNKNOWN(<code>)`.
    pub name: String,
    /// The broker's message, when it sent one.
    pub message: Option<String>,
}

impl BrokerError {
    /// The error for a non-zero code.
    pub fn new(code: i16, message: Option<&str>) -> Self {
        Self {
            code,
            name: code_name(code),
            message: message.filter(|m| !m.is_empty()).map(str::to_owned),
        }
    }

    /// Whether the code says our principal lacks a permission (cluster, topic, group, transactional id,
    /// delegation token authorization failures, or security disabled on the broker).
    pub fn is_authorization(&self) -> bool {
        matches!(
            ResponseError::try_from_code(self.code),
            Some(
                ResponseError::TopicAuthorizationFailed
                    | ResponseError::GroupAuthorizationFailed
                    | ResponseError::ClusterAuthorizationFailed
                    | ResponseError::TransactionalIdAuthorizationFailed
                    | ResponseError::DelegationTokenAuthorizationFailed
                    | ResponseError::SecurityDisabled
            )
        )
    }

    /// Whether Kafka declares the code retriable (`NOT_CONTROLLER`, `REQUEST_TIMED_OUT`, ...).
    pub fn is_retryable(&self) -> bool {
        ResponseError::try_from_code(self.code).is_some_and(|e| e.is_retriable())
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.code)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

/// One ACL the broker would not create, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclFailure {
    pub acl: KafkaAcl,
    pub error: BrokerError,
}

fn summary(failures: &[AclFailure]) -> String {
    let mut text = String::new();
    for (i, failure) in failures.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        let acl = &failure.acl;
        text.push_str(&format!(
            "{:?} {:?} {} {:?} {:?} for {}: {}",
            acl.permission,
            acl.operation,
            acl.resource_name,
            acl.resource_type,
            acl.pattern_type,
            acl.principal,
            failure.error
        ));
    }
    text
}

/// Kafka's name for an error code, `CLUSTER_AUTHORIZATION_FAILED` for 31.
fn code_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(ResponseError::Unknown(code)) => format!("UNKNOWN({code})"),
        Some(known) => upper_snake(&format!("{known:?}")),
        None => "NONE".to_owned(),
    }
}

fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_kafka_names_and_categories() {
        let denied = Error::from_code("DescribeAcls", 31, Some("denied"));
        assert_eq!(denied.category(), Category::Authorization);
        assert!(!denied.is_retryable());
        assert_eq!(
            denied.to_string(),
            "Kafka broker denied DescribeAcls to our principal: CLUSTER_AUTHORIZATION_FAILED (31): denied"
        );

        let moved = Error::from_code("CreateAcls", 41, None);
        assert_eq!(moved.category(), Category::Broker);
        assert!(moved.is_retryable(), "NOT_CONTROLLER is retryable");
        assert_eq!(
            moved.to_string(),
            "Kafka broker refused CreateAcls: NOT_CONTROLLER (41)"
        );

        assert_eq!(BrokerError::new(-1, None).name, "UNKNOWN_SERVER_ERROR");
        assert_eq!(BrokerError::new(9999, None).name, "UNKNOWN(9999)");
        assert!(!BrokerError::new(9999, None).is_retryable());
    }
}
