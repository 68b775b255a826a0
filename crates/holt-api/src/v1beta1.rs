//! `k8s.otterize.com/v1beta1`: the newest v1 version (`spec.service` + `spec.calls`); `v1alpha3` plus the
//! Azure `azureActions`/`azureDataActions` call fields. The v1 ↔ v2 conversion rules are written against this
//! version ([`crate::convert`]).

pub use crate::status::{ClientIntentsStatus, ConditionsStatus, ResolvedIps};
pub use crate::v1::{CallType, SERVICE_PREFIX};
pub use crate::v2::kafka_server_config::{KafkaTls, KafkaTopicConfig, TopicPattern};
pub use crate::v2::targets::{
    AzureKeyVaultPolicy, DatabaseOperation, HttpMethod, HttpResource, InternetTarget, KafkaOperation,
    KafkaTopic, SqlPrivileges, Workload,
};

crate::v1::v1_roots!("v1beta1", {
    /// Azure data-plane actions of a custom role (exclusive with `azureRoles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azure_data_actions: Vec<String>,
    /// Azure control-plane actions of a custom role (exclusive with `azureRoles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub azure_actions: Vec<String>,
});
