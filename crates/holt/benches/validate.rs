//! `holt validate` and `holt plan` at 20,000, 50,000 and 200,000 ClientIntents (100 per namespace, each
//! for its own workload, one ProtectedService per 50, and one duplicate of each kind): how the time grows
//! with the number of objects.
//!
//! `cargo bench -p holt --bench validate` prints one table:
//! - `before`: the validation as it was, the uniqueness rules comparing every object with every other (kept
//!   here as the baseline: the per-object rules with no neighbours, plus the pairwise comparison). Run up to
//!   50,000 objects unless `HOLT_BENCH_BASELINE_UP_TO` says more: at 200,000 it takes minutes.
//! - `after`: the shared validation with the neighbours indexed once (what `holt validate` does).
//! - `holt validate` and `holt plan`: the release binary on a YAML file of the same objects less the two
//!   duplicates, end to end (reading, the limits pass, parsing, validating; for plan also building the model
//!   and rendering every object, printed as the table).
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it runs once on 300 objects and checks that
//! before and after find the same problems.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use holt_api::any::{AnyVersion, Served};
use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, ProtectedService, ProtectedServiceSpec, ServiceTarget, Target, Workload,
};
use holt_api::validate::{self, NeighbourIndex, Neighbours, ValidationConfig};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const SIZES: [usize; 3] = [20_000, 50_000, 200_000];
const TEST_SIZE: usize = 300;
const PER_NAMESPACE: usize = 100;

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..ObjectMeta::default()
    }
}

fn intents(i: usize, workload: usize) -> ClientIntents {
    let namespace = format!("team-{}", workload / PER_NAMESPACE);
    ClientIntents {
        metadata: meta(&namespace, &format!("client-{i}")),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: format!("client-{workload}"),
                kind: Some("Deployment".into()),
            },
            targets: vec![Target {
                service: Some(ServiceTarget {
                    name: format!("server-{}", (workload + 1) % PER_NAMESPACE),
                    http: vec![],
                }),
                ..Target::default()
            }],
        },
        status: None,
    }
}

fn protected(i: usize, server: usize) -> ProtectedService {
    ProtectedService {
        metadata: meta(
            &format!("team-{}", server / PER_NAMESPACE),
            &format!("protect-{i}"),
        ),
        spec: ProtectedServiceSpec {
            name: format!("server-{}", server % PER_NAMESPACE),
            kind: None,
        },
        status: None,
    }
}

/// `count` ClientIntents and `count / 50` ProtectedServices, and with `duplicates` one more of each kind
/// at the end that clashes with an earlier one.
fn generate(count: usize, duplicates: bool) -> (Vec<ClientIntents>, Vec<ProtectedService>) {
    let mut client_intents: Vec<ClientIntents> = (0..count).map(|i| intents(i, i)).collect();
    let mut protected_services: Vec<ProtectedService> =
        (0..count / 50).map(|i| protected(i, i * 50)).collect();
    if duplicates {
        client_intents.push(intents(count, 7));
        protected_services.push(protected(count, 0));
    }
    (client_intents, protected_services)
}

fn served(client_intents: &[ClientIntents], protected_services: &[ProtectedService]) -> Vec<Served> {
    let intents = client_intents
        .iter()
        .map(|o| Served::ClientIntents(AnyVersion::V2beta1(o.clone())));
    let protected = protected_services
        .iter()
        .map(|o| Served::ProtectedService(AnyVersion::V2beta1(o.clone())));
    intents.chain(protected).collect()
}

/// The validation as it was: each object's own rules, and the uniqueness rules comparing it with every
/// other object (same namespace, other name, same workload or server name and kind; unset and empty kinds
/// alike). Returns every error message, in report order for objects with only duplicate errors.
fn before(objects: &[Served], neighbours: &Neighbours<'_>, config: &ValidationConfig) -> Vec<String> {
    let no_kind = |kind: Option<&str>| kind.is_none_or(str::is_empty);
    let same_kind = |a: Option<&str>, b: Option<&str>| if no_kind(a) { no_kind(b) } else { a == b };
    let mut messages = Vec::new();
    for object in objects {
        let report = validate::validate(object, &Neighbours::default(), config);
        messages.extend(report.errors.iter().map(ToString::to_string));
        let meta = object.meta();
        let (namespace, name) = (meta.namespace.as_deref(), meta.name.as_deref());
        let others_in =
            |other: &ObjectMeta| other.namespace.as_deref() == namespace && other.name.as_deref() != name;
        match object.clone().into_hub() {
            holt_api::any::HubObject::ClientIntents(o) => {
                let workload = &o.spec.workload;
                for other in neighbours
                    .client_intents
                    .iter()
                    .filter(|x| others_in(&x.metadata))
                {
                    let theirs = &other.spec.workload;
                    if !workload.name.is_empty()
                        && theirs.name == workload.name
                        && same_kind(theirs.kind.as_deref(), workload.kind.as_deref())
                    {
                        messages.push(format!(
                            "{} duplicates {:?}",
                            object.object_ref(),
                            other.metadata.name
                        ));
                    }
                }
            }
            holt_api::any::HubObject::ProtectedService(o) => {
                for other in neighbours
                    .protected_services
                    .iter()
                    .filter(|x| others_in(&x.metadata))
                {
                    if !o.spec.name.is_empty()
                        && other.spec.name == o.spec.name
                        && same_kind(other.spec.kind.as_deref(), o.spec.kind.as_deref())
                    {
                        messages.push(format!(
                            "{} duplicates {:?}",
                            object.object_ref(),
                            other.metadata.name
                        ));
                    }
                }
            }
            holt_api::any::HubObject::KafkaServerConfig(_) => {}
        }
    }
    messages
}

