//! What the insights answer: for every discovered call, whether it is declared and its fate now, once its
//! server is protected, and once the mode is `defaultActive`; for every server called, whether it is
//! enforced and why, its discovered and undeclared clients, and whether it is ready to protect; and the declared
//! calls no discovered call matches. Serialized as
//! `holt plan --traffic -o json` prints it and the mapper serves it (`GET /v1/insights`); read back by
//! `holt mapper insights`.

use std::fmt;

use holt_model::{Enforcement, Identity};
use holt_reach::{PolicyName, Protocol};
use serde::{Deserialize, Serialize};

/// A workload (or Service) as the insights name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadName {
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl From<&Identity> for WorkloadName {
    fn from(identity: &Identity) -> Self {
        Self {
            namespace: identity.namespace.clone(),
            name: identity.name.clone(),
            kind: identity.kind.clone(),
        }
    }
}

impl fmt::Display for WorkloadName {
    /// `namespace/name`, the kind left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Which end of a call a policy isolates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The client's egress.
    Egress,
    /// The server's ingress.
    Ingress,
}

/// A policy that isolates one end of a blocked call without admitting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    pub policy: PolicyName,
    /// Whether Holt writes this policy (otherwise it is one of the cluster's own).
    pub holt: bool,
    pub direction: Direction,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = if self.holt { "Holt's" } else { "another's" };
        let direction = match self.direction {
            Direction::Egress => "egress",
            Direction::Ingress => "ingress",
        };
        write!(f, "{} ({owner}, {direction})", self.policy)
    }
}

/// The fate of a call in one scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// Every port evaluated passes.
    Allowed,
    /// At least one port is denied: the first such port, and the policies that isolate an end of it without
    /// admitting it.
    Blocked {
        port: u16,
        protocol: Protocol,
        by: Vec<Blocker>,
    },
    /// The call could not be evaluated (no pod of one end in the input, or a server serving no TCP port).
    NotEvaluated { reason: String },
}

impl Outcome {
    pub fn is_blocked(&self) -> bool {
        matches!(self, Outcome::Blocked { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Allowed => f.write_str("allowed"),
            Outcome::Blocked { port, protocol, by } => {
                let by: Vec<String> = by.iter().map(ToString::to_string).collect();
                write!(f, "blocked on {port}/{protocol} by {}", by.join(", "))
            }
            Outcome::NotEvaluated { reason } => write!(f, "not evaluated: {reason}"),
        }
    }
}

/// One discovered call and its fate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInsight {
    pub client: WorkloadName,
    pub server: WorkloadName,
    /// Whether a ClientIntents (or the server's `called-by` annotation) declares this client for this server.
    pub declared: bool,
    /// The ports evaluated: the TCP ports the server serves.
    pub ports: Vec<u16>,
    /// With the declared state and configuration as given.
    pub now: Outcome,
    /// Once a ProtectedService names the call's server.
    pub if_protected: Outcome,
    /// Once the mode is `defaultActive`.
    pub if_active: Outcome,
}

/// Whether a server is enforced now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEnforcement {
    /// `enforced`, `shadow` or `not_watched`.
    pub state: String,
    /// `defaultActive`, `enforced namespace`, `ProtectedService <name>`, `defaultShadow`, or `namespace not
    /// watched`.
    pub why: String,
}

impl From<&Enforcement> for ServerEnforcement {
    fn from(enforcement: &Enforcement) -> Self {
        let (state, why) = match enforcement {
            Enforcement::DefaultActive => ("enforced", "defaultActive".to_owned()),
            Enforcement::EnforcedNamespace => ("enforced", "enforced namespace".to_owned()),
            Enforcement::ProtectedService(name) => ("enforced", format!("ProtectedService {name}")),
            Enforcement::Shadow => ("shadow", "defaultShadow".to_owned()),
            Enforcement::NotWatched => ("not_watched", "namespace not watched".to_owned()),
        };
        Self {
            state: state.to_owned(),
            why,
        }
    }
}

/// One server that discovered calls reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInsight {
    pub server: WorkloadName,
    pub enforcement: ServerEnforcement,
    /// Every client seen calling it.
    pub clients: Vec<WorkloadName>,
    /// The clients seen calling it that no declaration names.
    pub undeclared_clients: Vec<WorkloadName>,
    /// The clients whose call would be blocked once the server is protected.
    pub blocked_if_protected: Vec<WorkloadName>,
    /// Every client seen calling it is declared: protecting it blocks no call that is declared.
    pub ready_to_protect: bool,
}

/// A call that a ClientIntents (or the server's `called-by` annotation) declares and that no discovered call
/// matches: declared, not seen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeclaredCall {
    pub client: WorkloadName,
    pub server: WorkloadName,
}

/// The insights of one set of discovered calls, calls and servers sorted by name, and the declared calls none
/// of them matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insights {
    pub calls: Vec<CallInsight>,
    pub servers: Vec<ServerInsight>,
    /// The declared calls no discovered call matches (by the pods of both ends, as `declared` is decided),
    /// sorted by client then server. Absent in the answers of earlier versions: read as none.
    #[serde(default)]
    pub declared_not_seen: Vec<DeclaredCall>,
}

impl Insights {
    /// The calls blocked now.
    pub fn blocked_now(&self) -> impl Iterator<Item = &CallInsight> {
        self.calls.iter().filter(|c| c.now.is_blocked())
    }

    /// The call from the workload named `client` to the one named `server` (names alone, in any namespace:
    /// the first such call).
    pub fn call(&self, client: &str, server: &str) -> Option<&CallInsight> {
        self.calls
            .iter()
            .find(|c| c.client.name == client && c.server.name == server)
    }

    /// The row of the server named `server` (its name alone, in any namespace: the first such row).
    pub fn server(&self, server: &str) -> Option<&ServerInsight> {
        self.servers.iter().find(|s| s.server.name == server)
    }
}
