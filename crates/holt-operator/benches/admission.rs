//! Creating ClientIntents through Holt's webhooks against a real kube-apiserver: the latency of each create
//! (p50, p99) and the throughput, side by side
//! - `off`: no validating webhook, no conversion webhook (the API server on its own);
//! - `listed`: both webhooks, uniqueness checked by listing the namespace on every review (what Holt did
//!   before the index);
//! - `indexed`: both webhooks, uniqueness answered from the watch-backed index (what the operator runs).
//!
//! Each mode creates N objects into a fresh namespace, once one after the other and once from 50 concurrent
//! creators, and the ratios to `off` are printed. The webhook servers run in this process, registered by URL.
//!
//! `cargo bench -p holt-operator --bench admission` runs N = 1,000 (`HOLT_BENCH_CREATES` overrides it);
//! under `cargo test` it runs N = 40 with 10 creators once, as a test.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KubernetesTarget, ServiceTarget, Target, Workload,
};
use holt_operator::webhook::{
    CertificateSource, KubeNeighbourhood, ListedNeighbourhood, Neighbourhood,
    VALIDATING_WEBHOOK_CONFIGURATION, Webhook, WebhookOptions, WebhookTarget, ensure_registration,
};
use holt_testenv::{ControlPlane, ControlPlaneOptions};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Off,
    Listed,
    Indexed,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Listed => "listed",
            Mode::Indexed => "indexed",
        }
    }
}

struct Row {
    mode: Mode,
    creators: usize,
    creates: usize,
    total: Duration,
    p50: Duration,
    p99: Duration,
    /// New TLS connections the API server opened to the webhook during the run.
    handshakes: u64,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let creates: usize = match std::env::var("HOLT_BENCH_CREATES") {
        Ok(n) if full => n.trim().parse().expect("HOLT_BENCH_CREATES is a number"),
        _ if full => 1_000,
        _ => 40,
    };
    let concurrency = if full { 50 } else { 10 };
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (rows, stats) = runtime.block_on(run(creates, concurrency));
    println!("mode     creators  creates  total_s  creates_per_s  p50_ms  p99_ms  tls_handshakes");
    for row in &rows {
        println!(
            "{:<8} {:<9} {:<8} {:<8.2} {:<14.0} {:<7.1} {:<7.1} {}",
            row.mode.name(),
            row.creators,
            row.creates,
            row.total.as_secs_f64(),
            row.creates as f64 / row.total.as_secs_f64(),
            ms(row.p50),
            ms(row.p99),
            row.handshakes,
        );
    }
    println!(
        "indexed webhook: {} lookups from the index, {} listed (index re-listing after a CRD change, or confirming)",
        stats.from_index, stats.listed
    );
    let (admission, conversion) = handler_cost();
    println!(
        "in-process cost of one review (no I/O): admission {:.1} us, conversion {:.1} us",
        admission.as_secs_f64() * 1e6,
        conversion.as_secs_f64() * 1e6
    );
    println!("ratios to off (same creators): p50, p99, total");
    for row in rows.iter().filter(|r| r.mode != Mode::Off) {
        let off = rows
            .iter()
            .find(|r| r.mode == Mode::Off && r.creators == row.creators)
            .expect("an off row");
        println!(
            "{:<8} {:<9} p50 {:.2}x  p99 {:.2}x  total {:.2}x",
            row.mode.name(),
            row.creators,
            ratio(row.p50, off.p50),
            ratio(row.p99, off.p99),
            ratio(row.total, off.total),
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// The average time Holt's handlers take for one admission review and one conversion review of a typical
/// ClientIntents, from the request body to the response body (parse, validate or convert, serialize).
fn handler_cost() -> (Duration, Duration) {
    use holt_operator::webhook::{StaticNeighbourhood, review_admission, review_conversion};
    let object = serde_json::to_value(intents("shop", "frontend")).expect("json");
    let mut object = object;
    object["apiVersion"] = "k8s.otterize.com/v2beta1".into();
    object["kind"] = "ClientIntents".into();
    let admission = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0b5d0d7e-0000-4000-8000-000000000001",
            "kind": { "group": "k8s.otterize.com", "version": "v2beta1", "kind": "ClientIntents" },
            "resource": { "group": "k8s.otterize.com", "version": "v2beta1", "resource": "clientintents" },
            "name": "frontend", "namespace": "shop", "operation": "CREATE",
            "userInfo": { "username": "alice" }, "object": object.clone(),
        },
    })
    .to_string();
    let conversion = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "request": { "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                     "desiredAPIVersion": "k8s.otterize.com/v2alpha1", "objects": [object] },
    })
    .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let neighbourhood = StaticNeighbourhood::default();
    let config = holt_api::validate::ValidationConfig::default();
    let rounds = 2_000;
    let started = Instant::now();
    for _ in 0..rounds {
        let review = serde_json::from_str(&admission).expect("review");
        let answer = runtime.block_on(review_admission(review, &neighbourhood, &config));
        std::hint::black_box(serde_json::to_vec(&answer).expect("answer"));
    }
    let admission_cost = started.elapsed() / rounds;
    let started = Instant::now();
    let bounds = holt_operator::webhook::ConversionBounds {
        max_object: usize::MAX,
        deadline: None,
    };
    for _ in 0..rounds {
        let answer = review_conversion(conversion.as_bytes(), &bounds).expect("answer");
        std::hint::black_box(answer.into_bytes());
    }
    (admission_cost, started.elapsed() / rounds)
}

