//! What can go wrong while building or using a [`crate::Dataplane`]: its namespaces, links and addresses,
//! its objects on the API server, and its probes.

use std::path::PathBuf;

/// Why a dataplane step failed.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// A command (`ip`, `iptables`, ...) failed or could not run.
    #[error("dataplane: `{command}` failed: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and output, or why it could not run.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("dataplane: could not {action} {path}: {source}")]
    Io {
        /// What the harness was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A thread could not enter a network namespace.
    #[error("dataplane: could not enter the network namespace {namespace}: {source}")]
    Enter {
        /// The namespace.
        namespace: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A thread working inside a network namespace panicked.
    #[error("dataplane: the thread working inside the network namespace {namespace} panicked")]
    Thread {
        /// The namespace.
        namespace: String,
    },
    /// A socket inside a pod (a listener, the API server's relay) could not be made.
    #[error("dataplane: could not {action} in {namespace}: {source}")]
    Socket {
        /// What the harness was doing, e.g. `listen on TCP port 80`.
        action: String,
        /// The namespace.
        namespace: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A request to the test API server failed.
    #[error("dataplane: {action}: {source}")]
    Kube {
        /// What the harness was doing.
        action: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The API server never showed what the harness waits for (a Deployment's pod).
    #[error("dataplane: {what}")]
    Timeout {
        /// What did not show.
        what: String,
    },
    /// The prober never observed the matrix a change should have brought ([`crate::Dataplane::enforced`]).
    #[error("dataplane: {what}: {source}\nkube-router's log:\n{kube_router_log}")]
    NotEnforced {
        /// The change.
        what: String,
        /// The last round's grids and differences.
        #[source]
        source: crate::prober::ProbeError,
        /// The last lines of kube-router's log.
        kube_router_log: String,
    },
    /// A name or address the harness was given cannot be used.
    #[error("dataplane: {what}: {reason}")]
    Invalid {
        /// What was given.
        what: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl DataplaneError {
    pub(crate) fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> DataplaneError {
        let action = action.into();
        move |source| DataplaneError::Kube { action, source }
    }

    pub(crate) fn socket(
        action: impl Into<String>,
        namespace: &str,
    ) -> impl FnOnce(std::io::Error) -> DataplaneError {
        let action = action.into();
        let namespace = namespace.to_owned();
        move |source| DataplaneError::Socket {
            action,
            namespace,
            source,
        }
    }
}
