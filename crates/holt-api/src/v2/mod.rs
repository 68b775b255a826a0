//! Types shared by the two `v2` versions (`v2alpha1` and `v2beta1` have identical schemas).

pub mod kafka_server_config;
mod roots;
pub mod targets;

pub(crate) use roots::v2_roots;
