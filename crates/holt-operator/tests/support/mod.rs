//! Helpers shared by the operator's integration tests: the control plane with Holt's CRDs, an in-process
//! operator, polling, and the tutorial's objects.
#![allow(dead_code)] // each test binary uses a different subset

pub mod dataplane;
pub mod kafka_broker;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use holt_api::v2beta1::{ClientIntents, ClientIntentsSpec, ServiceTarget, Target, Workload};
use holt_model::{Config, Mode};
use holt_operator::controller::{Options, Progress};
use holt_testenv::ControlPlane;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, Pod, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use tokio::sync::watch;

pub const TIMEOUT: Duration = Duration::from_secs(60);

pub async fn cluster() -> (Client, &'static ControlPlane) {
    let plane = ControlPlane::shared().await.expect("control plane");
    let client = plane.client().await.expect("client");
    install_crds(&client).await;
    (client, plane)
}

pub async fn install_crds(client: &Client) {
    let yaml = holt_api::crds::crds_yaml().expect("CRDs");
    holt_testenv::install_crds_without_conversion(client, &yaml)
        .await
        .expect("install CRDs");
}

pub struct Operator {
    pub task: tokio::task::JoinHandle<()>,
    pub progress: watch::Receiver<Progress>,
}

impl Operator {
    pub async fn start(client: &Client, namespace: &str, mode: Mode) -> Operator {
        Operator::start_with(client, namespace, mode, Options::default()).await
    }

    /// An operator watching only `namespace`, with `options`; returns once its first pass is applied.
    pub async fn start_with(client: &Client, namespace: &str, mode: Mode, options: Options) -> Operator {
        let config = Config {
            mode,
            watched_namespaces: [namespace.to_string()].into(),
            ..Config::default()
        };
        Operator::start_configured(client, config, options).await
    }

    /// An operator with `config` and `options`; returns once its first pass is applied.
    pub async fn start_configured(client: &Client, config: Config, options: Options) -> Operator {
        let (task, mut progress) = holt_operator::start(client.clone(), config, options).await;
        tokio::time::timeout(TIMEOUT, progress.wait_for(|p| p.ready))
            .await
            .expect("ready in time")
            .expect("running");
        Operator { task, progress }
    }

    pub fn writes(&self) -> u64 {
        self.progress.borrow().writes
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Polls `check` until it returns `Some` ([`holt_testenv::eventually`]); panics after the timeout, naming
/// `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    holt_testenv::eventually(what, TIMEOUT, || {
        let checked = check();
        async move { Ok(checked.await) }
    })
    .await
    .unwrap_or_else(|error| panic!("{error:#}"))
}

pub fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..Default::default()
    }
}

pub async fn deployment(client: &Client, ns: &str, name: &str) {
    let labels = BTreeMap::from([("app".to_string(), name.to_string())]);
    let deployment = Deployment {
        metadata: meta(ns, name),
        spec: Some(DeploymentSpec {
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "main".into(),
                        image: Some("example/app:1".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment)
        .await
        .expect("deployment");
}

pub async fn service(client: &Client, ns: &str, name: &str) {
    let service = Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([("app".to_string(), name.to_string())])),
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(IntOrString::Int(8080)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await
        .expect("service");
}

pub fn intents(ns: &str, client: &str, server_service: &str) -> ClientIntents {
    ClientIntents {
        metadata: meta(ns, client),
        spec: ClientIntentsSpec {
            workload: Workload {
                name: client.into(),
                kind: None,
            },
            targets: vec![Target {
                service: Some(ServiceTarget {
                    name: server_service.into(),
                    http: vec![],
                }),
                ..Default::default()
            }],
        },
        status: None,
    }
}

/// The tutorial's namespace: Deployments client, client-other and server, and a Service for server; returns
/// once every Deployment has its pod.
pub async fn tutorial(client: &Client, plane: &ControlPlane, prefix: &str) -> String {
    let ns = plane.create_namespace(client, prefix).await.expect("namespace");
    for name in ["client", "client-other", "server"] {
        deployment(client, &ns, name).await;
    }
    service(client, &ns, "server").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    eventually("three pods", || async {
        let list = pods.list(&ListParams::default()).await.ok()?;
        (list.items.len() == 3).then_some(())
    })
    .await;
    ns
}

pub async fn policy_names(client: &Client, ns: &str) -> Vec<String> {
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    let mut names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names
}

/// The access labels of the pods of Deployment `app`.
pub async fn access_labels(client: &Client, ns: &str, app: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("pods");
    list.items
        .iter()
        .flat_map(|p| p.metadata.labels.clone().unwrap_or_default().into_keys())
        .filter(|k| k.contains("access-"))
        .collect()
}

/// An operator with `config` (mode, watched namespaces and switches all taken from it) and default options;
/// returns once its first pass is applied.
pub async fn start_operator_with_config(client: &Client, config: Config) -> Operator {
    Operator::start_configured(client, config, Options::default()).await
}

/// Deletes `name` and waits until it is gone (its finalizers released).
pub async fn delete_and_wait<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.delete(name, &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    eventually(&format!("{name} gone"), || async {
        api.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
}

/// The names of the objects Events with `reason` in `ns` are about, sorted, each once.
pub async fn events_with(client: &Client, ns: &str, reason: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    let Ok(list) = events.list(&ListParams::default()).await else {
        return Vec::new();
    };
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.regarding?.name)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Creates a bare pod `name` (its own workload, labelled `app: name`) with `spec` and `annotations`.
pub async fn bare_pod(client: &Client, ns: &str, name: &str, spec: PodSpec, annotations: &[(&str, &str)]) {
    let mut metadata = meta(ns, name);
    metadata.labels = Some(BTreeMap::from([("app".to_string(), name.to_string())]));
    if !annotations.is_empty() {
        metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }
    let pod = Pod {
        metadata,
        spec: Some(spec),
        ..Default::default()
    };
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
}
