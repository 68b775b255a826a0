//! Kafka ACLs: which topic and group operations a broker's authorizer lets a principal perform, and why.
//!
//! In: ACL bindings as holt-render writes them and holt-kafka reads them from brokers ([`KafkaAcl`]:
//! principal, host, operation, permission, topic or group, literal or prefixed name), and optionally the
//! broker's super users, gathered by [`KafkaAuthorizer::new`]. Out: for each [`KafkaRequest`] (principal,
//! host, operation, topic or group) a [`KafkaVerdict`]: allowed or denied, and the binding that decided or
//! the absence of one. Cluster, transactional-id and delegation-token bindings never decide a topic or group
//! request, so they are not part of the input. The semantics are stated in `docs/reach.md`.
//!
//! [`KafkaAcl`]: holt_render::kafka::KafkaAcl

mod authorizer;
mod request;
mod verdict;

pub use authorizer::{KafkaAuthorizer, WILDCARD_PRINCIPAL};
pub use request::{KafkaRequest, KafkaRequestError};
pub use verdict::{KafkaDecision, KafkaVerdict};
