//! A control plane with one real node: containerd + kubelet + kube-scheduler + kube-proxy on this machine,
//! for tests that need real pods (Holt's chart installed with Helm, the sniffer seeing real traffic).
//!
//! In: the components built by `build-test-components.sh kube node`, Debian's containerd, runc and CNI
//! plugins, root. Out: a [`Cluster`] — a [`ControlPlane`] (it derefs to one) whose API server listens on the
//! node's IP, and a Ready node `holt-node` with the harness's pause and busybox images imported, plus any
//! image archive a test imports. Tests that do not ask for a cluster never pay for it.
//!
//! Order of the start, safety first: claim the machine (one node at a time; sweep what a crashed node left),
//! write the cleanup script, fence the pod network, and only then turn on forwarding and start anything
//! that runs pods. Dropping the cluster (or the test process ending, through the watchdog) runs the cleanup
//! script: see `node_state`.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};

use crate::components::Component;
use crate::containerd::{self, Containerd};
use crate::control_plane::{ControlPlane, ControlPlaneOptions};
use crate::error::{Error, write_file};
use crate::kube_proxy::KubeProxy;
use crate::kube_scheduler::KubeScheduler;
use crate::kubelet::{Kubelet, KubeletFiles};
use crate::node_network::{self, NodeAddressing};
use crate::node_state::{self, CGROUP_ROOT, CleanupScript, NodeClaim};
use crate::process::{Lifetime, Process, ProcessInfo};
use crate::rundir::RunDir;
use crate::shared::{SharedCell, get_or_start};
use crate::watchdog;

/// How to start a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Who stops it. Default: [`Lifetime::Test`].
    pub lifetime: Lifetime,
    /// Where to keep the node's files (its name must start with `node-`, so the cleanup script removes
    /// it). Default: a fresh directory in this test process's scratch directory.
    pub dir: Option<PathBuf>,
    /// Where the control plane keeps its files. Default: a fresh directory in the scratch directory.
    pub control_plane_dir: Option<PathBuf>,
    /// Image archives (OCI layout, e.g. from `cargo xtask images`) to import before the node registers.
    pub images: Vec<PathBuf>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            lifetime: Lifetime::Test,
            dir: None,
            control_plane_dir: None,
            images: Vec::new(),
        }
    }
}

/// The node's processes and what undoes its changes to the machine.
#[derive(Debug)]
struct Node {
    // Dropped (killed) in this order after `Drop for Node` ran the cleanup script.
    kube_proxy: Process,
    scheduler: Process,
    kubelet: Process,
    containerd: Containerd,
    cleanup: CleanupScript,
    lifetime: Lifetime,
    _claim: NodeClaim,
    dir: RunDir,
    kubelet_root: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.lifetime == Lifetime::Test
            && let Err(e) = self.cleanup.run()
        {
            eprintln!("holt-testenv: the node's cleanup script failed: {e}");
        }
    }
}

/// A control plane and a real node.
#[derive(Debug)]
pub struct Cluster {
    // The node goes first: its cleanup runs while the API server still exists.
    node: Node,
    control_plane: ControlPlane,
    addressing: NodeAddressing,
    startup: Vec<(&'static str, Duration)>,
}

static SHARED: SharedCell<Cluster> = SharedCell::const_new();

impl Deref for Cluster {
    type Target = ControlPlane;

