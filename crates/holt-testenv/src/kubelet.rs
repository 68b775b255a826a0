//! The kubelet of the test node `holt-node`: registers the node with the node IP on the harness's bridge,
//! runs pods through containerd's CRI socket, and keeps every file in the node's directory (`--root-dir`,
//! `podLogsDir`) and every pod under the cgroup `holt-testenv-node`.
//!
//! In: the node's directory, containerd's socket, the control plane's CA and admin credentials, a serving
//! certificate for the node IP. Out: a running kubelet whose Node is Ready.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;

use crate::components::Component;
use crate::error::{Error, write_file};
use crate::node_network::NodeAddressing;
use crate::node_state::CGROUP_ROOT;
use crate::ports::free_port;
use crate::process::{Lifetime, Process};

/// The Node's name.
pub const NODE_NAME: &str = "holt-node";

/// The files the kubelet needs, written beforehand.
#[derive(Debug)]
pub(crate) struct KubeletFiles<'a> {
    /// Admin kubeconfig (the kubelet acts as `system:masters`: no Node authorizer in the test apiserver).
    pub(crate) kubeconfig: &'a Path,
    /// The CA clients of the kubelet's API (the API server) present certificates of.
    pub(crate) client_ca: &'a Path,
    pub(crate) serving_cert: &'a Path,
    pub(crate) serving_key: &'a Path,
    pub(crate) containerd_socket: &'a Path,
}

/// A running kubelet.
#[derive(Debug)]
pub(crate) struct Kubelet {
    pub(crate) process: Process,
    pub(crate) root_dir: PathBuf,
    pub(crate) startup: Duration,
}

impl Kubelet {
    pub(crate) async fn start(
        node_dir: &Path,
        addressing: &NodeAddressing,
        files: &KubeletFiles<'_>,
        client: &kube::Client,
        lifetime: Lifetime,
    ) -> Result<Self, Error> {
        let binary = Component::Node.file("kubelet")?;
        let root_dir = node_dir.join("kubelet");
        let pod_logs = node_dir.join("pod-logs");
        for d in [&root_dir, &pod_logs] {
            std::fs::create_dir_all(d).map_err(Error::io("kubelet", "create", d.as_path()))?;
        }
        let port = free_port("kubelet")?;
        let healthz_port = free_port("kubelet")?;
        let config = node_dir.join("kubelet.yaml");
        let settings = serde_json::json!({
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": addressing.node_ip.to_string(),
            "port": port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": healthz_port,
            "tlsCertFile": files.serving_cert,
            "tlsPrivateKeyFile": files.serving_key,
            "authentication": {
                "anonymous": {"enabled": false},
                "webhook": {"enabled": false},
                "x509": {"clientCAFile": files.client_ca},
            },
            "authorization": {"mode": "AlwaysAllow"},
            // The machine has cgroup v1 only.
            "failCgroupV1": false,
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": format!("/{CGROUP_ROOT}"),
            "failSwapOn": false,
            "containerRuntimeEndpoint": format!("unix://{}", files.containerd_socket.display()),
            "podLogsDir": pod_logs,
            // Images are imported, never pulled: none may be garbage-collected.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "enableControllerAttachDetach": false,
            // No cluster DNS: pods get no resolv.conf from the machine either.
            "resolvConf": "",
            "maxPods": 40,
            "nodeStatusUpdateFrequency": "2s",
            "syncFrequency": "5s",
            "fileCheckFrequency": "5s",
            "shutdownGracePeriod": "0s",
        });
        write_file("kubelet", &config, settings.to_string())?;
        let mut command = Command::new(&binary);
        command
            .arg(format!("--config={}", config.display()))
            .arg(format!("--kubeconfig={}", files.kubeconfig.display()))
            .arg(format!("--root-dir={}", root_dir.display()))
            .arg(format!("--hostname-override={NODE_NAME}"))
            .arg(format!("--node-ip={}", addressing.node_ip))
            .arg("--v=1");
        let mut process = Process::spawn("kubelet", command, &node_dir.join("kubelet.log"), lifetime)?;
        let nodes = kube::Api::<Node>::all(client.clone());
        let startup = process
            .wait_ready(Duration::from_secs(120), || async {
                let node = nodes.get_opt(NODE_NAME).await.map_err(|e| e.to_string())?;
                let node = node.ok_or("the Node is not registered yet")?;
                let ready = node
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .into_iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                if ready {
                    Ok(())
                } else {
                    Err("the Node is not Ready yet".to_owned())
                }
            })
            .await?;
        Ok(Self {
            process,
            root_dir,
            startup,
        })
    }
}
