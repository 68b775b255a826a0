//! The mesh's answer for one request: allowed or denied, which policy and rule decided, and the CUSTOM
//! providers still to be asked.

use std::fmt;

use serde::Serialize;

use crate::policy::PolicyName;

/// A policy's rule that matched: the policy and the rule's index in `spec.rules`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MatchedRule {
    pub policy: PolicyName,
    pub rule: usize,
}

impl fmt::Display for MatchedRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rule {}", self.policy, self.rule)
    }
}

/// A matching CUSTOM policy: the request also goes to `provider`, whose answer Holt cannot know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderCheck {
    pub by: MatchedRule,
    pub provider: String,
}

/// What decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MeshDecision {
    /// The destination has no sidecar: Istio does not evaluate requests to it (allowed as far as Istio goes).
    NotInMesh,
    /// No ALLOW policy selects the destination and no DENY policy matches: allowed.
    NoAllowPolicy,
    /// A DENY policy matches: denied, whatever the ALLOW policies say.
    Denied { by: MatchedRule },
    /// An ALLOW policy matches: allowed.
    Allowed { by: MatchedRule },
    /// ALLOW policies select the destination and none matches: denied.
    NoAllowRuleMatches { allow_policies: Vec<PolicyName> },
}

/// `allowed` is the outcome of the DENY and ALLOW policies. When `providers` is not empty and the request is
/// allowed, it is allowed only if each of those external authorizers allows it too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MeshVerdict {
    pub allowed: bool,
    pub decision: MeshDecision,
    pub providers: Vec<ProviderCheck>,
    /// Matching AUDIT policies: the request is logged; they never change `allowed`.
    pub audited_by: Vec<MatchedRule>,
}

impl fmt::Display for MeshVerdict {
    /// `allowed` or `denied`, then the reason, then the providers and audits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match (self.allowed, self.providers.is_empty()) {
            (false, _) => "denied",
            (true, true) => "allowed",
            (true, false) => "allowed if the external authorizers allow it",
        };
        writeln!(f, "{outcome}")?;
        match &self.decision {
            MeshDecision::NotInMesh => {
                f.write_str("  istio: the destination has no sidecar; Istio does not evaluate this request")?;
            }
            MeshDecision::NoAllowPolicy => f.write_str("  istio: no ALLOW policy selects the destination")?,
            MeshDecision::Denied { by } => write!(f, "  istio: denied by DENY policy {by}")?,
            MeshDecision::Allowed { by } => write!(f, "  istio: allowed by ALLOW policy {by}")?,
            MeshDecision::NoAllowRuleMatches { allow_policies } => write!(
                f,
                "  istio: ALLOW policies select the destination ({}); none of their rules matches",
                allow_policies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )?,
        }
        for check in &self.providers {
            write!(
                f,
                "\n  istio: CUSTOM policy {} asks provider {}",
                check.by, check.provider
            )?;
        }
        for audit in &self.audited_by {
            write!(f, "\n  istio: audited by AUDIT policy {audit}")?;
        }
        Ok(())
    }
}
