//! The ports a pod serves: its container ports, and the target ports of the Services of its namespace whose
//! selector it matches (a named target port resolved against the pod's container ports). `holt diff`
//! compares calls on these ports, and the insights evaluate a discovered call (which names no port) on the
//! TCP ones.

use std::collections::BTreeSet;

use holt_model::facts::ServiceFacts;
use holt_reach::{PodInput, Protocol};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A port and its protocol.
pub type ServedPort = (u16, Protocol);

/// The pod's container ports and the target ports of the `services` (any namespace: those of other
/// namespaces are skipped) that select it. A Service port with an unknown protocol or a named target port the
/// pod does not have adds nothing.
pub fn served_ports<'a>(
    pod: &PodInput,
    services: impl IntoIterator<Item = &'a ServiceFacts>,
) -> BTreeSet<ServedPort> {
    let mut ports: BTreeSet<ServedPort> = pod.ports.iter().map(|p| (p.port, p.protocol)).collect();
    for service in services {
        if service.key.namespace != pod.namespace {
            continue;
        }
        let Some(selector) = service.selector.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        if !selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            continue;
        }
        for port in &service.ports {
            let Some(protocol) = Protocol::parse_exact(&port.protocol) else {
                continue;
            };
            let number = match &port.target_port {
                IntOrString::Int(n) => u16::try_from(*n).ok(),
                IntOrString::String(name) => pod
                    .ports
                    .iter()
                    .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
                    .map(|p| p.port),
            };
            if let Some(number) = number.filter(|n| *n > 0) {
                ports.insert((number, protocol));
            }
        }
    }
    ports
}
