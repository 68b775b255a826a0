//! The `policy.linkerd.io` objects Holt writes, with only the fields it sets, and [`LinkerdObject`], the one
//! type the rest of Holt handles them by.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::object_kind::ObjectKind;

/// A `Server`: one port of the pods its selector picks. Once it exists, Linkerd denies traffic to that port
/// unless an AuthorizationPolicy admits it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ServerSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    pub pod_selector: PodSelector,
    /// A container port number.
    pub port: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSelector {
    pub match_labels: BTreeMap<String, String>,
}

/// An `AuthorizationPolicy`: traffic to its target (a Server or an HTTPRoute, in its own namespace) is
/// allowed when every required authentication is satisfied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: AuthorizationPolicySpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationPolicySpec {
    pub target_ref: ObjectRef,
    pub required_authentication_refs: Vec<ObjectRef>,
}

/// A reference to another Linkerd object in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub group: String,
    pub kind: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, name: &str) -> Self {
        let api = kind.api();
        ObjectRef {
            group: api.group.to_owned(),
            kind: api.kind.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// A `MeshTLSAuthentication`: clients presenting one of these mesh identities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshTlsAuthentication {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: MeshTlsAuthenticationSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshTlsAuthenticationSpec {
    /// `<service account>.<namespace>.serviceaccount.identity.linkerd.<trust domain>`.
    pub identities: Vec<String>,
}

/// A `NetworkAuthentication`: clients from these networks, meshed or not (the kubelet's probes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkAuthentication {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: NetworkAuthenticationSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAuthenticationSpec {
    pub networks: Vec<Network>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub cidr: String,
}

/// An `HTTPRoute` attached to a Server: requests it matches can be authorized on their own. Once a Server
/// has routes, requests matching none are refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    pub parent_refs: Vec<ObjectRef>,
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRouteRule {
    pub matches: Vec<HttpRouteMatch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRouteMatch {
    pub path: PathMatch,
    /// Absent: any method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMatch {
    #[serde(rename = "type")]
    pub match_type: PathMatchType,
    pub value: String,
}

/// How a route's path matches a request's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PathMatchType {
    /// The path itself and everything below it, by whole segments (`/api` matches `/api/x`, not `/apix`).
    PathPrefix,
    /// The path alone.
    Exact,
}

/// Any Linkerd object Holt writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LinkerdObject {
    Server(Server),
    AuthorizationPolicy(AuthorizationPolicy),
    MeshTlsAuthentication(MeshTlsAuthentication),
    HttpRoute(HttpRoute),
    NetworkAuthentication(NetworkAuthentication),
}

impl LinkerdObject {
    /// The object's kind (its API version: [`ObjectKind::api`]).
    pub fn kind(&self) -> ObjectKind {
        match self {
            LinkerdObject::Server(_) => ObjectKind::LinkerdServer,
            LinkerdObject::AuthorizationPolicy(_) => ObjectKind::LinkerdAuthorizationPolicy,
            LinkerdObject::MeshTlsAuthentication(_) => ObjectKind::LinkerdMeshTlsAuthentication,
            LinkerdObject::HttpRoute(_) => ObjectKind::LinkerdHttpRoute,
            LinkerdObject::NetworkAuthentication(_) => ObjectKind::LinkerdNetworkAuthentication,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            LinkerdObject::Server(o) => &o.metadata,
            LinkerdObject::AuthorizationPolicy(o) => &o.metadata,
            LinkerdObject::MeshTlsAuthentication(o) => &o.metadata,
            LinkerdObject::HttpRoute(o) => &o.metadata,
            LinkerdObject::NetworkAuthentication(o) => &o.metadata,
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            LinkerdObject::Server(o) => &mut o.metadata,
            LinkerdObject::AuthorizationPolicy(o) => &mut o.metadata,
            LinkerdObject::MeshTlsAuthentication(o) => &mut o.metadata,
            LinkerdObject::HttpRoute(o) => &mut o.metadata,
            LinkerdObject::NetworkAuthentication(o) => &mut o.metadata,
        }
    }
}
