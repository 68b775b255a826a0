//! ServiceAccounts as callers with bearer tokens: the control plane's users ([`crate::KubeUser`]) hold
//! client certificates, which only the API server itself can check; a service that authenticates its
//! callers with TokenReview (the network mapper) needs tokens. In: an admin client, a namespace, a name,
//! the audiences the token is for, and RBAC rules. Out: the ServiceAccount, a token the API server
//! issued for it (TokenRequest), a kubeconfig that authenticates with that token, and a Role bound to it.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::error::{Error, write_file};

/// How long a requested token is valid (the API server's minimum is ten minutes).
const TOKEN_SECONDS: i64 = 3_600;

/// A ServiceAccount with a token.
#[derive(Debug, Clone)]
pub struct ServiceAccountToken {
    pub namespace: String,
    pub name: String,
    /// `system:serviceaccount:<namespace>:<name>`, the user name the API server gives it.
    pub user: String,
    /// A token for the audiences asked for.
    pub token: String,
}

/// Creates ServiceAccount `namespace/name` unless it exists, and returns a token for it bound to
/// `audiences` (none: the API server's own audiences, as `kubectl create token` without `--audience`).
pub async fn service_account_token(
    client: &Client,
    namespace: &str,
    name: &str,
    audiences: &[&str],
) -> Result<ServiceAccountToken, Error> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    if accounts
        .get_opt(name)
        .await
        .map_err(Error::kube(format!("read ServiceAccount {namespace}/{name}")))?
        .is_none()
    {
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        accounts
            .create(&PostParams::default(), &account)
            .await
            .map_err(Error::kube(format!("create ServiceAccount {namespace}/{name}")))?;
    }
    let options = TokenOptions {
        audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        expiration_seconds: Some(TOKEN_SECONDS),
        bound_pod: None,
    };
    let token = request_token(client, namespace, name, &options).await?;
    Ok(ServiceAccountToken {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        user: format!("system:serviceaccount:{namespace}:{name}"),
        token,
    })
}

/// What a requested token is for.
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    /// Audiences; empty: the API server's own.
    pub audiences: Vec<String>,
    /// Validity in seconds (the API server raises it to at least 600); `None`: the API server's default.
    pub expiration_seconds: Option<i64>,
    /// The pod (name, uid) the token is bound to, as the kubelet binds a pod's token: it stops being valid
    /// when that pod is deleted.
    pub bound_pod: Option<(String, String)>,
}

/// A token of the existing ServiceAccount `namespace/name`, requested by `client` (the TokenRequest
/// subresource, as the kubelet requests one for a pod).
pub async fn request_token(
    client: &Client,
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
    let issued = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .map_err(Error::kube(format!(
            "request a token for ServiceAccount {namespace}/{name}"
        )))?;
    issued
        .status
        .and_then(|status| status.token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Error::Invalid {
            what: format!("the TokenRequest for {namespace}/{name}"),
            reason: "the API server returned no token".into(),
        })
}

/// Writes a kubeconfig at `path` that reaches `server` (trusting `ca`) as `user`, whose only credential is
/// the bearer `token`.
pub fn write_token_kubeconfig(
    path: &Path,
    server: &str,
    ca: &Path,
    user: &str,
    token: &str,
) -> Result<PathBuf, Error> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "holt-testenv", "cluster": {"server": server, "certificate-authority": ca}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "holt-testenv", "context": {"cluster": "holt-testenv", "user": user}}],
        "current-context": "holt-testenv",
    });
    let yaml = serde_yaml::to_string(&config).map_err(|e| Error::Invalid {
        what: format!("kubeconfig {}", path.display()),
        reason: e.to_string(),
    })?;
    write_file("kube-apiserver", path, yaml)?;
    Ok(path.to_path_buf())
}

impl ServiceAccountToken {
    /// Writes a kubeconfig at `path` that reaches `server` (trusting `ca`) with this token, as a user
    /// whose kubeconfig holds a bearer token (cloud and OIDC logins) has.
    pub fn write_kubeconfig(&self, path: &Path, server: &str, ca: &Path) -> Result<PathBuf, Error> {
        write_token_kubeconfig(path, server, ca, &self.user, &self.token)
    }
}

/// Creates Role `namespace/name` with `rules` and binds it to the ServiceAccounts `subjects`
/// (`(namespace, name)`).
pub async fn bind_role(
    client: &Client,
    namespace: &str,
    name: &str,
    rules: Vec<PolicyRule>,
    subjects: &[(&str, &str)],
) -> Result<(), Error> {
    let role = Role {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        rules: Some(rules),
    };
    Api::<Role>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await
        .map_err(Error::kube(format!("create Role {namespace}/{name}")))?;
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: name.to_owned(),
        },
        subjects: Some(
            subjects
                .iter()
                .map(|(sa_namespace, sa_name)| Subject {
                    kind: "ServiceAccount".into(),
                    name: (*sa_name).to_owned(),
                    namespace: Some((*sa_namespace).to_owned()),
                    api_group: None,
                })
                .collect(),
        ),
    };
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await
        .map_err(Error::kube(format!("create RoleBinding {namespace}/{name}")))?;
    Ok(())
}
