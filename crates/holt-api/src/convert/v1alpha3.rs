//! `v1alpha3` ↔ `v1beta1` (and so ↔ hub): the same shape, except that `v1beta1` calls may carry
//! `azureActions`/`azureDataActions`. Up is lossless; down drops those two lists, which `v1alpha3` cannot hold.

use crate::convert::Convertible;
use crate::{v1alpha3, v1beta1, v2beta1};

impl From<v1alpha3::Call> for v1beta1::Call {
    fn from(call: v1alpha3::Call) -> Self {
        let v1alpha3::Call {
            name,
            kind,
            call_type,
            kafka_topics,
            http_resources,
            database_resources,
            aws_actions,
            gcp_permissions,
            azure_roles,
            azure_key_vault_policy,
            internet,
        } = call;
        v1beta1::Call {
            name,
            kind,
            call_type,
            kafka_topics,
            http_resources,
            database_resources,
            aws_actions,
            gcp_permissions,
            azure_roles,
            azure_data_actions: Vec::new(),
            azure_actions: Vec::new(),
            azure_key_vault_policy,
            internet,
        }
    }
}

/// Lossy: `azureActions` and `azureDataActions` do not exist in `v1alpha3` and are dropped.
impl From<v1beta1::Call> for v1alpha3::Call {
    fn from(call: v1beta1::Call) -> Self {
        let v1beta1::Call {
            name,
            kind,
            call_type,
            kafka_topics,
            http_resources,
            database_resources,
            aws_actions,
            gcp_permissions,
            azure_roles,
            azure_data_actions: _,
            azure_actions: _,
            azure_key_vault_policy,
            internet,
        } = call;
        v1alpha3::Call {
            name,
            kind,
            call_type,
            kafka_topics,
            http_resources,
            database_resources,
            aws_actions,
            gcp_permissions,
            azure_roles,
            azure_key_vault_policy,
            internet,
        }
    }
}

impl From<v1alpha3::ClientIntents> for v1beta1::ClientIntents {
    fn from(object: v1alpha3::ClientIntents) -> Self {
        let v1alpha3::ClientIntentsSpec { service, calls } = object.spec;
        v1beta1::ClientIntents {
            metadata: object.metadata,
            spec: v1beta1::ClientIntentsSpec {
                service,
                calls: calls.into_iter().map(Into::into).collect(),
            },
            status: object.status,
        }
    }
}

impl From<v1beta1::ClientIntents> for v1alpha3::ClientIntents {
    fn from(object: v1beta1::ClientIntents) -> Self {
        let v1beta1::ClientIntentsSpec { service, calls } = object.spec;
        v1alpha3::ClientIntents {
            metadata: object.metadata,
            spec: v1alpha3::ClientIntentsSpec {
                service,
                calls: calls.into_iter().map(Into::into).collect(),
            },
            status: object.status,
        }
    }
}

impl From<v1alpha3::ProtectedService> for v1beta1::ProtectedService {
    fn from(object: v1alpha3::ProtectedService) -> Self {
        let v1alpha3::ProtectedServiceSpec { name, kind } = object.spec;
        v1beta1::ProtectedService {
            metadata: object.metadata,
            spec: v1beta1::ProtectedServiceSpec { name, kind },
            status: object.status,
        }
    }
}

impl From<v1beta1::ProtectedService> for v1alpha3::ProtectedService {
    fn from(object: v1beta1::ProtectedService) -> Self {
        let v1beta1::ProtectedServiceSpec { name, kind } = object.spec;
        v1alpha3::ProtectedService {
            metadata: object.metadata,
            spec: v1alpha3::ProtectedServiceSpec { name, kind },
            status: object.status,
        }
    }
}

impl From<v1alpha3::KafkaServerConfig> for v1beta1::KafkaServerConfig {
    fn from(object: v1alpha3::KafkaServerConfig) -> Self {
        let v1alpha3::KafkaServerConfigSpec {
            service,
            addr,
            no_auto_create_intents_for_operator,
            tls,
            topics,
        } = object.spec;
        v1beta1::KafkaServerConfig {
            metadata: object.metadata,
            spec: v1beta1::KafkaServerConfigSpec {
                service,
                addr,
                no_auto_create_intents_for_operator,
                tls,
                topics,
            },
            status: object.status,
        }
    }
}

impl From<v1beta1::KafkaServerConfig> for v1alpha3::KafkaServerConfig {
    fn from(object: v1beta1::KafkaServerConfig) -> Self {
        let v1beta1::KafkaServerConfigSpec {
            service,
            addr,
            no_auto_create_intents_for_operator,
            tls,
            topics,
        } = object.spec;
        v1alpha3::KafkaServerConfig {
            metadata: object.metadata,
            spec: v1alpha3::KafkaServerConfigSpec {
                service,
                addr,
                no_auto_create_intents_for_operator,
                tls,
                topics,
            },
            status: object.status,
        }
    }
}

macro_rules! through_v1beta1 {
    ($($kind:ident),*) => {$(
        impl Convertible for v1alpha3::$kind {
            type Hub = v2beta1::$kind;
            fn into_hub(self) -> Self::Hub {
                v1beta1::$kind::from(self).into_hub()
            }
            fn from_hub(hub: Self::Hub) -> Self {
                v1beta1::$kind::from_hub(hub).into()
            }
        }
    )*};
}

through_v1beta1!(ClientIntents, ProtectedService, KafkaServerConfig);
