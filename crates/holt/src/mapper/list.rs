//! `holt mapper list`: the reference's text format, one block per client; under a server, the HTTP paths
//! and the Kafka topics the client was seen using (the reference's lines for them).
//!
//! ```text
//! client in namespace shop calls:
//!   - kafka in namespace kafka
//!     - Kafka topic: orders, operations: [produce describe]
//!   - server in namespace shop
//!     - path /orders/*, methods: [GET,POST]
//!   - internet: api.example.com (93.184.216.34)
//! ```
//!
//! A broker whose topics were seen but not the connection to it gets a line of its own.

use std::collections::BTreeMap;
use std::fmt::Write;

use holt_mapper_api::{DiscoveredIntent, KafkaTopicUse, Target};

/// What one client is listed with: lines of its in-cluster servers (by namespace and name) with their
/// detail lines, then its internet lines.
#[derive(Default)]
struct Block {
    servers: BTreeMap<(String, String), Vec<String>>,
    internet: Vec<String>,
}

pub fn render(intents: &[DiscoveredIntent], kafka: &[KafkaTopicUse]) -> String {
    let mut clients: BTreeMap<(&str, &str), Block> = BTreeMap::new();
    for intent in intents {
        let block = clients
            .entry((&intent.client.namespace, &intent.client.name))
            .or_default();
        match &intent.target {
            Target::Kubernetes { server, http, .. } => {
                let details = block
                    .servers
                    .entry((server.namespace.clone(), server.name.clone()))
                    .or_default();
                details.extend(
                    http.iter()
                        .map(|p| format!("    - path {}, methods: [{}]", p.path, p.methods.join(","))),
                );
            }
            Target::Internet { domain, ips } => {
                let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
                block.internet.push(match domain {
                    Some(domain) if ips.is_empty() => format!("  - internet: {domain}"),
                    Some(domain) => format!("  - internet: {domain} ({})", ips.join(", ")),
                    None => format!("  - internet: {}", ips.join(", ")),
                });
            }
        }
    }
    for used in kafka {
        let Some((name, namespace)) = used.broker.split_once('.') else {
            continue;
        };
        let operations: Vec<&str> = used
            .allowed
            .iter()
            .chain(&used.denied)
            .map(String::as_str)
            .collect();
        clients
            .entry((&used.client.namespace, &used.client.name))
            .or_default()
            .servers
            .entry((namespace.to_owned(), name.to_owned()))
            .or_default()
            .push(format!(
                "    - Kafka topic: {}, operations: [{}]",
                used.topic,
                operations.join(" ")
            ));
    }
    let mut out = String::new();
    for ((namespace, name), block) in clients {
        let _ = writeln!(out, "{name} in namespace {namespace} calls:");
        for ((server_namespace, server), details) in block.servers {
            let _ = writeln!(out, "  - {server} in namespace {server_namespace}");
            for line in details {
                let _ = writeln!(out, "{line}");
            }
        }
        for line in block.internet {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::{HttpPath, Workload};
    use jiff::Timestamp;

    use super::*;

    #[test]
    fn one_block_per_client_in_the_references_words() {
        let wl = |name: &str| Workload {
            name: name.into(),
            namespace: "shop".into(),
            kind: Some("Deployment".into()),
        };
        let call = |client: &str, target: Target| DiscoveredIntent {
            client: wl(client),
            target,
            first_seen: Timestamp::UNIX_EPOCH,
            last_seen: Timestamp::UNIX_EPOCH,
        };
        let intents = vec![
            call(
                "client",
                Target::Kubernetes {
                    server: wl("server"),
                    service: None,
                    http: vec![HttpPath {
                        path: "/orders/*".into(),
                        methods: vec!["GET".into(), "POST".into()],
                    }],
                },
            ),
            call(
                "client",
                Target::Internet {
                    domain: Some("api.example.com".into()),
                    ips: vec!["192.0.2.1".parse().expect("ip")],
                },
            ),
            call(
                "client2",
                Target::Kubernetes {
                    server: wl("server"),
                    service: None,
                    http: Vec::new(),
                },
            ),
        ];
        let topic = |client: &str, topic: &str, allowed: &[&str], denied: &[&str]| KafkaTopicUse {
            client: wl(client),
            broker: "kafka.kafka".into(),
            topic: topic.into(),
            allowed: allowed.iter().map(|o| o.to_string()).collect(),
            denied: denied.iter().map(|o| o.to_string()).collect(),
            first_seen_ms: 0,
            last_seen_ms: 0,
        };
        let kafka = [
            topic("client", "orders", &["produce", "describe"], &[]),
            topic("client", "payments", &[], &["describe"]),
        ];
        assert_eq!(
            render(&intents, &kafka),
            "client in namespace shop calls:\n\
             \x20 - kafka in namespace kafka\n\
             \x20   - Kafka topic: orders, operations: [produce describe]\n\
             \x20   - Kafka topic: payments, operations: [describe]\n\
             \x20 - server in namespace shop\n\
             \x20   - path /orders/*, methods: [GET,POST]\n\
             \x20 - internet: api.example.com (192.0.2.1)\n\
             client2 in namespace shop calls:\n  - server in namespace shop\n"
        );
    }
}
