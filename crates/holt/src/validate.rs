//! `holt validate`: the shared validation over manifests, for CI and pre-commit hooks.

use std::path::PathBuf;
use std::process::ExitCode;

use holt_api::any::HubObject;
use holt_api::validate::{NeighbourIndex, Neighbours, ValidationConfig, validate_indexed};
use holt_model::Config;

use crate::document_limits::Limits;
use crate::holt_objects::{self, Problem, Read};
use crate::manifests;

pub fn run(paths: &[PathBuf], strict: bool, limits: &Limits) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(paths, None, limits)?;
    for skipped in &manifests.skipped {
        eprintln!("note: {}: {} skipped", skipped.source, skipped.what);
    }
    let (read, mut found) = holt_objects::parse(&manifests.loaded);
    let config = Config {
        enable_strict_mode_intents: strict,
        ..Config::default()
    };
    found.extend(problems(&read, &config));
    let problems = found;
    if !problems.is_empty() {
        return Ok(fail(&problems));
    }
    println!("{} objects valid.", read.len());
    Ok(ExitCode::SUCCESS)
}

fn fail(problems: &[Problem]) -> ExitCode {
    for problem in problems {
        eprintln!("invalid: {problem}");
    }
    eprintln!(
        "{} problem{}.",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    ExitCode::FAILURE
}

/// Every validation error of every object, judged together (uniqueness rules look at the others, across
/// all files, through an index built once: linear in the number of objects). Warnings are printed to stderr
/// and do not fail.
pub fn problems(read: &[Read], config: &Config) -> Vec<Problem> {
    let mut client_intents = Vec::new();
    let mut protected_services = Vec::new();
    for item in read {
        match item.served.clone().into_hub() {
            HubObject::ClientIntents(o) => client_intents.push(o),
            HubObject::ProtectedService(o) => protected_services.push(o),
            HubObject::KafkaServerConfig(_) => {}
        }
    }
    let neighbours = NeighbourIndex::new(&Neighbours {
        client_intents: &client_intents,
        protected_services: &protected_services,
    });
    let rules = ValidationConfig {
        strict_mode: config.enable_strict_mode_intents,
        excluded_strict_mode_namespaces: config.excluded_strict_mode_namespaces.clone(),
    };
    let mut problems = Vec::new();
    for item in read {
        let report = validate_indexed(&item.served, &neighbours, &rules);
        for warning in &report.warnings {
            eprintln!("warning: {}: {warning}", item.source);
        }
        problems.extend(report.errors.iter().map(|error| Problem {
            source: item.source.clone(),
            message: error.to_string(),
        }));
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use holt_api::any::Served;
    use serde_json::{Value, json};

    use super::*;
    use crate::manifests::Source;

    fn read(index: usize, value: Value) -> Read {
        Read {
            source: Source {
                file: PathBuf::from("mixed.yaml"),
                document: index + 1,
            },
            served: Served::from_value(value).expect("a served object"),
        }
    }

    /// A small deterministic pseudo-random sequence (the same input on every run).
    struct Sequence(u64);

    impl Sequence {
        fn pick<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let index = usize::try_from(self.0 >> 33).expect("fits") % choices.len();
            &choices[index]
        }
    }

    /// ClientIntents (every served version), ProtectedServices and KafkaServerConfigs whose names, kinds
    /// and namespaces collide often: duplicates in a namespace, the same workload in other namespaces or of
    /// other kinds, no kind and an empty kind, no namespace, objects with the same metadata.name (an update
    /// of itself), empty names, and other errors beside the duplicates.
    fn mixed_input() -> Vec<Read> {
        let mut sequence = Sequence(12);
        let namespaces = [Some("shop"), Some("ops"), None];
        let workloads = ["web", "api", "worker", "", "Bad.Name"];
        let kinds = [
            None,
            Some(""),
            Some("Deployment"),
            Some("StatefulSet"),
            Some("deployment"),
        ];
        let servers = ["checkout", "cart", "", "Upper"];
        let versions = ["v1alpha3", "v1beta1", "v2alpha1", "v2beta1"];
        let mut objects = Vec::new();
        for index in 0..240 {
            let mut metadata = json!({});
            if let Some(name) = sequence.pick(&[
                None,
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(8),
                Some(9),
            ]) {
                metadata["name"] = json!(format!("object-{name}"));
            }
            if let Some(namespace) = sequence.pick(&namespaces) {
                metadata["namespace"] = json!(namespace);
            }
            let kind = sequence.pick(&kinds);
            let version = *sequence.pick(&versions);
            let api_version = format!("k8s.otterize.com/{version}");
            let value = match sequence.pick(&[0, 0, 0, 1, 1, 2]) {
                0 => {
                    let name = sequence.pick(&workloads);
                    let workload = match kind {
                        Some(kind) => json!({"name": name, "kind": kind}),
                        None => json!({"name": name}),
                    };
                    let target = sequence.pick(&["checkout", "cart.ops", "a.b.c", ""]);
                    if version.starts_with("v1") {
                        json!({"apiVersion": api_version, "kind": "ClientIntents", "metadata": metadata,
                               "spec": {"service": workload, "calls": [{"name": target}]}})
                    } else {
                        json!({"apiVersion": api_version, "kind": "ClientIntents", "metadata": metadata,
                               "spec": {"workload": workload, "targets": [{"kubernetes": {"name": target}}]}})
                    }
                }
                1 => {
                    let mut spec = json!({"name": sequence.pick(&servers)});
                    if let Some(kind) = kind {
                        spec["kind"] = json!(kind);
                    }
                    json!({"apiVersion": api_version, "kind": "ProtectedService", "metadata": metadata, "spec": spec})
                }
                _ => {
                    let workload = if version.starts_with("v1") {
                        "service"
                    } else {
                        "workload"
                    };
                    json!({"apiVersion": api_version, "kind": "KafkaServerConfig", "metadata": metadata,
                           "spec": {workload: {"name": sequence.pick(&workloads)}, "addr": "kafka:9092"}})
                }
            };
            objects.push(read(index, value));
        }
        objects
    }

    /// The problems found on the mixed input by the validation as it was before the uniqueness rules were
    /// indexed (each object compared with every other), recorded then: the indexed validation must find the
    /// same, in the same order.
    const MIXED_EXPECTED: &str = include_str!("../tests/data/validate-mixed.expected");

    #[test]
    fn the_mixed_input_gets_the_same_problems_in_the_same_order_as_before() {
        let found: Vec<String> = problems(&mixed_input(), &Config::default())
            .iter()
            .map(ToString::to_string)
            .collect();
        let expected: Vec<&str> = MIXED_EXPECTED.lines().collect();
        assert!(
            found.iter().filter(|p| p.contains("already")).count() > 50,
            "the input has many duplicates"
        );
        pretty_assertions::assert_eq!(found, expected);
    }

    /// `count` valid ClientIntents, 100 per namespace, each for its own workload, plus one duplicate.
    fn many_intents(count: usize) -> Vec<Read> {
        let mut objects: Vec<Read> = (0..count)
            .map(|i| {
                read(
                    i,
                    json!({"apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
                       "metadata": {"name": format!("client-{i}"), "namespace": format!("team-{}", i / 100)},
                       "spec": {"workload": {"name": format!("client-{i}"), "kind": "Deployment"},
                                "targets": [{"service": {"name": format!("server-{i}")}}]}}),
                )
            })
            .collect();
        objects.push(read(
            count,
            json!({"apiVersion": "k8s.otterize.com/v2beta1", "kind": "ClientIntents",
                   "metadata": {"name": "again", "namespace": "team-0"},
                   "spec": {"workload": {"name": "client-7", "kind": "Deployment"}}}),
        ));
        objects
    }

    #[test]
    fn validating_many_objects_grows_linearly_not_with_every_pair() {
        // Every object compared with every other is 10^10 comparisons here: minutes even optimised. Indexed,
        // this is well under a second optimised and a few seconds unoptimised.
        let objects = many_intents(100_000);
        let started = Instant::now();
        let found = problems(&objects, &Config::default());
        let took = started.elapsed();
        eprintln!("100,000 ClientIntents validated in {took:?}");
        assert_eq!(
            found.len(),
            2,
            "the duplicate, reported on both objects: {found:?}"
        );
        assert!(
            took < Duration::from_secs(20),
            "100,000 ClientIntents took {took:?} to validate"
        );
    }
}
