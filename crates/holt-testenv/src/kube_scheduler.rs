//! kube-scheduler for the test node: binds pods to `holt-node`, with the admin kubeconfig, no leader
//! election, its health endpoint on 127.0.0.1 with the test CA's serving certificate.
//!
//! In: the admin kubeconfig and serving certificate of the control plane. Out: a running kube-scheduler.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::components::Component;
use crate::controller_manager::ControllerManagerFiles;
use crate::error::Error;
use crate::health::{https_get_ok, local_https_client};
use crate::ports::free_port;
use crate::process::{Lifetime, Process};

/// A running kube-scheduler.
#[derive(Debug)]
pub(crate) struct KubeScheduler {
    pub(crate) process: Process,
    pub(crate) startup: Duration,
}

impl KubeScheduler {
    /// Starts it; `files` are the same the controller-manager gets (kubeconfig, CA, serving pair).
    pub(crate) async fn start(
        dir: &Path,
        files: &ControllerManagerFiles<'_>,
        lifetime: Lifetime,
    ) -> Result<Self, Error> {
        let binary = Component::Node.file("kube-scheduler")?;
        let port = free_port("kube-scheduler")?;
        let mut command = Command::new(&binary);
        command
            .arg(format!("--kubeconfig={}", files.kubeconfig.display()))
            .arg(format!(
                "--authentication-kubeconfig={}",
                files.kubeconfig.display()
            ))
            .arg(format!(
                "--authorization-kubeconfig={}",
                files.kubeconfig.display()
            ))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--tls-cert-file={}", files.serving_cert.display()))
            .arg(format!("--tls-private-key-file={}", files.serving_key.display()))
            .arg("--leader-elect=false")
            .arg("--profiling=false");
        let mut process = Process::spawn(
            "kube-scheduler",
            command,
            &dir.join("kube-scheduler.log"),
            lifetime,
        )?;
        let health_kubeconfig = dir.join("kube-scheduler-health.kubeconfig");
        let client = local_https_client(&health_kubeconfig, port, files.ca, &files.client).await?;
        let startup = process
            .wait_ready(Duration::from_secs(60), || https_get_ok(&client, "/healthz"))
            .await?;
        Ok(Self { process, startup })
    }
}
