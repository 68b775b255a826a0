//! `holt validate`: the shared validation over manifests, for CI and pre-commit hooks.

use std::path::PathBuf;
use std::process::ExitCode;

use holt_api::any::Object as HubObject;
use holt_api::validate::{Config as ValidationConfig, Neighbours, validate};
use holt_model::Config;

use crate::holt_objects::{self, Problem, Read};
use crate::manifests;

pub fn run(paths: &[PathBuf], strict: bool) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(paths, None)?;
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
/// all files). Warnings are printed to stderr and do not fail.
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
    let neighbours = Neighbours {
        client_intents: &client_intents,
        protected_services: &protected_services,
    };
    let rules = ValidationConfig {
        strict_mode: config.enable_strict_mode_intents,
        excluded_strict_mode_namespaces: config.excluded_strict_mode_namespaces.clone(),
    };
    let mut problems = Vec::new();
    for item in read {
        let report = validate(&item.served, &neighbours, &rules);
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
