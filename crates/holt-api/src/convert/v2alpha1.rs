//! `v2alpha1` ↔ `v2beta1`: identical schemas, so every field moves across unchanged (lossless both ways).

use crate::convert::Convertible;
use crate::{v2alpha1, v2beta1};

impl Convertible for v2alpha1::ClientIntents {
    type Hub = v2beta1::ClientIntents;

    fn into_hub(self) -> Self::Hub {
        let v2alpha1::ClientIntentsSpec { workload, targets } = self.spec;
        v2beta1::ClientIntents {
            metadata: self.metadata,
            spec: v2beta1::ClientIntentsSpec { workload, targets },
            status: self.status,
        }
    }

    fn from_hub(hub: Self::Hub) -> Self {
        let v2beta1::ClientIntentsSpec { workload, targets } = hub.spec;
        v2alpha1::ClientIntents {
            metadata: hub.metadata,
            spec: v2alpha1::ClientIntentsSpec { workload, targets },
            status: hub.status,
        }
    }
}

impl Convertible for v2alpha1::ProtectedService {
    type Hub = v2beta1::ProtectedService;

    fn into_hub(self) -> Self::Hub {
        let v2alpha1::ProtectedServiceSpec { name, kind } = self.spec;
        v2beta1::ProtectedService {
            metadata: self.metadata,
            spec: v2beta1::ProtectedServiceSpec { name, kind },
            status: self.status,
        }
    }

    fn from_hub(hub: Self::Hub) -> Self {
        let v2beta1::ProtectedServiceSpec { name, kind } = hub.spec;
        v2alpha1::ProtectedService {
            metadata: hub.metadata,
            spec: v2alpha1::ProtectedServiceSpec { name, kind },
            status: hub.status,
        }
    }
}

impl Convertible for v2alpha1::KafkaServerConfig {
    type Hub = v2beta1::KafkaServerConfig;

    fn into_hub(self) -> Self::Hub {
        let v2alpha1::KafkaServerConfigSpec {
            workload,
            addr,
            no_auto_create_intents_for_operator,
            tls,
            topics,
        } = self.spec;
        v2beta1::KafkaServerConfig {
            metadata: self.metadata,
            spec: v2beta1::KafkaServerConfigSpec {
                workload,
                addr,
                no_auto_create_intents_for_operator,
                tls,
                topics,
            },
            status: self.status,
        }
    }

    fn from_hub(hub: Self::Hub) -> Self {
        let v2beta1::KafkaServerConfigSpec {
            workload,
            addr,
            no_auto_create_intents_for_operator,
            tls,
            topics,
        } = hub.spec;
        v2alpha1::KafkaServerConfig {
            metadata: hub.metadata,
            spec: v2alpha1::KafkaServerConfigSpec {
                workload,
                addr,
                no_auto_create_intents_for_operator,
                tls,
                topics,
            },
            status: hub.status,
        }
    }
}
