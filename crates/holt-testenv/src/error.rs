//! Everything that can go wrong while starting or talking to a test environment, by component.

use std::path::PathBuf;

use crate::components::MissingComponent;
use crate::pki::PkiError;
use crate::process::ProcessError;

/// Why a test environment could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A component is not built: the message says how to build it.
    #[error(transparent)]
    Missing(#[from] MissingComponent),
    /// A component process failed to start or to become ready.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// Certificates or keys could not be made.
    #[error("{component}: {source}")]
    Pki {
        /// The component they were for.
        component: &'static str,
        /// Why.
        #[source]
        source: PkiError,
    },
    /// A file or directory could not be written or read.
    #[error("{component}: could not {action} {path}: {source}")]
    Io {
        /// The component it was for.
        component: &'static str,
        /// What the harness was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A request to the test kube-apiserver failed.
    #[error("kube-apiserver: {action}: {source}")]
    Kube {
        /// What the harness was doing.
        action: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A kubeconfig could not be loaded.
    #[error("kube-apiserver: could not load the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The kubeconfig.
        path: PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A YAML document (e.g. a CRD file) could not be read.
    #[error("{what}: {reason}")]
    Invalid {
        /// What was being read.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The test node's network could not be set up.
    #[error(transparent)]
    Network(#[from] crate::node_network::NetworkError),
    /// A dataplane's namespaces, pods or objects could not be set up.
    #[error(transparent)]
    Dataplane(#[from] crate::dataplane_error::DataplaneError),
    /// The machine's test node could not be claimed.
    #[error(transparent)]
    Claim(#[from] crate::node_state::ClaimError),
    /// A shared component failed to start earlier in this test process (every later test gets this).
    #[error("the shared {component} failed to start earlier in this test process: {message}")]
    SharedFailed {
        /// The component.
        component: &'static str,
        /// The first failure.
        message: String,
    },
}

impl Error {
    /// Whether a component exited because one of its ports was taken: worth a retry with new ports.
    pub(crate) fn is_port_clash(&self) -> bool {
        match self {
            Error::Process(ProcessError::Exited { tail, .. }) => {
                tail.to_ascii_lowercase().contains("address already in use")
            }
            _ => false,
        }
    }

    pub(crate) fn io(
        component: &'static str,
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            component,
            action,
            path,
            source,
        }
    }

    pub(crate) fn pki(component: &'static str) -> impl FnOnce(PkiError) -> Error {
        move |source| Error::Pki { component, source }
    }

    pub(crate) fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }
}

/// Writes `contents` to `path`, as `component`'s file.
pub(crate) fn write_file(
    component: &'static str,
    path: &std::path::Path,
    contents: impl AsRef<[u8]>,
) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(Error::io(component, "write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(tail: &str) -> Error {
        Error::Process(ProcessError::Exited {
            name: "etcd".into(),
            status: "exit status: 1".into(),
            log: PathBuf::from("etcd.log"),
            tail: tail.into(),
        })
    }

    #[test]
    fn a_taken_port_is_worth_a_retry_and_nothing_else_is() {
        assert!(exited("listen tcp 127.0.0.1:2379: bind: address already in use").is_port_clash());
        assert!(exited("java.net.BindException: Address already in use").is_port_clash());
        assert!(!exited("permission denied").is_port_clash());
    }
}
