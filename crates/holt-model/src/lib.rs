//! The pure access model shared by every Holt front end (operator, `holt plan`, mapper, webhook).
//!
//! In: Kubernetes objects reduced to [`facts`] (pods, owners, Services, Ingresses) and Holt's own kinds in
//! their `v2beta1` form, fed one at a time into the [`Index`] with [`Index::apply`] / [`Index::delete`].
//! Out: the effective access model — for each server, which clients may call it, how, and whether that is
//! enforced ([`ServerAccess`]); for each Kafka broker, who may use which topics ([`KafkaAccess`]) — and, for
//! every change, the [`Changes`] it caused, so only those parts are rendered again.
//!
//! No clients, no async, no I/O: everything here is plain data and is tested with plain `#[test]`s.

pub mod access;
pub mod access_annotation;
pub mod calls;
pub mod changes;
pub mod config;
mod effective;
pub mod facts;
pub mod identity;
pub mod index;
pub mod labels;
pub mod mesh;
pub mod resolve;
pub mod sorted_map;
pub mod sorted_set;

pub use access::{Declaration, Enforcement, Grant, KafkaAccess, ServerAccess, TopicGrants};
pub use calls::Call;
pub use changes::{Changes, Unit};
pub use config::{Config, Mode, ThirdPartyPolicies};
pub use effective::has_ingress_policy;
pub use facts::ObjectKey;
pub use identity::Identity;
pub use index::{Index, IndexSizes, IndexedIntents, IndexedPod, IndexedRef, Object};
