//! The operator against a real kube-apiserver at scale: time from applying N ClientIntents to every policy
//! written and every status up to date; API writes and CPU for one intent change; the operator's memory.
//!
//! `cargo bench -p holt-operator --bench converge` runs N = 100, 1,000 and 5,000 (at 5,000: 10,000 pods and
//! 2,000 Services). Under `cargo test` it runs N = 20 once, as a test. The operator runs as its own process
//! (the `holt-operator` binary), so its RSS and CPU time are its own; its `/metrics` give the writes.
//!
//! Per namespace: 50 client pods with ClientIntents, 20 server pods with Services, 30 bystander pods. Each
//! client calls two servers through their Services and one as a workload, so every server gets two policies.
//!
//! `HOLT_BENCH_BASELINE=/path/to/holt-operator` runs another build of the operator (e.g. an earlier commit's)
//! on the same workload right before this one, at each size, and prints both rows and their ratios.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, KubernetesTarget, ServiceTarget, Target, Workload,
};
use holt_testenv::{ControlPlane, ControlPlaneOptions, cpu_ms, metric_sample, wait_until};
use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};

const CLIENTS_PER_NS: usize = 50;
const SERVERS_PER_NS: usize = 20;
const BYSTANDERS_PER_NS: usize = 30;
const CONCURRENCY: usize = 32;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    // HOLT_BENCH_SIZES=5000 runs one size; the operator inherits this process's environment (so, e.g.,
    // MALLOC_ARENA_MAX applies to it).
    let sizes: Vec<usize> = match std::env::var("HOLT_BENCH_SIZES") {
        Ok(list) if full => list.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        _ if full => vec![100, 1_000, 5_000],
        _ => vec![20],
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let current = env!("CARGO_BIN_EXE_holt-operator").to_owned();
    let mut operators = Vec::new();
    if let Ok(baseline) = std::env::var("HOLT_BENCH_BASELINE") {
        operators.push(("baseline", baseline));
    }
    operators.push(("current", current));
    println!(
        "operator  intents  pods    services  converge_s  writes  (status  errors)  settled_writes  change_ms  change_writes  change_cpu_ms  rss_mib"
    );
    for n in sizes {
        let mut rows = Vec::new();
        for (name, binary) in &operators {
            let row = runtime.block_on(run(n, binary));
            println!(
                "{:<9} {:<8} {:<7} {:<9} {:<11.2} {:<7} {:<7} {:<7}  {:<15} {:<10} {:<14} {:<14} {}",
                name,
                n,
                row.pods,
                row.services,
                row.converge.as_secs_f64(),
                row.writes,
                row.status_writes,
                row.write_errors,
                row.settled_writes,
                row.change.as_millis(),
                row.change_writes,
                row.change_cpu_ms,
                row.rss_mib
            );
            rows.push(row);
        }
        if let [baseline, current] = rows.as_slice() {
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
            println!(
                "ratio     {:<8} current/baseline: converge {:.2}, writes {:.2}, settled_writes {:.2}, change_writes {:.2}, rss {:.2}",
                n,
                ratio(current.converge.as_secs_f64(), baseline.converge.as_secs_f64()),
                ratio(current.writes as f64, baseline.writes as f64),
                ratio(current.settled_writes as f64, baseline.settled_writes as f64),
                ratio(current.change_writes as f64, baseline.change_writes as f64),
                ratio(current.rss_mib as f64, baseline.rss_mib as f64),
            );
        }
    }
}

struct Row {
    pods: usize,
    services: usize,
    converge: Duration,
    writes: u64,
    /// Writes from the first intent to the moment the operator writes nothing more.
    settled_writes: u64,
    /// Of `writes`: status writes (0 for an operator without that metric), and writes that failed.
    status_writes: u64,
    write_errors: u64,
    change: Duration,
    change_writes: u64,
    change_cpu_ms: u64,
    rss_mib: u64,
}

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

