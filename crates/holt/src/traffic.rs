//! `holt plan --traffic FILE`: the network mapper's export (ClientIntents as `holt mapper export` writes them,
//! YAML or JSON, any served version) and the plan's manifests in; out, the shadow-mode insights of
//! `holt-insights` (printed after the plan by [`crate::insights_table`]) — each discovered call allowed or
//! blocked now, once its server is protected, once the mode is `defaultActive`; each server's enforcement and
//! readiness to protect — and whether a discovered call is blocked by the plan's desired state (the exit
//! status 1 in CI). A traffic file that cannot be read or holds anything but ClientIntents is bad input,
//! named with its file.

use std::path::{Path, PathBuf};

use holt_api::any::HubObject;
use holt_insights::{ClusterState, DiscoveredCall, discovered_calls};
use holt_model::{Config, Object};

use crate::document_limits::Limits;
use crate::holt_objects;
use crate::manifests::{self, Manifest, Manifests};
use crate::model_input::kubernetes_objects;
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
