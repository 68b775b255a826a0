//! Linkerd policies (docs/reference-behaviour.md#linkerd): for an enforced server in Linkerd's mesh, in its
//! namespace,
//! - a `Server` per TCP port its pods declare, selecting its pods;
//! - per meshed client, a `MeshTLSAuthentication` naming the mesh identities of the client's service
//!   accounts, and `AuthorizationPolicy`s requiring it: on each Server, or, when some client restricts its
//!   calls to HTTP paths, on each `HTTPRoute` of the Server its declarations cover;
//! - with routes, one per distinct declared (path, method), a catch-all `/` when some client may send any
//!   request, and the kubelet's HTTP probe paths, opened to every network by a `NetworkAuthentication`
//!   (Linkerd stops admitting probes by default once a Server has routes).
//!
//! Only the server's proxy enforces: a server outside the mesh gets nothing; a meshed server's clients
//! without the proxy (or without pods) get no policy and a notice, since Linkerd will refuse their calls.
//! Mesh membership is `holt_model::mesh` (the container, or `linkerd.io/inject`). In: the index and the
//! server. Out: desired objects, notices, and whether each client's HTTP restriction is enforced.

mod names;
pub mod objects;
mod routes;

use std::collections::{BTreeMap, BTreeSet};

use holt_model::labels::{ISTIO_SERVER, LINKERD_CLIENT};
use holt_model::{Grant, Identity, Index, IndexedPod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::desired::{Desired, Manifest, Rendered, object_meta};
use crate::http_coverage::HttpCoverage;
use crate::mesh_clients::{Mesh, mesh_clients, meshed_accounts, outside};
use crate::network_policy::selector;
use crate::notice::{Notice, Reason, Subject};
use crate::object_kind::ObjectKind;
use objects::{
    AuthorizationPolicy, AuthorizationPolicySpec, HttpRoute, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    LinkerdObject, MeshTlsAuthentication, MeshTlsAuthenticationSpec, Network, NetworkAuthentication,
    NetworkAuthenticationSpec, ObjectRef, PathMatch, PodSelector, Server, ServerSpec,
};
use routes::RouteMatch;

/// Linkerd's default identity trust domain, as the reference spells identities.
const TRUST_DOMAIN: &str = "cluster.local";
/// The networks the kubelet's probes may come from: all of them.
const PROBE_NETWORKS: [&str; 2] = ["0.0.0.0/0", "::/0"];

/// A meshed client admitted to the server, with what it may do.
struct Admitted<'a> {
    client: &'a Identity,
    grant: &'a Grant,
    mesh_tls: String,
}

/// Linkerd's mesh: pods with the `linkerd-proxy` container or asking for it (`holt_model::mesh`).
const LINKERD: Mesh = Mesh {
    name: "Linkerd",
    proxy: "linkerd-proxy",
    in_mesh: |pod| pod.in_linkerd_mesh,
    client_outside: Reason::NotPartOfLinkerdMesh,
    server_outside: Reason::NotPartOfLinkerdMesh,
};

