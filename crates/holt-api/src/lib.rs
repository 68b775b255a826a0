//! The `k8s.otterize.com` API as Holt serves it: a drop-in for the reference's CRDs.
//!
//! In: YAML/JSON objects of any served version (`v1alpha3`, `v1beta1`, `v2alpha1`, `v2beta1`; `v1alpha2` is
//! not served). Out: typed objects ([`any`] reads any of them), conversion between every pair of versions
//! ([`convert`]), one validation shared by the admission webhook, the operator and the CLI ([`validate`]),
//! and the CRD YAML generated from these types ([`crds`]). `v2beta1` is the hub: everything else in Holt
//! reads only [`v2beta1`] types; `v2alpha1` is the version the API server stores.

pub mod any;
pub mod convert;
pub mod crds;
mod object_ref;
mod served;
mod status;
mod v1;
pub mod v1alpha3;
pub mod v1beta1;
mod v2;
pub mod v2alpha1;
pub mod v2beta1;
pub mod validate;

pub use object_ref::ObjectRef;
pub use served::{Kind, Version};

/// The API group of every kind.
pub const GROUP: &str = "k8s.otterize.com";
