//! `holt plan`: manifests and a configuration in, what Holt would create out.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use holt_model::{Config, Index};
use holt_render::{DesiredState, RenderOptions, render_all};

use crate::Format;
use crate::document_limits::Limits;
use crate::holt_objects;
use crate::manifests::{self, Manifests};
use crate::model_input::kubernetes_objects;
use crate::output;
use crate::validate;
use holt_config::ConfigArgs;

/// The model built from the manifests, and everything rendered from it.
#[derive(Debug)]
pub struct Plan {
    pub index: Index,
    pub state: DesiredState,
}

pub fn run(
    paths: &[PathBuf],
    format: Format,
    config_args: &ConfigArgs,
    limits: &Limits,
) -> anyhow::Result<ExitCode> {
    let config = config_args.resolve().context("reading the configuration")?;
    let manifests = manifests::load(paths, config_args.config.as_deref(), limits)?;
    for skipped in &manifests.skipped {
        eprintln!(
            "note: {}: {} is not used by holt plan",
            skipped.source, skipped.what
        );
    }
    for loaded in &manifests.loaded {
        if let manifests::Manifest::NetworkPolicy(policy) = &loaded.manifest {
            let name = policy.metadata.name.as_deref().unwrap_or_default();
            let namespace = policy.metadata.namespace.as_deref().unwrap_or("default");
            eprintln!(
                "note: {}: NetworkPolicy {namespace}/{name} is not used by holt plan (holt reach evaluates it)",
                loaded.source
            );
        }
    }
    let plan = build(&manifests, config)?;
    let text = match format {
        Format::Table => output::table(&plan),
        Format::Yaml => output::yaml(&plan.state)?,
        Format::Json => output::json(&plan.state)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Validates Holt's objects, builds the model, renders everything. Invalid objects fail the whole plan:
/// nothing is printed as if it had worked.
pub fn build(manifests: &Manifests, config: Config) -> anyhow::Result<Plan> {
    let (read, mut problems) = holt_objects::parse(&manifests.loaded);
    problems.extend(validate::problems(&read, &config));
    if !problems.is_empty() {
        return Err(report(problems));
    }
    let mut index = Index::new(config);
    for object in kubernetes_objects(manifests.loaded.iter().map(|l| &l.manifest)) {
        index.apply(object);
    }
    for item in read {
        index.apply(holt_objects::model_object(item.served));
    }
    let state = render_all(&index, &RenderOptions::default());
    Ok(Plan { index, state })
}

fn report(problems: Vec<holt_objects::Problem>) -> anyhow::Error {
    for problem in &problems {
        eprintln!("invalid: {problem}");
    }
    match problems.len() {
        1 => anyhow::anyhow!("1 invalid object: nothing planned"),
        n => anyhow::anyhow!("{n} problems: nothing planned"),
    }
}
