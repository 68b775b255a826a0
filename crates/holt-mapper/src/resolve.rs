//! Resolution of what a sniffer saw to workloads: a source IP to the pod (and workload) that sent it, a
//! destination IP to a Service or pod, a DNS name to a Service, a pod, or the internet.
//!
//! Rules (docs/reference-behaviour.md#mapper-resolution, with the IP-reuse guard): a pod is only blamed for
//! an observation made after it was created, and only if a captured source host name equals its name; a
//! Service resolves to the identity of the first pod (by name) it selects; `kubernetes.default` is the API
//! server.

use std::net::IpAddr;

use holt_model::{Identity, ObjectKey};

use crate::cluster::{ClusterIndex, PodEntry};

/// A resolved in-cluster destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub identity: Identity,
    /// The Service the client dialed, when it dialed one.
    pub service: Option<String>,
}

/// Why an observation could not (yet) be attributed. [`Unresolved::retryable`] ones are held and tried
/// again: the pod or Service may simply not be in the watch cache yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unresolved {
    /// No pod (that is not host-network) holds this IP.
    NoPod,
    /// Every pod holding the IP was created after the observation (the IP was reused).
    PodNewerThanObservation,
    /// The captured host name is not the name of the pod holding the IP.
    HostnameMismatch,
    /// A Service without pods (and not the API server).
    ServiceWithoutPods,
    /// A name in the cluster domain that names no known Service or pod.
    UnknownClusterName,
    /// A private or local address that is no pod or Service (not an internet destination either).
    UnknownPrivateAddress,
    /// The client or the server is in a namespace the mapper leaves out (`--exclude-namespaces`).
    ExcludedNamespace,
    /// A DNS answer whose name is empty or longer than a DNS name can be (253).
    InvalidName,
    /// An HTTP request whose method is not one the mapper keeps, or whose path does not start with `/`,
    /// holds a query or fragment, or is longer than the mapper takes.
    InvalidHttpRequest,
}

impl Unresolved {
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Unresolved::NoPod | Unresolved::ServiceWithoutPods | Unresolved::UnknownClusterName
        )
    }

    /// The metric label.
    pub fn category(self) -> &'static str {
        match self {
            Unresolved::NoPod => "no_pod",
            Unresolved::PodNewerThanObservation => "pod_newer_than_observation",
            Unresolved::HostnameMismatch => "hostname_mismatch",
            Unresolved::ServiceWithoutPods => "service_without_pods",
            Unresolved::UnknownClusterName => "unknown_cluster_name",
            Unresolved::UnknownPrivateAddress => "unknown_private_address",
            Unresolved::ExcludedNamespace => "excluded_namespace",
            Unresolved::InvalidName => "invalid_name",
            Unresolved::InvalidHttpRequest => "invalid_http_request",
        }
    }
}

/// What a DNS name refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameTarget {
    Cluster(Result<Destination, Unresolved>),
    Internet,
}

/// Resolves against a [`ClusterIndex`] for one cluster domain.
#[derive(Debug)]
pub struct Resolver<'a> {
    pub index: &'a ClusterIndex,
    pub cluster_domain: &'a str,
}

