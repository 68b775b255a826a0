//! The mapper's shadow-mode insights (`GET /v1/insights`) on a cluster of 1,000 services: the time of one
//! computation from the mapper's state (the copy taken under the locks, then the computation), for every
//! call and for one namespace; and the memory the mapper holds per watched pod and per declared object.
//! Then the same request through the mapper's HTTP router (`http::app`): after a change (computed), with
//! the state unchanged (answered from the cache), and with the `ETag` of the answer held (`304`).
//!
//! The cluster: 20 namespaces; 1,000 server Deployments (2 pods each, container port 8080, a Service each);
//! 1,000 client Deployments (1 pod each), each seen calling 3 servers (3,000 calls) and declaring them in a
//! ClientIntents (every other client only 2 of them); a ProtectedService for every 10th server; in every
//! other namespace another team's NetworkPolicy admitting only the namespace's own pods. Mode
//! `defaultShadow`.
//!
//! `cargo bench -p holt-mapper --bench insights` (release); under `cargo test --all-targets` each
//! benchmark runs once.

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use axum::body::Body;
use holt_mapper::cluster::{ClusterIndex, PodEntry};
use holt_mapper::declared::{Declared, DeclaredKind, DeclaredState};
use holt_mapper::ingest::{IngestConfig, Mapper};
use holt_mapper::insights::{InsightsFilter, Snapshot};
use holt_mapper::intent_log::IntentLog;
use holt_mapper::published_reset::PublishedReset;
use holt_mapper::shared::{InsightsInputs, Shared};
use holt_mapper::store::{Store, StoreLimits, TargetKey};
use holt_mapper_api::{DiscoveredIntent, InsightsQuery, Target, Workload};
use holt_model::Identity;
use holt_model::facts::{OwnerFacts, ServiceFacts};
use holt_model::{Config, Mode, ObjectKey};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const NAMESPACES: usize = 20;
const SERVERS: usize = 1_000;
const PODS_PER_SERVER: usize = 2;
const CLIENTS: usize = 1_000;
const CALLS_PER_CLIENT: usize = 3;

fn namespace(i: usize) -> String {
    format!("ns-{}", i % NAMESPACES)
}

/// The pod `n` of Deployment `ns/name` (through ReplicaSet `name-7d9f`), as the API server serves it.
fn pod(ns: &str, name: &str, n: usize, ip: u32, port: Option<u16>) -> PodEntry {
    let ports: Vec<_> = port.into_iter().map(|p| json!({"containerPort": p})).collect();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "namespace": ns, "name": format!("{name}-7d9f-{n}"),
            "labels": {"app": name, "pod-template-hash": "7d9f"},
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-7d9f"),
                                 "uid": "5f0c6a1e-3a57-4e7c-9d44-0c1b8a1e7f00", "controller": true}]
        },
        "spec": {"serviceAccountName": name,
                 "containers": [{"name": "main", "image": format!("registry.example/{name}:1.0.0"), "ports": ports}]},
        "status": {"phase": "Running", "podIP": std::net::Ipv4Addr::from(ip).to_string()}
    }))
    .expect("a valid Pod");
    PodEntry::from_pod(&pod)
}

fn deployment(index: &mut ClusterIndex, ns: &str, name: &str) {
    let meta = |name: String, owner: Option<&str>| {
        serde_json::from_value(json!({
            "namespace": ns, "name": name,
            "ownerReferences": owner.map(|o| vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                                          "name": o, "uid": "u", "controller": true})]),
        }))
        .expect("valid metadata")
    };
    index.apply_owner(OwnerFacts::new("Deployment", &meta(name.to_owned(), None)));
    index.apply_owner(OwnerFacts::new(
        "ReplicaSet",
        &meta(format!("{name}-7d9f"), Some(name)),
    ));
}

