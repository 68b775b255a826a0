//! What the mesh renderers (Istio, Linkerd) share: which clients a mesh's policies govern for one server (the
//! declared clients of an enforced server that call it over HTTP or TCP; Kafka clients reach a broker over
//! Kafka's own protocol, which Kafka ACLs govern), and by which service accounts the mesh can admit each of
//! them, with the notices when it cannot.

use std::collections::BTreeSet;

use holt_model::{Grant, Identity, Index, IndexedPod};

use crate::desired::{Desired, Rendered};
use crate::http_coverage::HttpCoverage;
use crate::notice::{Notice, Reason, Subject};

/// How a mesh is named in notices and which pods are in it.
pub(crate) struct Mesh {
    /// `Istio`, `Linkerd`.
    pub name: &'static str,
    /// The proxy container, as notices name it.
    pub proxy: &'static str,
    pub in_mesh: fn(&IndexedPod) -> bool,
    /// The reasons of the notices about a client's and a server's pods outside the mesh.
    pub client_outside: Reason,
    pub server_outside: Reason,
}

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

/// The service accounts of `client`'s pods (`client_pods`) in the mesh, by which the mesh's policies admit it
/// to `server`; or `None` when the mesh cannot admit it (no pods, or none in the mesh). Notices say what the
/// mesh cannot do: client pods outside it, `servers_outside` (the server's pods outside it), service
/// accounts shared with other clients (the policy admits them too).
#[allow(clippy::too_many_arguments)] // each is one fact about the pair; a struct would only rename them
pub(crate) fn meshed_accounts<'a>(
    index: &Index,
    mesh: &Mesh,
    server: &Identity,
    client: &Identity,
    client_pods: Vec<&'a IndexedPod>,
    servers_outside: &[&str],
    out: &mut Rendered<Vec<Desired>>,
    http: &mut HttpCoverage,
) -> Option<BTreeSet<&'a str>> {
    let Mesh { name, proxy, .. } = mesh;
    let notice = |reason, message: String| Notice::new(Subject::identity(client), reason, message);
    if client_pods.is_empty() {
        out.notices.push(notice(
            Reason::PodsNotFound,
            format!("no pods: its service account is unknown, so no {name} policy admits it to {server}"),
        ));
        http.not_enforced(
            client,
            format_args!("the client has no pods, so {name} does not admit it"),
        );
        return None;
    }
    let (inside, outside): (Vec<&IndexedPod>, Vec<&IndexedPod>) =
        client_pods.into_iter().partition(|p| (mesh.in_mesh)(p));
    if !outside.is_empty() {
        let pods: Vec<&str> = outside.iter().map(|p| p.facts.key.name.as_str()).collect();
        out.notices.push(notice(
            mesh.client_outside,
            format!(
                "pods without {proxy} ({}) have no mesh identity: {name} does not admit their calls to {server}",
                pods.join(", ")
            ),
        ));
    }
    if inside.is_empty() {
        http.not_enforced(client, format_args!("the client is not in the {name} mesh"));
        return None;
    }
    if !servers_outside.is_empty() {
        out.notices.push(notice(
            mesh.server_outside,
            format!(
                "server {server} has pods without {proxy} ({}): the {name} policy does not apply to them",
                servers_outside.join(", ")
            ),
        ));
    }
    let accounts: BTreeSet<&str> = inside.iter().map(|p| p.facts.service_account.as_str()).collect();
    for account in &accounts {
        let sharing = clients_sharing(index, client, account);
        if !sharing.is_empty() {
            out.notices.push(notice(
                Reason::SharedServiceAccountFound,
                format!(
                    "service account {account} is also used by {}: {name} policies admitting {} admit them too",
                    sharing.into_iter().collect::<Vec<_>>().join(", "),
                    client.name
                ),
            ));
        }
    }
    Some(accounts)
}

/// The names of the pods of `pods` outside the mesh.
pub(crate) fn outside<'a>(mesh: &Mesh, pods: &[&'a IndexedPod]) -> Vec<&'a str> {
    pods.iter()
        .filter(|p| !(mesh.in_mesh)(p))
        .map(|p| p.facts.key.name.as_str())
        .collect()
}

/// Other client workloads (workloads with ClientIntents) in the client's namespace whose pods run as
/// `account`.
fn clients_sharing(index: &Index, client: &Identity, account: &str) -> BTreeSet<String> {
    index
        .pods_in(&client.namespace)
        .filter(|p| p.facts.service_account == account && p.identity.identity.name != client.name)
        .filter(|p| {
            let identity = &p.identity.identity;
            index.intents_of(identity).next().is_some()
                || index.intents_of(&identity.without_kind()).next().is_some()
        })
        .map(|p| p.identity.identity.name.clone())
        .collect()
}
