//! What the credentials operator's tests on the real API server share: a namespace for the workloads and
//! one for the operator, a running controller, Deployments whose pods the controller-manager creates (no
//! kubelet: they stay pending, which is all the operator needs), and reading certificates back.
#![allow(dead_code)] // each test binary uses a part

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, ensure};
use holt_credentials::controller::{Options, Progress};
use holt_credentials::subject::TrustDomain;
use holt_testenv::{ControlPlane, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::watch;

pub mod kafka_intents;
use x509_parser::prelude::{FromDer, X509Certificate};

pub const TIMEOUT: Duration = Duration::from_secs(60);
pub const TRUST_DOMAIN: &str = "holt.test";

/// A workload namespace and an operator namespace on the shared control plane.
pub struct Scene {
    pub client: Client,
    pub plane: &'static ControlPlane,
    pub namespace: String,
    pub operator_namespace: String,
}

impl Scene {
    pub async fn new(prefix: &str) -> anyhow::Result<Scene> {
        let plane = ControlPlane::shared().await?;
        let client = plane.client().await?;
        let namespace = plane.create_namespace(&client, prefix).await?;
        let operator_namespace = plane.create_namespace(&client, &format!("{prefix}-op")).await?;
        Ok(Scene {
            client,
            plane,
            namespace,
            operator_namespace,
        })
    }

    /// The controller's options for this scene: its namespace only (tests share the API server), quick
    /// retries and CA checks.
    pub fn options(&self) -> Options {
        let mut options = Options::new(
            &self.operator_namespace,
            TrustDomain::new(TRUST_DOMAIN).expect("trust domain"),
        );
        options.namespaces = [self.namespace.clone()].into();
        options.retry =
            holt_runtime::Backoff::exponential(Duration::from_millis(200), Duration::from_secs(2));
        options.ca_check_interval = Duration::from_secs(1);
        options.foreign_recheck = Duration::from_secs(1);
        options
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates Deployment `name` with `replicas` pods annotated with `annotations` (labelled `app: name`).
    pub async fn deployment(
        &self,
        name: &str,
        replicas: i32,
        annotations: &[(&str, &str)],
    ) -> anyhow::Result<Deployment> {
        let annotations: BTreeMap<&str, &str> = annotations.iter().copied().collect();
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}, "annotations": annotations},
                    "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
                }
            }
        }))?;
        self.deployments()
            .create(&PostParams::default(), &deployment)
            .await
            .with_context(|| format!("creating Deployment {name}"))
    }

    /// The names of the pods labelled `app: <app>`, once there are `count`.
    pub async fn pods_of(&self, app: &str, count: usize) -> anyhow::Result<Vec<String>> {
        let pods = self.pods();
        let selector = format!("app={app}");
        eventually(&format!("{count} pods of {app}"), TIMEOUT, || async {
            let list = pods.list(&ListParams::default().labels(&selector)).await?;
            let names: Vec<String> = list
                .items
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            Ok((names.len() >= count).then_some(names))
        })
        .await
    }

    /// Secret `name` once it holds `file`.
    pub async fn secret_with(&self, name: &str, file: &str) -> anyhow::Result<Secret> {
        let secrets = self.secrets();
        eventually(&format!("Secret {name} with {file}"), TIMEOUT, || async {
            let secret = secrets.get_opt(name).await?;
            Ok(secret.filter(|s| s.data.as_ref().is_some_and(|d| d.contains_key(file))))
        })
        .await
    }

    /// The Events (events.k8s.io) about `object` with `reason`.
    pub async fn events(&self, object: &str, reason: &str) -> anyhow::Result<Vec<Event>> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = events.list(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object)
                    && e.reason.as_deref() == Some(reason)
            })
            .collect())
    }

    /// Waits for an Event with `reason` on `object`; returns its note.
    pub async fn event(&self, object: &str, reason: &str) -> anyhow::Result<String> {
        eventually(&format!("Event {reason} on {object}"), TIMEOUT, || async {
            let events = self.events(object, reason).await?;
            Ok(events.first().map(|e| e.note.clone().unwrap_or_default()))
        })
        .await
    }
}

/// A controller running until dropped.
pub struct Running {
    pub task: tokio::task::JoinHandle<()>,
    pub progress: watch::Receiver<Progress>,
}

impl Running {
    pub async fn start(client: &Client, options: Options) -> anyhow::Result<Running> {
        let (task, mut progress) = holt_credentials::start(client.clone(), options);
        tokio::time::timeout(TIMEOUT, progress.wait_for(|p| p.ready))
            .await
            .context("the controller did not become ready")??;
        Ok(Running { task, progress })
    }

    pub fn now(&self) -> Progress {
        self.progress.borrow().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Secret's file.
pub fn file<'a>(secret: &'a Secret, name: &str) -> anyhow::Result<&'a [u8]> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(name))
        .map(|b| b.0.as_slice())
        .with_context(|| format!("no {name} in Secret {:?}", secret.metadata.name))
}

/// The DER of every certificate in a PEM text.
pub fn certificates(pem: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.context("PEM")?;
        ensure!(
            block.label == "CERTIFICATE",
            "unexpected PEM block {}",
            block.label
        );
        ders.push(block.contents);
    }
    Ok(ders)
}

/// The certificate's subject, DNS names and URIs.
pub fn names(der: &[u8]) -> anyhow::Result<(String, Vec<String>, Vec<String>)> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = X509Certificate::from_der(der).context("DER certificate")?;
    let mut dns = Vec::new();
    let mut uris = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                GeneralName::URI(u) => uris.push((*u).to_owned()),
                _ => {}
            }
        }
    }
    Ok((cert.subject().to_string(), dns, uris))
}

/// True when `der` is signed by the CA certificate `ca`.
pub fn signed_by(der: &[u8], ca: &[u8]) -> anyhow::Result<bool> {
    let (_, cert) = X509Certificate::from_der(der).context("certificate")?;
    let (_, ca) = X509Certificate::from_der(ca).context("CA certificate")?;
    Ok(cert.verify_signature(Some(ca.public_key())).is_ok())
}

/// The certificate's validity, in Unix seconds.
pub fn validity(der: &[u8]) -> anyhow::Result<(i64, i64)> {
    let (_, cert) = X509Certificate::from_der(der).context("certificate")?;
    let v = cert.validity();
    Ok((v.not_before.timestamp(), v.not_after.timestamp()))
}

/// Role `name` with `rules` in `namespace`, bound to user `user`.
pub async fn grant(
    admin: &Client,
    namespace: &str,
    name: &str,
    rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>,
    user: &str,
) -> anyhow::Result<()> {
    let role = k8s_openapi::api::rbac::v1::Role {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..kube::api::ObjectMeta::default()
        },
        rules: Some(rules),
    };
    Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await?;
    let binding = k8s_openapi::api::rbac::v1::RoleBinding {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..kube::api::ObjectMeta::default()
        },
        role_ref: k8s_openapi::api::rbac::v1::RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name: name.to_owned(),
        },
        subjects: Some(vec![k8s_openapi::api::rbac::v1::Subject {
            kind: "User".to_owned(),
            name: user.to_owned(),
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            ..k8s_openapi::api::rbac::v1::Subject::default()
        }]),
    };
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}
