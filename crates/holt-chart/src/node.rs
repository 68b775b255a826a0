//! A local stand-in for a Kubernetes node (these machines have no kubelet): it watches the pods of one
//! namespace and runs those whose image is one of Holt's binaries as local processes
//! ([`crate::container`]), restarts them when they exit (`restartPolicy: Always`), probes their readiness
//! and writes the pod status a kubelet writes (phase, pod IP, `Ready`), so that the real
//! kube-controller-manager rolls Deployments out on it. A pod deleted from the API server is stopped
//! (SIGTERM, then SIGKILL after 10 s). Services it is asked to [`LocalNode::expose`] get a forwarder
//! ([`crate::forward`]) and cluster DNS names that the containers' arguments are rewritten to.
//!
//! Each pod gets a loopback address of its own (`127.x.y.z`: all of 127/8 is the loopback interface), so
//! that pods listening on the same port do not collide; host-network pods get the node's address. Pods
//! are not bound to the node (`spec.nodeName` stays empty: there is no scheduler), DaemonSets have no
//! controller here, so [`LocalNode::run_daemon_set`] creates their pod as the DaemonSet controller would.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use rustix::process::{Pid, Signal};
use serde_json::json;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::binaries::Binaries;
use crate::container::{self, ArgOverride, Environment, Launch};
use crate::error::Error;
use crate::forward::{Forwarder, Resolve};
use crate::http_probe;

/// How long a stopped container has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// What the node runs, and with which stand-ins.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The node's name (`spec.nodeName` as the containers see it).
    pub name: String,
    /// The namespace whose pods it runs.
    pub namespace: String,
    /// Arguments replaced for the local run (each with its reason).
    pub overrides: Vec<ArgOverride>,
}

