//! Mapper benchmarks: ingestion of discovered connections (report batches through resolution into the
//! store), of HTTP request lines (paths folded and bounded per server), export of the intents of 10,000 client workloads as ClientIntents, and Kafka brokers'
//! authorizer log lines (parsed alone, and parsed, attributed to a client pod and recorded).
//!
//! `cargo bench -p holt-mapper --bench mapper`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use holt_mapper::cluster::{ClusterIndex, PodEntry};
use holt_mapper::export::{ExportOptions, export};
use holt_mapper::ingest::{IngestConfig, Mapper};
use holt_mapper::store::{Filter, Store, TargetKey};
use holt_mapper_api::{
    Connection, Counters, DnsAnswer, ExportFormat, ExportVersion, HttpRequest, Report, SeenBy,
};
use holt_model::facts::{OwnerFacts, OwnerRef, PodFacts, ServiceFacts, ServiceType};
use holt_model::{Config, Identity, ObjectKey};

const DEPLOYMENTS: usize = 5_000;
const PODS_PER_DEPLOYMENT: usize = 2;
const SERVICES: usize = 2_000;
const BATCH: usize = 1_000;

fn pod_ip(i: usize) -> IpAddr {
    IpAddr::from([10, 244, (i / 250) as u8, (i % 250 + 1) as u8])
}

fn service_ip(i: usize) -> IpAddr {
    IpAddr::from([10, 96, (i / 250) as u8, (i % 250 + 1) as u8])
}

/// 10,000 pods of 5,000 Deployments (through ReplicaSets) in 50 namespaces, 2,000 Services.
fn cluster() -> ClusterIndex {
    let mut index = ClusterIndex::new(Config::default());
    for d in 0..DEPLOYMENTS {
        let ns = format!("ns-{}", d % 50);
        let name = format!("app-{d}");
        let rs = format!("{name}-7d9f");
        index.apply_owner(OwnerFacts {
            key: ObjectKey::new(&ns, &name),
            kind: "Deployment".into(),
            owner: None,
        });
        index.apply_owner(OwnerFacts {
            key: ObjectKey::new(&ns, &rs),
            kind: "ReplicaSet".into(),
            owner: Some(OwnerRef {
                kind: "Deployment".into(),
                name: name.clone(),
            }),
        });
        for p in 0..PODS_PER_DEPLOYMENT {
            let i = d * PODS_PER_DEPLOYMENT + p;
            index.apply_pod(PodEntry {
                facts: PodFacts {
                    key: ObjectKey::new(&ns, format!("{rs}-{p}")),
                    labels: holt_model::sorted_map::SortedMap::from([("app".to_owned(), name.clone())]),
                    annotations: Default::default(),
                    owner: Some(OwnerRef {
                        kind: "ReplicaSet".into(),
                        name: rs.clone(),
                    }),
                    service_account: "default".into(),
                    images: vec![],
                    has_istio_sidecar: false,
                    has_linkerd_proxy: false,
                    host_network: false,
                    ips: vec![pod_ip(i).to_string()],
                    ports: vec![],
                    http_probes: vec![],
                },
                created_ms: 1_000,
                finished: false,
            });
        }
    }
    for s in 0..SERVICES {
        let d = s * (DEPLOYMENTS / SERVICES);
        index.apply_service(ServiceFacts {
            uid: None,
            key: ObjectKey::new(format!("ns-{}", d % 50), format!("app-{d}")),
            selector: Some(BTreeMap::from([("app".to_owned(), format!("app-{d}"))])),
            ports: vec![],
            service_type: ServiceType::ClusterIp,
            cluster_ips: vec![service_ip(s).to_string()],
        });
    }
    index
}

