//! The kinds of Kubernetes objects Holt writes, each declared once with its group-qualified identity: the
//! API group, version and resource the operator writes it through, the CRD that must be installed for it to
//! be written, and how it is named in reports.
//!
//! Objects are told apart by this kind and their namespace and name, never by the bare kind name: Istio
//! and Linkerd both have an `AuthorizationPolicy`. Adding a kind is a new variant here; every `match` on
//! [`ObjectKind`] is exhaustive, so the compiler lists what else must say something about it.

use serde::Serialize;

/// A kind of object Holt writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectKind {
    /// `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
    /// `security.istio.io/v1` AuthorizationPolicy.
    IstioAuthorizationPolicy,
    /// `policy.linkerd.io` Server: one port of the pods it selects, denied to what no policy authorizes.
    LinkerdServer,
    /// `policy.linkerd.io` AuthorizationPolicy: who may reach a Server or an HTTPRoute.
    LinkerdAuthorizationPolicy,
    /// `policy.linkerd.io` MeshTLSAuthentication: clients by mesh identity.
    LinkerdMeshTlsAuthentication,
    /// `policy.linkerd.io` NetworkAuthentication: clients by network (the kubelet's probes).
    LinkerdNetworkAuthentication,
    /// `policy.linkerd.io` HTTPRoute: requests to a Server by path and method.
    LinkerdHttpRoute,
}

/// Where the API server serves a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiType {
    /// The API group (empty for the core group).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The resource's plural name in URLs.
    pub plural: &'static str,
}

/// The Event (and condition) reasons about objects of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindReasons {
    /// Objects were created or rewritten for a ClientIntents (a Normal Event).
    pub created: &'static str,
    /// Creating or replacing an object failed.
    pub write_failed: &'static str,
    /// Deleting an object failed.
    pub delete_failed: &'static str,
    /// An object Holt wants has its name taken by an object Holt did not create.
    pub name_taken: &'static str,
}

