//! Discovered calls: what the network mapper saw, as the calls between workloads the insights evaluate. In:
//! the ClientIntents of a mapper export (`holt mapper export`, any served version converted to `v2beta1`).
//! Out: one [`DiscoveredCall`] per in-cluster target: a workload, a Service (the pods it selects), or a Kafka
//! broker. Calls to the API server and to the internet are not calls between pods and are left out.

use holt_api::v2beta1::ClientIntents;
use holt_model::Identity;
use holt_model::calls::{Call, calls_of, client_of};

/// A client workload seen calling a server: a workload (with its kind when the mapper knew it), or a Service
/// (kind `Service`). Target names are resolved as the model resolves declared ones (`name.namespace` names
/// another namespace).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DiscoveredCall {
    pub client: Identity,
    pub server: Identity,
}

/// The in-cluster calls of one exported ClientIntents, in target order.
pub fn discovered_calls(intents: &ClientIntents) -> Vec<DiscoveredCall> {
    let client = client_of(intents);
    calls_of(intents)
        .into_iter()
        .filter_map(|call| match call {
            Call::Workload { server, .. } => Some(server),
            Call::Kafka { broker, .. } => Some(broker),
            Call::ApiServer { .. } | Call::Internet(_) | Call::Unsupported { .. } => None,
        })
        .map(|server| DiscoveredCall {
            client: client.clone(),
            server,
        })
        .collect()
}
