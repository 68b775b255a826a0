//! NetworkPolicy ports: from a Service's ports, and the DNS ports.

use holt_model::facts::ServiceFacts;
use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A port with an explicit protocol. Named ports (a Service's named `targetPort`) stay named: NetworkPolicy
/// resolves them against the selected pods' container ports.
pub fn port(port: IntOrString, protocol: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(port),
        protocol: Some(protocol.to_owned()),
        end_port: None,
    }
}

/// Each Service port's `targetPort` (the pod port traffic arrives on), with its protocol.
pub fn target_ports(service: &ServiceFacts) -> Vec<NetworkPolicyPort> {
    dedup(
        service
            .ports
            .iter()
            .map(|p| port(p.target_port.clone(), &p.protocol))
            .collect(),
    )
}

/// Each Service port's `targetPort` and `port`: some CNIs evaluate egress before the Service address is
/// translated, so both must be allowed.
pub fn target_and_service_ports(service: &ServiceFacts) -> Vec<NetworkPolicyPort> {
    dedup(
        service
            .ports
            .iter()
            .flat_map(|p| {
                [
                    port(p.target_port.clone(), &p.protocol),
                    port(IntOrString::Int(p.port), &p.protocol),
                ]
            })
            .collect(),
    )
}

/// UDP and TCP 53.
pub fn dns() -> Vec<NetworkPolicyPort> {
    vec![
        port(IntOrString::Int(53), "UDP"),
        port(IntOrString::Int(53), "TCP"),
    ]
}

/// Removes repeated ports, keeping the first occurrence (Service ports often share a target port).
fn dedup(ports: Vec<NetworkPolicyPort>) -> Vec<NetworkPolicyPort> {
    let mut unique: Vec<NetworkPolicyPort> = Vec::with_capacity(ports.len());
    for p in ports {
        if !unique.contains(&p) {
            unique.push(p);
        }
    }
    unique
}
