//! The renderers' output: desired Kubernetes objects, each with the object that should own it, and the
//! notices that came with them.

use holt_model::ObjectKey;
use holt_model::labels::{MANAGED_BY, MANAGED_BY_HOLT};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::istio::AuthorizationPolicy;
use crate::linkerd::objects::LinkerdObject;
use crate::notice::Notice;
use crate::object_kind::ObjectKind;

/// What a render function returns: its value and the notices about what it could not render.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered<T> {
    pub value: T,
    pub notices: Vec<Notice>,
}

impl<T> Rendered<T> {
    pub fn new(value: T, notices: Vec<Notice>) -> Self {
        Rendered { value, notices }
    }

    /// The same notices with the value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Rendered<U> {
        Rendered {
            value: f(self.value),
            notices: self.notices,
        }
    }
}

/// A Kubernetes object Holt wants to exist.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Manifest {
    NetworkPolicy(NetworkPolicy),
    IstioAuthorizationPolicy(AuthorizationPolicy),
    /// A `policy.linkerd.io` object.
    Linkerd(LinkerdObject),
}

impl Manifest {
    pub fn kind(&self) -> ObjectKind {
        match self {
            Manifest::NetworkPolicy(_) => ObjectKind::NetworkPolicy,
            Manifest::IstioAuthorizationPolicy(_) => ObjectKind::IstioAuthorizationPolicy,
            Manifest::Linkerd(object) => object.kind(),
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Manifest::NetworkPolicy(p) => &p.metadata,
            Manifest::IstioAuthorizationPolicy(p) => &p.metadata,
            Manifest::Linkerd(object) => object.metadata(),
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Manifest::NetworkPolicy(p) => &mut p.metadata,
            Manifest::IstioAuthorizationPolicy(p) => &mut p.metadata,
            Manifest::Linkerd(object) => object.metadata_mut(),
        }
    }

    /// The object's namespace and name.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(self.metadata())
    }
}

/// The object that should own a rendered object (its owner reference). The operator turns it into an
/// `ownerReference` with the owner's UID from the model; `holt plan` prints none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
}

impl Owner {
    /// A core/v1 Service in the owned object's namespace.
    pub fn service(name: &str) -> Self {
        Owner {
            api_version: "v1",
            kind: "Service",
            name: name.to_owned(),
        }
    }
}

/// A desired object and its owner, if any.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Desired {
    pub manifest: Manifest,
    #[serde(skip)]
    pub owner: Option<Owner>,
}

impl Desired {
    pub fn new(manifest: Manifest, owner: Option<Owner>) -> Self {
        Desired { manifest, owner }
    }

    /// `(kind, group, namespace, name)`: the order `holt plan` prints objects in.
    pub fn sort_key(&self) -> (&'static str, &'static str, ObjectKey) {
        let api = self.manifest.kind().api();
        (api.kind, api.group, self.manifest.key())
    }
}

/// Object metadata with Holt's managed-by label next to the given labels.
pub(crate) fn object_meta<'a>(
    namespace: &str,
    name: String,
    labels: impl IntoIterator<Item = (&'a str, String)>,
) -> ObjectMeta {
    let mut all: std::collections::BTreeMap<String, String> =
        labels.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    all.insert(MANAGED_BY.to_owned(), MANAGED_BY_HOLT.to_owned());
    ObjectMeta {
        name: Some(name),
        namespace: Some(namespace.to_owned()),
        labels: Some(all),
        ..ObjectMeta::default()
    }
}
