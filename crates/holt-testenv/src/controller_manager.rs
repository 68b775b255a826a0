//! kube-controller-manager on 127.0.0.1 with the controllers a control plane without nodes can use:
//! garbage collection of owner references, namespace deletion, Deployment → ReplicaSet → Pod, and
//! EndpointSlices for Services.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::components::Component;
use crate::error::Error;
use crate::health::{https_get_ok, local_https_client};
use crate::kubeconfig::ClientFiles;
use crate::ports::free_port;
use crate::process::{Lifetime, Process};

/// The controllers started: each costs memory and watch traffic, so only the useful ones.
pub(crate) const CONTROLLERS: &str = "garbage-collector-controller,namespace-controller,\
deployment-controller,replicaset-controller,endpointslice-controller,clusterrole-aggregation-controller";

/// The controllers a node adds: ServiceAccounts and the CA ConfigMap of every namespace (pods' tokens),
/// the node's taints, DaemonSets, PersistentVolume binding, PodDisruptionBudgets, pod garbage collection.
pub(crate) const NODE_CONTROLLERS: &str = "serviceaccount-controller,root-ca-certificate-publisher-controller,\
node-lifecycle-controller,daemonset-controller,persistentvolume-binder-controller,disruption-controller,\
pod-garbage-collector-controller,taint-eviction-controller";

/// A running kube-controller-manager.
#[derive(Debug)]
pub(crate) struct ControllerManager {
    pub(crate) process: Process,
    pub(crate) startup: Duration,
}

/// The files kube-controller-manager needs, written beforehand.
#[derive(Debug)]
pub(crate) struct ControllerManagerFiles<'a> {
    /// A kubeconfig with a `system:masters` client certificate.
    pub(crate) kubeconfig: &'a Path,
    /// The CA that signed the serving certificate (for the health check over HTTPS).
    pub(crate) ca: &'a Path,
    /// The client certificate the health check presents (any; the path is always allowed).
    pub(crate) client: ClientFiles<'a>,
    pub(crate) serving_cert: &'a Path,
    pub(crate) serving_key: &'a Path,
}

impl ControllerManager {
    pub(crate) async fn start(
        dir: &Path,
        files: &ControllerManagerFiles<'_>,
        lifetime: Lifetime,
        with_node: bool,
    ) -> Result<Self, Error> {
        let binary = Component::Kube.file("kube-controller-manager")?;
        let port = free_port("kube-controller-manager")?;
        let mut command = Command::new(&binary);
        command
            .arg(format!("--kubeconfig={}", files.kubeconfig.display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--tls-cert-file={}", files.serving_cert.display()))
            .arg(format!("--tls-private-key-file={}", files.serving_key.display()))
            .arg("--leader-elect=false")
            .arg("--use-service-account-credentials=false")
            .arg(if with_node {
                format!("--controllers={CONTROLLERS},{NODE_CONTROLLERS}")
            } else {
                format!("--controllers={CONTROLLERS}")
            })
            .arg(format!("--root-ca-file={}", files.ca.display()))
            .arg("--profiling=false");
        let mut process = Process::spawn(
            "kube-controller-manager",
            command,
            &dir.join("kube-controller-manager.log"),
            lifetime,
        )?;
        let health_kubeconfig = dir.join("kube-controller-manager-health.kubeconfig");
        let client = local_https_client(&health_kubeconfig, port, files.ca, &files.client).await?;
        let startup = process
            .wait_ready(Duration::from_secs(60), || https_get_ok(&client, "/healthz"))
            .await?;
        Ok(Self { process, startup })
    }
}
