//! A real NetworkPolicy dataplane for tests: pods that are network namespaces on a bridge, described to
//! the test API server as Pods on one Node, and kube-router's network policy controller enforcing the
//! cluster's NetworkPolicies on their traffic.
//!
//! In: a running [`ControlPlane`] and, per pod, a Deployment name (or an existing Pod) and the ports it
//! listens on. Out: a [`Dataplane`] whose pods answer on those ports from inside their namespaces, so that
//! the [`crate::Prober`] can observe which calls the enforced policies let through.
//!
//! Layout, all of it inside network namespaces this value creates (named `hdp-<pid>-<n>-…`, so parallel
//! test processes and tests never share one):
//!
//! - the *node* namespace holds the bridge `br0` with the node's address `10.250.<n>.1/24` (the Node
//!   object's InternalIP), `bridge-nf-call-iptables` on (bridged traffic passes iptables' FORWARD chain),
//!   a relay from `127.0.0.1:<port>` to the API server (kube-router's only way out), and kube-router, which
//!   programs this namespace's filter table and ipsets and nothing else on the machine;
//! - each *pod* namespace holds `eth0` (a veth into the bridge) with `10.250.<n>.<i>/24`, a default route
//!   via the node's address, and a server per port (TCP accepts, UDP echoes);
//! - each *outside host* namespace ([`Dataplane::outside_host`]) holds `eth0` with an address outside the
//!   pods' range, linked by a veth pair of its own to the node, which routes between it and the pods
//!   (`ip_forward` on in the node namespace only): a load balancer, another node or the internet.
//!
//! The Pod objects are what a kubelet would have made of them: bound to the Node (`spec.nodeName`, through
//! the binding subresource, as a scheduler does), `status.phase: Running`, `status.hostIP` the node's
//! address (kube-router enforces policies for the pods whose `hostIP` is its node's) and `status.podIP` the
//! namespace's address. IPv4 only: IPv6 is switched off in every namespace.
//!
//! Teardown: dropping the dataplane kills kube-router, stops the relay and the servers and deletes the
//! namespaces — and with them every chain, rule and ipset kube-router made. If the test process dies first,
//! the watchdog runs the cleanup script this value keeps up to date (`ip netns del` of each namespace), and
//! the next dataplane of any test process deletes `hdp-<pid>-…` namespaces whose process is gone. The Node
//! and Pod objects stay on the API server (they go with the control plane).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::control_plane::ControlPlane;
use crate::dataplane_error::DataplaneError;
use crate::dataplane_pod::DataplanePod;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::eventually::eventually;
use crate::kube_router::{KubeRouter, KubeRouterSettings};
use crate::kubeconfig;
use crate::namespace_relay::NamespaceRelay;
use crate::network_namespace::{EnterHandle, NetworkNamespace, run, veth};
use crate::outside_host::OutsideHost;
use crate::pod_servers::PodServer;
use crate::prober::Prober;
use crate::process::{Lifetime, ProcessInfo, log_tail};
use crate::reachability::{Port, Reachability};
use crate::rundir::RunDir;
use crate::watchdog;

/// Prefix of every network namespace a dataplane creates: `hdp-<pid>-<n>-node`, `hdp-<pid>-<n>-<i>`.
pub const NAMESPACE_PREFIX: &str = "hdp-";
/// The Services' range kube-router is told (the test API server's default).
const SERVICE_CIDR: &str = "10.0.0.0/24";
/// How long the controller-manager may take to create a Deployment's pod.
const POD_TIMEOUT: Duration = Duration::from_secs(60);
/// The image of the Deployments' pods: never pulled (no kubelet runs them).
const IMAGE: &str = "registry.example/holt-dataplane:1";

/// The next dataplane's number in this process: its node's /24 is `10.250.<n>.0/24`.
static NEXT: AtomicU8 = AtomicU8::new(1);

/// A node with pods whose traffic kube-router polices. Dropping it removes all of it from the machine.
#[derive(Debug)]
pub struct Dataplane {
    // Fields drop in order: the policy engine and the relay first, then the pods, then the node's namespace,
    // then the cleanup script (nothing left for it to do).
    kube_router: KubeRouter,
    /// kube-router's way to the API server (held for its drop).
    _apiserver_relay: NamespaceRelay,
    /// Relays a test opened for programs it runs in the node namespace ([`Dataplane::relay`]).
    relays: Mutex<Vec<NamespaceRelay>>,
    /// The pods' and outside hosts' namespaces with their servers.
    pods: Mutex<Vec<PodNetwork>>,
    node: NetworkNamespace,
    node_name: String,
    node_ip: Ipv4Addr,
    /// The last octet of the next pod's address (`.1` is the node's).
    next_host: AtomicUsize,
    /// The number of the next outside host (its namespace `…-x<k>`, its link `x<k>` on the node).
    next_outside: AtomicUsize,
    cleanup: CleanupScript,
    dir: RunDir,
}

