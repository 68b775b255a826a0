//! `holt mapper list`: the reference's text format, one block per client.
//!
//! ```text
//! client in namespace shop calls:
//!   - server in namespace shop
//!   - internet: api.example.com (93.184.216.34)
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;

use holt_mapper_api::{DiscoveredIntent, Target};

pub fn render(intents: &[DiscoveredIntent]) -> String {
    let mut clients: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for intent in intents {
        let line = match &intent.target {
            Target::Kubernetes { server, .. } => {
                format!("  - {} in namespace {}", server.name, server.namespace)
            }
            Target::Internet { domain, ips } => {
                let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
                match domain {
                    Some(domain) if ips.is_empty() => format!("  - internet: {domain}"),
                    Some(domain) => format!("  - internet: {domain} ({})", ips.join(", ")),
                    None => format!("  - internet: {}", ips.join(", ")),
                }
            }
        };
        clients
            .entry((&intent.client.namespace, &intent.client.name))
            .or_default()
            .push(line);
    }
    let mut out = String::new();
    for ((namespace, name), lines) in clients {
        let _ = writeln!(out, "{name} in namespace {namespace} calls:");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::Workload;
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
                    http: Vec::new(),
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
        assert_eq!(
            render(&intents),
            "client in namespace shop calls:\n  - server in namespace shop\n  - internet: api.example.com (192.0.2.1)\n\
             client2 in namespace shop calls:\n  - server in namespace shop\n"
        );
    }
}
