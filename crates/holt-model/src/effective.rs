//! Computing the effective access of one server or broker from the index's reverse lookups: the cost is
//! proportional to that server's declarations, never to the cluster.

use std::collections::BTreeMap;

use crate::access::{Declaration, Grant, KafkaAccess, ServerAccess};
use crate::calls::Call;
use crate::identity::Identity;
use crate::index::Index;

/// The effective access of a server, or `None` when no client declares it.
pub(crate) fn server_access(index: &Index, server: &Identity) -> Option<ServerAccess> {
    let mut clients: BTreeMap<Identity, Grant> = BTreeMap::new();
    for declaration in index.declarations(server) {
        match declaration {
            Declaration::ClientIntents(key) => {
                let Some(intents) = index.intents(key) else {
                    continue;
                };
                for call in &intents.calls {
                    match call {
                        Call::Workload { server: target, http } if target == server => {
                            let grant = clients.entry(intents.client.clone()).or_default();
                            grant.declared_by.push(declaration.clone());
                            if http.is_empty() {
                                grant.any_request = true;
                            }
                            grant.http.extend(http.iter().cloned());
                        }
                        Call::Kafka { broker, .. } if broker == server => {
                            let grant = clients.entry(intents.client.clone()).or_default();
                            grant.declared_by.push(declaration.clone());
                            grant.kafka = true;
                        }
                        // Calls to other servers, and calls to nothing in the cluster.
                        Call::Workload { .. }
                        | Call::Kafka { .. }
                        | Call::ApiServer { .. }
                        | Call::Internet(_)
                        | Call::Unsupported { .. } => {}
                    }
                }
            }
            Declaration::AccessAnnotation(pod_key) => {
                let Some(pod) = index.pod(pod_key) else { continue };
                for client in pod.declared_clients() {
                    let grant = clients.entry(client.clone()).or_default();
                    grant.declared_by.push(declaration.clone());
                    grant.any_request = true;
                }
            }
        }
    }
    if clients.is_empty() {
        return None;
    }
    for grant in clients.values_mut() {
        grant.http.sort();
        grant.http.dedup();
        grant.declared_by.sort();
        grant.declared_by.dedup();
    }
    Some(ServerAccess {
        server: server.clone(),
        enforcement: index.enforcement(server),
        clients,
    })
}

/// The effective Kafka access of a broker, or `None` when neither intents nor a KafkaServerConfig name it.
pub(crate) fn kafka_access(index: &Index, broker: &Identity) -> Option<KafkaAccess> {
    let configs: Vec<_> = index.kafka_configs_of(broker).cloned().collect();
    let mut clients: BTreeMap<Identity, crate::access::TopicGrants> = BTreeMap::new();
    for (_, intents) in index.kafka_intents(broker) {
        for call in &intents.calls {
            let Call::Kafka {
                broker: target,
                topics,
            } = call
            else {
                continue;
            };
            if target != broker {
                continue;
            }
            let grants = clients.entry(intents.client.clone()).or_default();
            for topic in topics {
                grants
                    .entry(topic.name.clone())
                    .or_default()
                    .extend(topic.operations.iter().copied());
            }
        }
    }
    if configs.is_empty() && clients.is_empty() {
        return None;
    }
    // A broker is protected as the workload its KafkaServerConfig names, kind included.
    let kind = configs
        .iter()
        .find_map(|key| index.kafka_config(key)?.workload.kind.clone());
    let as_server = Identity::new(&broker.namespace, &broker.name, kind.as_deref());
    Some(KafkaAccess {
        broker: broker.clone(),
        configs,
        enforcement: index.enforcement(&as_server),
        clients,
    })
}

/// Whether Holt renders an ingress access policy for this server (so its pods become isolated).
pub fn has_ingress_policy(access: &ServerAccess) -> bool {
    access.enforcement.is_enforced() && !access.clients.is_empty()
}
