//! Pure renderers: Holt's effective access model in, desired objects out.
//!
//! In: an [`Index`](holt_model::Index) (with its [`Config`](holt_model::Config)) and, for Kafka, how
//! principals are spelled ([`KafkaOptions`]). Out: the access NetworkPolicies, ProtectedService default-denies,
//! external-traffic policies, Istio AuthorizationPolicies, Linkerd policies, Kafka ACL sets and pod labels
//! Holt wants, each carrying `app.kubernetes.io/managed-by: holt`, and [`Notice`]s for declared access that
//! cannot be enforced.
//! One function per render unit of [`Changes`](holt_model::Changes), so the operator re-renders only what a
//! change touched: [`render_identity`], [`render_pod`], [`render_service`], [`render_protected_service`],
//! [`render_broker`]; and [`render_all`] for `holt plan`. No clients, no async, no I/O.

pub mod default_deny;
pub mod desired;
pub mod external_traffic;
mod http_coverage;
pub mod identity;
pub mod istio;
pub mod kafka;
pub mod linkerd;
mod mesh_clients;
pub mod network_policy;
pub mod notice;
pub mod object_kind;
pub mod pod_labels;
pub mod state;
pub mod unit;

pub use default_deny::render_protected_service;
pub use desired::{Desired, Manifest, Owner, Rendered};
pub use external_traffic::render_service;
pub use identity::render_identity;
pub use istio::AuthorizationPolicy;
pub use kafka::{KafkaAcl, KafkaAcls, KafkaOptions, render_broker};
pub use linkerd::objects::LinkerdObject;
pub use notice::{Notice, Reason, Subject};
pub use object_kind::{ApiType, KindReasons, ObjectKind};
pub use pod_labels::{LabelPatch, PodLabels, render_pod};
pub use state::{DesiredState, RenderOptions, render_all};
pub use unit::{UnitState, render_unit};
