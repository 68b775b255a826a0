//! The rules only v1 objects have (docs/reference-behaviour.md#validation), checked on the calls as written,
//! before conversion loses what they are about: an HTTP call cannot carry Kafka topics, an internet call
//! needs `internet`; and the calls the reference silently turns into empty targets.

use crate::v1::CallType;
use crate::v1beta1::Call;
use crate::validate::path::Layout;
use crate::validate::{Findings, Rule};

pub(super) fn check(calls: &[Call], findings: &mut Findings) {
    let layout = Layout::V1;
    for (index, call) in calls.iter().enumerate() {
        let at = |field: &str| layout.call_field(index, field);
        if *call == Call::default() {
            findings.error(at("name"), Rule::Required);
        }
        match call.call_type {
            Some(CallType::Http) if !call.kafka_topics.is_empty() => {
                findings.error(at("kafkaTopics"), Rule::V1HttpWithKafkaTopics);
            }
            Some(CallType::Internet) if call.internet.is_none() => {
                findings.error(at("internet"), Rule::V1InternetMissing);
            }
            Some(CallType::Kafka) if call.kafka_topics.is_empty() => {
                findings.warn(at("kafkaTopics"), Rule::V1KafkaWithoutTopics);
            }
            Some(CallType::Database) if call.database_resources.is_empty() => {
                findings.warn(at("databaseResources"), Rule::V1DatabaseWithoutResources);
            }
            None if !call.http_resources.is_empty() => {
                findings.warn(at("HTTPResources"), Rule::V1HttpResourcesIgnored);
            }
            _ => {}
        }
    }
}
