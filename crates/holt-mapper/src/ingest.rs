//! Ingestion: a sniffer [`Report`] goes in, discovered intents come out in the [`Store`].
//!
//! Each DNS answer, connection and HTTP request is resolved against the [`ClusterIndex`]; an HTTP
//! request is a connection that also names a method and path, kept on in-cluster targets only. An observation that cannot be
//! resolved *yet* (its pod or Service is not in the watch cache) is held and retried until its deadline;
//! one that can never be attributed (IP reused, host name mismatch) is counted and dropped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use holt_mapper_api::{
    Connection, Counters, DiscoveredIntent, DnsAnswer, HttpRequest, Report, SeenBy, Target, Workload,
};
use holt_model::Identity;

use crate::cluster::ClusterIndex;
use crate::resolve::{NameTarget, Resolver, Unresolved, is_public};
use crate::store::{Filter, Store, TargetKey, method_bit};

/// One observation of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    Dns(DnsAnswer),
    Connection(Connection),
    Http(HttpRequest),
}

/// The longest HTTP path the mapper takes (the sniffer sends at most 257 bytes).
pub const MAX_HTTP_PATH_LENGTH: usize = 1024;

/// What the mapper counts (exposed on `/metrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub reports: u64,
    pub dns_answers: u64,
    pub connections: u64,
    pub http_requests: u64,
    /// Observations turned into (or merged into) intents, by source.
    pub attributed: BySource,
    /// Observations dropped, by reason.
    pub unresolved: BTreeMap<&'static str, u64>,
    /// Observations retried after being held.
    pub retried: u64,
    /// Held observations dropped because the queue was full, by source.
    pub pending_overflow: BySource,
    /// Reports whose node's counters were not kept (more than `max_nodes` nodes, or a name longer
    /// than a node name can be).
    pub nodes_not_kept: u64,
    /// The latest cumulative counters of each node's sniffer.
    pub sniffers: BTreeMap<String, Counters>,
}

/// A count of observations by where they came from: DNS answers, connections (what the reference's metrics
/// call its socket scan), or HTTP requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BySource {
    pub dns: u64,
    pub connections: u64,
    pub http: u64,
}

impl BySource {
    fn count(&mut self, observation: &Observation) {
        match observation {
            Observation::Dns(_) => self.dns += 1,
            Observation::Connection(_) => self.connections += 1,
            Observation::Http(_) => self.http += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.dns + self.connections + self.http
    }
}

#[derive(Clone, Debug)]
struct Held {
    observation: Observation,
    deadline_ms: u64,
}

/// Settings of ingestion.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub cluster_domain: String,
    /// How long an unresolvable observation is held and retried.
    pub hold_ms: u64,
    /// At most this many observations are held; older ones are dropped first.
    pub max_held: usize,
    /// Workloads in these namespaces are left out, as clients and as servers.
    pub excluded_namespaces: BTreeSet<String>,
    /// Nodes whose sniffer counters are kept.
    pub max_nodes: usize,
}

/// The longest DNS name (RFC 1035) and Kubernetes node or pod name.
pub const MAX_NAME_LENGTH: usize = 253;
/// Decode error categories kept per node, and their longest name.
const MAX_CATEGORIES: usize = 64;
const MAX_CATEGORY_LENGTH: usize = 64;

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            cluster_domain: "cluster.local".into(),
            hold_ms: 10_000,
            max_held: 100_000,
            excluded_namespaces: BTreeSet::new(),
            max_nodes: 10_000,
        }
    }
}

/// The mapper's state: the cluster index, the discovered intents, held observations and counters.
#[derive(Debug)]
pub struct Mapper {
    pub index: ClusterIndex,
    pub store: Store,
    pub stats: Stats,
    config: IngestConfig,
    held: VecDeque<Held>,
}