fn pod(ns: &str, name: &str) -> Pod {
    let mut metadata = meta(ns, name);
    metadata.labels = Some(BTreeMap::from([("app".into(), name.into())]));
    metadata.annotations = Some(BTreeMap::from([(
        "intents.otterize.com/workload-name".into(),
        name.into(),
    )]));
    Pod {
        metadata,
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                image: Some("example/app:1".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}

fn service(ns: &str, name: &str) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            // Headless: the test apiserver's Service range is a /24, too small for 2,000 ClusterIPs, and
            // policies do not use the ClusterIP.
            cluster_ip: Some("None".into()),
            selector: Some(BTreeMap::from([("app".into(), name.into())])),
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(IntOrString::Int(8080)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn intents(ns: &str, j: usize, extra: bool) -> ClientIntents {
    let svc = |k: usize| Target {
        service: Some(ServiceTarget {
            name: format!("srv-{}", k % SERVERS_PER_NS),
            http: vec![],
        }),
        ..Default::default()
    };
    let workload = |name: String| Target {
        kubernetes: Some(KubernetesTarget {
            name,
            kind: None,
            http: vec![],
        }),
        ..Default::default()
    };
    let mut targets = vec![
        svc(j),
        svc(j + 1),
        workload(format!("srv-{}", (j + 2) % SERVERS_PER_NS)),
    ];
    if extra {
        targets.push(workload("srv-extra".into()));
    }
    ClientIntents {
        metadata: meta(ns, &format!("cli-{j}")),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: format!("cli-{j}"),
                kind: None,
            },
            targets,
        },
        status: None,
    }
}

async fn create_all<K>(api_for: impl Fn(&str) -> Api<K>, objects: Vec<K>)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    stream::iter(objects)
        .map(|object| {
            let api = api_for(object.meta().namespace.as_deref().unwrap_or_default());
            async move { api.create(&PostParams::default(), &object).await.expect("create") }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
}

async fn run(n: usize, operator: &str) -> Row {
    let plane = ControlPlane::start(ControlPlaneOptions::without_controller_manager())
        .await
        .expect("control plane");
    let client = plane.client().await.expect("client");
    let yaml = holt_api::crds::crds_yaml().expect("CRDs");
    holt_testenv::install_crds_without_conversion(&client, &yaml)
        .await
        .expect("CRDs");

    let namespaces: Vec<String> = (0..n.div_ceil(CLIENTS_PER_NS))
        .map(|i| format!("team-{i}"))
        .collect();
    let ns_api = Api::<Namespace>::all(client.clone());
    for ns in namespaces.iter().chain(["holt-system".to_owned()].iter()) {
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(ns.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        ns_api
            .create(&PostParams::default(), &object)
            .await
            .expect("namespace");
    }
    let mut pods = Vec::new();
    let mut services = Vec::new();
    let mut all_intents = Vec::new();
    for (i, ns) in namespaces.iter().enumerate() {
        let clients = CLIENTS_PER_NS.min(n - i * CLIENTS_PER_NS);
        for j in 0..clients {
            pods.push(pod(ns, &format!("cli-{j}")));
            all_intents.push(intents(ns, j, false));
        }
        for k in 0..SERVERS_PER_NS {
            pods.push(pod(ns, &format!("srv-{k}")));
            services.push(service(ns, &format!("srv-{k}")));
        }
        for b in 0..BYSTANDERS_PER_NS {
            pods.push(pod(ns, &format!("idle-{b}")));
        }
        pods.push(pod(ns, "srv-extra"));
    }
    let (pod_count, service_count) = (pods.len(), services.len());
    create_all(|ns| Api::<Pod>::namespaced(client.clone(), ns), pods).await;
    create_all(|ns| Api::<Service>::namespaced(client.clone(), ns), services).await;

    let health = free_port();
    let mut operator = tokio::process::Command::new(operator)
        .env("KUBECONFIG", plane.kubeconfig())
        .env("RUST_LOG", "warn")
        .args([
            "--disable-webhook-server",
            "--health-probe-bind-address",
            &format!("127.0.0.1:{health}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("operator");
    let pid = operator.id().expect("pid");
    wait_until(Duration::from_secs(120), Duration::from_millis(100), || async {
        metric_sample(health, "holt_ready").await == Some(1)
    })
    .await;

    let writes_before = metric_sample(health, "holt_api_writes_total").await.unwrap_or(0);
    let status_before = metric_sample(health, "holt_status_writes_total")
        .await
        .unwrap_or(0);
    let errors_before = metric_sample(health, "holt_api_write_errors_total")
        .await
        .unwrap_or(0);
    let expected_policies = namespaces.len() * SERVERS_PER_NS * 2;
    let started = Instant::now();
    create_all(
        |ns| Api::<ClientIntents>::namespaced(client.clone(), ns),
        all_intents,
    )
    .await;
    let policies: Api<NetworkPolicy> = Api::all(client.clone());
    let intents_api: Api<ClientIntents> = Api::all(client.clone());
    wait_until(Duration::from_secs(600), Duration::from_millis(100), || async {
        let written = policies
            .list_metadata(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        if written < expected_policies {
            return false;
        }
        let list = intents_api
            .list(&ListParams::default())
            .await
            .expect("list intents");
        list.items.len() == n
            && list
                .items
                .iter()
                .all(|i| i.status.as_ref().is_some_and(|s| s.up_to_date))
    })
    .await;
    let converge = started.elapsed();
    let settled_from = writes_before;
    let writes = metric_sample(health, "holt_api_writes_total").await.unwrap_or(0) - writes_before;
    let status_writes = metric_sample(health, "holt_status_writes_total")
        .await
        .unwrap_or(0)
        - status_before;
    let write_errors = metric_sample(health, "holt_api_write_errors_total")
        .await
        .unwrap_or(0)
        - errors_before;

    // One intent change: cli-0 in team-0 also calls srv-extra. First let the operator finish what it was
    // doing besides policies and statuses (finalizers, pod labels): no write for a whole second.
    let mut passes = metric_sample(health, "holt_reconcile_passes_total")
        .await
        .unwrap_or(0);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = metric_sample(health, "holt_reconcile_passes_total")
            .await
            .unwrap_or(0);
        if now == passes {
            break;
        }
        passes = now;
    }
    let writes_before = metric_sample(health, "holt_api_writes_total").await.unwrap_or(0);
    // Everything written for the intents, once nothing more is: writes made after the convergence point
    // (finalizers, labels) count too, so operators that order their writes differently compare fairly.
    let settled_writes = writes_before - settled_from;
    let cpu_before = cpu_ms(pid);
    let started = Instant::now();
    let changed = intents("team-0", 0, true);
    let api: Api<ClientIntents> = Api::namespaced(client.clone(), "team-0");
    let patch = serde_json::json!({"spec": changed.spec});
    api.patch("cli-0", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("change");
    let team0: Api<NetworkPolicy> = Api::namespaced(client.clone(), "team-0");
    wait_until(Duration::from_secs(60), Duration::from_millis(100), || async {
        let policy = team0.get_opt("srv-extra-access").await.ok().flatten().is_some();
        let status = api
            .get("cli-0")
            .await
            .ok()
            .and_then(|i| i.status)
            .is_some_and(|s| s.observed_generation == 2);
        policy && status
    })
    .await;
    let change = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let change_writes = metric_sample(health, "holt_api_writes_total").await.unwrap_or(0) - writes_before;
    let change_cpu_ms = cpu_ms(pid).saturating_sub(cpu_before);
    let rss_mib = holt_testenv::rss_kib(pid).unwrap_or(0) / 1024;
    let _ = operator.kill().await;
    Row {
        pods: pod_count,
        services: service_count,
        converge,
        writes,
        settled_writes,
        status_writes,
        write_errors,
        change,
        change_writes,
        change_cpu_ms,
        rss_mib,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
