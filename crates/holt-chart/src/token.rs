//! ServiceAccount tokens minted with the TokenRequest API (as the kubelet mints them for pods), and
//! kubeconfigs that hold nothing but such a token.

use std::path::Path;

pub use holt_testenv::TokenOptions;

use crate::error::Error;

/// A token of the ServiceAccount `namespace/name`, requested by `admin` (the TokenRequest subresource).
pub async fn mint(
    admin: &kube::Client,
    namespace: &str,
    name: &str,
    options: &TokenOptions,
) -> Result<String, Error> {
    Ok(holt_testenv::request_token(admin, namespace, name, options).await?)
}

/// Writes a kubeconfig for `server` (trusting `ca_file`) whose only credential is `token`.
pub fn write_kubeconfig(path: &Path, server: &str, ca_file: &Path, token: &str) -> Result<(), Error> {
    holt_testenv::write_token_kubeconfig(path, server, ca_file, "service-account", token)?;
    Ok(())
}

/// A client that acts with `token` only.
pub async fn client(server: &str, ca_file: &Path, token: &str) -> Result<kube::Client, Error> {
    let dir = tempfile::tempdir().map_err(Error::io("create a directory for a kubeconfig"))?;
    let path = dir.path().join("kubeconfig");
    write_kubeconfig(&path, server, ca_file, token)?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).map_err(|e| Error::Parse {
        what: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Parse {
                what: path.display().to_string(),
                reason: e.to_string(),
            })?;
    kube::Client::try_from(config).map_err(Error::kube("build a client from a token"))
}
