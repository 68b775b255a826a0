//! Egress rules of an identity's access policy (docs/reference-behaviour.md#network-policy-egress, opt-in
//! with `enableEgressNetworkPolicyCreation`): what this client may call.
//!
//! Per declared call: workload and Kafka targets by their `service` label (plus each Service selecting the
//! target's pods, which some CNIs need to allow traffic sent to a ClusterIP), Service targets by the Service's
//! selector on both target ports and service ports, `kubernetes.default` by the API server Service's cluster
//! IPs, internet targets by their IPs and resolved addresses; then DNS to anywhere. A client that declares any
//! call gets its egress policy even when no call can be allowed yet (fail closed: DNS only until an internet
//! domain resolves or a missing Service appears), exactly as the reference renders it. Egress is never rendered
//! in `defaultShadow` mode: there is no per-client protection for egress.

use std::collections::BTreeMap;
use std::net::IpAddr;

use holt_api::v2beta1::InternetTarget;
use holt_model::labels::{NAMESPACE_NAME, SERVICE};
use holt_model::{Call, Identity, Index, Mode, ObjectKey};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::cidr::Cidr;
use super::ports;
use super::selector::match_labels;
use crate::notice::{Notice, Reason, Subject};

/// The egress rules of `client`'s access policy, or `None` when it gets no egress policy. Network-policy
/// creation is assumed enabled.
pub fn rules(
    index: &Index,
    client: &Identity,
    notices: &mut Vec<Notice>,
) -> Option<Vec<NetworkPolicyEgressRule>> {
    let config = index.config();
    let intents: Vec<_> = index.intents_of(client).collect();
    if intents.iter().all(|(_, i)| i.calls.is_empty()) {
        return None;
    }
    if !config.enable_egress_network_policy_creation {
        for (key, intents) in &intents {
            if intents.calls.iter().any(|c| matches!(c, Call::Internet(_))) {
                notices.push(Notice::new(
                    Subject::client_intents(key),
                    Reason::InternetEgressNetworkPolicyWithEgressPolicyDisabled,
                    "internet targets are declared but egress network policies are disabled, so they are not enforced",
                ));
            }
        }
        return None;
    }
    if config.mode == Mode::DefaultShadow {
        notices.push(Notice::new(
            Subject::identity(client),
            Reason::EnforcementGloballyDisabled,
            "egress policies are not rendered in defaultShadow mode",
        ));
        return None;
    }
    if !config.watches(&client.namespace) {
        notices.push(Notice::new(
            Subject::identity(client),
            Reason::NamespaceNotAllowed,
            format!(
                "namespace {} is not in watchedNamespaces: no egress policy for {}",
                client.namespace, client.name
            ),
        ));
        return None;
    }
    let mut rules: Vec<NetworkPolicyEgressRule> = Vec::new();
    for (key, intents) in &intents {
        for call in &intents.calls {
            let subject = || Subject::client_intents(key);
            let new = match call {
                Call::Workload { server, .. } if server.is_service() => {
                    service_rules(index, server, subject, notices)
                }
                Call::Workload { server, .. } => workload_rules(index, server),
                Call::Kafka { broker, .. } => workload_rules(index, broker),
                Call::ApiServer { .. } => api_server_rules(index, subject, notices),
                Call::Internet(target) => {
                    internet_rules(index, target, &intents.resolved_ips, subject, notices)
                }
                Call::Unsupported { .. } => Vec::new(),
            };
            for rule in new {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    // Fail closed, as the reference does: a client that declares calls gets its egress policy even when none
    // of them can be turned into a rule yet (internet domains not resolved, a target Service missing, only
    // targets Holt does not enforce). With DNS auto-allowed that policy allows DNS only; without it there is
    // no rule at all and, like the reference, no egress policy.
    if config.enable_egress_autoallow_dns_traffic {
        rules.push(NetworkPolicyEgressRule {
            to: None,
            ports: Some(ports::dns()),
        });
    }
    if rules.is_empty() {
        return None;
    }
    Some(rules)
}

fn peer_in(namespace: &str, pods: BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(match_labels(pods)),
        namespace_selector: Some(match_labels(
            [(NAMESPACE_NAME.to_owned(), namespace.to_owned())].into(),
        )),
        ip_block: None,
    }
}

/// Pods of a workload (or Kafka broker) identity, by their `service` label — whatever their kind, as in the
/// reference — and the pods of every Service selecting them.
fn workload_rules(index: &Index, server: &Identity) -> Vec<NetworkPolicyEgressRule> {
    let by_label = NetworkPolicyEgressRule {
        to: Some(vec![peer_in(
            &server.namespace,
            [(SERVICE.to_owned(), server.label_value())].into(),
        )]),
        ports: None,
    };
    let pods = index.pods_of(server);
    let mut services: Vec<_> = index
        .services_in(&server.namespace)
        .filter(|s| pods.iter().any(|p| s.selects(&p.facts.labels)))
        .filter_map(|s| s.selector.clone().map(|selector| (s.key.name.clone(), selector)))
        .collect();
    services.sort();
    std::iter::once(by_label)
        .chain(services.into_iter().map(|(_, selector)| NetworkPolicyEgressRule {
            to: Some(vec![peer_in(&server.namespace, selector)]),
            ports: None,
        }))
        .collect()
}

fn service_rules(
    index: &Index,
    server: &Identity,
    subject: impl Fn() -> Subject,
    notices: &mut Vec<Notice>,
) -> Vec<NetworkPolicyEgressRule> {
    let key = ObjectKey::new(&server.namespace, &server.name);
    let Some(service) = index.service(&key) else {
        notices.push(Notice::new(
            subject(),
            Reason::KubernetesServiceNotFound,
            format!("Service {key} does not exist: no egress rule for it"),
        ));
        return Vec::new();
    };
    let Some(selector) = service.selector.clone() else {
        notices.push(Notice::new(
            subject(),
            Reason::ServiceWithoutSelector,
            format!("Service {key} has no selector: no egress rule for it"),
        ));
        return Vec::new();
    };
    vec![NetworkPolicyEgressRule {
        to: Some(vec![peer_in(&server.namespace, selector)]),
        ports: Some(ports::target_and_service_ports(service)),
    }]
}

/// `kubernetes.default`: the `default/kubernetes` Service has no selector, so its cluster IPs are allowed,
/// on its ports and target ports. The API server's own endpoint addresses are not part of the model.
fn api_server_rules(
    index: &Index,
    subject: impl Fn() -> Subject,
    notices: &mut Vec<Notice>,
) -> Vec<NetworkPolicyEgressRule> {
    let service = index
        .service(&ObjectKey::new("default", "kubernetes"))
        .filter(|s| !s.cluster_ips.is_empty());
    let Some(service) = service else {
        notices.push(Notice::new(
            subject(),
            Reason::ApiServerServiceNotFound,
            "the default/kubernetes Service (with a cluster IP) is unknown: no egress rule for kubernetes.default",
        ));
        return Vec::new();
    };
    let peers: Vec<NetworkPolicyPeer> = service
        .cluster_ips
        .iter()
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| ip_peer(Cidr::host(ip)))
        .collect();
    if peers.is_empty() {
        return Vec::new();
    }
    vec![NetworkPolicyEgressRule {
        to: Some(peers),
        ports: Some(ports::target_and_service_ports(service)),
    }]
}

fn ip_peer(cidr: Cidr) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_string(),
            except: None,
        }),
        namespace_selector: None,
        pod_selector: None,
    }
}