/// The pods, Services and owners of the cluster.
fn cluster() -> ClusterIndex {
    let mut index = ClusterIndex::new(Config::default());
    let mut ip = u32::from(std::net::Ipv4Addr::new(10, 244, 0, 1));
    for s in 0..SERVERS {
        let (ns, name) = (namespace(s), format!("svc-{s}"));
        deployment(&mut index, &ns, &name);
        for n in 0..PODS_PER_SERVER {
            index.apply_pod(pod(&ns, &name, n, ip, Some(8080)));
            ip += 1;
        }
        let service: Service = serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}],
                     "clusterIP": std::net::Ipv4Addr::from(0x0a60_0000 + s as u32).to_string()}
        }))
        .expect("a valid Service");
        index.apply_service(ServiceFacts::from_service(&service));
    }
    for c in 0..CLIENTS {
        let (ns, name) = (namespace(c + 7), format!("client-{c}"));
        deployment(&mut index, &ns, &name);
        index.apply_pod(pod(&ns, &name, 0, ip, None));
        ip += 1;
    }
    index
}

/// The servers client `c` calls.
fn called(c: usize) -> impl Iterator<Item = usize> {
    (0..CALLS_PER_CLIENT).map(move |k| (c * 7 + k * 331) % SERVERS)
}

fn workload(ns: String, name: String) -> Workload {
    Workload {
        name,
        namespace: ns,
        kind: Some("Deployment".into()),
    }
}

/// Every discovered call, as the store lists them.
fn discovered() -> Vec<DiscoveredIntent> {
    let mut intents = Vec::new();
    for c in 0..CLIENTS {
        for s in called(c) {
            intents.push(DiscoveredIntent {
                client: workload(namespace(c + 7), format!("client-{c}")),
                target: Target::Kubernetes {
                    server: workload(namespace(s), format!("svc-{s}")),
                    service: Some(format!("svc-{s}")),
                    http: Vec::new(),
                },
                first_seen: jiff::Timestamp::UNIX_EPOCH,
                last_seen: jiff::Timestamp::UNIX_EPOCH,
            });
        }
    }
    intents
}

fn client_intents(c: usize) -> Declared {
    let ns = namespace(c + 7);
    let declared = if c.is_multiple_of(2) {
        CALLS_PER_CLIENT
    } else {
        CALLS_PER_CLIENT - 1
    };
    let targets: Vec<_> = called(c)
        .take(declared)
        .map(|s| json!({"kubernetes": {"name": format!("svc-{s}.{}", namespace(s)), "kind": "Deployment"}}))
        .collect();
    let intents = serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": format!("client-{c}")},
        "spec": {"workload": {"name": format!("client-{c}"), "kind": "Deployment"}, "targets": targets}
    }))
    .expect("a valid ClientIntents");
    Declared::client_intents(intents).expect("kept")
}

fn foreign_policy(ns: &str) -> Declared {
    let policy: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": "same-namespace-only", "labels": {"team": "platform"}},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}
    }))
    .expect("a valid NetworkPolicy");
    Declared::network_policy(policy).expect("kept")
}

/// The declared state: Namespaces, ClientIntents, ProtectedServices, other teams' NetworkPolicies.
fn declared() -> DeclaredState {
    let mut state = DeclaredState::new(100_000);
    for n in 0..NAMESPACES {
        let ns = namespace(n);
        let namespace = serde_json::from_value(json!({
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns, "team": format!("team-{n}")}}
        }))
        .expect("a valid Namespace");
        state.apply(ObjectKey::new("default", &ns), Declared::namespace(&namespace));
        if n.is_multiple_of(2) {
            state.apply(ObjectKey::new(&ns, "same-namespace-only"), foreign_policy(&ns));
        }
    }
    for c in 0..CLIENTS {
        state.apply(
            ObjectKey::new(namespace(c + 7), format!("client-{c}")),
            client_intents(c),
        );
    }
    for s in (0..SERVERS).step_by(10) {
        let protected = serde_json::from_value(json!({
            "metadata": {"namespace": namespace(s), "name": format!("protect-svc-{s}")},
            "spec": {"name": format!("svc-{s}")}
        }))
        .expect("a valid ProtectedService");
        state.apply(
            ObjectKey::new(namespace(s), format!("protect-svc-{s}")),
            Declared::protected_service(protected).expect("kept"),
        );
    }
    state
}

