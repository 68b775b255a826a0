//! The computation: the declared state ([`ClusterState`]) and the discovered calls in, [`Insights`] out.
//!
//! Three scenarios are modelled, rendered and evaluated with `holt-reach`, each with the cluster's own
//! NetworkPolicies and Holt's: **now** (the configuration as given), **if protected** (a ProtectedService
//! added for the workload of every called server, all at once: a server's ingress is decided by the policies
//! selecting its own pods, so protecting the others changes nothing for it) and **if active** (mode
//! `defaultActive`).
//!
//! A call names workloads, not pods: it is evaluated from one pod of the client to one pod of the server,
//! the first of each by pod name (the pods of one workload come from one template, so they carry the same
//! labels and ports). It names no port either: it is evaluated on every TCP port the server's pod serves (its
//! container ports and the target ports of the Services selecting it) and is blocked when any of them is
//! denied. A call whose client or server has no pod in the state, or whose server serves no TCP port, is not
//! evaluated and says why.
//!
//! A declared call (a client a server's declarations name) that no discovered call matches — by the pods of
//! both ends, as a discovered call is found declared — is *declared, not seen*.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use holt_api::v2beta1::{ProtectedService, ProtectedServiceSpec};
use holt_model::{Config, Identity, Mode, Object, ObjectKey, ServerAccess};
use holt_reach::{ClusterError, Endpoint, Flow, Protocol, Side};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::cluster_state::ClusterState;
use crate::discovered::DiscoveredCall;
use crate::report::{
    Blocker, CallInsight, DeclaredCall, Direction, Insights, Outcome, ServerEnforcement, ServerInsight,
    WorkloadName,
};
use crate::scenario::Scenario;
use crate::served_ports::served_ports;

/// The ProtectedServices the "if protected" scenario adds are named `<this prefix><server>`.
pub const PROTECTED_SERVICE_PREFIX: &str = "insights-if-protected-";

/// The declared state cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    #[error("the evaluator cannot read the declared state: {0}")]
    Evaluator(#[from] ClusterError),
}

/// A call whose two ends were found: the pod standing for each, and the ports evaluated.
struct Resolved {
    client_pod: ObjectKey,
    server_pod: ObjectKey,
    server_workload: Identity,
    ports: Vec<u16>,
}

/// Everything about every discovered call and every server they reach, and the declared calls none of them
/// matches.
pub fn insights(state: &ClusterState, calls: &[DiscoveredCall]) -> Result<Insights, InsightsError> {
    insights_where(state, calls, &|_, _| true)
}

/// The insights of the calls `keep` selects (by client and server) and of their servers, and the declared calls
/// `keep` selects that no discovered call matches. Only the selected calls are evaluated, but every call in
/// `calls` counts as seen: a declared call whose discovered counterpart `keep` leaves out is not reported as
/// not seen.
pub fn insights_where(
    state: &ClusterState,
    calls: &[DiscoveredCall],
    keep: &dyn Fn(&Identity, &Identity) -> bool,
) -> Result<Insights, InsightsError> {
    let calls: BTreeSet<&DiscoveredCall> = calls.iter().collect();
    let now = Scenario::build(state, state.config.clone(), &[])?;
    let resolved: Vec<(&DiscoveredCall, Result<Resolved, String>)> =
        calls.iter().map(|call| (*call, resolve(&now, call))).collect();
    let server_pods: BTreeSet<&ObjectKey> = resolved
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|r| &r.server_pod))
        .collect();
    let declared_on = declarations_by_server_pod(&now, &server_pods);
    // Every call seen, selected or not: which declarations it matches.
    let mut seen_declarations: BTreeSet<(&Identity, &Identity)> = BTreeSet::new();
    let mut selected: Vec<(&DiscoveredCall, Result<Resolved, String>, bool)> = Vec::new();
    for (call, resolution) in resolved {
        let matched = match &resolution {
            Ok(r) => declarations_matching(&now, declared_on.get(&r.server_pod), &r.client_pod),
            Err(_) => Vec::new(),
        };
        let declared = !matched.is_empty();
        seen_declarations.extend(matched);
        if keep(&call.client, &call.server) {
            selected.push((call, resolution, declared));
        }
    }

    let protections: BTreeSet<&Identity> = selected
        .iter()
        .filter_map(|(_, r, _)| r.as_ref().ok().map(|r| &r.server_workload))
        .collect();
    let protections: Vec<Object> = protections.into_iter().map(protected_service).collect();
    let protected = Scenario::build(state, state.config.clone(), &protections)?;
    let active_config = Config {
        mode: Mode::DefaultActive,
        ..state.config.clone()
    };
    let active = Scenario::build(state, active_config, &[])?;

    let mut insights = Insights::default();
    for (call, resolution, declared) in &selected {
        let (ports, [in_now, in_protected, in_active]) = match resolution {
            Ok(r) => (
                r.ports.clone(),
                [&now, &protected, &active].map(|scenario| outcome(scenario, r)),
            ),
            Err(reason) => {
                let not = Outcome::NotEvaluated {
                    reason: reason.clone(),
                };
                (Vec::new(), [not.clone(), not.clone(), not])
            }
        };
        insights.calls.push(CallInsight {
            client: WorkloadName::from(&call.client),
            server: WorkloadName::from(&call.server),
            declared: *declared,
            ports,
            now: in_now,
            if_protected: in_protected,
            if_active: in_active,
        });
    }
    let workloads: HashMap<WorkloadName, &Identity> = selected
        .iter()
        .map(|(call, r, _)| {
            let workload = r.as_ref().map_or(&call.server, |r| &r.server_workload);
            (WorkloadName::from(&call.server), workload)
        })
        .collect();
    insights.servers = servers(&now, &insights.calls, &workloads);
    insights.declared_not_seen = declared_not_seen(&now, &seen_declarations, keep);
    Ok(insights)
}

