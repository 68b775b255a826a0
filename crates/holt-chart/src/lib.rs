//! The Helm chart `deploy/helm/holt` as its tests see it.
//!
//! In: the chart's directory, the real `helm` and control plane of `holt-testenv`, and Holt's binaries
//! (built on demand with cargo). Out: rendered manifests as JSON values ([`chart`]), ServiceAccount tokens
//! and kubeconfigs holding only them ([`token`]), and a local stand-in for a Kubernetes node ([`node`]):
//! it runs the containers of the chart's pods as local processes, the way a kubelet would — arguments,
//! environment, ConfigMap/Secret/token volumes, probes and pod status — with a loopback address per pod and
//! a forwarder per Service in place of the pod network and kube-proxy ([`forward`]).
//!
//! The stand-in exists because these machines have no kubelet: what it cannot show (images pulled and run by
//! a container runtime, security contexts, capabilities, network policies enforced) is listed in
//! docs/install.md.

pub mod binaries;
pub mod chart;
pub mod container;
pub mod error;
pub mod forward;
pub mod http_probe;
pub mod node;
pub mod token;

pub use error::Error;
