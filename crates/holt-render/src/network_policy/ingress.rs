//! Ingress rules of an identity's access policy (docs/reference-behaviour.md#network-policy-ingress): who may
//! call this server.
//!
//! One rule per client namespace, admitting pods that carry the server's access label (`access-…`, or
//! `svc-access-…` plus the Service's target ports for a Service identity); and, for a DNS server in
//! `kube-system`, DNS from anywhere. Rendered only when the server is enforced
//! (docs/reference-behaviour.md#enforcement).

use std::collections::BTreeSet;

use holt_model::labels::{NAMESPACE_NAME, access_label};
use holt_model::{Enforcement, Identity, Index, ObjectKey};
use k8s_openapi::api::networking::v1::{NetworkPolicyIngressRule, NetworkPolicyPeer};

use super::ports;
use super::selector::{SelectorError, match_labels};
use crate::notice::{Notice, Reason, Subject};

/// The clients admitted to `server`: those declared by ClientIntents (workload, Service and Kafka targets)
/// or `called-by` annotations.
pub fn admitted_clients(index: &Index, server: &Identity) -> BTreeSet<Identity> {
    index
        .server(server)
        .map(|access| access.clients.keys().cloned().collect())
        .unwrap_or_default()
}

/// The ingress rules of `server`'s access policy, or `None` when it gets no ingress policy (no clients, not
/// enforced, or its pods cannot be selected). Network-policy creation is assumed enabled.
pub fn rules(
    index: &Index,
    server: &Identity,
    notices: &mut Vec<Notice>,
) -> Option<Vec<NetworkPolicyIngressRule>> {
    let clients = admitted_clients(index, server);
    if clients.is_empty() {
        return None;
    }
    match index.enforcement(server) {
        Enforcement::NotWatched => {
            notices.push(Notice::new(
                Subject::identity(server),
                Reason::NamespaceNotAllowed,
                format!(
                    "namespace {} is not in watchedNamespaces: no ingress policy for {}",
                    server.namespace, server.name
                ),
            ));
            return None;
        }
        enforcement if !enforcement.is_enforced() => return None,
        _ => {}
    }
    let ports = if server.is_service() {
        let key = ObjectKey::new(&server.namespace, &server.name);
        let service = match index.service(&key) {
            None => Err(SelectorError::ServiceNotFound(key)),
            Some(s) if s.selector.is_none() => Err(SelectorError::ServiceWithoutSelector(key)),
            Some(s) => Ok(s),
        };
        match service {
            Ok(service) => Some(ports::target_ports(service)),
            Err(error) => {
                notices.push(error.notice(Subject::identity(server)));
                return None;
            }
        }
    } else {
        None
    };
    let label = access_label(server);
    let namespaces: BTreeSet<&str> = clients.iter().map(|c| c.namespace.as_str()).collect();
    let mut rules: Vec<NetworkPolicyIngressRule> = namespaces
        .into_iter()
        .map(|namespace| NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(match_labels([(label.clone(), "true".to_owned())].into())),
                namespace_selector: Some(match_labels(
                    [(NAMESPACE_NAME.to_owned(), namespace.to_owned())].into(),
                )),
                ip_block: None,
            }]),
            ports: ports.clone(),
        })
        .collect();
    if is_dns_server(server) {
        rules.push(NetworkPolicyIngressRule {
            from: None,
            ports: Some(ports::dns()),
        });
    }
    Some(rules)
}

/// `coredns`, `kube-dns`, ... in `kube-system`: once intents isolate it, every pod still needs DNS.
fn is_dns_server(server: &Identity) -> bool {
    server.namespace == "kube-system" && server.name.ends_with("dns")
}
