//! What can go wrong when writing to the cluster, by category: the category is the Event reason and the
//! metric label.

use holt_model::ObjectKey;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("applying {kind} {key}: {source}")]
    Apply {
        kind: &'static str,
        key: ObjectKey,
        source: Box<kube::Error>,
    },
    #[error("deleting {kind} {key}: {source}")]
    Delete {
        kind: &'static str,
        key: ObjectKey,
        source: Box<kube::Error>,
    },
    #[error("labelling Pod {key}: {source}")]
    LabelPod {
        key: ObjectKey,
        source: Box<kube::Error>,
    },
    #[error("updating the status of {kind} {key}: {source}")]
    Status {
        kind: &'static str,
        key: ObjectKey,
        source: Box<kube::Error>,
    },
    #[error("updating the finalizers of {kind} {key}: {source}")]
    Finalizer {
        kind: &'static str,
        key: ObjectKey,
        source: Box<kube::Error>,
    },
    #[error("listing {kind}: {source}")]
    List {
        kind: &'static str,
        source: Box<kube::Error>,
    },
    #[error("encoding {kind} {key}: {source}")]
    Encode {
        kind: &'static str,
        key: ObjectKey,
        source: serde_json::Error,
    },
}

impl ApplyError {
    /// The category, as an Event reason and metric label.
    pub fn category(&self) -> &'static str {
        match self {
            ApplyError::Apply {
                kind: "NetworkPolicy",
                ..
            } => "CreatingNetworkPoliciesFailed",
            ApplyError::Apply { .. } => "ApplyFailed",
            ApplyError::Delete { .. } => "DeleteFailed",
            ApplyError::LabelPod { .. } => "PodLabelingFailed",
            ApplyError::Status { .. } => "StatusUpdateFailed",
            ApplyError::Finalizer { .. } => "FinalizerUpdateFailed",
            ApplyError::List { .. } => "ListFailed",
            ApplyError::Encode { .. } => "EncodeFailed",
        }
    }
}

/// Not found is success for a deletion or a label patch: the object is already gone.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
