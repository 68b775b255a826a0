//! What the chart tests that install the chart share: the release `holt` driven with the real helm, access
//! questions put to the API server (SelfSubjectAccessReview, refusals), Holt's objects through a dynamic
//! API, kubectl, and ServiceAccount tokens and clients minted from the chart's accounts.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;

use anyhow::{Context, ensure};
use holt_chart::chart::{Helm, chart_dir};
use holt_chart::token::{self, TokenOptions};
use holt_testenv::ControlPlane;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use serde_json::json;

/// The namespace the tests install the chart into.
pub const NAMESPACE: &str = "holt-system";

/// The release `holt` of the chart in [`NAMESPACE`], run by `helm` against the API server of `kubeconfig`.
pub struct Release<'a> {
    helm: &'a Helm,
    chart: String,
    kubeconfig: String,
}

impl<'a> Release<'a> {
    pub fn new(helm: &'a Helm, kubeconfig: &Path) -> Self {
        Self {
            helm,
            chart: chart_dir().display().to_string(),
            kubeconfig: kubeconfig.display().to_string(),
        }
    }

    /// `helm install holt <chart> --namespace holt-system --kubeconfig … <extra>`; helm's output (the notes).
    pub async fn install(&self, extra: &[&str]) -> anyhow::Result<String> {
        self.helm_on_release(&["install", "holt", &self.chart], extra)
            .await
    }

    /// `helm upgrade holt <chart> --reuse-values --set <value>`: one value changed, the others kept.
    pub async fn upgrade_setting(&self, value: &str) -> anyhow::Result<String> {
        self.helm_on_release(
            &["upgrade", "holt", &self.chart],
            &["--reuse-values", "--set", value],
        )
        .await
    }

    /// `helm uninstall holt`; helm's output.
    pub async fn uninstall(&self) -> anyhow::Result<String> {
        self.helm_on_release(&["uninstall", "holt"], &[]).await
    }

    /// `helm <command> --namespace holt-system --kubeconfig … <extra>`.
    async fn helm_on_release(&self, command: &[&str], extra: &[&str]) -> anyhow::Result<String> {
        let mut args = command.to_vec();
        args.extend(["--namespace", NAMESPACE, "--kubeconfig", &self.kubeconfig]);
        args.extend(extra);
        Ok(self.helm.run(&args).await?)
    }
}

/// `kubectl --kubeconfig <kubeconfig> args...`; its stdout, or an error carrying its stderr.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .await
        .context("running kubectl")?;
    ensure!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Holt's objects of `kind` (`plural`) in `version` of k8s.otterize.com, in `namespace`.
pub fn otterize_api(
    client: &Client,
    namespace: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("k8s.otterize.com", version, kind);
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// ClientIntents in `version`, in `namespace`.
pub fn clientintents(client: &Client, namespace: &str, version: &str) -> Api<DynamicObject> {
    otterize_api(client, namespace, version, "ClientIntents", "clientintents")
}

/// Whether the API server refused the request for want of permission (403).
pub fn is_forbidden<T>(result: &Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

/// Whether the API server refuses the client to list `api`'s objects for want of permission.
pub async fn list_is_forbidden<K>(api: &Api<K>) -> bool
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    is_forbidden(&api.list(&ListParams::default()).await)
}

/// Whether the client may `verb` `resource` of `group` in `namespace` (cluster-wide when `None`), per
/// the API server.
pub async fn can(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> anyhow::Result<bool> {
    can_named(client, verb, group, resource, namespace, None).await
}

/// Whether the client may `verb` the object `name` of `resource` (a subresource after `/`).
pub async fn can_named(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((resource, subresource)) => (resource, Some(subresource.to_owned())),
        None => (resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                subresource,
                name: name.map(str::to_owned),
                namespace: namespace.map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// A client of the API server holding nothing but a token (for the API server's audience) of the chart's
/// ServiceAccount `name` in [`NAMESPACE`].
pub async fn account_client(admin: &Client, cp: &ControlPlane, name: &str) -> anyhow::Result<Client> {
    let token = token::mint(admin, NAMESPACE, name, &TokenOptions::default()).await?;
    Ok(token::client(cp.url(), cp.ca_file(), &token).await?)
}

/// A token of the sniffer's account for the mapper's audience: what the chart gives the sniffer to report.
pub async fn sniffer_report_token(admin: &Client) -> anyhow::Result<String> {
    let options = TokenOptions {
        audiences: vec!["holt-mapper".to_owned()],
        ..TokenOptions::default()
    };
    Ok(token::mint(admin, NAMESPACE, "holt-sniffer", &options).await?)
}

/// A ServiceAccount `reader` in [`NAMESPACE`] bound to the chart's holt-mapper-reader Role (what
/// `networkMapper.auth.readers` does for people), and its token.
pub async fn reader_token(admin: &Client) -> anyhow::Result<String> {
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "reader"}}))?;
    Api::<ServiceAccount>::namespaced(admin.clone(), NAMESPACE)
        .create(&PostParams::default(), &account)
        .await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "holt-mapper-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": NAMESPACE}],
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), NAMESPACE)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(token::mint(admin, NAMESPACE, "reader", &TokenOptions::default()).await?)
}
