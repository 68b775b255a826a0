//! Istio AuthorizationPolicies (docs/reference-behaviour.md#istio): for each enforced (client, server) pair
//! in the mesh, an ALLOW policy in the server's namespace admitting the client's service accounts, restricted
//! to the declared HTTP paths and methods when every declaration of the pair lists them.
//!
//! A pair is in the mesh when the client or the server has pods in Istio's mesh: with an `istio-proxy`
//! sidecar, or with one asked for by their namespace or their own labels (`holt_model::mesh`, injection
//! happens when pods are created). Pairs where neither is in the mesh get no policy. Whether the pair's
//! HTTP paths and methods are enforced goes to [`HttpCoverage`], which says so when no mesh enforces them
//! (clusters without a mesh and without HTTP declarations get no noise).

use std::collections::BTreeMap;

use holt_model::labels::{ISTIO_CLIENT_WITH_KIND, ISTIO_SERVER};
use holt_model::{Grant, Identity, Index};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::desired::{Desired, Manifest, Rendered, object_meta};
use crate::http_coverage::HttpCoverage;
use crate::mesh_clients::{Mesh, mesh_clients, meshed_accounts, outside};
use crate::network_policy::selector;
use crate::notice::{Reason, Subject};

pub const API_VERSION: &str = "security.istio.io/v1";
pub const KIND: &str = "AuthorizationPolicy";

/// `security.istio.io/v1` AuthorizationPolicy, with only the fields Holt writes.
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
    pub selector: WorkloadSelector,
    pub action: Action,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Allow,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub from: Vec<From>,
    /// Empty: any request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<To>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct From {
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub principals: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct To {
    pub operation: Operation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub paths: Vec<String>,
    /// Empty: any method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

/// Istio's mesh: pods with the `istio-proxy` sidecar or asking for it (`holt_model::mesh`).
const ISTIO: Mesh = Mesh {
    name: "Istio",
    proxy: "istio-proxy sidecar",
    in_mesh: |pod| pod.in_istio_mesh,
    client_outside: Reason::MissingSidecar,
    server_outside: Reason::ServerMissingSidecar,
};

/// Renders the AuthorizationPolicies admitting clients to `server` into `out`, and records in `http` which
/// clients' HTTP restrictions they enforce.
pub(crate) fn render(
    index: &Index,
    server: &Identity,
    out: &mut Rendered<Vec<Desired>>,
    http: &mut HttpCoverage,
) {
    let config = index.config();
    let clients = mesh_clients(index, server);
    if !config.enable_istio_policy_creation {
        for (client, _) in &clients {
            http.not_enforced(client, "Istio policy creation is switched off");
        }
        return;
    }
    let server_pods = index.pods_of(server);
    let server_in_mesh = server_pods.iter().any(|p| p.in_istio_mesh);
    let servers_without_sidecar = outside(&ISTIO, &server_pods);
    for (client, grant) in clients {
        let client_pods = index.pods_of(client);
        let client_in_mesh = client_pods.iter().any(|p| p.in_istio_mesh);
        if !client_in_mesh && !server_in_mesh {
            http.not_enforced(
                client,
                "neither side is in the Istio mesh (no istio-proxy sidecar, none asked for by namespace or pod labels)",
            );
            continue;
        }
        let Some(accounts) = meshed_accounts(
            index,
            &ISTIO,
            server,
            client,
            client_pods,
            &servers_without_sidecar,
            out,
            http,
        ) else {
            continue;
        };
        let selector = match selector::workload_labels(index, server) {
            Ok(labels) => labels,
            Err(error) => {
                out.notices.push(error.notice(Subject::identity(server)));
                http.not_enforced(client, "the server's pods cannot be selected");
                return;
            }
        };
        let principals = accounts
            .iter()
            .map(|account| {
                format!(
                    "{}/ns/{}/sa/{account}",
                    config.istio_trust_domain, client.namespace
                )
            })
            .collect();
        out.value
            .push(policy(server, client, grant, selector, principals));
        http.enforced(client);
    }
}

fn policy(
    server: &Identity,
    client: &Identity,
    grant: &Grant,
    selector: BTreeMap<String, String>,
    principals: Vec<String>,
) -> Desired {
    let to = if grant.any_request {
        Vec::new()
    } else {
        grant
            .http
            .iter()
            .map(|resource| To {
                operation: Operation {
                    paths: vec![resource.path.clone()],
                    methods: resource.methods.iter().map(|m| m.as_str().to_owned()).collect(),
                },
            })
            .collect()
    };
    let name = format!(
        "authorization-policy-to-{}-from-{}.{}",
        server.name_with_kind_rfc1123(),
        client.name_with_kind_rfc1123(),
        client.namespace
    );
    let policy = AuthorizationPolicy {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        metadata: object_meta(
            &server.namespace,
            name,
            [
                (ISTIO_SERVER, server.label_value_with_kind()),
                (ISTIO_CLIENT_WITH_KIND, client.label_value_with_kind()),
            ],
        ),
        spec: AuthorizationPolicySpec {
            selector: WorkloadSelector {
                match_labels: selector,
            },
            action: Action::Allow,
            rules: vec![Rule {
                from: vec![From {
                    source: Source { principals },
                }],
                to,
            }],
        },
    };
    Desired::new(Manifest::IstioAuthorizationPolicy(policy), None)
}
