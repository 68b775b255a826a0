//! Types shared by the two `v2` versions (`v2alpha1` and `v2beta1` have identical schemas).

pub mod kafka_server_config;
pub mod targets;
