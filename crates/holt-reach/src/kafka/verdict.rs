//! The authorizer's answer for one request: allowed or denied, and the binding (or the absence of one) that
//! decided.

use std::fmt;

use holt_render::kafka::KafkaAcl;
use serde::Serialize;

/// What decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KafkaDecision {
    /// The principal is a super user: allowed without reading ACLs.
    SuperUser,
    /// A DENY binding matches: denied, whatever the ALLOW bindings say.
    Denied { by: KafkaAcl },
    /// An ALLOW binding matches (the operation itself, `ALL`, or one implying it).
    Allowed { by: KafkaAcl },
    /// No binding names the resource at all: denied (`allow.everyone.if.no.acl.found=false`).
    NoAclOnResource,
    /// Bindings name the resource, none allows this principal, host and operation: denied.
    NoAllowMatches,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KafkaVerdict {
    pub allowed: bool,
    pub decision: KafkaDecision,
}

fn binding(acl: &KafkaAcl) -> String {
    format!(
        "{:?} {:?} {:?} {} to {} from {} ({:?})",
        acl.permission,
        acl.operation,
        acl.resource_type,
        acl.resource_name,
        acl.principal,
        acl.host,
        acl.pattern_type
    )
}

impl fmt::Display for KafkaVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", if self.allowed { "allowed" } else { "denied" })?;
        match &self.decision {
            KafkaDecision::SuperUser => f.write_str("  kafka: the principal is a super user"),
            KafkaDecision::Denied { by } => write!(f, "  kafka: denied by {}", binding(by)),
            KafkaDecision::Allowed { by } => write!(f, "  kafka: allowed by {}", binding(by)),
            KafkaDecision::NoAclOnResource => {
                f.write_str("  kafka: no ACL names this resource (allow.everyone.if.no.acl.found=false)")
            }
            KafkaDecision::NoAllowMatches => f.write_str(
                "  kafka: ACLs name this resource; none allows this principal, host and operation",
            ),
        }
    }
}
