//! Issuing certificates for 1,000 pods of 200 workloads.
//!
//! Part 1, the pure core and the built-in CA (no I/O): each pod's annotations read, the pods grouped into
//! one request per Secret, one certificate issued per workload, the Secret's files (PEM, then JKS) and the
//! whole Secret built; and, apart, what a key and a signature cost.
//!
//! Part 2, the `holt-credentials` binary against a real kube-apiserver (holt-testenv, no controller-manager:
//! the bench creates the Deployments, ReplicaSets and pods itself): time from the operator's start to every
//! Secret written, its API writes, CPU and memory; then the renewal of all of them (a 90 s lifetime, renewed
//! after 60 s) with the same figures. The operator runs as its own process, so RSS and CPU are its own. Run
//! once with the built-in CA and once with `--certificate-provider spire` against the harness's real SPIRE
//! server (its own namespace of pods each: 200 entries registered and 1,000 pods labelled on top).
//!
//! `cargo bench -p holt-credentials --bench issue`; `HOLT_BENCH_API=0` runs part 1 only. Under `cargo test`
//! it runs part 1 at 50 pods of 10 workloads.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use holt_credentials::annotations::settings_of;
use holt_credentials::ca::{CaCertificate, CaSet, RotationPolicy};
use holt_credentials::provider::{BuiltInCa, ProviderKind};
use holt_credentials::request::{PodRequest, request_for_secret};
use holt_credentials::secret::{self, Written};
use holt_credentials::subject::TrustDomain;
use holt_model::{Identity, ObjectKey};
use holt_testenv::{ControlPlane, ControlPlaneOptions, cpu_ms, metric_sample, wait_until};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const PODS_PER_WORKLOAD: usize = 5;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let workloads = if full { 200 } else { 10 };
    pure(workloads, "pem");
    pure(workloads, "jks");
    primitives(if full { 1_000 } else { 20 });
    if full && std::env::var("HOLT_BENCH_API").map_or(true, |v| v != "0") {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(api(workloads));
    }
}

fn annotations(workload: usize, format: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "credentials-operator.otterize.com/tls-secret-name".to_owned(),
            format!("w{workload}-tls"),
        ),
        (
            "credentials-operator.otterize.com/cert-type".to_owned(),
            format.to_owned(),
        ),
        (
            "credentials-operator.otterize.com/dns-names".to_owned(),
            format!("w{workload}.example.com"),
        ),
    ])
}

fn provider() -> BuiltInCa {
    let ca = CaCertificate::generate(Timestamp::now(), Duration::from_secs(365 * 86_400)).expect("CA");
    BuiltInCa {
        cas: Arc::new(CaSet::new(vec![ca])),
        policy: RotationPolicy::default(),
        default_ttl: Duration::from_secs(86_400),
    }
}

