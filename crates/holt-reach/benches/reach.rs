//! `holt reach`'s evaluation at cluster scale: indexing a synthetic cluster (services, two pods each, one
//! NetworkPolicy per service, one in ten with egress rules too) and deciding 100,000 flows against it, at
//! 1,000 and 10,000 services side by side. Time per flow should stay flat as the cluster grows (each flow
//! reads only the policies that select its two pods), and indexing should grow about linearly.
//!
//! `cargo bench -p holt-reach --bench reach`. Before the timings it prints the bytes the indexed cluster
//! holds (counted by an allocator wrapper) and one timed pass of 100,000 flows per size.

use std::alloc::System;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use holt_reach::{Cluster, ContainerPort, Endpoint, Flow, NamespaceInput, PodInput, Protocol};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SERVICES_PER_NAMESPACE: usize = 10;
const FLOWS: usize = 100_000;

/// A deterministic pseudo-random sequence (64-bit LCG), so every run benches the same flows.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

fn labels(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn pod_ip(index: usize) -> IpAddr {
    let i = index as u32;
    IpAddr::V4(Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8))
}

/// The policy of service `i`: its pods admit, on the named port `http`, the next two services of the
/// namespace, and client pods of namespaces of the same team; one service in ten also limits egress to
/// its namespace and DNS.
fn service_policy(i: usize) -> NetworkPolicy {
    let namespace = format!("ns-{}", i / SERVICES_PER_NAMESPACE);
    let team = format!("team-{}", i / SERVICES_PER_NAMESPACE / 4);
    let mut spec = serde_json::json!({
        "podSelector": {"matchLabels": {"app": format!("svc-{i}")}},
        "ingress": [
            {"from": [{"podSelector": {"matchExpressions": [{"key": "app", "operator": "In",
                         "values": [format!("svc-{}", i + 1), format!("svc-{}", i + 2)]}]}}],
             "ports": [{"port": "http"}]},
            {"from": [{"namespaceSelector": {"matchLabels": {"team": team}}, "podSelector": {"matchLabels": {"role": "client"}}},
                      {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}],
             "ports": [{"port": 8080, "endPort": 8090, "protocol": "TCP"}]}
        ]
    });
    if i.is_multiple_of(10) {
        spec["egress"] = serde_json::json!([
            {"to": [{"podSelector": {}}]},
            {"to": [{"namespaceSelector": {}}], "ports": [{"port": 53, "protocol": "UDP"}]}
        ]);
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": format!("svc-{i}"), "namespace": namespace},
        "spec": spec,
    }))
    .expect("a NetworkPolicy")
}

struct Input {
    namespaces: Vec<NamespaceInput>,
    pods: Vec<PodInput>,
    policies: Vec<NetworkPolicy>,
}

fn synthetic(services: usize) -> Input {
    let namespaces = (0..services.div_ceil(SERVICES_PER_NAMESPACE))
        .map(|n| NamespaceInput {
            name: format!("ns-{n}"),
            labels: labels(&[("team", format!("team-{}", n / 4))]),
        })
        .collect();
    let mut pods = Vec::with_capacity(services * 2);
    for i in 0..services {
        for replica in 0..2 {
            let index = pods.len();
            let role = if i.is_multiple_of(3) { "client" } else { "server" };
            pods.push(PodInput {
                namespace: format!("ns-{}", i / SERVICES_PER_NAMESPACE),
                name: format!("svc-{i}-{replica}"),
                labels: labels(&[("app", format!("svc-{i}")), ("role", role.to_owned())]),
                ips: vec![pod_ip(index)],
                ports: vec![ContainerPort {
                    name: Some("http".into()),
                    port: 8080,
                    protocol: Protocol::Tcp,
                }],
            });
        }
    }
    let policies = (0..services).map(service_policy).collect();
    Input {
        namespaces,
        pods,
        policies,
    }
}

fn index(input: &Input) -> Cluster {
    Cluster::new(input.namespaces.clone(), input.pods.clone(), &input.policies).expect("valid input")
}

/// 100,000 flows: mostly between pods of nearby services (so that rules admit some), some across the
/// cluster, one in twenty from outside the cluster.
fn flows(cluster: &Cluster) -> Vec<Flow> {
    let pods = cluster.pod_count();
    let mut random = Sequence(7);
    (0..FLOWS)
        .map(|_| {
            let to = random.below(pods);
            let from = match random.below(20) {
                0 => Endpoint::Address(IpAddr::V4(Ipv4Addr::new(192, 168, random.below(4) as u8, 9))),
                1..=4 => Endpoint::Pod(pod_at(cluster, random.below(pods))),
                _ => Endpoint::Pod(pod_at(cluster, (to + 2 + random.below(4)) % pods)),
            };
            let (port, protocol) = match random.below(10) {
                0 => (53, Protocol::Udp),
                1..=2 => (9090, Protocol::Tcp),
                _ => (8080, Protocol::Tcp),
            };
            Flow {
                from,
                to: Endpoint::Pod(pod_at(cluster, to)),
                port,
                protocol,
            }
        })
        .collect()
}

fn pod_at(cluster: &Cluster, index: usize) -> holt_reach::PodId {
    let service = index / 2;
    cluster
        .pod(
            &format!("ns-{}", service / SERVICES_PER_NAMESPACE),
            &format!("svc-{service}-{}", index % 2),
        )
        .expect("a pod")
}

fn evaluate_all(cluster: &Cluster, flows: &[Flow]) -> usize {
    flows.iter().filter(|flow| cluster.evaluate(flow).allowed).count()
}

const SIZES: [usize; 2] = [1_000, 10_000];

fn report() {
    for services in SIZES {
        let input = synthetic(services);
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        let cluster = index(&input);
        let indexing = started.elapsed();
        let change = region.change();
        let held = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
        let flows = flows(&cluster);
        let started = Instant::now();
        let allowed = evaluate_all(&cluster, &flows);
        let evaluating = started.elapsed();
        eprintln!(
            "{services} services / {} pods / {} policies: indexed in {indexing:?}, holding {:.1} MiB; \
             {FLOWS} flows in {evaluating:?} ({allowed} allowed)",
            cluster.pod_count(),
            input.policies.len(),
            held as f64 / (1024.0 * 1024.0),
        );
    }
}

fn bench(c: &mut Criterion) {
    report();
    let mut group = c.benchmark_group("reach");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for services in SIZES {
        let input = synthetic(services);
        group.throughput(Throughput::Elements(services as u64));
        group.bench_with_input(BenchmarkId::new("index", services), &input, |b, input| {
            b.iter(|| black_box(index(input)))
        });
        let cluster = index(&input);
        let flows = flows(&cluster);
        group.throughput(Throughput::Elements(FLOWS as u64));
        group.bench_with_input(BenchmarkId::new("100k_flows", services), &flows, |b, flows| {
            b.iter(|| black_box(evaluate_all(&cluster, flows)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
