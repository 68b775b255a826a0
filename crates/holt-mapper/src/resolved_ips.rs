//! `status.resolvedIPs` of ClientIntents with internet domains: for each declared domain (wildcards
//! `*.example.com` match any name below `example.com`), the addresses DNS answers gave for it. Addresses
//! accumulate: those already in the status stay, and an entry goes only when its domain leaves the intents.

use std::collections::{BTreeMap, BTreeSet};

use holt_api::v2beta1::{ClientIntentsSpec, ResolvedIps};

use crate::store::DnsName;

/// The internet domains a ClientIntents declares, deduplicated, in order of appearance.
pub fn declared_domains(spec: &ClientIntentsSpec) -> Vec<String> {
    let mut seen = BTreeSet::new();
    spec.targets
        .iter()
        .filter_map(|t| t.internet.as_ref())
        .flat_map(|internet| internet.domains.iter())
        .map(|d| d.trim_end_matches('.').to_lowercase())
        .filter(|d| seen.insert(d.clone()))
        .collect()
}

/// Whether `name` is `domain`, or matches the wildcard `*.suffix`.
pub fn matches(domain: &str, name: &str) -> bool {
    match domain.strip_prefix("*.") {
        Some(suffix) => {
            name.len() > suffix.len() + 1
                && name.ends_with(suffix)
                && name[..name.len() - suffix.len()].ends_with('.')
        }
        None => domain == name,
    }
}

/// The status entries for `domains` given what DNS answered (`dns`) and the entries already there.
pub fn desired(
    domains: &[String],
    dns: &BTreeMap<String, DnsName>,
    current: &[ResolvedIps],
) -> Vec<ResolvedIps> {
    domains
        .iter()
        .filter_map(|domain| {
            let mut ips: BTreeSet<String> = current
                .iter()
                .filter(|entry| &entry.dns == domain)
                .flat_map(|entry| entry.ips.iter().cloned())
                .collect();
            if domain.starts_with("*.") {
                for (_, addresses) in dns.iter().filter(|(name, _)| matches(domain, name)) {
                    ips.extend(addresses.ips().map(|ip| ip.to_string()));
                }
            } else if let Some(addresses) = dns.get(domain) {
                ips.extend(addresses.ips().map(|ip| ip.to_string()));
            }
            (!ips.is_empty()).then(|| ResolvedIps {
                dns: domain.clone(),
                ips: ips.into_iter().collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use holt_api::v2beta1::{InternetTarget, Target, Workload};

    use super::*;

    fn dns(entries: &[(&str, &str)]) -> BTreeMap<String, DnsName> {
        let mut map: BTreeMap<String, DnsName> = BTreeMap::new();
        for (name, ip) in entries {
            let ip: IpAddr = ip.parse().expect("ip");
            map.entry((*name).to_owned()).or_default().addresses.push((ip, 1));
        }
        map
    }

    #[test]
    fn wildcards_match_names_below_the_suffix_only() {
        assert!(matches("*.example.com", "api.example.com"));
        assert!(matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", "badexample.com"));
        assert!(matches("example.com", "example.com"));
    }

    #[test]
    fn addresses_accumulate_and_undeclared_domains_go() {
        let spec = ClientIntentsSpec {
            workload: Workload {
                name: "client".into(),
                kind: None,
            },
            targets: vec![Target {
                internet: Some(InternetTarget {
                    domains: vec!["api.example.com".into(), "*.cdn.example.net".into()],
                    ips: vec![],
                    ports: vec![],
                }),
                ..Target::default()
            }],
        };
        let domains = declared_domains(&spec);
        let seen = dns(&[
            ("api.example.com", "192.0.2.2"),
            ("img.cdn.example.net", "198.51.100.1"),
            ("other.org", "203.0.113.9"),
        ]);
        let current = vec![
            ResolvedIps {
                dns: "api.example.com".into(),
                ips: vec!["192.0.2.1".into()],
            },
            ResolvedIps {
                dns: "gone.example.com".into(),
                ips: vec!["192.0.2.99".into()],
            },
        ];
        assert_eq!(
            desired(&domains, &seen, &current),
            vec![
                ResolvedIps {
                    dns: "api.example.com".into(),
                    ips: vec!["192.0.2.1".into(), "192.0.2.2".into()]
                },
                ResolvedIps {
                    dns: "*.cdn.example.net".into(),
                    ips: vec!["198.51.100.1".into()]
                },
            ]
        );
    }
}