/// What a test can see of a pod the node runs.
#[derive(Debug, Clone)]
pub struct PodView {
    pub name: String,
    pub ip: Ipv4Addr,
    pub ready: bool,
    pub running: bool,
    pub restarts: u32,
    pub log: PathBuf,
    pub args: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

struct RunningPod {
    ip: Ipv4Addr,
    host_network: bool,
    labels: BTreeMap<String, String>,
    launch: Launch,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    exited: Option<Instant>,
    ready: bool,
    restarts: u32,
}

struct Shared {
    admin: kube::Client,
    server: String,
    ca_file: PathBuf,
    binaries: &'static Binaries,
    options: NodeOptions,
    dir: PathBuf,
    node_ip: Ipv4Addr,
    next_address: AtomicU32,
    services: Mutex<BTreeMap<String, IpAddr>>,
    pods: Mutex<BTreeMap<String, RunningPod>>,
    /// Pods not run (another image) and pods that could not be run, with why.
    skipped: Mutex<BTreeSet<String>>,
    failures: Mutex<Vec<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running stand-in node. Dropping it stops every process it started.
pub struct LocalNode {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    forwarders: Mutex<Vec<Forwarder>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for LocalNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNode")
            .field("name", &self.shared.options.name)
            .field("namespace", &self.shared.options.namespace)
            .field("pods", &lock(&self.shared.pods).keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LocalNode {
    /// Starts watching `options.namespace` on the API server at `server` (trusting `ca_file`), as `admin`
    /// (the kubelet's own credentials: it reads the pods' ConfigMaps and Secrets and mints their tokens).
    pub async fn start(
        admin: kube::Client,
        server: &str,
        ca_file: &Path,
        binaries: &'static Binaries,
        options: NodeOptions,
    ) -> Result<Self, Error> {
        let dir = tempfile::tempdir().map_err(Error::io("create the node's directory"))?;
        // A /16 of loopback addresses per test process, so that parallel test processes do not collide.
        let second = 100 + (std::process::id() % 100) as u8;
        let shared = Arc::new(Shared {
            admin,
            server: server.to_owned(),
            ca_file: ca_file.to_path_buf(),
            binaries,
            options,
            dir: dir.path().to_path_buf(),
            node_ip: Ipv4Addr::new(127, second, 0, 1),
            next_address: AtomicU32::new(2),
            services: Mutex::new(BTreeMap::new()),
            pods: Mutex::new(BTreeMap::new()),
            skipped: Mutex::new(BTreeSet::new()),
            failures: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(run(shared.clone()));
        Ok(Self {
            shared,
            task,
            forwarders: Mutex::new(Vec::new()),
            _dir: dir,
        })
    }

    /// The node's address (host-network pods listen there).
    pub fn ip(&self) -> Ipv4Addr {
        self.shared.node_ip
    }

    /// A fresh loopback address for a stand-in (a pod, a Service).
    pub fn allocate_address(&self) -> Ipv4Addr {
        allocate(&self.shared)
    }

    /// Makes the Service `name` of the node's namespace reachable: a forwarder per port on a fresh address
    /// (its stand-in ClusterIP), which the Service's cluster DNS names now resolve to in the arguments of
    /// the containers started from now on. Returns that address.
    pub async fn expose(&self, name: &str) -> Result<Ipv4Addr, Error> {
        let namespace = self.shared.options.namespace.clone();
        let service = Api::<Service>::namespaced(self.shared.admin.clone(), &namespace)
            .get(name)
            .await
            .map_err(Error::kube(format!("read Service {namespace}/{name}")))?;
        let spec = service.spec.unwrap_or_default();
        let selector = spec.selector.unwrap_or_default();
        let address = allocate(&self.shared);
        for port in spec.ports.unwrap_or_default() {
            let target = port.target_port.unwrap_or(IntOrString::Int(port.port));
            let shared = self.shared.clone();
            let selector = selector.clone();
            let resolve: Resolve = Arc::new(move || backend(&shared, &selector, &target));
            let listen = SocketAddr::from((address, u16::try_from(port.port).unwrap_or(0)));
            let forwarder = Forwarder::start(listen, resolve).await?;
            lock(&self.forwarders).push(forwarder);
        }
        let mut services = lock(&self.shared.services);
        for dns in [
            format!("{name}.{namespace}.svc.cluster.local"),
            format!("{name}.{namespace}.svc"),
            format!("{name}.{namespace}"),
        ] {
            services.insert(dns, IpAddr::V4(address));
        }
        Ok(address)
    }

    /// Creates the pod of the DaemonSet `name` (as its controller would on this node); the node then runs it.
    pub async fn run_daemon_set(&self, name: &str) -> Result<String, Error> {
        let namespace = &self.shared.options.namespace;
        let daemon_set = Api::<DaemonSet>::namespaced(self.shared.admin.clone(), namespace)
            .get(name)
            .await
            .map_err(Error::kube(format!("read DaemonSet {namespace}/{name}")))?;
        let template = daemon_set.spec.map(|s| s.template).unwrap_or_default();
        let metadata = template.metadata.unwrap_or_default();
        let pod = Pod {
            metadata: ObjectMeta {
                generate_name: Some(format!("{name}-")),
                namespace: Some(namespace.clone()),
                labels: metadata.labels,
                annotations: metadata.annotations,
                owner_references: Some(vec![OwnerReference {
                    api_version: "apps/v1".to_owned(),
                    kind: "DaemonSet".to_owned(),
                    name: name.to_owned(),
                    uid: daemon_set.metadata.uid.unwrap_or_default(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                ..ObjectMeta::default()
            },
            spec: template.spec,
            status: None,
        };
        let created = Api::<Pod>::namespaced(self.shared.admin.clone(), namespace)
            .create(&PostParams::default(), &pod)
            .await
            .map_err(Error::kube(format!(
                "create the pod of DaemonSet {namespace}/{name}"
            )))?;
        Ok(created.metadata.name.unwrap_or_default())
    }

    /// The pods the node runs now.
    pub fn pods(&self) -> Vec<PodView> {
        lock(&self.shared.pods)
            .iter()
            .map(|(name, pod)| PodView {
                name: name.clone(),
                ip: pod.ip,
                ready: pod.ready,
                running: pod.child.is_some(),
                restarts: pod.restarts,
                log: pod.log.clone(),
                args: pod.launch.args.clone(),
                labels: pod.labels.clone(),
            })
            .collect()
    }

    /// Pods it was asked to run and could not, with why.
    pub fn failures(&self) -> Vec<String> {
        lock(&self.shared.failures).clone()
    }

    /// The log (stdout and stderr) of pod `name`, as far as written.
    pub fn log(&self, name: &str) -> String {
        let path = lock(&self.shared.pods).get(name).map(|p| p.log.clone());
        path.and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Every log of every pod it ran, for a failing test's output.
    pub fn all_logs(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(&self.shared.dir) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("log")).collect();
            paths.sort();
            for path in paths {
                if let Ok(log) = std::fs::read_to_string(&path) {
                    text.push_str(&format!("==> {} <==\n{log}\n", path.display()));
                }
            }
        }
        text
    }

    /// Stops every process (SIGTERM, then SIGKILL after the grace period).
    pub async fn shutdown(&self) {
        self.task.abort();
        let names: Vec<String> = lock(&self.shared.pods).keys().cloned().collect();
        for name in names {
            stop(&self.shared, &name).await;
        }
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.task.abort();
        // Children are killed on drop (`kill_on_drop`).
        lock(&self.shared.pods).clear();
    }
}

fn allocate(shared: &Shared) -> Ipv4Addr {
    let n = shared.next_address.fetch_add(1, Ordering::Relaxed);
    let [_, second, ..] = shared.node_ip.octets();
    Ipv4Addr::new(127, second, (n / 250) as u8, (n % 250) as u8 + 1)
}

/// A ready pod the selector matches, and the port `target` names on it.
fn backend(shared: &Shared, selector: &BTreeMap<String, String>, target: &IntOrString) -> Option<SocketAddr> {
    let pods = lock(&shared.pods);
    pods.values()
        .filter(|pod| pod.ready && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
        .find_map(|pod| {
            let port = match target {
                IntOrString::Int(port) => u16::try_from(*port).ok()?,
                IntOrString::String(name) => *pod.launch.ports.get(name)?,
            };
            Some(SocketAddr::from((pod.ip, port)))
        })
}

async fn run(shared: Arc<Shared>) {
    let api = Api::<Pod>::namespaced(shared.admin.clone(), &shared.options.namespace);
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => observe(&shared, pod).await,
                Some(Ok(Event::Delete(pod))) => {
                    if let Some(name) = pod.metadata.name {
                        stop(&shared, &name).await;
                    }
                }
                Some(_) => {}
                None => return,
            },
            _ = tick.tick() => check(&shared).await,
        }
    }
}

async fn observe(shared: &Arc<Shared>, pod: Pod) {
    let Some(name) = pod.metadata.name.clone() else {
        return;
    };
    if pod.metadata.deletion_timestamp.is_some() {
        stop(shared, &name).await;
        return;
    }
    if lock(&shared.pods).contains_key(&name) || lock(&shared.skipped).contains(&name) {
        return;
    }
    match start(shared, &pod, &name).await {
        Ok(true) => {}
        Ok(false) => {
            lock(&shared.skipped).insert(name);
        }
        Err(error) => {
            lock(&shared.failures).push(format!("{name}: {error}"));
            lock(&shared.skipped).insert(name);
        }
    }
}

/// Prepares and starts the pod's container; false when it is not one of Holt's.
async fn start(shared: &Arc<Shared>, pod: &Pod, name: &str) -> Result<bool, Error> {
    let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
    let ip = if host_network {
        shared.node_ip
    } else {
        allocate(shared)
    };
    let dir = shared.dir.join(name);
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("create {}", dir.display())))?;
    let services = lock(&shared.services).clone();
    let env = Environment {
        admin: &shared.admin,
        api_server: &shared.server,
        ca_file: &shared.ca_file,
        node_name: &shared.options.name,
        binaries: shared.binaries,
        services: &services,
        overrides: &shared.options.overrides,
    };
    let Some(launch) = container::prepare(pod, IpAddr::V4(ip), &dir, &env).await? else {
        return Ok(false);
    };
    let log = dir.join("log");
    let child = spawn(&launch, &dir, &log)?;
    lock(&shared.pods).insert(
        name.to_owned(),
        RunningPod {
            ip,
            host_network,
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            launch,
            dir,
            log,
            child: Some(child),
            exited: None,
            ready: false,
            restarts: 0,
        },
    );
    Ok(true)
}

fn spawn(launch: &Launch, dir: &Path, log: &Path) -> Result<Child, Error> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(Error::io(format!("open {}", log.display())))?;
    let error_file = file
        .try_clone()
        .map_err(Error::io(format!("open {}", log.display())))?;
    Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(error_file)
        .kill_on_drop(true)
        .spawn()
        .map_err(Error::io(format!("start {}", launch.program.display())))
}

/// Restarts exited containers (after 1 s), probes readiness and reports changes in the pod status.
async fn check(shared: &Arc<Shared>) {
    let mut probes = Vec::new();
    {
        let mut pods = lock(&shared.pods);
        for (name, pod) in pods.iter_mut() {
            if let Some(child) = pod.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                pod.child = None;
                pod.exited = Some(Instant::now());
            }
            if pod.child.is_none()
                && pod.exited.is_some_and(|at| at.elapsed() > Duration::from_secs(1))
                && let Ok(child) = spawn(&pod.launch, &pod.dir, &pod.log)
            {
                pod.child = Some(child);
                pod.exited = None;
                pod.restarts += 1;
            }
            probes.push((
                name.clone(),
                pod.ip,
                pod.child.is_some(),
                pod.launch.readiness.clone(),
                pod.ready,
            ));
        }
    }
    for (name, ip, running, readiness, was_ready) in probes {
        let ready = running
            && match &readiness {
                Some((path, port)) => http_probe::get(SocketAddr::from((ip, *port)), path)
                    .await
                    .is_some_and(|answer| (200..400).contains(&answer.status)),
                None => true,
            };
        if ready == was_ready {
            continue;
        }
        let host_network = {
            let mut pods = lock(&shared.pods);
            let Some(pod) = pods.get_mut(&name) else {
                continue;
            };
            pod.ready = ready;
            pod.host_network
        };
        report_status(shared, &name, ip, host_network, ready).await;
    }
}

/// The status a kubelet writes for a running pod.
async fn report_status(shared: &Shared, name: &str, ip: Ipv4Addr, host_network: bool, ready: bool) {
    let flag = if ready { "True" } else { "False" };
    let host = if host_network { ip } else { shared.node_ip };
    let status = json!({"status": {
        "phase": "Running",
        "podIP": ip.to_string(),
        "podIPs": [{"ip": ip.to_string()}],
        "hostIP": host.to_string(),
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": flag},
            {"type": "Ready", "status": flag},
        ],
    }});
    let api = Api::<Pod>::namespaced(shared.admin.clone(), &shared.options.namespace);
    if let Err(error) = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
    {
        lock(&shared.failures).push(format!("{name}: status not written: {error}"));
    }
}

/// Stops the pod's process: SIGTERM, SIGKILL after [`GRACE`].
async fn stop(shared: &Shared, name: &str) {
    let Some(mut pod) = lock(&shared.pods).remove(name) else {
        return;
    };
    let Some(mut child) = pod.child.take() else {
        return;
    };
    if let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, Signal::TERM);
    }
    if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}