/// The declared calls (server, client) `keep` selects that are not in `seen`, once each by name; calls to the
/// API server are left out (the mapper does not report them as calls between pods).
fn declared_not_seen(
    now: &Scenario,
    seen: &BTreeSet<(&Identity, &Identity)>,
    keep: &dyn Fn(&Identity, &Identity) -> bool,
) -> Vec<DeclaredCall> {
    let unseen: BTreeSet<DeclaredCall> = now
        .index
        .servers()
        .filter(|access| !access.server.is_api_server())
        .flat_map(|access| access.clients.keys().map(move |client| (&access.server, client)))
        .filter(|pair| !seen.contains(pair))
        .filter(|(server, client)| keep(client, server))
        .map(|(server, client)| DeclaredCall {
            client: WorkloadName::from(client),
            server: WorkloadName::from(server),
        })
        .collect();
    // A call declared both with and without a kind is listed once.
    let mut by_name: BTreeSet<(String, String)> = BTreeSet::new();
    unseen
        .into_iter()
        .filter(|call| by_name.insert((call.client.to_string(), call.server.to_string())))
        .collect()
}

/// The pods standing for the call's two ends, and the ports to evaluate; or why the call cannot be evaluated.
fn resolve(now: &Scenario, call: &DiscoveredCall) -> Result<Resolved, String> {
    let first_pod = |identity: &Identity| {
        now.index
            .pods_of(identity)
            .into_iter()
            .min_by(|a, b| a.facts.key.name.cmp(&b.facts.key.name))
    };
    let client = first_pod(&call.client).ok_or_else(|| {
        format!(
            "no pod of client {} in the input",
            WorkloadName::from(&call.client)
        )
    })?;
    let server = first_pod(&call.server).ok_or_else(|| {
        format!(
            "no pod of server {} in the input",
            WorkloadName::from(&call.server)
        )
    })?;
    let key = &server.facts.key;
    let server_input = now
        .cluster
        .pod(&key.namespace, &key.name)
        .map(|id| now.cluster.pod_input(id))
        .ok_or_else(|| format!("no pod {key} in the evaluator's cluster"))?;
    let ports: Vec<u16> = served_ports(server_input, now.index.services_in(&key.namespace))
        .into_iter()
        .filter(|(_, protocol)| *protocol == Protocol::Tcp)
        .map(|(port, _)| port)
        .collect();
    if ports.is_empty() {
        return Err(format!(
            "server {} serves no TCP port in the input",
            WorkloadName::from(&call.server)
        ));
    }
    Ok(Resolved {
        client_pod: client.facts.key.clone(),
        server_pod: key.clone(),
        server_workload: server.identity.identity.clone(),
        ports,
    })
}