impl Resolver<'_> {
    /// The pod that sent traffic from `ip` at `seen_ms`, and its identity.
    pub fn source(&self, ip: &IpAddr, seen_ms: u64, hostname: Option<&str>) -> Result<Identity, Unresolved> {
        self.pod_at(ip, seen_ms, hostname)
            .map(|pod| self.index.identity(pod))
    }

    fn pod_at(&self, ip: &IpAddr, seen_ms: u64, hostname: Option<&str>) -> Result<&PodEntry, Unresolved> {
        let mut pods = self.index.pods_with_ip(ip);
        if pods.is_empty() {
            return Err(Unresolved::NoPod);
        }
        // Newest first: the newest pod created before the observation, running pods before finished ones.
        pods.retain(|p| p.created_ms <= seen_ms);
        let candidates = pods;
        let Some(&newest) = candidates.first() else {
            return Err(Unresolved::PodNewerThanObservation);
        };
        let chosen = candidates.iter().copied().find(|p| !p.finished).unwrap_or(newest);
        match hostname {
            Some(host) if !host.is_empty() && host != chosen.facts.key.name => {
                // The host name may name an older pod that still holds the IP.
                candidates
                    .iter()
                    .find(|p| p.facts.key.name == host)
                    .copied()
                    .ok_or(Unresolved::HostnameMismatch)
            }
            _ => Ok(chosen),
        }
    }

    /// A destination address: a Service's ClusterIP, else a pod's IP.
    pub fn destination_ip(&self, ip: &IpAddr, seen_ms: u64) -> Result<Destination, Unresolved> {
        if let Some(service) = self.index.service_with_ip(ip) {
            return self.service_destination(&service.key);
        }
        let pod = self.pod_at(ip, seen_ms, None)?;
        Ok(Destination {
            identity: self.index.identity(pod),
            service: None,
        })
    }

    fn service_destination(&self, key: &ObjectKey) -> Result<Destination, Unresolved> {
        let Some(service) = self.index.service(key) else {
            return Err(Unresolved::UnknownClusterName);
        };
        if key.namespace == "default" && key.name == "kubernetes" {
            return Ok(Destination {
                identity: Identity::new("default", "kubernetes", Some(holt_model::identity::SERVICE_KIND)),
                service: Some("kubernetes".into()),
            });
        }
        let first = self
            .index
            .first_selected_pod(service)
            .ok_or(Unresolved::ServiceWithoutPods)?;
        Ok(Destination {
            identity: self.index.identity(first),
            service: Some(key.name.clone()),
        })
    }

    /// A DNS question name (lower case, no trailing dot).
    pub fn name(&self, name: &str) -> NameTarget {
        let name = name.trim_end_matches('.');
        let in_domain = name
            .strip_suffix(self.cluster_domain)
            .and_then(|rest| rest.strip_suffix('.'));
        let relative = in_domain.unwrap_or(name);
        let labels: Vec<&str> = relative.split('.').collect();
        match labels.as_slice() {
            // <svc>.<ns>.svc, <svc>.<ns> (only if that Service exists: `example.com` is no Service)
            [service, namespace, "svc"] | [service, namespace] => {
                let key = ObjectKey::new(*namespace, *service);
                if self.index.service(&key).is_some() || in_domain.is_some() {
                    NameTarget::Cluster(self.service_destination(&key))
                } else {
                    NameTarget::Internet
                }
            }
            // <pod>.<svc>.<ns>.svc: a pod of a headless Service (StatefulSets).
            [pod, _service, namespace, "svc"] => NameTarget::Cluster(match self.index.pod(namespace, pod) {
                Some(entry) => Ok(Destination {
                    identity: self.index.identity(entry),
                    service: None,
                }),
                None => Err(Unresolved::UnknownClusterName),
            }),
            _ if in_domain.is_some() => NameTarget::Cluster(Err(Unresolved::UnknownClusterName)),
            _ => NameTarget::Internet,
        }
    }
}

/// Whether an address can be an internet destination (not private, loopback, link-local, ...).
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64) // 100.64.0.0/10 (CGNAT)
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80) // link local
        }
    }
}

#[cfg(test)]
mod tests {
    use holt_model::Config;

    use super::*;
    use crate::cluster::fixtures::{apply_server_owners, pod, service};

