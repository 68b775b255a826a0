//! `k8s.otterize.com/v2beta1`: the newest served version and Holt's internal (hub) representation. Every
//! other version converts to and from these types ([`crate::convert`]); the model reads only these.

pub use crate::status::{ClientIntentsStatus, ConditionsStatus, ResolvedIps};
pub use crate::v2::kafka_server_config::{KafkaTls, KafkaTopicConfig, TopicPattern};
pub use crate::v2::targets::*;

crate::v2::v2_roots!("v2beta1");
