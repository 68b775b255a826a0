//! The clients whose calls a mesh's policies (Istio, Linkerd) govern for one server: the declared clients
//! of an enforced server that call it over HTTP or TCP. Kafka clients are left out: they reach a broker over
//! Kafka's own protocol, which Kafka ACLs govern.

use holt_model::{Grant, Identity, Index};

/// The clients of `server` a mesh policy admits, with their grants; none when `server` is not enforced.
pub(crate) fn mesh_clients<'a>(index: &'a Index, server: &Identity) -> Vec<(&'a Identity, &'a Grant)> {
    let Some(access) = index.server(server) else {
        return Vec::new();
    };
    if !access.enforcement.is_enforced() {
        return Vec::new();
    }
    access
        .clients
        .iter()
        .filter(|(_, grant)| grant.any_request || !grant.http.is_empty())
        .collect()
}
