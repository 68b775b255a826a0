//! A small Kafka admin client for ACLs, over mutual TLS.
//!
//! In: bootstrap addresses, our certificate, key and the broker's CA as PEM ([`KafkaConfig`],
//! [`TlsIdentity`]), and ACLs as holt-render's [`KafkaAcl`]. Out: the broker's topic and group ACLs as
//! [`KafkaAcl`]s, ACLs created and deleted, and [`KafkaAdmin::reconcile`], which makes the ACLs a caller owns
//! match a desired set and reports the [`AclChanges`]. It speaks ApiVersions, Metadata, CreateAcls,
//! DescribeAcls and DeleteAcls with the `kafka-protocol` codecs over rustls (ring), negotiating the highest
//! version each side supports; every connect, handshake and request has a timeout, and retryable failures
//! are retried with capped exponential back-off ([`RetryPolicy`]). Failures are [`Error`]s with a
//! [`Category`] for status conditions and Events.

mod acls;
mod client;
mod config;
mod connection;
mod error;
mod framing;
mod metadata;
mod reconcile;
mod retry;
mod tls;
mod versions;

pub use acls::AclFilter;
pub use client::KafkaAdmin;
pub use config::{DEFAULT_CLIENT_ID, KafkaConfig};
pub use error::{AclFailure, BrokerError, Category, Error};
pub use holt_render::kafka::{AclOperation, AclPatternType, AclPermission, AclResourceType, KafkaAcl};
pub use metadata::{BrokerAddress, ClusterMetadata};
pub use reconcile::{AclChanges, plan};
pub use retry::RetryPolicy;
pub use tls::{TlsIdentity, server_name};
pub use versions::BrokerVersions;
