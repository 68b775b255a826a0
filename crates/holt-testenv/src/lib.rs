//! Test harness for Holt: runs the real components Holt talks to on 127.0.0.1.
//!
//! In: the components built and cached by `scripts/build-test-components.sh` (versions in
//! `scripts/test-components.env`). Out: running etcd + kube-apiserver (+ kube-controller-manager), Kafka
//! and SPIRE server processes on free loopback ports, with what a test needs to use them; on demand, a
//! real node (containerd, kubelet, kube-scheduler, kube-proxy) that runs pods ([`Cluster`]); and Holt's own
//! binaries built for tests that run them as processes ([`build_binaries`]); and, on demand, a real
//! NetworkPolicy dataplane (pods as network namespaces, kube-router enforcing the policies: [`Dataplane`])
//! with a connectivity prober ([`Prober`]) that observes which calls get through; and a real headless
//! Chromium driven over the DevTools protocol ([`Browser`]) for Holt's web pages.

mod apiserver;
mod browser;
mod cluster;
mod components;
mod containerd;
mod control_plane;
mod controller_manager;
mod crds;
mod dataplane;
mod dataplane_error;
mod dataplane_pod;
mod endpoint;
mod error;
mod etcd;
mod eventually;
mod health;
mod helm;
mod holt_operator;
mod kafka;
mod kube_proxy;
mod kube_router;
mod kube_scheduler;
mod kubeconfig;
mod kubelet;
mod namespace_relay;
mod network_namespace;
mod node_network;
mod node_state;
mod outside_host;
mod pki;
mod pod_servers;
mod pods;
mod ports;
mod prober;
mod process;
mod reachability;
mod rundir;
mod service_accounts;
mod shared;
mod spire;
mod stop;
mod watchdog;
mod workspace_binaries;

pub use browser::{Browser, chromium_binary};
pub use cluster::{Cluster, ClusterOptions};
pub use components::{Component, MissingComponent, build_script, cache_root};
pub use containerd::{BUSYBOX_IMAGE, PAUSE_IMAGE};
pub use control_plane::{ControlPlane, ControlPlaneOptions, KubeUser};
pub use crds::{
    cert_manager_crds, create_custom_object, install_crds, install_crds_without_conversion, istio_crds_file,
    linkerd_policy_crds,
};
pub use dataplane::{Dataplane, NAMESPACE_PREFIX};
pub use dataplane_error::DataplaneError;
pub use dataplane_pod::DataplanePod;
pub use endpoint::Endpoint;
pub use error::Error;
pub use eventually::{POLL_INTERVAL, eventually};
pub use helm::{helm, helm_binary};
pub use holt_operator::HoltOperator;
pub use kafka::{KAFKA_ADMIN_CN, Kafka, KafkaClient, KafkaOptions, Produced};
pub use kubelet::NODE_NAME;
pub use network_namespace::NetworkNamespace;
pub use node_network::{FENCE_CHAIN, NetworkError, NodeAddressing, fence_drops};
pub use node_state::{CGROUP_ROOT, ClaimError, STATE_DIR};
pub use outside_host::OutsideHost;
pub use pki::{CertificateAuthority, IssuedCert, PkiError};
pub use pods::{deployment_serving, deployment_with_pod_ips, set_pod_ips};
pub use prober::{Converged, PROBE_TIMEOUT, ProbeError, Prober};
pub use process::{Lifetime, ProcessError, ProcessInfo, cpu_ms, metric_sample, rss_kib, wait_until};
pub use reachability::{Mismatch, Port, Probe, Protocol, Reachability, ReachabilityDiff};
pub use service_accounts::{
    ServiceAccountToken, TokenOptions, bind_role, request_token, service_account_token,
    write_token_kubeconfig,
};
pub use spire::{SpireOptions, SpireServer};
pub use stop::{Stopped, is_running, stop};
pub use workspace_binaries::{BUILD_VARIABLE, BuildMode, build_binaries, cargo_command};