    /// A resolver of the `cluster.local` domain.
    fn in_cluster_local(index: &ClusterIndex) -> Resolver<'_> {
        Resolver {
            index,
            cluster_domain: "cluster.local",
        }
    }

    fn cluster() -> ClusterIndex {
        let mut index = ClusterIndex::new(Config::default());
        apply_server_owners(&mut index);
        index.apply_pod(pod(
            "ns",
            "server-7d9f-a",
            "10.0.0.2",
            Some(("ReplicaSet", "server-7d9f")),
            1_000,
        ));
        index.apply_pod(pod("ns", "client-x", "10.0.0.3", None, 1_000));
        index.apply_service(service("ns", "server", "10.96.0.10", Some("server")));
        index.apply_service(service("ns", "empty", "10.96.0.11", Some("nothing")));
        index.apply_service(service("default", "kubernetes", "10.96.0.1", None));
        index
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_source_is_the_pod_holding_the_ip_when_the_observation_was_made() {
        let index = cluster();
        let r = in_cluster_local(&index);
        assert_eq!(
            r.source(&ip("10.0.0.3"), 2_000, None),
            Ok(Identity::new("ns", "client-x", Some("Pod")))
        );
        assert_eq!(r.source(&ip("10.0.0.9"), 2_000, None), Err(Unresolved::NoPod));
        assert_eq!(
            r.source(&ip("10.0.0.3"), 500, None),
            Err(Unresolved::PodNewerThanObservation),
            "seen before the pod existed: the IP belonged to someone else"
        );
        assert_eq!(
            r.source(&ip("10.0.0.3"), 2_000, Some("client-x")),
            Ok(Identity::new("ns", "client-x", Some("Pod")))
        );
        assert_eq!(
            r.source(&ip("10.0.0.3"), 2_000, Some("other")),
            Err(Unresolved::HostnameMismatch)
        );
        assert!(Unresolved::NoPod.retryable());
        assert!(!Unresolved::HostnameMismatch.retryable());
    }

    #[test]
    fn a_reused_ip_is_attributed_to_the_pod_that_held_it_at_the_time() {
        let mut index = cluster();
        index.apply_pod(pod("ns", "newcomer", "10.0.0.3", None, 5_000));
        let r = in_cluster_local(&index);
        assert_eq!(
            r.source(&ip("10.0.0.3"), 2_000, None),
            Ok(Identity::new("ns", "client-x", Some("Pod")))
        );
        assert_eq!(
            r.source(&ip("10.0.0.3"), 6_000, None),
            Ok(Identity::new("ns", "newcomer", Some("Pod")))
        );
        assert_eq!(
            r.source(&ip("10.0.0.3"), 6_000, Some("client-x")),
            Ok(Identity::new("ns", "client-x", Some("Pod"))),
            "the captured host name picks the older pod that still holds the IP"
        );
    }

    #[test]
    fn destinations_resolve_cluster_ips_to_the_selected_pods_identity() {
        let index = cluster();
        let r = in_cluster_local(&index);
        let server = Identity::new("ns", "server", Some("Deployment"));
        assert_eq!(
            r.destination_ip(&ip("10.96.0.10"), 2_000),
            Ok(Destination {
                identity: server.clone(),
                service: Some("server".into())
            })
        );
        assert_eq!(
            r.destination_ip(&ip("10.0.0.2"), 2_000),
            Ok(Destination {
                identity: server,
                service: None
            })
        );
        assert_eq!(
            r.destination_ip(&ip("10.96.0.11"), 2_000),
            Err(Unresolved::ServiceWithoutPods)
        );
        let api = r.destination_ip(&ip("10.96.0.1"), 2_000).expect("API server");
        assert!(api.identity.is_api_server() && api.identity.is_service());
    }

    #[test]
    fn names_in_the_cluster_domain_are_services_and_others_the_internet() {
        let index = cluster();
        let r = in_cluster_local(&index);
        let server = Ok(Destination {
            identity: Identity::new("ns", "server", Some("Deployment")),
            service: Some("server".into()),
        });
        for name in [
            "server.ns.svc.cluster.local",
            "server.ns.svc",
            "server.ns",
            "server.ns.svc.cluster.local.",
        ] {
            assert_eq!(r.name(name), NameTarget::Cluster(server.clone()), "{name}");
        }
        assert_eq!(r.name("api.example.com"), NameTarget::Internet);
        assert_eq!(r.name("example.com"), NameTarget::Internet);
        assert_eq!(
            r.name("nope.ns.svc.cluster.local"),
            NameTarget::Cluster(Err(Unresolved::UnknownClusterName))
        );
        assert_eq!(
            r.name("server-7d9f-a.server.ns.svc.cluster.local"),
            NameTarget::Cluster(Ok(Destination {
                identity: Identity::new("ns", "server", Some("Deployment")),
                service: None
            }))
        );
        let other_domain = Resolver {
            index: &index,
            cluster_domain: "corp.internal",
        };
        assert_eq!(
            other_domain.name("server.ns.svc.corp.internal"),
            NameTarget::Cluster(server)
        );
    }

    #[test]
    fn public_addresses_are_told_from_private_ones() {
        assert!(is_public(&ip("93.184.216.34")));
        assert!(is_public(&ip("2606:4700::1111")));
        for private in [
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "127.0.0.1",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_public(&ip(private)), "{private}");
        }
    }
}