/// The validation as `holt validate` does it now: the neighbours indexed once.
fn after(objects: &[Served], neighbours: &Neighbours<'_>, config: &ValidationConfig) -> Vec<String> {
    let index = NeighbourIndex::new(neighbours);
    let mut messages = Vec::new();
    for object in objects {
        let report = validate::validate_indexed(object, &index, config);
        for error in &report.errors {
            let message = error.to_string();
            // The duplicate rules' messages, in the baseline's shorter form.
            match message.split_once(" in this namespace (") {
                Some((_, rest)) => {
                    let other = rest.split_once(')').map_or("", |(other, _)| other);
                    messages.push(format!("{} duplicates {:?}", object.object_ref(), Some(other)));
                }
                None => messages.push(message),
            }
        }
    }
    messages
}

fn timed<T>(run: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = run();
    (value, started.elapsed())
}

/// The objects as one multi-document YAML file, as a user would keep them.
fn write_yaml(path: &Path, client_intents: &[ClientIntents], protected_services: &[ProtectedService]) {
    let file = std::fs::File::create(path).expect("create the manifest file");
    let mut out = std::io::BufWriter::new(file);
    let values = client_intents
        .iter()
        .map(|o| {
            let mut v = serde_json::to_value(o).expect("serialisable");
            v["apiVersion"] = "k8s.otterize.com/v2beta1".into();
            v["kind"] = "ClientIntents".into();
            v
        })
        .chain(protected_services.iter().map(|o| {
            let mut v = serde_json::to_value(o).expect("serialisable");
            v["apiVersion"] = "k8s.otterize.com/v2beta1".into();
            v["kind"] = "ProtectedService".into();
            v
        }));
    for value in values {
        out.write_all(b"---\n").expect("write");
        serde_yaml::to_writer(&mut out, &value).expect("write");
    }
    out.flush().expect("write");
}

/// `holt ARGS FILE`, timed; the exit status and the last line of stderr.
fn holt(args: &[&str], file: &Path) -> (Duration, String) {
    let (output, took) = timed(|| {
        Command::new(env!("CARGO_BIN_EXE_holt"))
            .args(args)
            .arg(file)
            .output()
            .expect("holt runs")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default().to_owned();
    (took, format!("{} ({last})", output.status))
}

fn seconds(duration: Option<Duration>) -> String {
    duration.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64()))
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let sizes: Vec<usize> = if benchmarking {
        SIZES.to_vec()
    } else {
        vec![TEST_SIZE]
    };
    let baseline_up_to: usize = std::env::var("HOLT_BENCH_BASELINE_UP_TO")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let config = ValidationConfig::default();
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!(
        "{:>8} {:>12} {:>12} {:>16} {:>12}   (seconds; before/after: validation alone, in process)",
        "intents", "before", "after", "holt validate", "holt plan"
    );
    for count in sizes {
        let (client_intents, protected_services) = generate(count, true);
        let objects = served(&client_intents, &protected_services);
        let neighbours = Neighbours {
            client_intents: &client_intents,
            protected_services: &protected_services,
        };
        let (found, after_took) = timed(|| after(&objects, &neighbours, &config));
        assert_eq!(
            found.len(),
            4,
            "each duplicate is reported on both objects: {found:?}"
        );
        let before_took = (count <= baseline_up_to).then(|| {
            let (expected, took) = timed(|| before(&objects, &neighbours, &config));
            assert_eq!(found, expected, "before and after find the same problems");
            took
        });
        let (client_intents, protected_services) = generate(count, false);
        let file = dir.path().join(format!("intents-{count}.yaml"));
        write_yaml(&file, &client_intents, &protected_services);
        let (validate_took, validate_status) = holt(&["validate"], &file);
        assert!(validate_status.starts_with("exit status: 0"), "{validate_status}");
        let (plan_took, plan_status) = holt(&["plan"], &file);
        assert!(plan_status.starts_with("exit status: 0"), "{plan_status}");
        println!(
            "{count:>8} {:>12} {:>12} {:>16} {:>12}",
            seconds(before_took),
            seconds(Some(after_took)),
            seconds(Some(validate_took)),
            seconds(Some(plan_took)),
        );
        black_box(found);
    }
}
