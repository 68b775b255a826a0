//! What is asked (a flow) and what is answered (a verdict with its reasons).

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::cluster::PodId;
use crate::policy::PolicyName;
use crate::protocol::Protocol;

/// One end of a flow: a pod of the cluster, or an address that is no pod's (outside the cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Pod(PodId),
    Address(IpAddr),
}

/// A connection attempt: from, to, destination port and protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub from: Endpoint,
    pub to: Endpoint,
    pub port: u16,
    pub protocol: Protocol,
}

/// The rule that admits a flow: the policy and the rule's index in its `ingress` or `egress` list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdmittingRule {
    pub policy: PolicyName,
    pub rule: usize,
}

/// The answer for one direction (the source's egress, or the destination's ingress).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Side {
    /// This end is outside the cluster: no NetworkPolicy governs it.
    OutsideCluster,
    /// No policy selects the pod for this direction: everything passes.
    NotIsolated,
    /// The pod is isolated by `isolated_by`, and `by` admits the flow.
    Admitted {
        isolated_by: Vec<PolicyName>,
        by: AdmittingRule,
    },
    /// The pod is isolated by `isolated_by`, and none of their rules admits the flow.
    Denied { isolated_by: Vec<PolicyName> },
}

impl Side {
    pub fn passes(&self) -> bool {
        !matches!(self, Side::Denied { .. })
    }
}

/// Allowed only when both the source's egress and the destination's ingress let the flow pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    pub egress: Side,
    pub ingress: Side,
}

fn names(policies: &[PolicyName]) -> String {
    policies
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Side {
    fn describe(&self, direction: &str, end: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::OutsideCluster => write!(
                f,
                "{direction}: the {end} is outside the cluster, no policy applies"
            ),
            Side::NotIsolated => write!(f, "{direction}: no policy isolates the {end}"),
            Side::Admitted { isolated_by, by } => write!(
                f,
                "{direction}: isolated by {}; admitted by {} {direction} rule {}",
                names(isolated_by),
                by.policy,
                by.rule
            ),
            Side::Denied { isolated_by } => write!(
                f,
                "{direction}: isolated by {}; no {direction} rule admits this flow",
                names(isolated_by)
            ),
        }
    }
}

impl fmt::Display for Verdict {
    /// `allowed` or `denied`, then one line for egress and one for ingress.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", if self.allowed { "allowed" } else { "denied" })?;
        f.write_str("  ")?;
        self.egress.describe("egress", "source", f)?;
        f.write_str("\n  ")?;
        self.ingress.describe("ingress", "destination", f)
    }
}
