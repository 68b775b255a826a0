//! `v1alpha3` ↔ `v1beta1` (and so ↔ hub): the same shape, except that `v1beta1` calls may carry
//! `azureActions`/`azureDataActions`. Up is lossless; down cannot write those two lists in a call, so the
//! object keeps the calls that have them in an annotation ([`super::hidden`]).

use std::collections::BTreeMap;

use crate::convert::Convertible;
use crate::convert::hidden::{self, HIDDEN_V1BETA1_CALLS};
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

/// Lossy: `azureActions` and `azureDataActions` do not exist in `v1alpha3` and are dropped (the object's
/// conversion keeps them).
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

/// Restores the `azureActions`/`azureDataActions` that [`HIDDEN_V1BETA1_CALLS`] keeps for the calls that still
/// match it, and removes that annotation.
impl From<v1alpha3::ClientIntents> for v1beta1::ClientIntents {
    fn from(object: v1alpha3::ClientIntents) -> Self {
        let v1alpha3::ClientIntents {
            mut metadata,
            spec: v1alpha3::ClientIntentsSpec { service, calls },
            status,
        } = object;
        let kept: BTreeMap<usize, v1beta1::Call> = hidden::take(&mut metadata, HIDDEN_V1BETA1_CALLS);
        let calls = hidden::restore(calls, kept, |call| v1alpha3::Call::from(call.clone()), Into::into);
        v1beta1::ClientIntents {
            metadata,
            spec: v1beta1::ClientIntentsSpec { service, calls },
            status,
        }
    }
}

/// Keeps the calls that carry `azureActions`/`azureDataActions` in [`HIDDEN_V1BETA1_CALLS`].
impl From<v1beta1::ClientIntents> for v1alpha3::ClientIntents {
    fn from(object: v1beta1::ClientIntents) -> Self {
        let v1beta1::ClientIntents {
            mut metadata,
            spec: v1beta1::ClientIntentsSpec { service, calls },
            status,
        } = object;
        let written: Vec<v1alpha3::Call> = calls.iter().cloned().map(Into::into).collect();
        hidden::put(
            &mut metadata,
            HIDDEN_V1BETA1_CALLS,
            &hidden::lost(&calls, &written, |call| v1beta1::Call::from(call.clone())),
        );
        v1alpha3::ClientIntents {
            metadata,
            spec: v1alpha3::ClientIntentsSpec {
                service,
                calls: written,
            },
            status,
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
