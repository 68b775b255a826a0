//! `k8s.otterize.com/v1alpha3`: the first v1 version still served (`spec.service` + `spec.calls`). It is
//! `v1beta1` without the `azureActions`/`azureDataActions` call fields; it converts through `v1beta1` to the
//! hub ([`crate::convert`]).

pub use crate::status::{ClientIntentsStatus, ConditionsStatus, ResolvedIps};
pub use crate::v1::{CallType, SERVICE_PREFIX};
pub use crate::v2::kafka_server_config::{KafkaTls, KafkaTopicConfig, TopicPattern};
pub use crate::v2::targets::{
    AzureKeyVaultPolicy, DatabaseOperation, HttpMethod, HttpResource, InternetTarget, KafkaOperation,
    KafkaTopic, SqlPrivileges, Workload,
};

crate::v1::v1_roots!("v1alpha3", {});
