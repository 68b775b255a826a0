//! The effective access model: for each server, which clients may call it and how, and whether that is
//! enforced; for each Kafka broker, which clients may use which topics.

use std::collections::{BTreeMap, BTreeSet};

use holt_api::v2beta1::{HttpResource, KafkaOperation};

use crate::facts::ObjectKey;
use crate::identity::Identity;

/// Why a server is (or is not) enforced (docs/reference-behaviour.md#enforcement).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Enforcement {
    /// `defaultActive` mode enforces every server.
    DefaultActive,
    /// The server's namespace is listed in `enforcedNamespaces`.
    EnforcedNamespace,
    /// A ProtectedService (named here) protects the server.
    ProtectedService(String),
    /// `defaultShadow` mode and nothing protects the server: declared access is recorded, not enforced.
    Shadow,
    /// The namespace is outside `watchedNamespaces`: Holt does not act on it.
    NotWatched,
}

impl Enforcement {
    pub fn is_enforced(&self) -> bool {
        matches!(
            self,
            Enforcement::DefaultActive | Enforcement::EnforcedNamespace | Enforcement::ProtectedService(_)
        )
    }
}

impl std::fmt::Display for Enforcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Enforcement::DefaultActive => write!(f, "enforced (defaultActive)"),
            Enforcement::EnforcedNamespace => write!(f, "enforced (enforced namespace)"),
            Enforcement::ProtectedService(name) => write!(f, "enforced (ProtectedService {name})"),
            Enforcement::Shadow => write!(f, "shadow"),
            Enforcement::NotWatched => write!(f, "not watched"),
        }
    }
}

/// Where a grant was declared.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Declaration {
    /// A ClientIntents object.
    ClientIntents(ObjectKey),
    /// The `called-by` annotation of a server pod.
    AccessAnnotation(ObjectKey),
}

/// What one client may do on one server. The lists are sorted and without repeats (plain vectors: a
/// cluster holds tens of thousands of grants, most with one declaration and no HTTP paths).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// HTTP paths and methods; empty when any request is allowed (a plain call was declared).
    pub http: Vec<HttpResource>,
    /// True when at least one declaration allows any request (no HTTP restriction).
    pub any_request: bool,
    /// True when the client declared this server as a Kafka broker: it gets network access to the broker,
    /// and its topic grants are in the broker's [`KafkaAccess`].
    pub kafka: bool,
    pub declared_by: Vec<Declaration>,
}

impl Grant {
    /// The HTTP restriction in words, one entry per path (`GET|POST /path`, or the path alone when any
    /// method is allowed); empty when any request is allowed.
    pub fn http_restriction(&self) -> Vec<String> {
        if self.any_request {
            return Vec::new();
        }
        self.http
            .iter()
            .map(|resource| {
                let methods: Vec<&str> = resource.methods.iter().map(|m| m.as_str()).collect();
                match methods.is_empty() {
                    true => resource.path.clone(),
                    false => format!("{} {}", methods.join("|"), resource.path),
                }
            })
            .collect()
    }
}

/// Everything the renderers need to know about one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAccess {
    pub server: Identity,
    pub enforcement: Enforcement,
    pub clients: BTreeMap<Identity, Grant>,
}

/// Topic operations of one client on one broker.
pub type TopicGrants = BTreeMap<String, BTreeSet<KafkaOperation>>;

/// Everything the Kafka renderer needs to know about one broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaAccess {
    /// The broker's workload (no kind: Kafka targets name a workload).
    pub broker: Identity,
    /// The KafkaServerConfigs describing this broker (normally one).
    pub configs: Vec<ObjectKey>,
    pub enforcement: Enforcement,
    pub clients: BTreeMap<Identity, TopicGrants>,
}