/// Renders the Linkerd policies admitting clients to `server` into `out`, and records in `http` which
/// clients' HTTP restrictions they enforce.
pub(crate) fn render(
    index: &Index,
    server: &Identity,
    out: &mut Rendered<Vec<Desired>>,
    http: &mut HttpCoverage,
) {
    let config = index.config();
    let clients = mesh_clients(index, server);
    if clients.is_empty() {
        return;
    }
    if !config.enable_linkerd_policy_creation {
        for (client, _) in &clients {
            http.not_enforced(client, "Linkerd policy creation is switched off");
        }
        return;
    }
    let server_pods = index.pods_of(server);
    if !server_pods.iter().any(|p| p.in_linkerd_mesh) {
        for (client, _) in &clients {
            http.not_enforced(
                client,
                "the server is not in the Linkerd mesh (no linkerd-proxy container, none asked for by linkerd.io/inject)",
            );
        }
        return;
    }
    let ports = tcp_ports(&server_pods);
    if ports.is_empty() {
        for (client, _) in &clients {
            out.notices.push(Notice::new(
                Subject::identity(client),
                Reason::ServerPortsNotFound,
                format!(
                    "the pods of {server} declare no TCP container port: Linkerd Servers select ports, so no Linkerd policy admits it"
                ),
            ));
            http.not_enforced(
                client,
                "the server's pods declare no container port for a Linkerd Server",
            );
        }
        return;
    }
    let selector = match selector::workload_labels(index, server) {
        Ok(labels) => labels,
        Err(error) => {
            out.notices.push(error.notice(Subject::identity(server)));
            for (client, _) in &clients {
                http.not_enforced(client, "the server's pods cannot be selected");
            }
            return;
        }
    };
    let without_proxy = outside(&LINKERD, &server_pods);

    let mut admitted = Vec::new();
    for (client, grant) in clients {
        if let Some(account_identities) = client_identities(index, server, client, &without_proxy, out, http)
        {
            let mesh_tls = names::mesh_tls(server, client);
            out.value
                .push(mesh_tls_object(server, client, &mesh_tls, account_identities));
            admitted.push(Admitted {
                client,
                grant,
                mesh_tls,
            });
        }
    }
    if admitted.is_empty() {
        return;
    }
    let probes = probe_paths(&server_pods);
    let mut probe_routes_written = false;
    for &port in &ports {
        let server_name = names::server(server, port);
        out.value
            .push(server_object(server, port, &server_name, &selector));
        let no_probes = BTreeSet::new();
        let routes = routes::routes(
            admitted.iter().map(|a| a.grant),
            probes.get(&port).unwrap_or(&no_probes),
        );
        if routes.is_empty() {
            for a in &admitted {
                let target = ObjectRef::new(ObjectKind::LinkerdServer, &server_name);
                out.value.push(client_policy(server, port, a, target));
            }
            continue;
        }
        for route in &routes {
            let route_name = names::http_route(server, port, &route.hashed_text());
            out.value
                .push(route_object(server, &route_name, &server_name, route));
            let target = ObjectRef::new(ObjectKind::LinkerdHttpRoute, &route_name);
            if route.match_type == objects::PathMatchType::Exact {
                probe_routes_written = true;
                out.value
                    .push(probe_policy(server, port, &route_name, target.clone()));
            }
            for a in admitted.iter().filter(|a| route.admits(a.grant)) {
                out.value.push(client_policy(server, port, a, target.clone()));
            }
        }
        for a in &admitted {
            http.enforced(a.client);
        }
    }
    if probe_routes_written {
        out.value.push(probe_network_object(server));
    }
}

/// The mesh identities of `client`'s service accounts, or `None` (with notices) when Linkerd cannot admit
/// it: it has no pods, or none in the mesh.
fn client_identities(
    index: &Index,
    server: &Identity,
    client: &Identity,
    servers_without_proxy: &[&str],
    out: &mut Rendered<Vec<Desired>>,
    http: &mut HttpCoverage,
) -> Option<Vec<String>> {
    let client_pods = index.pods_of(client);
    let accounts = meshed_accounts(
        index,
        &LINKERD,
        server,
        client,
        client_pods,
        servers_without_proxy,
        out,
        http,
    )?;
    Some(
        accounts
            .iter()
            .map(|account| {
                format!(
                    "{account}.{}.serviceaccount.identity.linkerd.{TRUST_DOMAIN}",
                    client.namespace
                )
            })
            .collect(),
    )
}

/// The TCP ports the server's pods declare.
fn tcp_ports(pods: &[&IndexedPod]) -> BTreeSet<i32> {
    pods.iter()
        .flat_map(|p| &p.facts.ports)
        .filter(|p| p.protocol == "TCP")
        .map(|p| p.port)
        .collect()
}

/// The HTTP probe paths of the server's pods, by the port number they call (named ports resolved through
/// the pod's own container ports).
fn probe_paths(pods: &[&IndexedPod]) -> BTreeMap<i32, BTreeSet<String>> {
    let mut paths: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
    for pod in pods {
        for probe in &pod.facts.http_probes {
            let port = match &probe.port {
                IntOrString::Int(number) => Some(*number),
                IntOrString::String(name) => pod
                    .facts
                    .ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.port),
            };
            if let Some(port) = port {
                paths.entry(port).or_default().insert(probe.path.clone());
            }
        }
    }
    paths
}

fn linkerd(object: LinkerdObject) -> Desired {
    Desired::new(Manifest::Linkerd(object), None)
}