/// Heap bytes `build` leaves allocated, divided by `count`.
fn held_per<T>(count: usize, build: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let built = build();
    let change = region.change();
    let held = change.bytes_allocated.saturating_sub(change.bytes_deallocated);
    (built, held / count.max(1))
}

fn memory() {
    let pods = SERVERS * PODS_PER_SERVER + CLIENTS;
    let (index, per_pod) = held_per(pods, cluster);
    // The pods alone: a second index with the same pods and no Services or owners.
    let entries: Vec<PodEntry> = index.pods().cloned().collect();
    let (pods_only, per_pod_alone) = held_per(entries.len(), || {
        let mut alone = ClusterIndex::new(Config::default());
        for entry in entries.iter().cloned() {
            alone.apply_pod(entry);
        }
        alone
    });
    let (intents_only, per_intents) = held_per(CLIENTS, || {
        let mut state = DeclaredState::new(100_000);
        for c in 0..CLIENTS {
            state.apply(
                ObjectKey::new(namespace(c + 7), format!("client-{c}")),
                client_intents(c),
            );
        }
        state
    });
    let (policies_only, per_policy) = held_per(NAMESPACES, || {
        let mut state = DeclaredState::new(100_000);
        for n in 0..NAMESPACES {
            let ns = namespace(n);
            state.apply(ObjectKey::new(&ns, "same-namespace-only"), foreign_policy(&ns));
        }
        state
    });
    println!(
        "memory held by the mapper: {per_pod_alone} B per watched pod (the pod index alone; {per_pod} B \
         per pod with the Services and owners of this cluster), {per_intents} B per ClientIntents (2 or 3 \
         targets), {per_policy} B per NetworkPolicy (one rule); the insights keep nothing per pod beyond \
         the pod index"
    );
    black_box((
        pods_only.sizes(),
        intents_only.len(DeclaredKind::ClientIntents),
        policies_only.len(DeclaredKind::NetworkPolicy),
    ));
}

fn computing(c: &mut Criterion) {
    memory();
    let index = cluster();
    let declared = declared();
    let intents = discovered();
    let config = Config {
        mode: Mode::DefaultShadow,
        ..Config::default()
    };
    let (all, _) = InsightsFilter::parse(&InsightsQuery::default()).expect("no filter");
    let (one_namespace, _) = InsightsFilter::parse(&InsightsQuery {
        namespace: Some(namespace(0)),
        ..InsightsQuery::default()
    })
    .expect("a namespace");

    // What the figures say: every call evaluated, some blocked now (the other teams' policies admit only
    // their namespace's pods), some servers ready to protect.
    let insights = Snapshot::take(&config, &index, &declared, intents.clone())
        .insights(&all)
        .expect("insights");
    let blocked = insights.blocked_now().count();
    let ready = insights.servers.iter().filter(|s| s.ready_to_protect).count();
    println!(
        "insights of {} calls to {} servers: {blocked} blocked now, {ready} servers ready to protect",
        insights.calls.len(),
        insights.servers.len()
    );
    assert_eq!(insights.calls.len(), CLIENTS * CALLS_PER_CLIENT);

    let mut group = c.benchmark_group("insights_1000_services");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("snapshot_only", |b| {
        b.iter(|| black_box(Snapshot::take(&config, &index, &declared, intents.clone())))
    });
    group.bench_function("every_call", |b| {
        b.iter(|| {
            let snapshot = Snapshot::take(&config, &index, &declared, intents.clone());
            black_box(snapshot.insights(&all).map(|i| i.calls.len()))
        })
    });
    group.bench_function("one_namespace", |b| {
        b.iter(|| {
            let snapshot = Snapshot::take(&config, &index, &declared, intents.clone());
            black_box(snapshot.insights(&one_namespace).map(|i| i.calls.len()))
        })
    });
    group.finish();
}

