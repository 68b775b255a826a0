//! `holt diff` end to end (the release binary on two directories of manifests) at 1,000 and 5,000
//! ClientIntents: each tree holds `n` workloads (a Deployment with a named container port and a Service each,
//! 100 per namespace) and one ClientIntents per workload calling the next two workloads of its namespace;
//! the new tree changes the second target of five intents to the third workload on (so each of those calls
//! to the second becomes blocked, each to the third becomes allowed, and every server keeps a client). Holt
//! renders one NetworkPolicy per called server and access labels on every client: each side is `n` pods and
//! `n` policies.
//!
//! `cargo bench -p holt --bench diff`. Before timing, each size is run once and checked: five calls become
//! blocked and five become allowed. Under `cargo test --all-targets` criterion runs each benchmark once.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const SIZES: [usize; 2] = [1_000, 5_000];
const PER_NAMESPACE: usize = 100;
const CHANGED: usize = 5;

fn workload(i: usize) -> (String, String) {
    (format!("team-{}", i / PER_NAMESPACE), format!("svc-{i}"))
}

/// The next workload of `i`'s namespace, `step` places on.
fn target(i: usize, step: usize) -> String {
    let base = i / PER_NAMESPACE * PER_NAMESPACE;
    workload(base + (i - base + step) % PER_NAMESPACE).1
}

/// Writes a tree of `n` workloads; the intents at `changed` call one and three places on instead of one and two.
fn write_tree(dir: &Path, n: usize, changed: &[usize]) {
    std::fs::create_dir_all(dir).expect("create the tree");
    let mut workloads = String::new();
    let mut intents = String::new();
    for namespace in 0..n.div_ceil(PER_NAMESPACE) {
        let _ = write!(
            workloads,
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: team-{namespace}}}\n"
        );
    }
    for i in 0..n {
        let (namespace, name) = workload(i);
        let _ = write!(
            workloads,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: main, image: app:1, ports: [{{name: http, containerPort: 8080}}]}}]}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {{selector: {{app: {name}}}, ports: [{{port: 80, targetPort: http}}]}}\n"
        );
        let second = if changed.contains(&i) { 3 } else { 2 };
        let _ = write!(
            intents,
            "---\napiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  workload: {{name: {name}, kind: Deployment}}\n  targets: [{{service: {{name: {}}}}}, {{service: {{name: {}}}}}]\n",
            target(i, 1),
            target(i, second)
        );
    }
    std::fs::write(dir.join("workloads.yaml"), workloads).expect("write");
    std::fs::write(dir.join("intents.yaml"), intents).expect("write");
}

fn holt_diff(old: &Path, new: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_holt"))
        .arg("diff")
        .arg(old)
        .arg(new)
        .args(["-o", "json"])
        .output()
        .expect("holt runs")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("holt diff");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for n in SIZES {
        let changed: Vec<usize> = (0..CHANGED).map(|k| k * (n / CHANGED) + 7).collect();
        let old = dir.path().join(format!("old-{n}"));
        let new = dir.path().join(format!("new-{n}"));
        write_tree(&old, n, &[]);
        write_tree(&new, n, &changed);
        let output = holt_diff(&old, &new);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let blocked = stdout.matches(r#""change":"blocked""#).count();
        let allowed = stdout.matches(r#""change":"allowed""#).count();
        assert_eq!((blocked, allowed), (CHANGED, CHANGED), "{stdout}");
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| holt_diff(&old, &new));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