async fn run(creates: usize, concurrency: usize) -> (Vec<Row>, holt_operator::webhook::NeighbourhoodStats) {
    let plane = ControlPlane::start(ControlPlaneOptions::without_controller_manager())
        .await
        .expect("control plane");
    let client = plane.client().await.expect("client");
    let system = plane
        .create_namespace(&client, "webhooks")
        .await
        .expect("namespace");
    let listed = start(
        &client,
        &system,
        "listed-cert",
        ListedNeighbourhood::new(client.clone()),
    )
    .await;
    let index = KubeNeighbourhood::new(client.clone());
    let indexed = start(&client, &system, "indexed-cert", index.clone()).await;

    // Installs the CRDs.
    switch_to(&client, &listed).await;
    let mut rows = Vec::new();
    for creators in [1, concurrency] {
        for mode in [Mode::Off, Mode::Listed, Mode::Indexed] {
            match mode {
                Mode::Off => switch_off(&client).await,
                Mode::Listed => switch_to(&client, &listed).await,
                Mode::Indexed => {
                    switch_to(&client, &indexed).await;
                    while !index.is_ready() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            let ns = plane
                .create_namespace(&client, &format!("{}-{creators}", mode.name()))
                .await
                .expect("namespace");
            let handshakes = || listed.webhook.tls_handshakes() + indexed.webhook.tls_handshakes();
            let before = handshakes();
            let (total, mut latencies) = create_all(&client, &ns, creates, creators).await;
            latencies.sort();
            rows.push(Row {
                mode,
                creators,
                creates,
                total,
                p50: percentile(&latencies, 50),
                p99: percentile(&latencies, 99),
                handshakes: handshakes() - before,
            });
        }
    }
    let stats = index.stats();
    assert!(
        stats.from_index > stats.listed,
        "the indexed runs were answered from the index: {stats:?}"
    );
    (rows, stats)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1) - 1;
    sorted[rank.min(sorted.len() - 1)]
}

/// A webhook server with its own certificate Secret in `namespace`, not registered yet.
async fn start<N: Neighbourhood>(
    client: &kube::Client,
    namespace: &str,
    secret: &str,
    neighbourhood: N,
) -> Served {
    let mut options = WebhookOptions::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        "holt-webhook",
        namespace,
        secret,
    );
    if let CertificateSource::Secret { options, .. } = &mut options.certificate {
        options.loopback = true;
    }
    let webhook = Webhook::start(client.clone(), neighbourhood, options)
        .await
        .expect("webhook");
    Served {
        target: WebhookTarget::Url(format!("https://127.0.0.1:{}", webhook.local_addr().port())),
        ca_bundle: webhook.ca_bundle(),
        webhook,
    }
}

struct Served {
    target: WebhookTarget,
    ca_bundle: Vec<u8>,
    webhook: Webhook,
}

/// Registers `served` (creating the CRDs the first time) and waits until the API server calls it.
async fn switch_to(client: &kube::Client, served: &Served) {
    ensure_registration(client, &served.target, &served.ca_bundle)
        .await
        .expect("registration");
    let probe_ns = "default";
    let api = Api::<ClientIntents>::namespaced(client.clone(), probe_ns);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut invalid = intents(probe_ns, "probe");
    invalid.spec.targets[0].service.as_mut().expect("service").name = "a.b.c".into();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let valid = api.create(&dry_run, &intents(probe_ns, "probe")).await;
        let denied = api.create(&dry_run, &invalid).await;
        if valid.is_ok()
            && matches!(&denied, Err(kube::Error::Api(s)) if s.message.contains("spec.targets[0]"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "webhooks not effective: {valid:?} {denied:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The other server may still be called for a moment after the switch.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// No validating webhook and no conversion webhook; waits until an invalid object is accepted.
async fn switch_off(client: &kube::Client) {
    let configurations = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    if configurations
        .get_opt(VALIDATING_WEBHOOK_CONFIGURATION)
        .await
        .expect("read")
        .is_some()
    {
        configurations
            .delete(VALIDATING_WEBHOOK_CONFIGURATION, &DeleteParams::default())
            .await
            .expect("delete configuration");
    }
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let none = serde_json::json!({ "spec": { "conversion": { "strategy": "None", "webhook": null } } });
    for kind in holt_api::Kind::ALL {
        let name = format!("{}.{}", kind.plural(), holt_api::GROUP);
        if crds.get_opt(&name).await.expect("read").is_some() {
            crds.patch(&name, &PatchParams::default(), &Patch::Merge(&none))
                .await
                .expect("conversion off");
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

fn intents(ns: &str, name: &str) -> ClientIntents {
    let service = |name: &str| Target {
        service: Some(ServiceTarget {
            name: name.into(),
            http: vec![],
        }),
        ..Default::default()
    };
    ClientIntents {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        spec: ClientIntentsSpec {
            workload: Workload {
                name: name.into(),
                kind: None,
            },
            targets: vec![
                service("cartservice"),
                service("checkout"),
                Target {
                    kubernetes: Some(KubernetesTarget {
                        name: "payments".into(),
                        kind: Some("Deployment".into()),
                        http: vec![],
                    }),
                    ..Default::default()
                },
            ],
        },
        status: None,
    }
}

/// Creates `creates` ClientIntents in `ns` from `creators` concurrent creators; returns the wall time and
/// each create's latency.
async fn create_all(
    client: &kube::Client,
    ns: &str,
    creates: usize,
    creators: usize,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..creators)
        .map(|_| {
            let api = Api::<ClientIntents>::namespaced(client.clone(), ns);
            let next = next.clone();
            let ns = ns.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= creates {
                        return latencies;
                    }
                    let object = intents(&ns, &format!("cli-{i}"));
                    let began = Instant::now();
                    api.create(&PostParams::default(), &object).await.expect("create");
                    latencies.push(began.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(creates);
    for task in tasks {
        latencies.extend(task.await.expect("creator"));
    }
    (started.elapsed(), latencies)
}