/// The target's IPs and the addresses its domains were seen resolving to (`status.resolvedIPs`, which is also
/// how wildcard domains get addresses), on the target's ports (TCP). No address yet → no rule (the policy still
/// exists, see [`rules`]), and a notice naming the domains still waiting.
fn internet_rules(
    index: &Index,
    target: &InternetTarget,
    resolved_ips: &BTreeMap<String, Vec<String>>,
    subject: impl Fn() -> Subject,
    notices: &mut Vec<Notice>,
) -> Vec<NetworkPolicyEgressRule> {
    let config = index.config();
    let addresses = target.ips.iter().chain(
        target
            .domains
            .iter()
            .flat_map(|d| resolved_ips.get(d).into_iter().flatten()),
    );
    let mut cidrs = Vec::new();
    let mut any = false;
    for address in addresses {
        any = true;
        match Cidr::parse(address) {
            Ok(cidr) => cidrs.push(cidr),
            Err(error) => notices.push(Notice::new(
                subject(),
                Reason::InvalidInternetAddress,
                error.to_string(),
            )),
        }
    }
    let unresolved: Vec<&str> = target
        .domains
        .iter()
        .filter(|d| resolved_ips.get(*d).is_none_or(Vec::is_empty))
        .map(String::as_str)
        .collect();
    if !unresolved.is_empty() {
        notices.push(Notice::new(
            subject(),
            Reason::InternetEgressNetworkPolicyCreationWaitingUnresolvedDNS,
            format!(
                "waiting for the resolved addresses of {}: not allowed until the network mapper reports them",
                unresolved.join(", ")
            ),
        ));
    }
    if !any {
        return Vec::new();
    }
    cidrs.sort();
    cidrs.dedup();
    if config.enable_group_internet_ips_by_cidr
        && cidrs.len() > config.enable_group_internet_ips_by_cidr_peers_limit
    {
        cidrs = cidrs.into_iter().map(Cidr::grouped_to_24).collect();
        cidrs.sort();
        cidrs.dedup();
    }
    if cidrs.is_empty() {
        return Vec::new();
    }
    let ports: Vec<NetworkPolicyPort> = target
        .ports
        .iter()
        .map(|p| ports::port(IntOrString::Int(*p), "TCP"))
        .collect();
    vec![NetworkPolicyEgressRule {
        to: Some(cidrs.into_iter().map(ip_peer).collect()),
        ports: (!ports.is_empty()).then_some(ports),
    }]
}
