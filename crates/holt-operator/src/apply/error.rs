//! What can go wrong when writing to the cluster, by category: the category is the Event reason (the
//! reference's reasons where it has one) and the metric label.

use holt_model::ObjectKey;
use holt_render::ObjectKind;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("writing {kind} {key}: {source}")]
    Write {
        kind: ObjectKind,
        key: ObjectKey,
        source: Box<kube::Error>,
    },
    #[error("deleting {kind} {key}: {source}")]
    Delete {
        kind: ObjectKind,
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
            ApplyError::Write { kind, .. } => kind.reasons().write_failed,
            ApplyError::Delete { kind, .. } => kind.reasons().delete_failed,
            ApplyError::LabelPod { .. } => "PodLabelingFailed",
            ApplyError::Status { .. } => "StatusUpdateFailed",
            ApplyError::Finalizer { .. } => "FinalizerUpdateFailed",
            ApplyError::Encode { .. } => "EncodeFailed",
        }
    }

    fn api_code(&self) -> Option<u16> {
        match self {
            ApplyError::Write { source, .. }
            | ApplyError::Delete { source, .. }
            | ApplyError::LabelPod { source, .. }
            | ApplyError::Status { source, .. }
            | ApplyError::Finalizer { source, .. } => match source.as_ref() {
                kube::Error::Api(status) => Some(status.code),
                _ => None,
            },
            ApplyError::Encode { .. } => None,
        }
    }

    /// Whether the failure is likely to pass by itself: not when the API server refused the object as
    /// malformed or invalid (400, 422) or Holt could not encode it. Everything else (conflicts, RBAC,
    /// timeouts, a terminating namespace, an API server away) is.
    pub fn is_transient(&self) -> bool {
        !matches!(self, ApplyError::Encode { .. }) && !matches!(self.api_code(), Some(400 | 422))
    }

    pub fn is_not_found(&self) -> bool {
        self.api_code() == Some(404)
    }
}

/// Not found is success for a deletion or a label patch: the object is already gone.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}