/// The mapper's store holding the discovered calls.
fn store() -> Store {
    let mut store = Store::new(StoreLimits::default());
    for intent in discovered() {
        let Target::Kubernetes { server, service, .. } = intent.target else {
            continue;
        };
        let identity = |w: Workload| Identity::new(w.namespace, w.name, w.kind.as_deref());
        store
            .record(
                identity(intent.client),
                TargetKey::Workload(identity(server)),
                1,
                service,
                None,
            )
            .expect("within the bounds");
    }
    store
}

/// A namespace's labels changed: the declared state's version moves on.
fn relabel(declared: &mut DeclaredState, n: u64) {
    let relabelled = serde_json::from_value(json!({
        "metadata": {"name": namespace(0), "labels": {"kubernetes.io/metadata.name": namespace(0),
                                                      "team": "team-0", "touched": n.to_string()}}
    }))
    .expect("a valid Namespace");
    declared.apply(
        ObjectKey::new("default", namespace(0)),
        Declared::namespace(&relabelled),
    );
}

fn serving(c: &mut Criterion) {
    use tower_service::Service;
    let dir = tempfile::tempdir().expect("a state directory");
    let mut store = store();
    let (log, _) = IntentLog::open(dir.path(), &mut store, 0).expect("an intent log");
    let config = Config {
        mode: Mode::DefaultShadow,
        ..Config::default()
    };
    let inputs = InsightsInputs::new(config, declared());
    let mapper = Mapper::new(cluster(), store, IngestConfig::default());
    let shared = Arc::new(Shared::new(
        mapper,
        Some(inputs),
        Default::default(),
        log,
        PublishedReset::open(dir.path(), false),
    ));
    let limits = holt_mapper::http::RequestLimits {
        max_report_bytes: 1 << 20,
        max_concurrent_requests: 4,
        request_timeout: Duration::from_secs(60),
        graphql_anonymous_reads: false,
    };
    let router = holt_mapper::http::app(shared.clone(), limits, None);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let get = |if_none_match: Option<&str>| {
        let mut request = axum::http::Request::get("/v1/insights");
        if let Some(etag) = if_none_match {
            request = request.header("if-none-match", etag);
        }
        let request = request.body(Body::empty()).expect("a request");
        let response = runtime.block_on(router.clone().call(request)).expect("an answer");
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status().as_u16(), etag)
    };
    let (status, etag) = get(None);
    assert_eq!(status, 200);
    let etag = etag.expect("an ETag");
    assert_eq!(get(Some(&etag)).0, 304);
    let computations = || {
        shared
            .insights
            .as_ref()
            .map(|i| i.computations.load(std::sync::atomic::Ordering::Relaxed))
    };
    let before = computations();

    let mut group = c.benchmark_group("insights_http_1000_services");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    let mut touched = 0;
    group.bench_function("after_a_change_computed", |b| {
        b.iter(|| {
            touched += 1;
            if let Some(inputs) = &shared.insights {
                relabel(&mut inputs.declared(), touched);
            }
            assert_eq!(get(None).0, 200);
        })
    });
    group.bench_function("unchanged_from_the_cache", |b| {
        b.iter(|| assert_eq!(black_box(get(None)).0, 200))
    });
    let etag = get(None).1.expect("an ETag");
    group.bench_function("unchanged_not_modified", |b| {
        b.iter(|| assert_eq!(black_box(get(Some(&etag))).0, 304))
    });
    group.finish();
    println!(
        "insights computed through the router: {:?} before the timed runs, {:?} after (one per change)",
        before,
        computations()
    );
}

criterion_group!(benches, computing, serving);
criterion_main!(benches);
