//! What can go wrong while rendering, installing or running the chart's pods locally.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{0}")]
    Testenv(#[from] holt_testenv::Error),
    #[error("{0}")]
    MissingComponent(#[from] holt_testenv::MissingComponent),
    #[error("`helm {args}` failed: {stderr}")]
    Helm { args: String, stderr: String },
    #[error("{what} does not parse: {reason}")]
    Parse { what: String, reason: String },
    #[error("the local node cannot run pod {pod}: {reason}")]
    Unsupported { pod: String, reason: String },
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    pub(crate) fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let what = what.into();
        move |source| Error::Kube {
            what,
            source: Box::new(source),
        }
    }
}
