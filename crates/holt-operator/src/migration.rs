//! The dry run of a take-over from the reference operator (`holt migrate --dry-run`): what the operator
//! would adopt and delete if it started now, read-only.
//!
//! In: a client of the cluster and the operator's configuration. The operator's own watches list every kind
//! once ([`crate::watch::all`]), the listing is folded into the model as the controller folds it, every
//! unit is rendered, and each object of the reference's ([`crate::apply::reference`]) is judged by the same
//! rule the operator applies ([`reference::decide`]). Out: a [`Survey`] — the reference's objects with what
//! happens to each, the pod labels that would be removed after the first pass, and what the dry run cannot
//! see. Nothing is written.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use futures::StreamExt;
use holt_model::{Config, Index, ObjectKey, Unit};
use holt_render::{RenderOptions, render_unit};
use kube::Client;
use serde::Serialize;

use crate::apply::reference::{self, Takeover};
use crate::apply::{Applier, LiveObject, ObjectId};
use crate::watch::{self, Input, WatchedKind};

/// One of the reference's objects and what the operator would do with it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectTakeover {
    pub action: Takeover,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// A pod whose labels the operator would change, as the take-over orders it: the labels set during the
/// first pass (the reference's labels Holt wants are already there and stay), those removed after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PodTakeover {
    pub namespace: String,
    pub name: String,
    pub set: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

/// What the operator would adopt and delete.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Survey {
    pub objects: Vec<ObjectTakeover>,
    pub pods: Vec<PodTakeover>,
    /// What the dry run does not judge, in words.
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error("the watches ended before every kind was listed (is the API server reachable?)")]
    Incomplete,
}

/// Lists the cluster as the operator would at start-up and says what its take-over would do.
pub async fn survey(client: &Client, config: Config) -> Result<Survey, SurveyError> {
    let applier = Applier::new(client.clone()).await;
    let written_kinds = applier.written_kinds();
    let kinds: HashSet<WatchedKind> =
        watch::kinds(&written_kinds.iter().map(|(kind, _)| *kind).collect::<Vec<_>>())
            .into_iter()
            .collect();
    let mut index = Index::new(config.clone());
    let mut live: BTreeMap<ObjectId, LiveObject> = BTreeMap::new();
    let mut listed = HashSet::new();
    let mut inputs = std::pin::pin!(watch::all(client, &written_kinds));
    while listed != kinds {
        match inputs.next().await.ok_or(SurveyError::Incomplete)? {
            Input::Apply { object, .. } => {
                index.apply(*object);
            }
            Input::Observed {
                kind, key, object, ..
            } => {
                live.insert((kind, key), object);
            }
            Input::Listed(kind) => {
                listed.insert(kind);
            }
            Input::Delete { .. } | Input::Invalid { .. } | Input::Relisting(_) => {}
        }
    }

    let mut wanted: BTreeSet<ObjectId> = BTreeSet::new();
    let mut pods = Vec::new();
    for unit in index.all_units().units() {
        if !config.watches(unit.namespace()) {
            continue;
        }
        let rendered = render_unit(&index, unit, &RenderOptions::default()).value;
        wanted.extend(
            rendered
                .objects
                .iter()
                .map(|object| (object.manifest.kind(), object.manifest.key())),
        );
        if let (Unit::Pod(key), Some(desired)) = (unit, &rendered.pod_labels)
            && let Some(pod) = index.pod(key)
        {
            let patch = desired.patch(&pod.facts.labels);
            if !patch.is_empty() {
                pods.push(pod_takeover(key, patch.set, patch.remove));
            }
        }
    }
    let mut objects: Vec<ObjectTakeover> = live
        .iter()
        .filter(|((_, key), object)| object.reference && config.watches(&key.namespace))
        .map(|((kind, key), object)| ObjectTakeover {
            action: reference::decide(wanted.contains(&(*kind, key.clone())), object.reference_prunable),
            kind: kind.label().to_owned(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        })
        .collect();
    objects.sort();
    Ok(Survey {
        objects,
        pods,
        notes: vec![
            "Kafka ACLs are not listed (the dry run does not connect to brokers): at the switch the operator \
             records as its own the ACLs it wants that a broker already has, and leaves the others alone."
                .to_owned(),
        ],
    })
}

fn pod_takeover(key: &ObjectKey, set: BTreeMap<String, String>, remove: BTreeSet<String>) -> PodTakeover {
    PodTakeover {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        set,
        remove,
    }
}