    fn deref(&self) -> &ControlPlane {
        &self.control_plane
    }
}

impl Cluster {
    /// Starts the control plane and the node, and waits until the node is Ready and kube-proxy has synced.
    pub async fn start(options: ClusterOptions) -> Result<Self, Error> {
        let began = Instant::now();
        let addressing = NodeAddressing::standard();
        let dir = RunDir::new("node", options.dir.as_deref(), options.lifetime).map_err(Error::io(
            "node",
            "create the directory for",
            "the node",
        ))?;
        let claim = node_state::claim(dir.path(), options.lifetime).await?;
        let mut cleanup = CleanupScript::new(dir.path(), &containerd::socket_path(dir.path()))?;
        if options.lifetime == Lifetime::Test {
            watchdog::clean_up_with(cleanup.path()).map_err(Error::io(
                "node",
                "register the cleanup script with the watchdog",
                cleanup.path(),
            ))?;
        }
        record_machine_state(&mut cleanup)?;
        create_cgroups()?;
        node_network::set_up(&addressing, &mut cleanup)?;

        let mut startup = Vec::new();
        let control_plane = ControlPlane::start(ControlPlaneOptions {
            controller_manager: true,
            lifetime: options.lifetime,
            dir: options.control_plane_dir.clone(),
            node: Some(addressing.clone()),
        })
        .await?;
        startup.push(("control plane", began.elapsed()));
        let paths = control_plane.paths();

        let containerd = Containerd::start(dir.path(), &addressing, options.lifetime).await?;
        cleanup.record_process(containerd.process.pid(), &containerd.process.info().program)?;
        startup.push(("containerd", containerd.startup));
        let images = Component::Node.dir()?.join("images");
        let imported = Instant::now();
        for archive in [images.join("pause.oci.tar"), images.join("busybox.oci.tar")]
            .iter()
            .chain(&options.images)
        {
            containerd.import(archive).await?;
        }
        startup.push(("image import", imported.elapsed()));

        let serving = control_plane
            .ca()
            .issue_server("kubelet", &[&addressing.node_ip.to_string()])
            .map_err(Error::pki("kubelet"))?;
        let (serving_cert, serving_key) = (dir.join("kubelet.crt"), dir.join("kubelet.key"));
        write_file("kubelet", &serving_cert, &serving.cert_pem)?;
        write_file("kubelet", &serving_key, &serving.key_pem)?;
        let client = control_plane.client().await?;
        let kubelet = Kubelet::start(
            dir.path(),
            &addressing,
            &KubeletFiles {
                kubeconfig: &paths.kubeconfig,
                client_ca: &paths.ca,
                serving_cert: &serving_cert,
                serving_key: &serving_key,
                containerd_socket: &containerd.socket,
            },
            &client,
            options.lifetime,
        )
        .await?;
        cleanup.record_process(kubelet.process.pid(), &kubelet.process.info().program)?;
        startup.push(("kubelet (to Node Ready)", kubelet.startup));
        let scheduler = KubeScheduler::start(dir.path(), &paths.controller(), options.lifetime).await?;
        cleanup.record_process(scheduler.process.pid(), &scheduler.process.info().program)?;
        startup.push(("kube-scheduler", scheduler.startup));
        let kube_proxy =
            KubeProxy::start(dir.path(), &paths.kubeconfig, &addressing, options.lifetime).await?;
        cleanup.record_process(kube_proxy.process.pid(), &kube_proxy.process.info().program)?;
        startup.push(("kube-proxy", kube_proxy.startup));
        startup.push(("cluster", began.elapsed()));
        Ok(Self {
            node: Node {
                kube_proxy: kube_proxy.process,
                scheduler: scheduler.process,
                kubelet_root: kubelet.root_dir,
                kubelet: kubelet.process,
                containerd,
                cleanup,
                lifetime: options.lifetime,
                _claim: claim,
                dir,
            },
            control_plane,
            addressing,
            startup,
        })
    }

    /// The cluster shared by every test of this test process (started by the first caller; torn down by
    /// the watchdog when the process ends).
    pub async fn shared() -> Result<&'static Self, Error> {
        get_or_start(&SHARED, "cluster with a node", || {
            Self::start(ClusterOptions::default())
        })
        .await
    }

    /// The control plane.
    pub fn control_plane(&self) -> &ControlPlane {
        &self.control_plane
    }

    /// The node's addresses.
    pub fn addressing(&self) -> &NodeAddressing {
        &self.addressing
    }

    /// The node's directory (containerd, kubelet, logs).
    pub fn node_dir(&self) -> &Path {
        self.node.dir.path()
    }

    /// The kubelet's `--root-dir`.
    pub fn kubelet_root(&self) -> &Path {
        &self.node.kubelet_root
    }

    /// containerd's socket (for `ctr --address`).
    pub fn containerd_socket(&self) -> &Path {
        &self.node.containerd.socket
    }

