//! ServiceAccount tokens minted with the TokenRequest API (as the kubelet mints them for pods), and
//! kubeconfigs that hold nothing but such a token.

use std::path::Path;

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

use crate::error::Error;

/// What a token is for.
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    /// Audiences; empty: the API server's own.
    pub audiences: Vec<String>,
    /// Validity in seconds (the API server raises it to at least 600).
    pub expiration_seconds: Option<i64>,
    /// The pod (name, uid) the token is bound to: it stops being valid when that pod is deleted.
    pub bound_pod: Option<(String, String)>,
}

/// A token of the ServiceAccount `namespace/name`, minted by `admin` (the TokenRequest subresource).
pub async fn mint(
    admin: &kube::Client,
    namespace: &str,
    name: &str,
    options: &TokenOptions,
) -> Result<String, Error> {
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(options.audiences.clone()).filter(|a| !a.is_empty()),
            expiration_seconds: options.expiration_seconds,
            bound_object_ref: options.bound_pod.as_ref().map(|(pod, uid)| BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(pod.clone()),
                uid: Some(uid.clone()),
            }),
        }),
        ..TokenRequest::default()
    };
    let answer = Api::<ServiceAccount>::namespaced(admin.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .map_err(Error::kube(format!(
            "request a token for ServiceAccount {namespace}/{name}"
        )))?;
    answer
        .status
        .and_then(|status| status.token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Error::Parse {
            what: format!("the TokenRequest answer for {namespace}/{name}"),
            reason: "no status.token".to_owned(),
        })
}

/// Writes a kubeconfig for `server` (trusting `ca_file`) whose only credential is `token`.
pub fn write_kubeconfig(path: &Path, server: &str, ca_file: &Path, token: &str) -> Result<(), Error> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": {"server": server, "certificate-authority": ca_file}}],
        "users": [{"name": "service-account", "user": {"token": token}}],
        "contexts": [{"name": "service-account", "context": {"cluster": "cluster", "user": "service-account"}}],
        "current-context": "service-account",
    });
    let text = serde_yaml::to_string(&config).map_err(|e| Error::Parse {
        what: "a kubeconfig".to_owned(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(Error::io(format!("write {}", path.display())))
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
