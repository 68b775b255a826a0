//! What is asked of the mesh: a request from a source (its mTLS principal, when it has one) to a destination
//! workload on a port, over HTTP (method and path) or plain TCP.

use std::fmt;

use crate::selector::Labels;

/// The caller. In the mesh, its sidecar presents the principal `<trust domain>/ns/<namespace>/sa/<account>`
/// over mutual TLS; outside it (or over plain text) there is no principal and no namespace to match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshSource {
    pub principal: Option<String>,
}

impl MeshSource {
    /// A meshed pod running as service account `account` of `namespace`.
    pub fn service_account(trust_domain: &str, namespace: &str, account: &str) -> Self {
        Self {
            principal: Some(format!("{trust_domain}/ns/{namespace}/sa/{account}")),
        }
    }

    /// A caller without a sidecar (or over plain text): no principal.
    pub fn plaintext() -> Self {
        Self { principal: None }
    }

    /// The namespace Istio derives from the principal (the segment after `/ns/`).
    pub fn namespace(&self) -> Option<&str> {
        let principal = self.principal.as_deref()?;
        let (_, after) = principal.split_once("/ns/")?;
        Some(after.split('/').next().unwrap_or(after))
    }
}

impl fmt::Display for MeshSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.principal {
            Some(principal) => f.write_str(principal),
            None => f.write_str("a caller without a principal"),
        }
    }
}

/// The called workload (one pod): its namespace, labels, and whether an Istio sidecar serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshWorkload {
    pub namespace: String,
    pub labels: Labels,
    pub in_mesh: bool,
}

/// The HTTP part of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// As sent, e.g. `GET` (gRPC calls are always `POST`).
    pub method: String,
    /// The path without the query string.
    pub path: String,
}

/// One request. `http` is `None` for plain TCP traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshRequest {
    pub source: MeshSource,
    pub destination: MeshWorkload,
    pub port: u16,
    pub http: Option<HttpRequest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_comes_from_the_principal() {
        let source = MeshSource::service_account("cluster.local", "shop", "web");
        assert_eq!(source.principal.as_deref(), Some("cluster.local/ns/shop/sa/web"));
        assert_eq!(source.namespace(), Some("shop"));
        assert_eq!(MeshSource::plaintext().namespace(), None);
        let odd = MeshSource {
            principal: Some("spiffe-less".to_owned()),
        };
        assert_eq!(odd.namespace(), None);
    }
}
