//! Notices: declared access that Holt cannot enforce (yet), reported as data. The operator turns them into
//! Events and status conditions, `holt plan` prints them. Reasons reuse the reference's Event reasons where it
//! has one (docs/reference-behaviour.md#events), so existing alerts keep matching.

use std::fmt;

use holt_model::{Identity, ObjectKey};
use serde::Serialize;

/// Why something declared is not (fully) rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reason {
    /// `enableNetworkPolicyCreation` is off: no NetworkPolicy is rendered.
    NetworkPolicyCreationDisabled,
    /// The server's namespace is outside `watchedNamespaces`.
    NamespaceNotAllowed,
    /// Egress policies are enabled but `defaultShadow` mode never enforces egress.
    EnforcementGloballyDisabled,
    /// A Service named by a target or a ProtectedService does not exist.
    KubernetesServiceNotFound,
    /// A Service selects no pods by label (hand-managed endpoints), so no policy can select its pods.
    ServiceWithoutSelector,
    /// An internet target whose domains have no resolved addresses yet and that lists no IPs.
    InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS,
    /// Internet targets are declared but egress policies are disabled, so they are not enforced.
    InternetEgressNetworkPolicyWithEgressPolicyDisabled,
    /// An internet target lists an address that is neither an IP nor a CIDR.
    InvalidInternetAddress,
    /// `kubernetes.default` is called but the `default/kubernetes` Service is unknown.
    ApiServerServiceNotFound,
    /// A target kind Holt does not turn into access controls yet (`sql`, `aws`, `gcp`, `azure`).
    TargetNotSupported,
    /// A target that sets no key or several keys.
    InvalidTarget,
    /// A server pod's `called-by` annotation cannot be parsed.
    FailedParsingAccessAnnotation,
    /// The client of an Istio-meshed server has no `istio-proxy` sidecar.
    MissingSidecar,
    /// The server of an Istio policy has pods without `istio-proxy` sidecar: the policy does not apply to them.
    ServerMissingSidecar,
    /// A client of a Linkerd-meshed server has pods without `linkerd-proxy` (Linkerd refuses their calls),
    /// or the server has pods without it (the policy does not apply to them).
    NotPartOfLinkerdMesh,
    /// A Linkerd-meshed server's pods declare no TCP container port, so no Linkerd Server can select one.
    ServerPortsNotFound,
    /// HTTP paths or methods are declared for a call that no mechanism in the plan restricts by them (Istio
    /// and Linkerd policies are switched off, or do not apply to the pair): only the network-level access is
    /// enforced.
    HttpRestrictionNotEnforced,
    /// Several client workloads in a namespace share a service account: an Istio policy admits all of them.
    SharedServiceAccountFound,
    /// The client has no pods, so its service account (and Istio principal) is unknown.
    PodsNotFound,
    /// A Kafka target names a broker that no KafkaServerConfig describes.
    KafkaServerNotConfigured,
    /// `enableKafkaACLCreation` is off: no Kafka ACL is rendered.
    KafkaACLCreationDisabled,
}

impl Reason {
    /// The reason string, as the reference's Event reasons spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NetworkPolicyCreationDisabled => "NetworkPolicyCreationDisabled",
            Reason::NamespaceNotAllowed => "NamespaceNotAllowed",
            Reason::EnforcementGloballyDisabled => "EnforcementGloballyDisabled",
            Reason::KubernetesServiceNotFound => "KubernetesServiceNotFound",
            Reason::ServiceWithoutSelector => "ServiceWithoutSelector",
            Reason::InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS => {
                "InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS"
            }
            Reason::InternetEgressNetworkPolicyWithEgressPolicyDisabled => {
                "InternetEgressNetworkPolicyWithEgressPolicyDisabled"
            }
            Reason::InvalidInternetAddress => "InvalidInternetAddress",
            Reason::ApiServerServiceNotFound => "ApiServerServiceNotFound",
            Reason::TargetNotSupported => "TargetNotSupported",
            Reason::InvalidTarget => "InvalidTarget",
            Reason::FailedParsingAccessAnnotation => "FailedParsingAccessAnnotation",
            Reason::MissingSidecar => "MissingSidecar",
            Reason::ServerMissingSidecar => "ServerMissingSidecar",
            Reason::NotPartOfLinkerdMesh => "NotPartOfLinkerdMesh",
            Reason::ServerPortsNotFound => "ServerPortsNotFound",
            Reason::HttpRestrictionNotEnforced => "HttpRestrictionNotEnforced",
            Reason::SharedServiceAccountFound => "SharedServiceAccountFound",
            Reason::PodsNotFound => "PodsNotFound",
            Reason::KafkaServerNotConfigured => "KafkaServerNotConfigured",
            Reason::KafkaACLCreationDisabled => "KafkaACLCreationDisabled",
        }
    }

    /// Whether the reference reports this as a Warning Event (otherwise Normal): something is wrong, as
    /// opposed to something switched off on purpose.
    pub fn is_warning(self) -> bool {
        !matches!(
            self,
            Reason::NetworkPolicyCreationDisabled
                | Reason::EnforcementGloballyDisabled
                | Reason::InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS
                | Reason::KafkaACLCreationDisabled
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a notice is about: where the operator records it as an Event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Subject {
    /// A workload identity, as a client or as a server.
    Identity {
        namespace: String,
        name: String,
        #[serde(rename = "workloadKind", skip_serializing_if = "Option::is_none")]
        workload_kind: Option<String>,
    },
    ClientIntents {
        namespace: String,
        name: String,
    },
    Pod {
        namespace: String,
        name: String,
    },
    Service {
        namespace: String,
        name: String,
    },
    ProtectedService {
        namespace: String,
        name: String,
    },
}

impl Subject {
    pub fn identity(identity: &Identity) -> Self {
        Subject::Identity {
            namespace: identity.namespace.clone(),
            name: identity.name.clone(),
            workload_kind: identity.kind.clone(),
        }
    }

    pub fn client_intents(key: &ObjectKey) -> Self {
        Subject::ClientIntents {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    pub fn pod(key: &ObjectKey) -> Self {
        Subject::Pod {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    pub fn service(key: &ObjectKey) -> Self {
        Subject::Service {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }

    pub fn protected_service(key: &ObjectKey) -> Self {
        Subject::ProtectedService {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Identity {
                namespace,
                name,
                workload_kind,
            } => {
                write!(f, "{name}.{namespace}")?;
                if let Some(kind) = workload_kind {
                    write!(f, " ({kind})")?;
                }
                Ok(())
            }
            Subject::ClientIntents { namespace, name } => write!(f, "ClientIntents {namespace}/{name}"),
            Subject::Pod { namespace, name } => write!(f, "Pod {namespace}/{name}"),
            Subject::Service { namespace, name } => write!(f, "Service {namespace}/{name}"),
            Subject::ProtectedService { namespace, name } => write!(f, "ProtectedService {namespace}/{name}"),
        }
    }
}

/// Something declared that is not, or not fully, turned into access controls.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Notice {
    pub subject: Subject,
    pub reason: Reason,
    pub message: String,
}

impl Notice {
    pub fn new(subject: Subject, reason: Reason, message: impl Into<String>) -> Self {
        Notice {
            subject,
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.subject, self.reason, self.message)
    }
}
