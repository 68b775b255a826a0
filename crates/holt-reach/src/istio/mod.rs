//! Istio AuthorizationPolicies (`security.istio.io/v1`): which requests a meshed workload's sidecar lets
//! through, and why.
//!
//! In: every AuthorizationPolicy of the cluster ([`AuthorizationPolicyManifest`], as manifests hold them)
//! and the mesh's root namespace, checked once by [`Mesh::new`]. Out: for each [`MeshRequest`] (a source
//! principal, a destination workload, a port, and the HTTP method and path when there are any) a
//! [`MeshVerdict`]: allowed or denied, the policy and rule that decided, the CUSTOM providers that are also
//! asked, and the AUDIT policies that log it. The semantics are stated in `docs/reach.md`.

mod manifest;
mod mesh;
mod policy;
mod request;
mod string_match;
mod verdict;

pub use manifest::{
    AuthorizationPolicyManifest, AuthorizationPolicySpec, FromManifest, OperationManifest, OtherFields,
    Provider, RuleManifest, SourceManifest, ToManifest, WorkloadSelector,
};
pub use mesh::{DEFAULT_ROOT_NAMESPACE, Mesh};
pub use policy::{Action, MeshPolicyError};
pub use request::{HttpRequest, MeshRequest, MeshSource, MeshWorkload};
pub use string_match::{StringPattern, StringPatternError};
pub use verdict::{MatchedRule, MeshDecision, MeshVerdict, ProviderCheck};
