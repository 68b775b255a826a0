//! Where the built components live: the versions come from `scripts/test-components.env` (the same file
//! the build script sources), the directories from the cache layout that script writes.

use std::fmt;
use std::path::{Path, PathBuf};

/// The versions file, compiled in so the harness and the build script can never disagree.
const VERSIONS: &str = include_str!("../../../scripts/test-components.env");

/// The build script, as an absolute path of the source tree this crate was compiled from.
const BUILD_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/build-test-components.sh"
);

/// A real program (or file) Holt's tests run against, built by `scripts/build-test-components.sh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// etcd and etcdctl.
    Etcd,
    /// kube-apiserver and kube-controller-manager.
    Kube,
    /// The node's kubelet, kube-scheduler, kube-proxy, pause, and the pause and busybox image archives
    /// (`images/`), of the API server's release.
    Node,
    /// Kafka's broker and tool jars (`libs/`).
    Kafka,
    /// spire-server and spire-agent.
    Spire,
    /// helm.
    Helm,
    /// Istio's CRD file (`istio-crds.yaml`), holding `authorizationpolicies.security.istio.io`.
    IstioCrd,
    /// kube-router, whose network policy controller enforces NetworkPolicies in a [`crate::Dataplane`].
    KubeRouter,
}

/// A component that has not been built (or whose build is incomplete) on this machine.
#[derive(Debug, thiserror::Error)]
#[error(
    "component {component} {version} is not built on this machine: {reason}. \
     Build it with `{script} {arg}` (see docs/testenv.md)"
)]
pub struct MissingComponent {
    /// The component.
    pub component: Component,
    /// Its version from the versions file.
    pub version: String,
    /// What is missing.
    pub reason: String,
    script: String,
    arg: &'static str,
}

impl Component {
    /// Every component, in build order.
    pub const ALL: [Component; 8] = [
        Component::Etcd,
        Component::Kube,
        Component::Node,
        Component::Kafka,
        Component::Spire,
        Component::Helm,
        Component::IstioCrd,
        Component::KubeRouter,
    ];

    /// The name the build script takes as its argument.
    pub fn build_arg(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::Kube => "kube",
            Component::Node => "node",
            Component::Kafka => "kafka",
            Component::Spire => "spire",
            Component::Helm => "helm",
            Component::IstioCrd => "istio-crd",
            Component::KubeRouter => "kube-router",
        }
    }

    fn version_key(self) -> &'static str {
        match self {
            Component::Etcd => "ETCD_VERSION",
            Component::Kube | Component::Node => "KUBE_VERSION",
            Component::Kafka => "KAFKA_VERSION",
            Component::Spire => "SPIRE_VERSION",
            Component::Helm => "HELM_VERSION",
            Component::IstioCrd => "ISTIO_API_VERSION",
            Component::KubeRouter => "KUBE_ROUTER_VERSION",
        }
    }

    fn dir_prefix(self) -> &'static str {
        match self {
            Component::IstioCrd => "istio-api",
            other => other.build_arg(),
        }
    }

    /// The exact version from `scripts/test-components.env` (empty if the file lacks it, which a unit
    /// test rules out).
    pub fn version(self) -> &'static str {
        version_of(VERSIONS, self.version_key()).unwrap_or("")
    }

    /// The cache directory this component is built into (it may not exist).
    pub fn cache_dir(self) -> PathBuf {
        cache_root().join(format!("{}-{}", self.dir_prefix(), self.version()))
    }

    /// The component's directory, if its build completed.
    pub fn dir(self) -> Result<PathBuf, MissingComponent> {
        let dir = self.cache_dir();
        if !dir.join(".complete").is_file() {
            return Err(self.missing(format!("{} does not exist", dir.join(".complete").display())));
        }
        Ok(dir)
    }

    /// A file inside the component's directory, which must exist.
    pub fn file(self, name: &str) -> Result<PathBuf, MissingComponent> {
        let path = self.dir()?.join(name);
        if !path.exists() {
            return Err(self.missing(format!("{} does not exist", path.display())));
        }
        Ok(path)
    }

    pub(crate) fn missing(self, reason: String) -> MissingComponent {
        MissingComponent {
            component: self,
            version: self.version().to_owned(),
            reason,
            script: build_script().display().to_string(),
            arg: self.build_arg(),
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.build_arg())
    }
}

/// The build script of the source tree this crate was compiled from.
pub fn build_script() -> PathBuf {
    let path = Path::new(BUILD_SCRIPT);
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// `${HOLT_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/holt-testenv}`, as in the build script.
pub fn cache_root() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("HOLT_TESTENV_CACHE") {
        return PathBuf::from(dir);
    }
    let base = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("holt-testenv")
}

/// The value of `key` in a `KEY=VALUE` file with `#` comments.
fn version_of<'a>(file: &'a str, key: &str) -> Option<&'a str> {
    file.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_has_a_version() {
        for c in Component::ALL {
            assert!(
                !c.version().is_empty(),
                "{c} has no version in test-components.env"
            );
            assert!(
                c.version().chars().any(|ch| ch.is_ascii_digit()),
                "{c}: {}",
                c.version()
            );
        }
    }

    #[test]
    fn versions_file_is_parsed() {
        let file = "# comment\nA=1\n B = v2 \n#C=3\n";
        assert_eq!(version_of(file, "A"), Some("1"));
        assert_eq!(version_of(file, "B"), Some("v2"));
        assert_eq!(version_of(file, "C"), None);
    }

    #[test]
    fn cache_dirs_follow_the_build_script() {
        let dir = Component::IstioCrd.cache_dir();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert_eq!(name, format!("istio-api-{}", Component::IstioCrd.version()));
        assert!(build_script().is_file(), "{}", build_script().display());
    }

    #[test]
    fn missing_message_names_component_and_build_command() {
        let message = Component::Kafka.missing("nothing there".into()).to_string();
        assert!(message.contains("kafka"), "{message}");
        assert!(message.contains("build-test-components.sh kafka"), "{message}");
    }
}