/// Part 1: annotations → requests → certificates → Secrets, for `workloads` × 5 pods.
fn pure(workloads: usize, format: &str) {
    let provider = provider();
    let domain = TrustDomain::new("example.org").expect("domain");
    let now = Timestamp::now();
    let started = Instant::now();
    let mut parse = Duration::ZERO;
    let mut group = Duration::ZERO;
    let mut issue = Duration::ZERO;
    let mut build = Duration::ZERO;
    let mut bytes = 0usize;
    for w in 0..workloads {
        let t = Instant::now();
        let pods: Vec<PodRequest> = (0..PODS_PER_WORKLOAD)
            .map(|p| {
                let settings = settings_of(&annotations(w, format))
                    .expect("valid")
                    .expect("asks");
                PodRequest {
                    pod: ObjectKey::new("bench", format!("w{w}-{p}")),
                    created: now,
                    identity: Identity::new("bench", format!("w{w}"), Some("Deployment")),
                    root_owner: OwnerReference {
                        api_version: "apps/v1".into(),
                        kind: "Deployment".into(),
                        name: format!("w{w}"),
                        uid: format!("uid-{w}"),
                        ..OwnerReference::default()
                    },
                    settings,
                }
            })
            .collect();
        parse += t.elapsed();
        let t = Instant::now();
        let request = request_for_secret(&pods, &domain).expect("request").request;
        let digest = secret::settings_digest(&request, ProviderKind::BuiltIn);
        group += t.elapsed();
        let t = Instant::now();
        let issued = provider
            .issue(&request.subject, request.ttl, now)
            .expect("issued");
        issue += t.elapsed();
        let t = Instant::now();
        let bundle = provider.trust_bundle(now);
        let files = secret::files(&request.format, &issued, &bundle, now, [7; 20]).expect("files");
        bytes += files.values().map(Vec::len).sum::<usize>();
        let written = Written {
            settings_digest: digest,
            bundle_digest: bundle.digest.clone(),
            renew_at: now,
            expires_at: issued.not_after,
        };
        let desired = secret::desired_secret(&request, &written, files);
        std::hint::black_box(desired);
        build += t.elapsed();
    }
    let total = started.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / workloads as f64;
    println!(
        "pure {format}: {} pods of {workloads} workloads in {:.1} ms — per workload: annotations {:.1} µs, \
         request {:.1} µs, issue {:.1} µs, files+Secret {:.1} µs; {:.1} KiB per Secret",
        workloads * PODS_PER_WORKLOAD,
        total.as_secs_f64() * 1e3,
        per(parse),
        per(group),
        per(issue),
        per(build),
        bytes as f64 / workloads as f64 / 1024.0
    );
}

/// What a P-256 key and a signature cost.
fn primitives(n: usize) {
    let t = Instant::now();
    let keys: Vec<rcgen::KeyPair> = (0..n).map(|_| rcgen::KeyPair::generate().expect("key")).collect();
    let keygen = t.elapsed();
    let ca = provider();
    let issuer = ca.cas.cas[0].issuer();
    let t = Instant::now();
    for key in &keys {
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        std::hint::black_box(params.signed_by(key, issuer).expect("signed"));
    }
    let sign = t.elapsed();
    println!(
        "primitives: ECDSA P-256 key {:.1} µs, certificate signed {:.1} µs (mean of {n})",
        keygen.as_secs_f64() * 1e6 / n as f64,
        sign.as_secs_f64() * 1e6 / n as f64
    );
}

/// Part 2: the binary against a real API server.
async fn api(workloads: usize) {
    let plane = ControlPlane::start(ControlPlaneOptions::without_controller_manager())
        .await
        .expect("control plane");
    let client = plane.client().await.expect("client");
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "holt-system"}})).expect("ns");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    provider_run(&plane, workloads, "bench-builtin", &[]).await;
    let spire = holt_testenv::SpireServer::start(holt_testenv::SpireOptions::default())
        .await
        .expect("SPIRE server");
    let address = format!("unix://{}", spire.socket_path().display());
    provider_run(
        &plane,
        workloads,
        "bench-spire",
        &[
            "--certificate-provider",
            "spire",
            "--spire-server-address",
            &address,
            "--trust-domain",
            spire.trust_domain(),
        ],
    )
    .await;
}

