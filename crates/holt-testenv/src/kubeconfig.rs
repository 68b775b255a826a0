//! Kubeconfig files for the test apiserver (certificates by path) and `kube::Client`s built from them.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, write_file};

/// Where a kubeconfig's client certificate and key are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientFiles<'a> {
    pub(crate) user: &'a str,
    pub(crate) cert: &'a Path,
    pub(crate) key: &'a Path,
}

/// Writes a kubeconfig with one cluster (`server`, trusting `ca`), one user and one current context.
pub(crate) fn write(path: &Path, server: &str, ca: &Path, client: &ClientFiles<'_>) -> Result<(), Error> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "holt-testenv",
            "cluster": { "server": server, "certificate-authority": ca },
        }],
        "users": [{
            "name": client.user,
            "user": { "client-certificate": client.cert, "client-key": client.key },
        }],
        "contexts": [{
            "name": "holt-testenv",
            "context": { "cluster": "holt-testenv", "user": client.user },
        }],
        "current-context": "holt-testenv",
    });
    let yaml = serde_yaml::to_string(&config).map_err(|e| Error::Invalid {
        what: format!("kubeconfig {}", path.display()),
        reason: e.to_string(),
    })?;
    write_file("kube-apiserver", path, yaml)
}

/// A client that talks to the apiserver as the kubeconfig's user.
pub(crate) async fn client(path: &Path) -> Result<kube::Client, Error> {
    let kubeconfig_error = |source| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(kubeconfig_error)?;
    kube::Client::try_from(config).map_err(Error::kube(format!("build a client from {}", path.display())))
}
