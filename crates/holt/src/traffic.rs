//! `holt plan --traffic FILE`: the network mapper's export (ClientIntents as `holt mapper export` writes them,
//! YAML or JSON, any served version) and the plan's manifests in; out, the shadow-mode insights of
//! `holt-insights` printed after the plan — each discovered call allowed or blocked now, once its server is
//! protected, once the mode is `defaultActive`; each server's enforcement and readiness to protect — and
//! whether a discovered call is blocked by the plan's desired state (the exit status 1 in CI). A traffic file
//! that cannot be read or holds anything but ClientIntents is bad input, named with its file.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use holt_api::any::HubObject;
use holt_insights::{CallInsight, ClusterState, DiscoveredCall, Insights, Outcome, discovered_calls};
use holt_model::{Config, Object};

use crate::document_limits::Limits;
use crate::holt_objects;
use crate::manifests::{self, Manifest, Manifests};
use crate::model_input::kubernetes_objects;
use crate::output::align;
use crate::reach::evaluator_input;

/// A traffic file that is not a network mapper export.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("traffic file {file}: {problem}")]
    Load { file: PathBuf, problem: String },
    #[error(
        "traffic file {at}: {what} is not a ClientIntents (a traffic file is what `holt mapper export` writes)"
    )]
    NotClientIntents { at: String, what: String },
    #[error("traffic file {at}: {problem}")]
    Invalid { at: String, problem: String },
    #[error(
        "traffic file {file}: no ClientIntents in it (a traffic file is what `holt mapper export` writes)"
    )]
    Empty { file: PathBuf },
}

/// The discovered calls of a mapper export.
pub fn read(file: &Path, limits: &Limits) -> Result<Vec<DiscoveredCall>, TrafficError> {
    let loaded = manifests::load(&[file.to_owned()], None, limits).map_err(|e| TrafficError::Load {
        file: file.to_owned(),
        problem: e.to_string(),
    })?;
    if let Some(skipped) = loaded.skipped.first() {
        return Err(TrafficError::NotClientIntents {
            at: skipped.source.to_string(),
            what: skipped.what.clone(),
        });
    }
    if let Some(other) = loaded
        .loaded
        .iter()
        .find(|l| !matches!(l.manifest, Manifest::Holt { .. }))
    {
        return Err(TrafficError::NotClientIntents {
            at: other.source.to_string(),
            what: "this object".into(),
        });
    }
    let (read, problems) = holt_objects::parse(&loaded.loaded);
    if let Some(problem) = problems.first() {
        return Err(TrafficError::Invalid {
            at: problem.source.to_string(),
            problem: problem.message.clone(),
        });
    }
    let mut calls = Vec::new();
    for item in read {
        let at = item.source.to_string();
        match item.served.into_hub() {
            HubObject::ClientIntents(intents) => calls.extend(discovered_calls(&intents)),
            HubObject::ProtectedService(_) => {
                return Err(TrafficError::NotClientIntents {
                    at,
                    what: "a ProtectedService".into(),
                });
            }
            HubObject::KafkaServerConfig(_) => {
                return Err(TrafficError::NotClientIntents {
                    at,
                    what: "a KafkaServerConfig".into(),
                });
            }
        }
    }
    if loaded.loaded.is_empty() {
        return Err(TrafficError::Empty {
            file: file.to_owned(),
        });
    }
    Ok(calls)
}

/// The declared state of the plan's manifests: the objects Holt's model reads (its own kinds converted to
/// `v2beta1`), Pods (a workload without Pods stands for one Pod of its template), Namespace labels and the
/// manifests' NetworkPolicies.
pub fn cluster_state(manifests: &Manifests, config: Config) -> ClusterState {
    let documents: Vec<&Manifest> = manifests.loaded.iter().map(|l| &l.manifest).collect();
    let mut objects: Vec<Object> = kubernetes_objects(documents.iter().copied())
        .into_iter()
        .filter(|o| !matches!(o, Object::Pod(_)))
        .collect();
    let (read, _) = holt_objects::parse(&manifests.loaded);
    objects.extend(
        read.into_iter()
            .map(|item| holt_objects::model_object(item.served)),
    );
    let input = evaluator_input(documents.iter().copied());
    ClusterState {
        config,
        objects,
        pods: input.pods,
        namespaces: input.namespaces,
        policies: input.policies,
    }
}

fn cell(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Allowed => "allowed".into(),
        Outcome::Blocked { by, .. } => {
            let by: Vec<&str> = by.iter().map(|b| b.policy.name.as_str()).collect();
            format!("blocked ({})", by.join(", "))
        }
        Outcome::NotEvaluated { .. } => "not evaluated".into(),
    }
}

fn yes(flag: bool) -> String {
    if flag { "yes" } else { "no" }.into()
}

fn names(list: &[holt_insights::WorkloadName]) -> String {
    match list.is_empty() {
        true => "-".into(),
        false => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The insights for people: calls, servers, then the calls blocked now (or not evaluated) with the reason.
pub fn table(file: &Path, insights: &Insights) -> String {
    let mut out = String::new();
    let blocked: Vec<&CallInsight> = insights.blocked_now().collect();
    let _ = writeln!(
        out,
        "\nDiscovered calls ({}): {} call(s), {} blocked by this plan.\n",
        file.display(),
        insights.calls.len(),
        blocked.len()
    );
    let mut calls =
        vec![["CLIENT", "SERVER", "DECLARED", "NOW", "IF PROTECTED", "IF ACTIVE"].map(String::from)];
    calls.extend(insights.calls.iter().map(|c| {
        [
            c.client.to_string(),
            c.server.to_string(),
            yes(c.declared),
            cell(&c.now),
            cell(&c.if_protected),
            cell(&c.if_active),
        ]
    }));
    out.push_str(&align(&calls));
    out.push('\n');
    let mut servers =
        vec![["SERVER", "ENFORCEMENT", "UNDECLARED CLIENTS", "READY TO PROTECT"].map(String::from)];
    servers.extend(insights.servers.iter().map(|s| {
        [
            s.server.to_string(),
            format!("{} ({})", s.enforcement.state, s.enforcement.why),
            names(&s.undeclared_clients),
            yes(s.ready_to_protect),
        ]
    }));
    out.push_str(&align(&servers));
    let notes: Vec<&CallInsight> = insights
        .calls
        .iter()
        .filter(|c| c.now.is_blocked() || matches!(c.now, Outcome::NotEvaluated { .. }))
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for call in notes {
            let _ = writeln!(out, "{} -> {}: {}", call.client, call.server, call.now);
        }
    }
    out
}