impl ApiType {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl ObjectKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::NetworkPolicy,
        ObjectKind::IstioAuthorizationPolicy,
        ObjectKind::LinkerdServer,
        ObjectKind::LinkerdAuthorizationPolicy,
        ObjectKind::LinkerdMeshTlsAuthentication,
        ObjectKind::LinkerdNetworkAuthentication,
        ObjectKind::LinkerdHttpRoute,
    ];

    pub fn api(self) -> ApiType {
        match self {
            ObjectKind::NetworkPolicy => ApiType {
                group: "networking.k8s.io",
                version: "v1",
                kind: "NetworkPolicy",
                plural: "networkpolicies",
            },
            ObjectKind::IstioAuthorizationPolicy => ApiType {
                group: "security.istio.io",
                version: "v1",
                kind: "AuthorizationPolicy",
                plural: "authorizationpolicies",
            },
            // `v1beta1` (Server, HTTPRoute) and `v1alpha1` (the others) are served by every Linkerd release
            // with AuthorizationPolicies (2.12 and later), and are what the reference writes
            // (docs/reference-behaviour.md#linkerd).
            ObjectKind::LinkerdServer => linkerd("v1beta1", "Server", "servers"),
            ObjectKind::LinkerdAuthorizationPolicy => {
                linkerd("v1alpha1", "AuthorizationPolicy", "authorizationpolicies")
            }
            ObjectKind::LinkerdMeshTlsAuthentication => {
                linkerd("v1alpha1", "MeshTLSAuthentication", "meshtlsauthentications")
            }
            ObjectKind::LinkerdNetworkAuthentication => {
                linkerd("v1alpha1", "NetworkAuthentication", "networkauthentications")
            }
            ObjectKind::LinkerdHttpRoute => linkerd("v1beta1", "HTTPRoute", "httproutes"),
        }
    }

    /// The CustomResourceDefinition that must be installed for objects of this kind to be written (`None`
    /// for kinds the API server always serves). Where it is missing, the operator writes none of them.
    pub fn crd(self) -> Option<&'static str> {
        match self {
            ObjectKind::NetworkPolicy => None,
            ObjectKind::IstioAuthorizationPolicy => Some("authorizationpolicies.security.istio.io"),
            ObjectKind::LinkerdServer => Some("servers.policy.linkerd.io"),
            ObjectKind::LinkerdAuthorizationPolicy => Some("authorizationpolicies.policy.linkerd.io"),
            ObjectKind::LinkerdMeshTlsAuthentication => Some("meshtlsauthentications.policy.linkerd.io"),
            ObjectKind::LinkerdNetworkAuthentication => Some("networkauthentications.policy.linkerd.io"),
            ObjectKind::LinkerdHttpRoute => Some("httproutes.policy.linkerd.io"),
        }
    }

    /// How reports name the kind: unambiguous, and short for the built-in one.
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::NetworkPolicy => "NetworkPolicy",
            ObjectKind::IstioAuthorizationPolicy => "Istio AuthorizationPolicy",
            ObjectKind::LinkerdServer => "Linkerd Server",
            ObjectKind::LinkerdAuthorizationPolicy => "Linkerd AuthorizationPolicy",
            ObjectKind::LinkerdMeshTlsAuthentication => "Linkerd MeshTLSAuthentication",
            ObjectKind::LinkerdNetworkAuthentication => "Linkerd NetworkAuthentication",
            ObjectKind::LinkerdHttpRoute => "Linkerd HTTPRoute",
        }
    }

    /// How reports name several objects of the kind.
    pub fn plural_label(self) -> &'static str {
        match self {
            ObjectKind::NetworkPolicy => "NetworkPolicies",
            ObjectKind::IstioAuthorizationPolicy => "Istio AuthorizationPolicies",
            ObjectKind::LinkerdServer => "Linkerd Servers",
            ObjectKind::LinkerdAuthorizationPolicy => "Linkerd AuthorizationPolicies",
            ObjectKind::LinkerdMeshTlsAuthentication => "Linkerd MeshTLSAuthentications",
            ObjectKind::LinkerdNetworkAuthentication => "Linkerd NetworkAuthentications",
            ObjectKind::LinkerdHttpRoute => "Linkerd HTTPRoutes",
        }
    }

    /// The Event reasons the operator reports about objects of this kind (the reference's, where it has
    /// them).
    pub fn reasons(self) -> KindReasons {
        match self {
            ObjectKind::NetworkPolicy => KindReasons {
                created: "CreatedNetworkPolicies",
                write_failed: "CreatingNetworkPoliciesFailed",
                delete_failed: "RemovingNetworkPolicyFailed",
                name_taken: "NetworkPolicyNameTaken",
            },
            ObjectKind::IstioAuthorizationPolicy => KindReasons {
                created: "CreatedIstioPolicy",
                write_failed: "CreatingIstioPolicyFailed",
                delete_failed: "RemovingIstioPolicyFailed",
                name_taken: "IstioPolicyNameTaken",
            },
            // The reference's reasons for its Server and AuthorizationPolicy; the kinds that come with an
            // AuthorizationPolicy are announced as it is.
            ObjectKind::LinkerdServer => linkerd_reasons("CreatedLinkerdServer"),
            ObjectKind::LinkerdAuthorizationPolicy
            | ObjectKind::LinkerdMeshTlsAuthentication
            | ObjectKind::LinkerdNetworkAuthentication
            | ObjectKind::LinkerdHttpRoute => linkerd_reasons("CreatedLinkerdAuthorizationPolicy"),
        }
    }
}

fn linkerd(version: &'static str, kind: &'static str, plural: &'static str) -> ApiType {
    ApiType {
        group: "policy.linkerd.io",
        version,
        kind,
        plural,
    }
}

fn linkerd_reasons(created: &'static str) -> KindReasons {
    KindReasons {
        created,
        write_failed: "CreatingLinkerdPolicyFailed",
        delete_failed: "RemovingLinkerdPolicyFailed",
        name_taken: "LinkerdPolicyNameTaken",
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct_by_group_and_named_unambiguously() {
        let mut apis: Vec<(&str, &str)> = ObjectKind::ALL
            .iter()
            .map(|k| (k.api().group, k.api().kind))
            .collect();
        let mut labels: Vec<&str> = ObjectKind::ALL.iter().map(|k| k.label()).collect();
        apis.sort();
        apis.dedup();
        labels.sort();
        labels.dedup();
        assert_eq!(apis.len(), ObjectKind::ALL.len());
        assert_eq!(labels.len(), ObjectKind::ALL.len());
    }
}
