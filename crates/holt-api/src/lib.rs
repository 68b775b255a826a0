//! The `k8s.otterize.com` API as Holt serves it: a drop-in for the reference's CRDs.
//!
//! In: YAML/JSON objects of any served version (`v1alpha3`, `v1beta1`, `v2alpha1`, `v2beta1`).
//! Out: typed objects, conversion between every pair of versions ([`convert`]), one validation function
//! shared by the admission webhook, the operator and the CLI ([`validate`]), and the CRD YAML generated from
//! these types ([`crds`]). `v2beta1` is the hub: everything else in Holt reads only [`v2beta1`] types.

mod status;
mod v2;
pub mod v2beta1;

/// The API group of every kind.
pub const GROUP: &str = "k8s.otterize.com";