fn server_object(server: &Identity, port: i32, name: &str, selector: &BTreeMap<String, String>) -> Desired {
    linkerd(LinkerdObject::Server(Server {
        api_version: ObjectKind::LinkerdServer.api().api_version(),
        kind: ObjectKind::LinkerdServer.api().kind.to_owned(),
        metadata: object_meta(
            &server.namespace,
            name.to_owned(),
            [(ISTIO_SERVER, server.label_value_with_kind())],
        ),
        spec: ServerSpec {
            pod_selector: PodSelector {
                match_labels: selector.clone(),
            },
            port,
        },
    }))
}

fn mesh_tls_object(server: &Identity, client: &Identity, name: &str, identities: Vec<String>) -> Desired {
    linkerd(LinkerdObject::MeshTlsAuthentication(MeshTlsAuthentication {
        api_version: ObjectKind::LinkerdMeshTlsAuthentication.api().api_version(),
        kind: ObjectKind::LinkerdMeshTlsAuthentication.api().kind.to_owned(),
        metadata: object_meta(
            &server.namespace,
            name.to_owned(),
            [
                (ISTIO_SERVER, server.label_value_with_kind()),
                (LINKERD_CLIENT, client.label_value()),
            ],
        ),
        spec: MeshTlsAuthenticationSpec { identities },
    }))
}

fn route_object(server: &Identity, name: &str, server_name: &str, route: &RouteMatch) -> Desired {
    linkerd(LinkerdObject::HttpRoute(HttpRoute {
        api_version: ObjectKind::LinkerdHttpRoute.api().api_version(),
        kind: ObjectKind::LinkerdHttpRoute.api().kind.to_owned(),
        metadata: object_meta(
            &server.namespace,
            name.to_owned(),
            [(ISTIO_SERVER, server.label_value_with_kind())],
        ),
        spec: HttpRouteSpec {
            parent_refs: vec![ObjectRef::new(ObjectKind::LinkerdServer, server_name)],
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch {
                    path: PathMatch {
                        match_type: route.match_type,
                        value: route.path.clone(),
                    },
                    method: route.method.clone(),
                }],
            }],
        },
    }))
}

fn client_policy(server: &Identity, port: i32, admitted: &Admitted<'_>, target: ObjectRef) -> Desired {
    let name = names::client_policy(
        server,
        port,
        admitted.client,
        &format!("{}/{}", target.kind, target.name),
    );
    linkerd(LinkerdObject::AuthorizationPolicy(AuthorizationPolicy {
        api_version: ObjectKind::LinkerdAuthorizationPolicy.api().api_version(),
        kind: ObjectKind::LinkerdAuthorizationPolicy.api().kind.to_owned(),
        metadata: object_meta(
            &server.namespace,
            name,
            [
                (ISTIO_SERVER, server.label_value_with_kind()),
                (LINKERD_CLIENT, admitted.client.label_value()),
            ],
        ),
        spec: AuthorizationPolicySpec {
            target_ref: target,
            required_authentication_refs: vec![ObjectRef::new(
                ObjectKind::LinkerdMeshTlsAuthentication,
                &admitted.mesh_tls,
            )],
        },
    }))
}

fn probe_policy(server: &Identity, port: i32, route_name: &str, target: ObjectRef) -> Desired {
    linkerd(LinkerdObject::AuthorizationPolicy(AuthorizationPolicy {
        api_version: ObjectKind::LinkerdAuthorizationPolicy.api().api_version(),
        kind: ObjectKind::LinkerdAuthorizationPolicy.api().kind.to_owned(),
        metadata: object_meta(
            &server.namespace,
            names::probe_policy(server, port, route_name),
            [(ISTIO_SERVER, server.label_value_with_kind())],
        ),
        spec: AuthorizationPolicySpec {
            target_ref: target,
            required_authentication_refs: vec![ObjectRef::new(
                ObjectKind::LinkerdNetworkAuthentication,
                &names::probe_network(server),
            )],
        },
    }))
}

fn probe_network_object(server: &Identity) -> Desired {
    linkerd(LinkerdObject::NetworkAuthentication(NetworkAuthentication {
        api_version: ObjectKind::LinkerdNetworkAuthentication.api().api_version(),
        kind: ObjectKind::LinkerdNetworkAuthentication.api().kind.to_owned(),
        metadata: object_meta(
            &server.namespace,
            names::probe_network(server),
            [(ISTIO_SERVER, server.label_value_with_kind())],
        ),
        spec: NetworkAuthenticationSpec {
            networks: PROBE_NETWORKS
                .iter()
                .map(|cidr| Network {
                    cidr: (*cidr).to_owned(),
                })
                .collect(),
        },
    }))
}
