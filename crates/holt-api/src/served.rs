//! What Holt serves: the kinds and versions of the `k8s.otterize.com` group, and which version is the hub and
//! which one the API server stores.

use std::fmt;

use crate::GROUP;

/// A served version of the group. The v1 family (`v1alpha3`, `v1beta1`) has `spec.service` and
/// `spec.calls`; the v2 family (`v2alpha1`, `v2beta1`) has `spec.workload` and `spec.targets`.
/// `v1alpha2` is not served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V1alpha3,
    V1beta1,
    V2alpha1,
    V2beta1,
}

impl Version {
    /// Every served version, oldest first.
    pub const ALL: [Version; 4] = [
        Version::V1alpha3,
        Version::V1beta1,
        Version::V2alpha1,
        Version::V2beta1,
    ];
    /// The version every other one converts through, and the only one the rest of Holt reads.
    pub const HUB: Version = Version::V2beta1;
    /// The version the API server stores objects in (as the reference does).
    pub const STORAGE: Version = Version::V2alpha1;

    /// The version name, e.g. `v1alpha3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1alpha3 => "v1alpha3",
            Version::V1beta1 => "v1beta1",
            Version::V2alpha1 => "v2alpha1",
            Version::V2beta1 => "v2beta1",
        }
    }

    /// The full `apiVersion`, e.g. `k8s.otterize.com/v1alpha3`.
    pub fn api_version(self) -> String {
        format!("{GROUP}/{}", self.as_str())
    }

    /// The version named by a version name (`v1beta1`), if served.
    pub fn from_name(name: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The version named by an `apiVersion` of this group (`k8s.otterize.com/v1beta1`), if served.
    pub fn from_api_version(api_version: &str) -> Option<Version> {
        let (group, version) = api_version.split_once('/')?;
        if group != GROUP {
            return None;
        }
        Version::from_name(version)
    }

    /// True for `v1alpha3` and `v1beta1` (`spec.service` + `spec.calls`).
    pub fn is_v1_family(self) -> bool {
        matches!(self, Version::V1alpha3 | Version::V1beta1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind of the group that Holt serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ClientIntents,
    ProtectedService,
    KafkaServerConfig,
}

impl Kind {
    /// Every served kind.
    pub const ALL: [Kind; 3] = [
        Kind::ClientIntents,
        Kind::ProtectedService,
        Kind::KafkaServerConfig,
    ];

    /// The kind name, e.g. `ClientIntents`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ClientIntents => "ClientIntents",
            Kind::ProtectedService => "ProtectedService",
            Kind::KafkaServerConfig => "KafkaServerConfig",
        }
    }

    /// The resource (plural) name, e.g. `clientintents`.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::ClientIntents => "clientintents",
            Kind::ProtectedService => "protectedservices",
            Kind::KafkaServerConfig => "kafkaserverconfigs",
        }
    }

    /// The kind named `name`, if served.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_round_trip() {
        for v in Version::ALL {
            assert_eq!(Version::from_api_version(&v.api_version()), Some(v));
        }
        assert_eq!(Version::from_api_version("k8s.otterize.com/v1alpha2"), None);
        assert_eq!(Version::from_api_version("apps/v1"), None);
        assert_eq!(Version::from_api_version("v1"), None);
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(Kind::from_name("PostgreSQLServerConfig"), None);
    }
}