    /// The cleanup script that tears the node down (`sh <path>`).
    pub fn cleanup_script(&self) -> &Path {
        self.node.cleanup.path()
    }

    /// Imports an OCI image archive into the node (pods then use it with `imagePullPolicy: Never`).
    pub async fn import_image(&self, archive: &Path) -> Result<(), Error> {
        self.node.containerd.import(archive).await
    }

    /// Creates a namespace as [`ControlPlane::create_namespace`] does, and waits until pods can run in it:
    /// its `default` ServiceAccount and `kube-root-ca.crt` ConfigMap exist.
    pub async fn create_pod_namespace(&self, client: &kube::Client, prefix: &str) -> Result<String, Error> {
        let name = self.control_plane.create_namespace(client, prefix).await?;
        let accounts = kube::Api::<ServiceAccount>::namespaced(client.clone(), &name);
        let maps = kube::Api::<ConfigMap>::namespaced(client.clone(), &name);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let account = accounts
                .get_opt("default")
                .await
                .map_err(Error::kube(format!("read the default ServiceAccount of {name}")))?;
            let map = maps
                .get_opt("kube-root-ca.crt")
                .await
                .map_err(Error::kube(format!("read kube-root-ca.crt of {name}")))?;
            if account.is_some() && map.is_some() {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Invalid {
                    what: format!("namespace {name}"),
                    reason: "no default ServiceAccount or kube-root-ca.crt after 30 s \
                             (serviceaccount and root-ca-certificate-publisher controllers)"
                        .into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(name)
    }

    /// How long each part took to start.
    pub fn startup_times(&self) -> &[(&'static str, Duration)] {
        &self.startup
    }

    /// Every running process (control plane and node).
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let mut list = self.control_plane.processes();
        list.extend([
            self.node.containerd.process.info(),
            self.node.kubelet.info(),
            self.node.scheduler.info(),
            self.node.kube_proxy.info(),
        ]);
        list
    }
}

/// The sysctls the kubelet and kube-proxy may change, and the machine directories containerd, the CNI
/// plugins and the kubelet create when missing: the cleanup script restores the values and removes the
/// directories that did not exist before.
fn record_machine_state(cleanup: &mut CleanupScript) -> Result<(), Error> {
    for sysctl in [
        "vm/overcommit_memory",
        "vm/panic_on_oom",
        "kernel/panic",
        "kernel/panic_on_oops",
        "kernel/keys/root_maxkeys",
        "kernel/keys/root_maxbytes",
        "net/ipv4/conf/all/route_localnet",
        "net/bridge/bridge-nf-call-iptables",
        "net/bridge/bridge-nf-call-ip6tables",
    ] {
        let path = Path::new("/proc/sys").join(sysctl);
        if let Ok(value) = std::fs::read_to_string(&path) {
            cleanup.append(&format!("echo {} > {}", value.trim(), path.display()))?;
        }
    }
    for dir in [
        "/run/containerd",
        "/var/lib/cni",
        "/var/log/containers",
        "/var/log/pods",
    ] {
        if !Path::new(dir).exists() {
            cleanup.append(&format!("rm -rf {dir}"))?;
        }
    }
    Ok(())
}

/// The cgroup the kubelet puts every pod under, in every v1 hierarchy (the cleanup script's fixed part
/// empties and removes it).
fn create_cgroups() -> Result<(), Error> {
    let root = Path::new("/sys/fs/cgroup");
    let entries = std::fs::read_dir(root).map_err(Error::io("node", "list", root))?;
    for entry in entries.flatten() {
        let hierarchy = entry.path();
        if !hierarchy.join("cgroup.procs").exists() {
            continue;
        }
        let dir = hierarchy.join(CGROUP_ROOT);
        std::fs::create_dir_all(&dir).map_err(Error::io("node", "create the cgroup", &dir))?;
        // cpuset: a new v1 cgroup starts with no CPUs or memory nodes; give it its parent's.
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = std::fs::read_to_string(hierarchy.join(file)) {
                std::fs::write(dir.join(file), value.trim()).map_err(Error::io(
                    "node",
                    "write",
                    dir.join(file),
                ))?;
            }
        }
    }
    Ok(())
}
