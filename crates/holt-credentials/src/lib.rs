//! The credentials operator: mTLS certificates for workload identities, in Secrets the pods mount.
//!
//! In: pods (their metadata) that carry the reference's annotation
//! `credentials-operator.otterize.com/tls-secret-name` (or its deprecated `spire-integration.otterize.com/`
//! form) and the other certificate annotations; their owners, to resolve each pod's workload identity as
//! the intents operator does (holt-model's owner chain and override annotation); a CA. Out: per requested
//! Secret name, a Secret in the pod's namespace holding a certificate for `<workload>.<namespace>` (CN, DNS
//! SANs, SPIFFE ID URI SAN) as PEM files or Java keystores, owned by the pod's root owner, renewed before it
//! expires; Events on the pods; metrics.
//!
//! The pure core — [`annotations`] (what a pod asks), [`request`] (one certificate per Secret), [`subject`]
//! (what it names), [`secret`] (what the Secret holds), [`renewal`] (when to rewrite), [`ca`] and
//! [`jks`] — does no I/O and is unit-tested. [`provider`] issues: the built-in CA; SPIRE's server API
//! (entries, SVIDs, bundle); cert-manager Certificates, which the controller writes instead of Secrets.
//! [`ca_store`] keeps the built-in CA in a Secret of the
//! operator's namespace; [`controller`] watches pods and writes Secrets. docs/credentials.md describes the
//! behaviour and where it differs from the reference.

pub mod annotations;
pub mod ca;
pub mod ca_store;
pub mod controller;
pub mod events;
pub mod health;
pub mod jks;
pub mod owners;
pub mod provider;
pub mod rbac;
pub mod renewal;
pub mod request;
pub mod restart;
pub mod secret;
pub mod settings;
pub mod subject;

pub use controller::{Options, Progress, start};
