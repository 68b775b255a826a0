//! kube-apiserver on 127.0.0.1, the way envtest runs it: client-certificate authentication against the
//! test CA, RBAC authorization, no kubelet, no ServiceAccount admission; or, for a control plane with a
//! node, on the node's IP with ServiceAccount admission and the `kubernetes` Service's Endpoints.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::components::Component;
use crate::error::Error;
use crate::health::https_get_ok;
use crate::kubeconfig::{self, ClientFiles};
use crate::node_network::NodeAddressing;
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
        node: Option<&NodeAddressing>,
    ) -> Result<Self, Error> {
        let binary = Component::Kube.file("kube-apiserver")?;
        let port = match port {
            Some(port) => port,
            None => free_port("kube-apiserver")?,
        };
        // With a node, the API server listens on the node's IP: pods reach it through the `kubernetes`
        // Service (kube-proxy cannot forward to loopback), and its Endpoints name that address.
        let address = node.map_or("127.0.0.1".to_owned(), |n| n.node_ip.to_string());
        let url = format!("https://{address}:{port}");
        let mut command = Command::new(&binary);
        command
            .arg(format!("--etcd-servers={etcd_url}"))
            .arg(format!("--bind-address={address}"))
            .arg(format!("--secure-port={port}"))
            .arg(format!("--advertise-address={address}"))
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
            .arg("--authorization-mode=RBAC")
            .arg("--allow-privileged=true")
            .arg("--profiling=false");
        match node {
            None => {
                command
                    // No Endpoints object for the `kubernetes` Service: nothing to reconcile on loopback.
                    .arg("--endpoint-reconciler-type=none")
                    .arg("--service-cluster-ip-range=10.0.0.0/24")
                    .arg("--disable-admission-plugins=ServiceAccount");
            }
            Some(node) => {
                command
                    .arg("--endpoint-reconciler-type=lease")
                    .arg(format!("--service-cluster-ip-range={}", node.service_cidr))
                    // `kubectl logs`/`exec`: the kubelet listens on the node IP, with the admin's client
                    // certificate accepted.
                    .arg("--kubelet-preferred-address-types=InternalIP")
                    .arg(format!(
                        "--kubelet-client-certificate={}",
                        files.admin.cert.display()
                    ))
                    .arg(format!("--kubelet-client-key={}", files.admin.key.display()));
            }
        }
        let mut process = Process::spawn(
            "kube-apiserver",
            command,
            &dir.join("kube-apiserver.log"),
            lifetime,
        )?;
        kubeconfig::write(files.admin_kubeconfig, &url, files.ca, &files.admin)?;
        let admin = kubeconfig::client(files.admin_kubeconfig).await?;
        let startup = process
            .wait_ready(Duration::from_secs(120), || https_get_ok(&admin, "/readyz"))
            .await?;
        Ok(Self {
            process,
            url,
            port,
            startup,
        })
    }
}