impl Mapper {
    /// A resolver over the mapper's cluster index and domain.
    pub fn resolver(&self) -> Resolver<'_> {
        Resolver {
            index: &self.index,
            cluster_domain: &self.config.cluster_domain,
        }
    }

    pub fn new(index: ClusterIndex, store: Store, config: IngestConfig) -> Self {
        Mapper {
            index,
            store,
            stats: Stats::default(),
            config,
            held: VecDeque::new(),
        }
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The discovered intents `filter` selects. Its label exclusions are judged on the current pods of the
    /// client and of an in-cluster server (one pass over the pods per query); a workload with no pod left
    /// is not excluded by its labels.
    pub fn intents(&self, filter: &Filter) -> Vec<DiscoveredIntent> {
        let mut intents = self.store.intents(filter);
        if filter.excluded_labels.is_empty() {
            return intents;
        }
        let excluded = self.index.workloads_labelled(&filter.excluded_labels);
        let labelled =
            |workload: &Workload| excluded.contains(&(workload.namespace.clone(), workload.name.clone()));
        intents.retain(|intent| {
            !labelled(&intent.client)
                && !matches!(&intent.target, Target::Kubernetes { server, .. } if labelled(server))
        });
        intents
    }

    /// Ingests one report received at `now_ms`.
    pub fn ingest(&mut self, report: Report, now_ms: u64) {
        self.stats.reports += 1;
        self.stats.dns_answers += report.dns.len() as u64;
        self.stats.connections += report.connections.len() as u64;
        self.stats.http_requests += report.http.len() as u64;
        let known = self.stats.sniffers.contains_key(&report.node);
        if report.node.len() > MAX_NAME_LENGTH
            || (!known && self.stats.sniffers.len() >= self.config.max_nodes)
        {
            self.stats.nodes_not_kept += 1;
        } else {
            let mut counters = report.counters;
            counters
                .decode_errors
                .retain(|category, _| category.len() <= MAX_CATEGORY_LENGTH);
            while counters.decode_errors.len() > MAX_CATEGORIES {
                counters.decode_errors.pop_last();
            }
            self.stats.sniffers.insert(report.node, counters);
        }
        // DNS answers first: they name the addresses the connections of the same report go to.
        for answer in report.dns {
            self.observe(Observation::Dns(answer), now_ms, now_ms + self.config.hold_ms);
        }
        for connection in report.connections {
            self.observe(
                Observation::Connection(connection),
                now_ms,
                now_ms + self.config.hold_ms,
            );
        }
        for request in report.http {
            self.observe(Observation::Http(request), now_ms, now_ms + self.config.hold_ms);
        }
    }

    /// Retries the held observations (after watch events, or on a timer).
    pub fn retry_held(&mut self, now_ms: u64) {
        let held = std::mem::take(&mut self.held);
        for Held {
            observation,
            deadline_ms,
        } in held
        {
            self.stats.retried += 1;
            self.observe(observation, now_ms, deadline_ms);
        }
    }

    fn observe(&mut self, observation: Observation, now_ms: u64, deadline_ms: u64) {
        let final_attempt = now_ms >= deadline_ms;
        let outcome = match &observation {
            Observation::Dns(answer) => self.dns(answer),
            Observation::Connection(connection) => self.connection(connection, final_attempt, None),
            Observation::Http(request) => self.http(request, final_attempt),
        };
        match outcome {
            Ok(()) => self.stats.attributed.count(&observation),
            Err(reason) if reason.retryable() && !final_attempt => {
                if self.held.len() >= self.config.max_held
                    && let Some(dropped) = self.held.pop_front()
                {
                    self.stats.pending_overflow.count(&dropped.observation);
                }
                self.held.push_back(Held {
                    observation,
                    deadline_ms,
                });
            }
            Err(reason) => *self.stats.unresolved.entry(reason.category()).or_default() += 1,
        }
    }

    /// Refuses a workload in an excluded namespace.
    fn admit(&self, workload: &Identity) -> Result<(), Unresolved> {
        if self.config.excluded_namespaces.contains(&workload.namespace) {
            Err(Unresolved::ExcludedNamespace)
        } else {
            Ok(())
        }
    }

    fn dns(&mut self, answer: &DnsAnswer) -> Result<(), Unresolved> {
        let resolver = Resolver {
            index: &self.index,
            cluster_domain: &self.config.cluster_domain,
        };
        if answer.name.is_empty() || answer.name.len() > MAX_NAME_LENGTH {
            return Err(Unresolved::InvalidName);
        }
        let target = resolver.name(&answer.name);
        if target == NameTarget::Internet {
            // Kept even when the asking pod is unknown: `status.resolvedIPs` needs every address.
            self.store
                .record_dns(&answer.name, answer.ip, answer.last_seen_ms);
        }
        let client = resolver.source(&answer.client_ip, answer.last_seen_ms, None)?;
        self.admit(&client)?;
        match target {
            NameTarget::Internet => {
                let target = TargetKey::Domain(answer.name.clone());
                // Refused past a bound: counted by the store.
                let _ = self
                    .store
                    .record(client, target, answer.last_seen_ms, None, Some(answer.ip));
            }
            NameTarget::Cluster(destination) => {
                let destination = destination?;
                self.admit(&destination.identity)?;
                if destination.identity != client {
                    let target = TargetKey::Workload(destination.identity);
                    let _ = self
                        .store
                        .record(client, target, answer.last_seen_ms, destination.service, None);
                }
            }
        }
        Ok(())
    }

    /// An HTTP request: the connection it came over, and its method and path on an in-cluster target.
    fn http(&mut self, request: &HttpRequest, final_attempt: bool) -> Result<(), Unresolved> {
        let method = method_bit(&request.method).ok_or(Unresolved::InvalidHttpRequest)?;
        let path = request.path.as_str();
        if !path.starts_with('/') || path.len() > MAX_HTTP_PATH_LENGTH || path.contains(['?', '#']) {
            return Err(Unresolved::InvalidHttpRequest);
        }
        let connection = Connection {
            src_ip: request.src_ip,
            dst_ip: request.dst_ip,
            dst_port: request.dst_port,
            seen_by: SeenBy::Syn,
            src_hostname: None,
            last_seen_ms: request.last_seen_ms,
        };
        self.connection(&connection, final_attempt, Some((method, path)))
    }

    /// A connection; `http` (a method bit and a path) is kept when the target is in the cluster.
    fn connection(
        &mut self,
        connection: &Connection,
        final_attempt: bool,
        http: Option<(u8, &str)>,
    ) -> Result<(), Unresolved> {
        let resolver = Resolver {
            index: &self.index,
            cluster_domain: &self.config.cluster_domain,
        };
        let seen = connection.last_seen_ms;
        let hostname = connection
            .src_hostname
            .as_deref()
            .filter(|h| h.len() <= MAX_NAME_LENGTH);
        let client = resolver.source(&connection.src_ip, seen, hostname)?;
        self.admit(&client)?;
        match resolver.destination_ip(&connection.dst_ip, seen) {
            Ok(destination) => {
                self.admit(&destination.identity)?;
                if destination.identity != client {
                    let _ = match http {
                        Some((method, path)) => self.store.record_http(
                            client,
                            destination.identity,
                            seen,
                            destination.service,
                            method,
                            path,
                        ),
                        None => {
                            let target = TargetKey::Workload(destination.identity);
                            self.store.record(client, target, seen, destination.service, None)
                        }
                    };
                }
                Ok(())
            }
            Err(reason) => {
                let ip: IpAddr = connection.dst_ip;
                if let Some(name) = self.store.name_of(&ip).map(str::to_owned) {
                    let _ = self
                        .store
                        .record(client, TargetKey::Domain(name), seen, None, Some(ip));
                    Ok(())
                } else if is_public(&ip) && (final_attempt || reason == Unresolved::NoPod) {
                    let _ = self
                        .store
                        .record(client, TargetKey::Address(ip), seen, None, Some(ip));
                    Ok(())
                } else if reason == Unresolved::NoPod {
                    // A private address may be a pod the cache does not know yet.
                    Err(if final_attempt {
                        Unresolved::UnknownPrivateAddress
                    } else {
                        Unresolved::NoPod
                    })
                } else {
                    Err(reason)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::{SeenBy, Target};
    use holt_model::Config;

    use super::*;
    use crate::cluster::fixtures::{owner, pod, service};
    use crate::store::Filter;

    fn mapper() -> Mapper {
        let mut index = ClusterIndex::new(Config::default());
        for app in ["client", "client2", "server"] {
            index.apply_owner(owner(
                "tutorial",
                "ReplicaSet",
                &format!("{app}-rs"),
                Some(("Deployment", app)),
            ));
            index.apply_owner(owner("tutorial", "Deployment", app, None));
        }
        index.apply_pod(pod(
            "tutorial",
            "client-rs-a",
            "10.0.0.1",
            Some(("ReplicaSet", "client-rs")),
            1_000,
        ));
        index.apply_pod(pod(
            "tutorial",
            "server-rs-a",
            "10.0.0.3",
            Some(("ReplicaSet", "server-rs")),
            1_000,
        ));
        index.apply_service(service("tutorial", "server", "10.96.0.3", Some("server")));
        Mapper::new(index, Store::default(), IngestConfig::default())
    }

    fn connection(src: &str, dst: &str, seen: u64) -> Connection {
        Connection {
            src_ip: src.parse().expect("ip"),
            dst_ip: dst.parse().expect("ip"),
            dst_port: 80,
            seen_by: SeenBy::Syn,
            src_hostname: None,
            last_seen_ms: seen,
        }
    }

    fn dns(client: &str, name: &str, ip: &str, seen: u64) -> DnsAnswer {
        DnsAnswer {
            client_ip: client.parse().expect("ip"),
            name: name.into(),
            ip: ip.parse().expect("ip"),
            ttl_seconds: 30,
            last_seen_ms: seen,
        }
    }

    fn report(dns: Vec<DnsAnswer>, connections: Vec<Connection>) -> Report {
        Report {
            node: "node-1".into(),
            dns,
            connections,
            counters: Counters {
                packets: 7,
                ..Counters::default()
            },
            http: Vec::new(),
        }
    }

    fn servers(m: &Mapper) -> Vec<String> {
        m.store
            .intents(&Filter::default())
            .into_iter()
            .map(|i| match i.target {
                Target::Kubernetes { server, .. } => format!("{} -> {}", i.client, server),
                Target::Internet { domain, ips } => format!("{} -> {domain:?} {ips:?}", i.client),
            })
            .collect()
    }

    #[test]
    fn connections_and_cluster_dns_become_intents_between_workloads() {
        let mut m = mapper();
        m.ingest(
            report(
                vec![dns(
                    "10.0.0.1",
                    "server.tutorial.svc.cluster.local",
                    "10.96.0.3",
                    2_000,
                )],
                vec![
                    connection("10.0.0.1", "10.96.0.3", 2_000),
                    connection("10.0.0.1", "10.0.0.3", 2_500),
                ],
            ),
            3_000,
        );
        assert_eq!(servers(&m), ["client.tutorial -> server.tutorial"]);
        assert_eq!(m.stats.attributed.total(), 3);
        assert_eq!(m.stats.sniffers["node-1"].packets, 7);
        assert_eq!(m.held(), 0);
    }

    #[test]
    fn workloads_in_excluded_namespaces_are_left_out_as_clients_and_as_servers() {
        let calls = report(
            vec![dns(
                "10.0.0.1",
                "server.tutorial.svc.cluster.local",
                "10.96.0.3",
                2_000,
            )],
            vec![connection("10.0.0.1", "10.0.0.3", 2_500)],
        );
        let mut m = mapper();
        m.config.excluded_namespaces = ["tutorial".to_owned()].into();
        m.ingest(calls.clone(), 3_000);
        assert!(servers(&m).is_empty());
        assert_eq!(m.stats.unresolved.get("excluded_namespace"), Some(&2));
        assert_eq!(m.held(), 0, "not retried");

        // A client outside the excluded namespace is still left out when it calls into it.
        let mut m = mapper();
        m.index.apply_owner(owner("other", "Deployment", "probe", None));
        m.index.apply_pod(pod(
            "other",
            "probe",
            "10.0.0.7",
            Some(("Deployment", "probe")),
            1_000,
        ));
        m.config.excluded_namespaces = ["tutorial".to_owned()].into();
        m.ingest(
            report(vec![], vec![connection("10.0.0.7", "10.0.0.3", 2_500)]),
            3_000,
        );
        assert!(servers(&m).is_empty());

        let mut m = mapper();
        m.config.excluded_namespaces = ["istio-system".to_owned()].into();
        m.ingest(calls, 3_000);
        assert_eq!(servers(&m), ["client.tutorial -> server.tutorial"]);
    }

    #[test]
    fn label_exclusions_are_judged_on_the_current_pods_of_client_and_server() {
        let mut m = mapper();
        m.ingest(
            report(vec![], vec![connection("10.0.0.1", "10.0.0.3", 2_500)]),
            3_000,
        );
        let count = |m: &Mapper, labels: &str| {
            let filters = holt_mapper_api::Filters {
                exclude_labels: Some(labels.into()),
                ..Default::default()
            };
            m.intents(&Filter::parse(&filters).expect("filter")).len()
        };
        assert_eq!(count(&m, ""), 1);
        assert_eq!(count(&m, "app=client"), 0, "the client's pod");
        assert_eq!(count(&m, "app=server"), 0, "the server's pod");
        assert_eq!(count(&m, "app"), 0, "a key alone matches any value");
        assert_eq!(count(&m, "app=other, tier"), 1);
        // A workload with no pod left is not excluded by its labels.
        m.index
            .delete_pod(&holt_model::ObjectKey::new("tutorial", "client-rs-a"));
        m.index
            .delete_pod(&holt_model::ObjectKey::new("tutorial", "server-rs-a"));
        assert_eq!(count(&m, "app"), 1);
    }

    #[test]
    fn unknown_sources_are_held_until_their_pod_arrives() {
        let mut m = mapper();
        m.ingest(
            report(vec![], vec![connection("10.0.0.2", "10.96.0.3", 2_000)]),
            3_000,
        );
        assert_eq!(m.held(), 1);
        assert!(servers(&m).is_empty());
        m.index.apply_pod(pod(
            "tutorial",
            "client2-rs-b",
            "10.0.0.2",
            Some(("ReplicaSet", "client2-rs")),
            1_500,
        ));
        m.retry_held(4_000);
        assert_eq!(servers(&m), ["client2.tutorial -> server.tutorial"]);
        assert_eq!(m.held(), 0);
    }

    #[test]
    fn held_observations_are_dropped_and_counted_after_their_deadline() {
        let mut m = mapper();
        m.ingest(
            report(vec![], vec![connection("10.0.0.9", "10.96.0.3", 2_000)]),
            3_000,
        );
        m.retry_held(3_000 + 10_000);
        assert_eq!(m.held(), 0);
        assert_eq!(m.stats.unresolved.get("no_pod"), Some(&1));
    }

    #[test]
    fn beyond_the_limit_the_oldest_held_observations_are_dropped_and_counted() {
        let mut m = mapper();
        m.config.max_held = 2;
        let sources = ["10.0.0.20", "10.0.0.21", "10.0.0.22"];
        for source in sources {
            m.ingest(
                report(vec![], vec![connection(source, "10.96.0.3", 2_000)]),
                3_000,
            );
        }
        assert_eq!(m.held(), 2);
        assert_eq!(m.stats.pending_overflow.total(), 1);
        for (i, source) in sources.iter().enumerate() {
            m.index
                .apply_pod(pod("tutorial", &format!("late{i}"), source, None, 1_500));
        }
        m.retry_held(4_000);
        let clients: Vec<String> = m
            .store
            .intents(&Filter::default())
            .into_iter()
            .map(|i| i.client.name)
            .collect();
        assert_eq!(clients, ["late1", "late2"], "the oldest held one was dropped");
    }

    #[test]
    fn an_observation_older_than_the_pod_is_not_attributed_to_it() {
        let mut m = mapper();
        m.ingest(
            report(vec![], vec![connection("10.0.0.1", "10.96.0.3", 500)]),
            3_000,
        );
        assert!(servers(&m).is_empty());
        assert_eq!(m.stats.unresolved.get("pod_newer_than_observation"), Some(&1));
    }

    #[test]
    fn internet_names_and_addresses_become_internet_targets() {
        let mut m = mapper();
        m.ingest(
            report(
                vec![dns("10.0.0.1", "api.example.com", "93.184.216.34", 2_000)],
                vec![
                    connection("10.0.0.1", "93.184.216.34", 2_100),
                    connection("10.0.0.1", "8.8.8.8", 2_100),
                ],
            ),
            3_000,
        );
        assert_eq!(
            servers(&m),
            [
                "client.tutorial -> Some(\"api.example.com\") [93.184.216.34]",
                "client.tutorial -> None [8.8.8.8]",
            ]
        );
        assert!(
            m.store.dns()["api.example.com"]
                .ips()
                .any(|ip| ip == "93.184.216.34".parse::<IpAddr>().expect("ip"))
        );
    }

    #[test]
    fn a_workload_calling_itself_is_no_intent() {
        let mut m = mapper();
        m.ingest(
            report(vec![], vec![connection("10.0.0.3", "10.96.0.3", 2_000)]),
            3_000,
        );
        assert!(servers(&m).is_empty());
        assert_eq!(m.stats.attributed.total(), 1);
    }

    #[test]
    fn http_requests_add_paths_to_in_cluster_calls_only() {
        let mut m = mapper();
        let request = |dst: &str, method: &str, path: &str| HttpRequest {
            src_ip: "10.0.0.1".parse().expect("ip"),
            dst_ip: dst.parse().expect("ip"),
            dst_port: 80,
            method: method.into(),
            path: path.into(),
            last_seen_ms: 2_000,
        };
        let mut calls = report(vec![], vec![]);
        calls.http = vec![
            request("10.96.0.3", "GET", "/orders/17"),
            request("10.0.0.3", "GET", "/orders/18"),
            request("10.0.0.3", "POST", "/charge"),
            request("93.184.216.34", "GET", "/public"),
            request("10.0.0.3", "HEAD", "/orders/1"),
            request("10.0.0.3", "GET", "/search?q=1"),
        ];
        m.ingest(calls, 3_000);
        let intents = m.store.intents(&Filter::default());
        let kubernetes: Vec<_> = intents
            .iter()
            .filter_map(|i| match &i.target {
                Target::Kubernetes {
                    server,
                    service,
                    http,
                } => Some((server.name.as_str(), service.clone(), http.clone())),
                Target::Internet { .. } => None,
            })
            .collect();
        assert_eq!(kubernetes.len(), 1, "{intents:?}");
        let (server, service, http) = &kubernetes[0];
        assert_eq!((*server, service.as_deref()), ("server", Some("server")));
        let paths: Vec<(&str, &[String])> = http.iter().map(|p| (p.path.as_str(), &p.methods[..])).collect();
        assert_eq!(
            paths,
            [
                ("/charge", &["POST".to_owned()][..]),
                ("/orders/*", &["GET".to_owned()][..])
            ]
        );
        assert!(
            intents
                .iter()
                .any(|i| matches!(&i.target, Target::Internet { .. })),
            "the internet call is kept, without its path"
        );
        assert_eq!(m.stats.unresolved.get("invalid_http_request"), Some(&2));
        assert_eq!(m.stats.http_requests, 6);
    }
}