/// Creates the workloads in `namespace`, runs the operator (serving that namespace, with `provider_args`)
/// and prints the figures of the first issue and of the renewal of all.
async fn provider_run(plane: &ControlPlane, workloads: usize, namespace: &str, provider_args: &[&str]) {
    println!("api: {namespace}");
    let client = plane.client().await.expect("client");
    let namespaces = Api::<Namespace>::all(client.clone());
    for name in [namespace] {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace");
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let started = Instant::now();
    stream::iter(0..workloads)
        .map(|w| {
            let (deployments, replica_sets, pods) = (deployments.clone(), replica_sets.clone(), pods.clone());
            async move {
                let name = format!("w{w}");
                let selector = json!({"matchLabels": {"app": name}});
                let template = json!({
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
                });
                let deployment: Deployment = serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "spec": {"selector": selector, "template": template}
                }))
                .expect("deployment");
                let deployment = deployments.create(&PostParams::default(), &deployment).await.expect("create");
                let owner = |kind: &str, name: &str, uid: Option<String>| {
                    json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true}])
                };
                let rs_name = format!("{name}-7d9f");
                let replica_set: ReplicaSet = serde_json::from_value(json!({
                    "metadata": {"name": rs_name, "ownerReferences": owner("Deployment", &name, deployment.metadata.uid)},
                    "spec": {"selector": selector, "template": template}
                }))
                .expect("replica set");
                let replica_set = replica_sets.create(&PostParams::default(), &replica_set).await.expect("create");
                for p in 0..PODS_PER_WORKLOAD {
                    let pod: Pod = serde_json::from_value(json!({
                        "metadata": {
                            "name": format!("{rs_name}-{p}"),
                            "labels": {"app": name},
                            "annotations": {
                                "credentials-operator.otterize.com/tls-secret-name": format!("{name}-tls"),
                                "credentials-operator.otterize.com/cert-ttl": "90",
                            },
                            "ownerReferences": owner("ReplicaSet", &rs_name, replica_set.metadata.uid.clone()),
                        },
                        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
                    }))
                    .expect("pod");
                    pods.create(&PostParams::default(), &pod).await.expect("create");
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    println!(
        "api: {} pods of {workloads} workloads created in {:.1} s",
        workloads * PODS_PER_WORKLOAD,
        started.elapsed().as_secs_f64()
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let started = Instant::now();
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_holt-credentials"))
        .env("KUBECONFIG", plane.kubeconfig())
        .env("RUST_LOG", "warn")
        .args([
            "--operator-namespace",
            "holt-system",
            "--health-probe-bind-address",
            &format!("127.0.0.1:{port}"),
            "--watched-namespaces",
            namespace,
        ])
        .args(provider_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("holt-credentials");
    let pid = operator.id().expect("pid");
    let target = workloads as u64;
    wait_until(Duration::from_secs(300), Duration::from_millis(50), || async {
        metric_sample(port, "holt_credentials_certificates_issued_total").await == Some(target)
    })
    .await;
    let issued_in = started.elapsed();
    let writes = metric_sample(port, "holt_credentials_api_writes_total")
        .await
        .unwrap_or(0);
    println!(
        "api: {} Secrets issued in {:.2} s from the operator's start (listing included), {writes} API writes, \
         CPU {} ms, RSS {} MiB",
        target,
        issued_in.as_secs_f64(),
        cpu_ms(pid),
        holt_testenv::rss_kib(pid).unwrap_or(0) / 1024
    );

    // The renewals: due 60 s after each issue.
    let cpu_before = cpu_ms(pid);
    wait_until(Duration::from_secs(200), Duration::from_millis(50), || async {
        metric_sample(port, "holt_credentials_renewals_total")
            .await
            .unwrap_or(0)
            > 0
    })
    .await;
    let first = Instant::now();
    wait_until(Duration::from_secs(200), Duration::from_millis(50), || async {
        metric_sample(port, "holt_credentials_renewals_total").await == Some(target)
    })
    .await;
    let renewal_writes = metric_sample(port, "holt_credentials_api_writes_total")
        .await
        .unwrap_or(0)
        - writes;
    println!(
        "api: {target} renewals within {:.2} s of the first, {renewal_writes} API writes, CPU {} ms, RSS {} MiB, \
         failures {}",
        first.elapsed().as_secs_f64(),
        cpu_ms(pid).saturating_sub(cpu_before),
        holt_testenv::rss_kib(pid).unwrap_or(0) / 1024,
        metric_sample(port, "holt_credentials_failures_total")
            .await
            .unwrap_or(0)
    );
    let _ = operator.kill().await;
}