/// A pod's (or outside host's) namespace and its servers (stopped before the namespace is deleted).
#[derive(Debug)]
struct PodNetwork {
    _servers: Vec<PodServer>,
    _namespace: NetworkNamespace,
}

impl Dataplane {
    /// Creates the node namespace and its bridge, the Node object, and starts kube-router against `plane`;
    /// returns once kube-router is healthy and has hooked its chains.
    pub async fn start(plane: &ControlPlane) -> Result<Self, Error> {
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        if number == 0 || number > 250 {
            return Err(DataplaneError::Invalid {
                what: "dataplane number".to_owned(),
                reason: "at most 250 dataplanes per test process (one /24 of 10.250.0.0/16 each)".to_owned(),
            }
            .into());
        }
        sweep_leftovers();
        let prefix = format!("{NAMESPACE_PREFIX}{}-{number}", std::process::id());
        let node_ip = Ipv4Addr::new(10, 250, number, 1);
        let node_name = format!("holt-dataplane-{number}");
        let dir = RunDir::new("dataplane", None, Lifetime::Test).map_err(|source| DataplaneError::Io {
            action: "create the directory of",
            path: PathBuf::from("the dataplane"),
            source,
        })?;
        let cleanup = CleanupScript::create(&dir.join("cleanup.sh"))?;

        let node_namespace = format!("{prefix}-node");
        cleanup.delete_namespace_later(&node_namespace)?;
        let node = NetworkNamespace::create(&node_namespace)?;
        node.run("sysctl", &["-q", "-w", "net.bridge.bridge-nf-call-iptables=1"])?;
        node.run("sysctl", &["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])?;
        // kube-router rejects a blocked call with an ICMP error the node sends; the kernel's ICMP rate limits
        // (about six errors in a burst per destination) would turn a caller's later rejections into drops,
        // and its probes into timeouts.
        node.run("sysctl", &["-q", "-w", "net.ipv4.icmp_ratemask=0"])?;
        node.ip(&["link", "add", "br0", "type", "bridge"])?;
        node.ip(&["addr", "add", &format!("{node_ip}/24"), "dev", "br0"])?;
        node.ip(&["link", "set", "br0", "up"])?;

        let client = plane.client().await?;
        create_node(&client, &node_name, node_ip).await?;

        let relay = NamespaceRelay::start(&node, apiserver_address(plane)?)?;
        let kubeconfig_path = dir.join("kube-router.kubeconfig");
        let paths = plane.paths();
        let files = paths.controller();
        kubeconfig::write(
            &kubeconfig_path,
            &format!("https://127.0.0.1:{}", relay.port()),
            files.ca,
            &files.client,
        )?;
        let settings = KubeRouterSettings {
            kubeconfig: &kubeconfig_path,
            node_name: &node_name,
            service_cidr: SERVICE_CIDR,
        };
        let kube_router = KubeRouter::start(&node, dir.path(), settings, Lifetime::Test).await?;
        Ok(Self {
            kube_router,
            _apiserver_relay: relay,
            relays: Mutex::new(Vec::new()),
            pods: Mutex::new(Vec::new()),
            node,
            node_name,
            node_ip,
            next_host: AtomicUsize::new(2),
            next_outside: AtomicUsize::new(1),
            cleanup,
            dir,
        })
    }

    /// Creates Deployment `name` in `namespace` (one replica, pods labelled `app: <name>`), waits for the
    /// controller-manager's pod (the control plane must run it, as it does by default) and attaches it
    /// ([`Dataplane::attach`]) listening on `ports`; the prober labels it `name`.
    pub async fn deployment(
        &self,
        client: &Client,
        namespace: &str,
        name: &str,
        ports: &[Port],
    ) -> Result<DataplanePod, Error> {
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": name, "image": IMAGE}]}
                }
            }
        }))
        .map_err(|e| DataplaneError::Invalid {
            what: format!("Deployment {namespace}/{name}"),
            reason: e.to_string(),
        })?;
        self.deploy(client, namespace, &deployment, ports).await
    }

    /// Creates `deployment` in `namespace` as the test wrote it (container ports with names, labels, ...;
    /// one replica is what the dataplane attaches, its selector's `matchLabels` find the pod), waits for the
    /// controller-manager's pod and attaches it ([`Dataplane::attach`]) listening on `ports`; the prober
    /// labels it with the Deployment's name.
    pub async fn deploy(
        &self,
        client: &Client,
        namespace: &str,
        deployment: &Deployment,
        ports: &[Port],
    ) -> Result<DataplanePod, Error> {
        let name = deployment
            .metadata
            .name
            .clone()
            .ok_or_else(|| DataplaneError::Invalid {
                what: format!("a Deployment for namespace {namespace}"),
                reason: "metadata.name is missing".to_owned(),
            })?;
        let selector = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.match_labels.as_ref())
            .filter(|labels| !labels.is_empty())
            .map(|labels| {
                labels
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .ok_or_else(|| DataplaneError::Invalid {
                what: format!("Deployment {namespace}/{name}"),
                reason: "spec.selector.matchLabels is missing or empty (it finds the Deployment's pod)"
                    .to_owned(),
            })?;
        Api::<Deployment>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), deployment)
            .await
            .map_err(DataplaneError::kube(format!(
                "create Deployment {namespace}/{name}"
            )))?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let pod = eventually(
            &format!("a pod of Deployment {namespace}/{name}"),
            POD_TIMEOUT,
            || async {
                let list = pods.list(&ListParams::default().labels(&selector)).await?;
                Ok(list.items.first().and_then(|p| p.metadata.name.clone()))
            },
        )
        .await
        .map_err(|e| DataplaneError::Timeout {
            what: format!("{e:#}"),
        })?;
        self.attach_labelled(client, namespace, &pod, &name, ports).await
    }

    /// Gives the existing Pod `namespace/pod` a network namespace on the bridge with the next free address,
    /// a server on each of `ports`, binds it to the node and sets its status as a kubelet would (Running,
    /// `hostIP`, `podIP`); the prober labels it `pod`. A Pod bound to another Node is refused (so is a
    /// [`crate::Cluster`]'s control plane, whose scheduler would race the dataplane for its pods).
    pub async fn attach(
        &self,
        client: &Client,
        namespace: &str,
        pod: &str,
        ports: &[Port],
    ) -> Result<DataplanePod, Error> {
        self.attach_labelled(client, namespace, pod, pod, ports).await
    }

    async fn attach_labelled(
        &self,
        client: &Client,
        namespace: &str,
        pod: &str,
        label: &str,
        ports: &[Port],
    ) -> Result<DataplanePod, Error> {
        let (ip, handle) = self.pod_network(ports)?;
        place_pod(client, namespace, pod, &self.node_name, self.node_ip, ip).await?;
        eprintln!(
            "dataplane: pod {namespace}/{pod} ({label}) at {ip}, network namespace {}",
            handle.name()
        );
        Ok(DataplanePod {
            endpoint: Endpoint {
                label: label.to_owned(),
                ip,
                ports: ports.to_vec(),
                network: handle,
            },
            namespace: namespace.to_owned(),
            name: pod.to_owned(),
        })
    }

    /// A host outside the cluster at `ip` (outside the pods' `10.250.<n>.0/24`), listening on `ports`: a
    /// namespace of its own linked to the node by a veth pair, the node routing between it and the pods
    /// ([`OutsideHost`]). The prober labels it `label`.
    pub fn outside_host(&self, label: &str, ip: Ipv4Addr, ports: &[Port]) -> Result<OutsideHost, Error> {
        let octets = self.node_ip.octets();
        let reserved = ip.octets()[..3] == octets[..3] || ip.is_loopback() || ip.is_unspecified();
        if reserved {
            return Err(DataplaneError::Invalid {
                what: format!("outside host {label} at {ip}"),
                reason: format!(
                    "its address must be outside the pods' range {}.{}.{}.0/24 (and not loopback or 0.0.0.0)",
                    octets[0], octets[1], octets[2]
                ),
            }
            .into());
        }
        let number = self.next_outside.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-x{number}", self.node.name().trim_end_matches("-node"));
        self.cleanup.delete_namespace_later(&name)?;
        let namespace = NetworkNamespace::create(&name)?;
        namespace.run("sysctl", &["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])?;
        let link = format!("x{number}");
        veth(&self.node, &link, &namespace, "eth0")?;
        let node_ip = self.node_ip.to_string();
        namespace.ip(&["addr", "add", &format!("{ip}/32"), "dev", "eth0"])?;
        namespace.ip(&["route", "add", &node_ip, "dev", "eth0", "scope", "link"])?;
        namespace.ip(&["route", "add", "default", "via", &node_ip, "dev", "eth0"])?;
        self.node
            .ip(&["route", "add", &format!("{ip}/32"), "dev", &link])?;
        self.node.run("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"])?;
        let handle = self.keep(namespace, ports)?;
        eprintln!(
            "dataplane: outside host {label} at {ip}, network namespace {}",
            handle.name()
        );
        Ok(OutsideHost {
            endpoint: Endpoint {
                label: label.to_owned(),
                ip,
                ports: ports.to_vec(),
                network: handle,
            },
        })
    }

    /// The next pod's namespace, wired to the bridge, with its servers.
    fn pod_network(&self, ports: &[Port]) -> Result<(Ipv4Addr, EnterHandle), Error> {
        let index = self.next_host.fetch_add(1, Ordering::Relaxed);
        let host = u8::try_from(index)
            .ok()
            .filter(|host| *host < 255)
            .ok_or_else(|| DataplaneError::Invalid {
                what: format!("pod number {index}"),
                reason: "at most 253 pods per dataplane (one /24)".to_owned(),
            })?;
        let octets = self.node_ip.octets();
        let ip = Ipv4Addr::new(octets[0], octets[1], octets[2], host);
        let name = format!("{}-{host}", self.node.name().trim_end_matches("-node"));
        self.cleanup.delete_namespace_later(&name)?;
        let namespace = NetworkNamespace::create(&name)?;
        namespace.run("sysctl", &["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])?;
        let port_name = format!("p{host}");
        veth(&self.node, &port_name, &namespace, "eth0")?;
        self.node.ip(&["link", "set", &port_name, "master", "br0"])?;
        namespace.ip(&["addr", "add", &format!("{ip}/24"), "dev", "eth0"])?;
        namespace.ip(&["route", "add", "default", "via", &self.node_ip.to_string()])?;
        let handle = self.keep(namespace, ports)?;
        Ok((ip, handle))
    }

    /// Starts a server on each of `ports` in `namespace` and keeps both until the dataplane is dropped.
    fn keep(&self, namespace: NetworkNamespace, ports: &[Port]) -> Result<EnterHandle, Error> {
        let servers = ports
            .iter()
            .map(|port| PodServer::start(&namespace, *port))
            .collect::<Result<Vec<_>, _>>()?;
        let handle = namespace.enter_handle()?;
        self.pods
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(PodNetwork {
                _servers: servers,
                _namespace: namespace,
            });
        Ok(handle)
    }

    /// The Node object's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The node's address: the Node's InternalIP, on the bridge, every pod's gateway.
    pub fn node_ip(&self) -> Ipv4Addr {
        self.node_ip
    }

    /// The node's network namespace (where kube-router's chains and ipsets are: `ip netns exec <it>
    /// iptables-save`).
    pub fn node_namespace(&self) -> &NetworkNamespace {
        &self.node
    }

    /// kube-router's process.
    pub fn kube_router(&self) -> ProcessInfo {
        self.kube_router.process.info()
    }

    /// From kube-router's spawn until it was healthy with its chains hooked.
    pub fn kube_router_startup(&self) -> Duration {
        self.kube_router.startup
    }

    /// The directory with kube-router's kubeconfig and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Opens `127.0.0.1:<port>` inside the node namespace and carries its connections to `upstream` in
    /// the test's own namespace (a server the test runs, for a program it runs on the node, such as a
    /// sniffer reporting to a mapper). Returns the port; the relay lives as long as the dataplane.
    pub fn relay(&self, upstream: SocketAddr) -> Result<u16, Error> {
        let relay = NamespaceRelay::start(&self.node, upstream)?;
        let port = relay.port();
        self.relays
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(relay);
        Ok(port)
    }

    /// Probes with `prober` until the matrix is `expected` (for at most `timeout`), then says on standard
    /// error how long that took from `since` — the change that should bring it, usually an API write —
    /// under `what`, and returns it. A failure carries both grids, the cells that differ and the tail of kube-router's log.
    pub async fn enforced(
        &self,
        prober: &Prober,
        expected: &Reachability,
        timeout: Duration,
        what: &str,
        since: Instant,
    ) -> Result<Duration, DataplaneError> {
        if let Err(source) = prober.converge(expected, timeout).await {
            return Err(DataplaneError::NotEnforced {
                what: what.to_owned(),
                source,
                kube_router_log: self.kube_router_log_tail(),
            });
        }
        let took = since.elapsed();
        eprintln!(
            "dataplane: {what} enforced {:.3} s after the change",
            took.as_secs_f64()
        );
        Ok(took)
    }

    /// The last lines of kube-router's log (its scratch directory goes when the test process ends: print
    /// this when a check fails).
    pub fn kube_router_log_tail(&self) -> String {
        log_tail(&self.kube_router.process.info().log)
    }
}

/// The API server's address on the machine, from the control plane's URL (`https://<ip>:<port>`).
fn apiserver_address(plane: &ControlPlane) -> Result<SocketAddr, DataplaneError> {
    let url = plane.url();
    url.strip_prefix("https://")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .ok_or_else(|| DataplaneError::Invalid {
            what: format!("the API server URL {url}"),
            reason: "not https://<IPv4>:<port>".to_owned(),
        })
}

/// Creates (or replaces the status of) the Node object with `ip` as its InternalIP.
async fn create_node(client: &Client, name: &str, ip: Ipv4Addr) -> Result<(), DataplaneError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
    }))
    .map_err(|e| DataplaneError::Invalid {
        what: format!("Node {name}"),
        reason: e.to_string(),
    })?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(source) => return Err(DataplaneError::kube(format!("create Node {name}"))(source)),
    }
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": ip.to_string()}, {"type": "Hostname", "address": name}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "HoltDataplane",
                        "message": "network namespaces of holt-testenv"}],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(DataplaneError::kube(format!("set the status of Node {name}")))?;
    Ok(())
}

