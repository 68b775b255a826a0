//! containerd for the test node: Debian's containerd and runc (scripts/install-system-packages.sh), with
//! its root, state, socket, CNI configuration and `/opt` all inside the node's directory, and the CRI
//! settings this machine needs (cgroup v1 through cgroupfs, `restrict_oom_score_adj` because the machine
//! lacks CAP_SYS_RESOURCE, the harness's own pause image, network namespaces under the state directory).
//!
//! In: the node's directory and addressing. Out: a running containerd whose CRI socket the kubelet uses,
//! and `ctr images import` of image archives into its `k8s.io` namespace.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, write_file};
use crate::node_network::NodeAddressing;
use crate::process::{Lifetime, Process, run_command};

/// The sandbox image every pod starts with (built and archived by `build-test-components.sh node`).
pub const PAUSE_IMAGE: &str = "localhost/holt-testenv/pause:3.10.2";
/// A busybox image for test pods (Debian's static busybox; `sh`, `nc`, `wget`, `sleep`, ...).
pub const BUSYBOX_IMAGE: &str = "localhost/holt-testenv/busybox:1.35.0";
/// The CNI network's name.
pub(crate) const CNI_NETWORK: &str = "holt-testenv";

/// A running containerd.
#[derive(Debug)]
pub(crate) struct Containerd {
    pub(crate) process: Process,
    pub(crate) socket: PathBuf,
    pub(crate) startup: Duration,
}

/// Where containerd's files go inside the node's directory.
pub(crate) fn socket_path(node_dir: &Path) -> PathBuf {
    node_dir.join("containerd/containerd.sock")
}

/// The programs containerd needs from the system, with the package that has them.
fn system_program(name: &str, package: &str) -> Result<PathBuf, Error> {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(Error::Invalid {
        what: format!("node: the program {name}"),
        reason: format!(
            "not installed; install the Debian package {package} (scripts/install-system-packages.sh does)"
        ),
    })
}

impl Containerd {
    pub(crate) async fn start(
        node_dir: &Path,
        addressing: &NodeAddressing,
        lifetime: Lifetime,
    ) -> Result<Self, Error> {
        let binary = system_program("containerd", "containerd")?;
        system_program("runc", "runc")?;
        system_program("containerd-shim-runc-v2", "containerd")?;
        let cni_bin = Path::new("/usr/lib/cni");
        if !cni_bin.join("bridge").is_file() || !cni_bin.join("host-local").is_file() {
            return Err(Error::Invalid {
                what: "node: the CNI plugins in /usr/lib/cni".into(),
                reason:
                    "bridge or host-local missing; install the Debian package containernetworking-plugins"
                        .into(),
            });
        }
        let dir = node_dir.join("containerd");
        let cni_conf = node_dir.join("cni/net.d");
        for d in [&dir, &cni_conf] {
            std::fs::create_dir_all(d).map_err(Error::io("containerd", "create", d.as_path()))?;
        }
        let socket = socket_path(node_dir);
        let config = dir.join("config.toml");
        write_file(
            "containerd",
            &config,
            config_toml(&dir, &socket, cni_bin, &cni_conf),
        )?;
        write_file(
            "containerd",
            &cni_conf.join("10-holt-testenv.conflist"),
            cni_conflist(addressing, &node_dir.join("cni/ipam")),
        )?;
        let mut command = Command::new(&binary);
        command.arg("--config").arg(&config);
        let mut process = Process::spawn("containerd", command, &dir.join("containerd.log"), lifetime)?;
        let ctr = system_program("ctr", "containerd")?;
        let startup = process
            .wait_ready(Duration::from_secs(30), || {
                let ctr = ctr.clone();
                let socket = socket.clone();
                async move {
                    let output = tokio::process::Command::new(&ctr)
                        .arg("--address")
                        .arg(&socket)
                        .arg("version")
                        .output()
                        .await
                        .map_err(|e| e.to_string())?;
                    if output.status.success() {
                        Ok(())
                    } else {
                        Err(String::from_utf8_lossy(&output.stderr).into_owned())
                    }
                }
            })
            .await?;
        Ok(Self {
            process,
            socket,
            startup,
        })
    }

    /// Imports an OCI image archive into the `k8s.io` namespace (where the kubelet finds images).
    pub(crate) async fn import(&self, archive: &Path) -> Result<(), Error> {
        let ctr = system_program("ctr", "containerd")?;
        run_command(
            "containerd",
            tokio::process::Command::new(ctr)
                .arg("--address")
                .arg(&self.socket)
                .args(["-n", "k8s.io", "images", "import"])
                .arg(archive),
        )
        .await?;
        Ok(())
    }
}

fn config_toml(dir: &Path, socket: &Path, cni_bin: &Path, cni_conf: &Path) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"#,
        root = dir.join("root").display(),
        state = dir.join("state").display(),
        socket = socket.display(),
        opt = dir.join("opt").display(),
        pause = PAUSE_IMAGE,
        cni_bin = cni_bin.display(),
        cni_conf = cni_conf.display(),
    )
}

fn cni_conflist(addressing: &NodeAddressing, ipam_dir: &Path) -> String {
    serde_json::json!({
        "cniVersion": "0.4.0",
        "name": CNI_NETWORK,
        "plugins": [{
            "type": "bridge",
            "bridge": addressing.bridge,
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{
                    "subnet": addressing.pod_cidr,
                    "gateway": addressing.node_ip.to_string(),
                }]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": ipam_dir,
            },
        }],
    })
    .to_string()
}
