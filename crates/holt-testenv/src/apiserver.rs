//! kube-apiserver on 127.0.0.1, the way envtest runs it: client-certificate authentication against the
//! test CA, RBAC authorization, no kubelet, no ServiceAccount admission.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::components::Component;
use crate::error::Error;
use crate::kubeconfig::{self, ClientFiles};
use crate::ports::free_port;
use crate::process::{Lifetime, Process};

/// The files kube-apiserver needs, written beforehand.
#[derive(Debug)]
pub(crate) struct ApiserverFiles<'a> {
    pub(crate) ca: &'a Path,
    pub(crate) serving_cert: &'a Path,
    pub(crate) serving_key: &'a Path,
    pub(crate) service_account_key: &'a Path,
    pub(crate) service_account_public_key: &'a Path,
    /// Written once the port is known.
    pub(crate) admin_kubeconfig: &'a Path,
    pub(crate) admin: ClientFiles<'a>,
}

/// A running kube-apiserver.
#[derive(Debug)]
pub(crate) struct Apiserver {
    pub(crate) process: Process,
    pub(crate) url: String,
    pub(crate) port: u16,
    pub(crate) startup: Duration,
}

impl Apiserver {
    /// Starts kube-apiserver on `port` (a free one when `None`), writes the admin kubeconfig for its URL
    /// and waits until `GET /readyz` answers 200 (etcd reachable, RBAC bootstrap roles in place, ...).
    pub(crate) async fn start(
        dir: &Path,
        etcd_url: &str,
        files: &ApiserverFiles<'_>,
        lifetime: Lifetime,
        port: Option<u16>,
    ) -> Result<Self, Error> {
        let binary = Component::Kube.file("kube-apiserver")?;
        let port = match port {
            Some(port) => port,
            None => free_port().map_err(Error::io("kube-apiserver", "find a free port on", "127.0.0.1"))?,
        };
        let url = format!("https://127.0.0.1:{port}");
        let mut command = Command::new(&binary);
        command
            .arg(format!("--etcd-servers={etcd_url}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg("--advertise-address=127.0.0.1")
            // No Endpoints object for the `kubernetes` Service: nothing to reconcile on loopback.
            .arg("--endpoint-reconciler-type=none")
            .arg(format!("--tls-cert-file={}", files.serving_cert.display()))
            .arg(format!("--tls-private-key-file={}", files.serving_key.display()))
            .arg(format!("--cert-dir={}", dir.join("apiserver-certs").display()))
            .arg(format!("--client-ca-file={}", files.ca.display()))
            .arg(format!("--service-account-issuer={url}"))
            .arg(format!(
                "--service-account-key-file={}",
                files.service_account_public_key.display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                files.service_account_key.display()
            ))
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--authorization-mode=RBAC")
            .arg("--disable-admission-plugins=ServiceAccount")
            .arg("--allow-privileged=true")
            .arg("--profiling=false");
        let mut process = Process::spawn(
            "kube-apiserver",
            command,
            &dir.join("kube-apiserver.log"),
            lifetime,
        )?;
        kubeconfig::write(files.admin_kubeconfig, &url, files.ca, &files.admin)?;
        let admin = kubeconfig::client(files.admin_kubeconfig).await?;
        let startup = process
            .wait_ready(Duration::from_secs(120), || async {
                let request = http::Request::get("/readyz")
                    .body(Vec::new())
                    .map_err(|e| e.to_string())?;
                admin
                    .request_text(request)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await?;
        Ok(Self {
            process,
            url,
            port,
            startup,
        })
    }
}