/// Pseudo-random numbers below `n` (xorshift), the same for the same seed.
fn pseudo_random(seed: usize) -> impl FnMut(usize) -> usize {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

/// A report of `BATCH` connections (half to ClusterIPs, half to pod IPs) and 100 DNS answers, from
/// pseudo-random sources.
fn report(seed: usize) -> Report {
    let pods = DEPLOYMENTS * PODS_PER_DEPLOYMENT;
    let mut next = pseudo_random(seed);
    let connections = (0..BATCH)
        .map(|i| Connection {
            src_ip: pod_ip(next(pods)),
            dst_ip: if i % 2 == 0 {
                service_ip(next(SERVICES))
            } else {
                pod_ip(next(pods))
            },
            dst_port: 8080,
            seen_by: SeenBy::Syn,
            src_hostname: None,
            last_seen_ms: 2_000 + i as u64,
        })
        .collect();
    let dns = (0..100)
        .map(|i| DnsAnswer {
            client_ip: pod_ip(next(pods)),
            name: format!("api-{}.example.com", next(500)),
            ip: IpAddr::from([93, 184, (i / 250) as u8, (i % 250) as u8]),
            ttl_seconds: 60,
            last_seen_ms: 2_000,
        })
        .collect();
    Report {
        node: "node-1".into(),
        dns,
        connections,
        counters: Counters::default(),
        http: Vec::new(),
    }
}

fn ingestion(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements((BATCH + 100) as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    let reports: Vec<Report> = (0..64).map(report).collect();

    // Steady state: the intents exist already, observations merge into them.
    let mut mapper = Mapper::new(cluster(), Store::default(), IngestConfig::default());
    for r in &reports {
        mapper.ingest(r.clone(), 3_000);
    }
    let mut n = 0;
    group.bench_function("merge_1000_connections_100_dns", |b| {
        b.iter_batched(
            || {
                n += 1;
                reports[n % reports.len()].clone()
            },
            |r| mapper.ingest(r, 3_000),
            BatchSize::SmallInput,
        )
    });

    // As the HTTP handler does it: the report's JSON parsed, then merged.
    let bodies: Vec<Vec<u8>> = reports
        .iter()
        .map(|r| serde_json::to_vec(r).expect("json"))
        .collect();
    let mut m = 0;
    group.bench_function("parse_json_and_merge_1000_connections_100_dns", |b| {
        b.iter(|| {
            m += 1;
            let report: Report = serde_json::from_slice(&bodies[m % bodies.len()]).expect("parse");
            mapper.ingest(report, 3_000);
        })
    });

    // Every observation new: an empty store before each batch.
    let mut fresh = Mapper::new(cluster(), Store::default(), IngestConfig::default());
    group.bench_function("new_1000_connections_100_dns", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                fresh.store = Store::default();
                let r = reports[i as usize % reports.len()].clone();
                let start = Instant::now();
                fresh.ingest(r, 3_000);
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// A report of `BATCH` HTTP requests from pseudo-random pods of 100 client workloads to the pods of 100
/// server workloads, each request's path one of `paths` per server (with an ID, which folds:
/// `/api-<k>/<id>/items` → `/api-<k>/*`).
fn http_report(seed: usize, paths: usize) -> Report {
    let mut next = pseudo_random(seed);
    let http = (0..BATCH)
        .map(|i| HttpRequest {
            src_ip: pod_ip(1_000 + next(100 * PODS_PER_DEPLOYMENT)),
            dst_ip: pod_ip(next(100) * PODS_PER_DEPLOYMENT),
            dst_port: 8080,
            method: if i % 3 == 0 { "POST" } else { "GET" }.into(),
            path: format!("/api-{}/{}/items", next(paths), next(1_000)),
            last_seen_ms: 2_000 + i as u64,
        })
        .collect();
    Report {
        node: "node-1".into(),
        dns: Vec::new(),
        connections: Vec::new(),
        counters: Counters::default(),
        http,
    }
}

/// HTTP requests into a store that has seen 64,000 like them: 50 paths per server (within the bound of
/// 100), and 200 (past it: a path the server does not have folds to `/*`).
fn http_requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest_http");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    for (name, paths) in [
        ("1000_requests_50_paths_per_server", 50),
        ("1000_requests_200_paths_per_server", 200),
    ] {
        let reports: Vec<Report> = (0..64).map(|seed| http_report(seed, paths)).collect();
        let mut mapper = Mapper::new(cluster(), Store::default(), IngestConfig::default());
        for r in &reports {
            mapper.ingest(r.clone(), 3_000);
        }
        let mut n = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    n += 1;
                    reports[n % reports.len()].clone()
                },
                |r| mapper.ingest(r, 3_000),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// 10,000 client workloads, each calling three workloads and one internet name.
fn store_10k() -> Store {
    let mut store = Store::default();
    for w in 0..10_000usize {
        let ns = format!("ns-{}", w % 50);
        let client = Identity::new(&ns, format!("app-{w}"), Some("Deployment"));
        for k in 1..=3 {
            let server = Identity::new(
                format!("ns-{}", (w + k) % 50),
                format!("app-{}", (w * 7 + k) % 10_000),
                Some("Deployment"),
            );
            store
                .record(
                    client.clone(),
                    TargetKey::Workload(server),
                    1_000,
                    Some(format!("svc-{k}")),
                    None,
                )
                .expect("within the store's bounds");
        }
        store
            .record(
                client,
                TargetKey::Domain(format!("api-{}.example.com", w % 300)),
                1_000,
                None,
                Some(IpAddr::from([93, 184, 216, 34])),
            )
            .expect("within the store's bounds");
    }
    store
}

fn exporting(c: &mut Criterion) {
    let store = store_10k();
    let intents = store.intents(&Filter::default());
    let mut group = c.benchmark_group("export_10000_workloads");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("list_intents", |b| {
        b.iter(|| black_box(store.intents(&Filter::default())))
    });
    for (name, format, version) in [
        ("v2beta1_yaml", ExportFormat::Yaml, ExportVersion::V2beta1),
        ("v2beta1_json", ExportFormat::Json, ExportVersion::V2beta1),
        ("v1alpha3_yaml", ExportFormat::Yaml, ExportVersion::V1alpha3),
    ] {
        let options = ExportOptions {
            format,
            version,
            as_kubernetes_service: false,
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(export(&intents, &[], &options).map(|s| s.len())))
        });
    }
    group.bench_function("list_and_v2beta1_yaml", |b| {
        b.iter(|| {
            let intents = store.intents(&Filter::default());
            black_box(export(&intents, &[], &ExportOptions::default()).map(|s| s.len()))
        })
    });
    group.finish();
}

/// 10,000 authorizer log lines as a broker writes them: two thirds decisions on topics by pods of the
/// cluster (by address), one third cluster decisions (read and skipped).
fn authorizer_lines() -> Vec<String> {
    (0..10_000)
        .map(|i| {
            let resource = if i % 3 == 2 {
                "Cluster:LITERAL:kafka-cluster".to_owned()
            } else {
                format!("Topic:LITERAL:topic-{}", i % 200)
            };
            format!(
                "[2026-12-05 16:57:18,417] DEBUG Principal = User:CN=app-{d}.ns-{n} is Allowed operation = WRITE \
                 from host = {ip} on resource = {resource} for request = Produce with resourceRefCount = 1 \
                 based on rule MatchingAcl(acl=StandardAcl[resourceType=TOPIC, resourceName=topic, \
                 patternType=LITERAL, principal=User:CN=app, host=*, operation=WRITE, permissionType=ALLOW]) \
                 (kafka.authorizer.logger)",
                d = i % DEPLOYMENTS,
                n = i % 50,
                ip = pod_ip(i % (DEPLOYMENTS * PODS_PER_DEPLOYMENT)),
            )
        })
        .collect()
}

fn kafka_logs(c: &mut Criterion) {
    use holt_mapper::kafka_authz::parse;
    use holt_mapper::kafka_discovery::{KafkaDiscovery, client_of};
    use holt_mapper::resolve::Resolver;

    let lines = authorizer_lines();
    let index = cluster();
    let mut group = c.benchmark_group("kafka_authorizer_log");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse 10k lines", |b| {
        b.iter(|| lines.iter().filter_map(|line| parse(black_box(line))).count())
    });
    group.bench_function("parse, attribute and record 10k lines", |b| {
        b.iter_batched(
            || KafkaDiscovery::new(100_000),
            |mut kafka| {
                let resolver = Resolver {
                    index: &index,
                    cluster_domain: "cluster.local",
                };
                for decision in lines.iter().filter_map(|line| parse(line)) {
                    let client = client_of(&resolver, &decision.host, &decision.principal, u64::MAX);
                    kafka.record("kafka.kafka", &decision, client, 1);
                }
                kafka.len()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ingestion, http_requests, exporting, kafka_logs);
criterion_main!(benches);
