//! `holt plan`: manifests and a configuration in, what Holt would create out; with `--traffic FILE` (a network
//! mapper export), also the insights of the discovered calls, and status 1 when the plan blocks one of them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use holt_model::{Config, Index};
use holt_render::{DesiredState, RenderOptions, render_all};

use crate::Format;
use crate::document_limits::Limits;
use crate::holt_objects;
use crate::insights_table;
use crate::manifests::{self, Manifests};
use crate::model_input::kubernetes_objects;
use crate::output;
use crate::traffic;
use crate::validate;
use holt_config::ConfigArgs;

/// The model built from the manifests, and everything rendered from it.
#[derive(Debug)]
pub struct Plan {
    pub index: Index,
    pub state: DesiredState,
}

/// What `holt plan` is asked.
#[derive(Debug)]
pub struct PlanRequest<'a> {
    pub paths: &'a [PathBuf],
    pub format: Format,
    pub config: &'a ConfigArgs,
    pub limits: &'a Limits,
    /// A network mapper export: print the insights of its calls after the plan.
    pub traffic: Option<&'a Path>,
}

/// Prints the plan (and, with a traffic file, the insights of its calls). The status is 1 when a discovered
/// call is blocked by the plan's desired state.
pub fn run(request: &PlanRequest<'_>) -> anyhow::Result<ExitCode> {
    let config = crate::config_notices::resolve(request.config)?;
    let calls = match request.traffic {
        Some(file) => Some(traffic::read(file, request.limits)?),
        None => None,
    };
    let manifests = manifests::load(request.paths, request.config.config.as_deref(), request.limits)?;
    for skipped in &manifests.skipped {
        eprintln!(
            "note: {}: {} is not used by holt plan",
            skipped.source, skipped.what
        );
    }
    if calls.is_none() {
        for loaded in &manifests.loaded {
            if let manifests::Manifest::NetworkPolicy(policy) = &loaded.manifest {
                let name = policy.metadata.name.as_deref().unwrap_or_default();
                let namespace = policy.metadata.namespace.as_deref().unwrap_or("default");
                eprintln!(
                    "note: {}: NetworkPolicy {namespace}/{name} is not used by holt plan (holt reach and holt plan --traffic evaluate it)",
                    loaded.source
                );
            }
        }
    }
    let plan = build(&manifests, config.clone())?;
    let insights = match &calls {
        Some(calls) => Some(holt_insights::insights(
            &traffic::cluster_state(&manifests, config),
            calls,
        )?),
        None => None,
    };
    let text = match (request.format, &insights, request.traffic) {
        (Format::Table, Some(insights), Some(file)) => {
            output::table(&plan) + "\n" + &traffic_table(file, insights)
        }
        (Format::Table, _, _) => output::table(&plan),
        (Format::Yaml, insights, file) => {
            if let (Some(insights), Some(file)) = (insights, file) {
                eprint!("\n{}", traffic_table(file, insights));
            }
            output::yaml(&plan.state)?
        }
        (Format::Json, Some(insights), _) => {
            let both = serde_json::json!({
                "objects": output::documents(&plan.state)?,
                "insights": insights,
            });
            serde_json::to_string_pretty(&both)? + "\n"
        }
        (Format::Json, None, _) => output::json(&plan.state)?,
    };
    print!("{text}");
    if insights.is_some_and(|i| i.blocked_now().next().is_some()) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The insights table of a traffic file's calls against the plan.
fn traffic_table(file: &Path, insights: &holt_insights::Insights) -> String {
    insights_table::table(&file.display().to_string(), "by this plan", insights)
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
