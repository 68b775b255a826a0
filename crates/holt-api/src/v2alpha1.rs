//! `k8s.otterize.com/v2alpha1`: the version the API server stores objects in (as the reference does). Its
//! schema is identical to [`crate::v2beta1`]'s; only the roots are distinct types, and they convert to the hub
//! field by field without loss.

pub use crate::status::{ClientIntentsStatus, ConditionsStatus, ResolvedIps};
pub use crate::v2::kafka_server_config::{KafkaTls, KafkaTopicConfig, TopicPattern};
pub use crate::v2::targets::*;

crate::v2::v2_roots!("v2alpha1");