/// Binds the Pod to the node (unless it is bound already) and sets its status as the node's kubelet would.
async fn place_pod(
    client: &Client,
    namespace: &str,
    pod: &str,
    node: &str,
    node_ip: Ipv4Addr,
    ip: Ipv4Addr,
) -> Result<(), DataplaneError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = pods
        .get(pod)
        .await
        .map_err(DataplaneError::kube(format!("read Pod {namespace}/{pod}")))?;
    let bound_to = current.spec.as_ref().and_then(|spec| spec.node_name.clone());
    match bound_to.as_deref() {
        None => {
            let binding = json!({
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": pod, "namespace": namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            pods.create_subresource::<_, serde_json::Value>("binding", pod, &PostParams::default(), &binding)
                .await
                .map_err(DataplaneError::kube(format!(
                    "bind Pod {namespace}/{pod} to Node {node}"
                )))?;
        }
        Some(bound) if bound == node => {}
        Some(other) => {
            return Err(DataplaneError::Invalid {
                what: format!("Pod {namespace}/{pod}"),
                reason: format!("it is bound to Node {other}, not to this dataplane's {node}"),
            });
        }
    }
    let status = json!({"status": {
        "phase": "Running",
        "hostIP": node_ip.to_string(),
        "hostIPs": [{"ip": node_ip.to_string()}],
        "podIP": ip.to_string(),
        "podIPs": [{"ip": ip.to_string()}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }});
    pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(DataplaneError::kube(format!(
            "set the status of Pod {namespace}/{pod}"
        )))?;
    Ok(())
}

/// The shell script the watchdog runs if the test process dies with the dataplane still up: one `ip netns
/// del` per namespace, written before the namespace is created. Removed when the dataplane is dropped.
#[derive(Debug)]
struct CleanupScript {
    path: PathBuf,
}

impl CleanupScript {
    fn create(path: &Path) -> Result<Self, DataplaneError> {
        std::fs::write(path, "# holt-testenv dataplane: namespaces to delete\n").map_err(|source| {
            DataplaneError::Io {
                action: "write",
                path: path.to_path_buf(),
                source,
            }
        })?;
        watchdog::clean_up_with(path).map_err(|source| DataplaneError::Io {
            action: "register with the watchdog",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    fn delete_namespace_later(&self, namespace: &str) -> Result<(), DataplaneError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|source| DataplaneError::Io {
                action: "open",
                path: self.path.clone(),
                source,
            })?;
        writeln!(file, "ip netns del {namespace} 2>/dev/null").map_err(|source| DataplaneError::Io {
            action: "append to",
            path: self.path.clone(),
            source,
        })
    }
}

impl Drop for CleanupScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Deletes the namespaces of dataplanes whose test process is gone (a crash that even the watchdog did not
/// survive). Namespaces of running processes are left alone.
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(NAMESPACE_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run("ip", &["netns", "del", &name]);
        }
    }
}