/// A ProtectedService naming the server's workload (any kind), in its namespace.
fn protected_service(server: &Identity) -> Object {
    Object::ProtectedService(ProtectedService {
        metadata: ObjectMeta {
            name: Some(format!("{PROTECTED_SERVICE_PREFIX}{}", server.name)),
            namespace: Some(server.namespace.clone()),
            ..ObjectMeta::default()
        },
        spec: ProtectedServiceSpec {
            name: server.name.clone(),
            kind: None,
        },
        status: None,
    })
}

/// For each called server pod, the declared servers (workload, legacy or Service identities) it stands for.
fn declarations_by_server_pod<'a>(
    now: &'a Scenario,
    server_pods: &BTreeSet<&ObjectKey>,
) -> HashMap<ObjectKey, Vec<&'a ServerAccess>> {
    let mut by_pod: HashMap<ObjectKey, Vec<&ServerAccess>> = HashMap::new();
    for access in now.index.servers() {
        for pod in now.index.pods_of(&access.server) {
            if server_pods.contains(&pod.facts.key) {
                by_pod.entry(pod.facts.key.clone()).or_default().push(access);
            }
        }
    }
    by_pod
}

/// The declarations of the server (server identity, client identity) whose client identity the client pod
/// stands for: the call is declared when there is one.
fn declarations_matching<'a>(
    now: &'a Scenario,
    declared: Option<&Vec<&'a ServerAccess>>,
    client_pod: &ObjectKey,
) -> Vec<(&'a Identity, &'a Identity)> {
    declared
        .into_iter()
        .flatten()
        .flat_map(|access| access.clients.keys().map(move |client| (&access.server, client)))
        .filter(|(_, client)| {
            now.index
                .pods_of(client)
                .iter()
                .any(|pod| pod.facts.key == *client_pod)
        })
        .collect()
}

/// The call's fate in one scenario: blocked on the first port denied, allowed when none is.
fn outcome(scenario: &Scenario, call: &Resolved) -> Outcome {
    let pod = |key: &ObjectKey| scenario.cluster.pod(&key.namespace, &key.name);
    let (Some(from), Some(to)) = (pod(&call.client_pod), pod(&call.server_pod)) else {
        return Outcome::NotEvaluated {
            reason: "a pod of the call is missing from the evaluator's cluster".into(),
        };
    };
    for port in &call.ports {
        let verdict = scenario.cluster.evaluate(&Flow {
            from: Endpoint::Pod(from),
            to: Endpoint::Pod(to),
            port: *port,
            protocol: Protocol::Tcp,
        });
        if !verdict.allowed {
            let mut by = Vec::new();
            for (side, direction) in [
                (&verdict.egress, Direction::Egress),
                (&verdict.ingress, Direction::Ingress),
            ] {
                if let Side::Denied { isolated_by } = side {
                    by.extend(isolated_by.iter().map(|policy| Blocker {
                        holt: scenario.holt_policies.contains(policy),
                        policy: policy.clone(),
                        direction,
                    }));
                }
            }
            return Outcome::Blocked {
                port: *port,
                protocol: Protocol::Tcp,
                by,
            };
        }
    }
    Outcome::Allowed
}

/// One row per server called, in name order; `workloads`: the workload standing for each called server.
fn servers(
    now: &Scenario,
    calls: &[CallInsight],
    workloads: &HashMap<WorkloadName, &Identity>,
) -> Vec<ServerInsight> {
    let mut by_server: BTreeMap<&WorkloadName, Vec<&CallInsight>> = BTreeMap::new();
    for call in calls {
        by_server.entry(&call.server).or_default().push(call);
    }
    by_server
        .into_iter()
        .map(|(server, calls)| {
            let clients_where = |keep: &dyn Fn(&CallInsight) -> bool| -> Vec<WorkloadName> {
                calls
                    .iter()
                    .filter(|c| keep(c))
                    .map(|c| c.client.clone())
                    .collect()
            };
            let undeclared_clients = clients_where(&|c| !c.declared);
            let enforcement = workloads
                .get(server)
                .map(|workload| now.index.enforcement(workload))
                .unwrap_or(holt_model::Enforcement::Shadow);
            ServerInsight {
                server: server.clone(),
                enforcement: ServerEnforcement::from(&enforcement),
                clients: clients_where(&|_| true),
                blocked_if_protected: clients_where(&|c| c.if_protected.is_blocked()),
                ready_to_protect: undeclared_clients.is_empty(),
                undeclared_clients,
            }
        })
        .collect()
}
