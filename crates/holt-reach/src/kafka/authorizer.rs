//! Kafka's standard authorizer (`StandardAuthorizer`, and the older `AclAuthorizer` alike) over a set of ACL
//! bindings: super users pass; otherwise the bindings whose resource pattern covers the resource are read —
//! a DENY binding matching principal, host and operation denies; then an ALLOW binding matching them allows;
//! otherwise denied, also when no binding covers the resource (`allow.everyone.if.no.acl.found=false`).

use std::collections::BTreeSet;

use holt_render::kafka::{AclOperation, AclPatternType, AclPermission, KafkaAcl};

use crate::kafka::request::{KafkaRequest, KafkaRequestError};
use crate::kafka::verdict::{KafkaDecision, KafkaVerdict};

/// The principal (and resource name) that stands for every principal (and every resource).
pub const WILDCARD_PRINCIPAL: &str = "User:*";
const WILDCARD: &str = "*";

/// One broker's (or cluster's) ACL bindings and super users.
#[derive(Clone, Debug, Default)]
pub struct KafkaAuthorizer {
    acls: Vec<KafkaAcl>,
    super_users: BTreeSet<String>,
}

impl KafkaAuthorizer {
    pub fn new(acls: impl IntoIterator<Item = KafkaAcl>) -> Self {
        let mut acls: Vec<KafkaAcl> = acls.into_iter().collect();
        acls.sort();
        acls.dedup();
        Self {
            acls,
            super_users: BTreeSet::new(),
        }
    }

    /// Principals allowed everything (the broker's `super.users`).
    pub fn with_super_users(mut self, principals: impl IntoIterator<Item = String>) -> Self {
        self.super_users.extend(principals);
        self
    }

    /// The decision for `request`.
    pub fn authorize(&self, request: &KafkaRequest) -> Result<KafkaVerdict, KafkaRequestError> {
        if request.operation == AclOperation::All {
            return Err(KafkaRequestError::AllOperation);
        }
        if !request.principal.contains(':') {
            return Err(KafkaRequestError::Principal(request.principal.clone()));
        }
        if request.resource_name.is_empty() {
            return Err(KafkaRequestError::EmptyResourceName);
        }
        if self.super_users.contains(&request.principal) {
            return Ok(verdict(KafkaDecision::SuperUser));
        }
        let covering: Vec<&KafkaAcl> = self.acls.iter().filter(|acl| covers(acl, request)).collect();
        if covering.is_empty() {
            return Ok(verdict(KafkaDecision::NoAclOnResource));
        }
        let applies = |acl: &&&KafkaAcl| {
            (acl.principal == request.principal || acl.principal == WILDCARD_PRINCIPAL)
                && (acl.host == WILDCARD || acl.host == request.host)
        };
        if let Some(deny) = covering
            .iter()
            .filter(|acl| acl.permission == AclPermission::Deny)
            .filter(applies)
            .find(|acl| acl.operation == AclOperation::All || acl.operation == request.operation)
        {
            return Ok(verdict(KafkaDecision::Denied { by: (*deny).clone() }));
        }
        if let Some(allow) = covering
            .iter()
            .filter(|acl| acl.permission == AclPermission::Allow)
            .filter(applies)
            .find(|acl| grants(acl.operation, request.operation))
        {
            return Ok(verdict(KafkaDecision::Allowed { by: (*allow).clone() }));
        }
        Ok(verdict(KafkaDecision::NoAllowMatches))
    }
}

fn verdict(decision: KafkaDecision) -> KafkaVerdict {
    KafkaVerdict {
        allowed: matches!(decision, KafkaDecision::SuperUser | KafkaDecision::Allowed { .. }),
        decision,
    }
}

/// Whether the binding's resource pattern covers the request's resource: same type, and the literal name,
/// the literal `*`, or a prefix of the name.
fn covers(acl: &KafkaAcl, request: &KafkaRequest) -> bool {
    acl.resource_type == request.resource_type
        && match acl.pattern_type {
            AclPatternType::Literal => {
                acl.resource_name == WILDCARD || acl.resource_name == request.resource_name
            }
            AclPatternType::Prefixed => request.resource_name.starts_with(acl.resource_name.as_str()),
        }
}

/// Whether an ALLOW of `granted` lets `wanted` pass: the same operation, `ALL`, or one that implies it
/// (DESCRIBE by READ, WRITE, DELETE and ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS). Implication never applies
/// to DENY bindings.
fn grants(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::{All, Alter, AlterConfigs, Delete, Describe, DescribeConfigs, Read, Write};
    granted == All
        || granted == wanted
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}
