//! Reading any served object: a `serde_json::Value` (from YAML or JSON) is recognised by its `apiVersion` and
//! `kind`, parsed into the typed root of its version ([`Served`]) with errors that name the field path, and
//! converted to the hub ([`HubObject`]), which is what the rest of Holt reads.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::convert::Convertible;
use crate::object_ref::ObjectRef;
use crate::served::{Kind, Version};
use crate::{GROUP, v1alpha3, v1beta1, v2alpha1, v2beta1};

/// Why a value is not a served object of this group. Each variant names the object as far as it is known.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{object}: not a JSON/YAML object")]
    NotAnObject { object: ObjectRef },
    #[error("{object}: missing `apiVersion`")]
    MissingApiVersion { object: ObjectRef },
    #[error("{object}: missing `kind`")]
    MissingKind { object: ObjectRef },
    /// Another API group (a Pod, a Deployment, ...): not an error for readers that skip such objects.
    #[error("{object}: apiVersion `{api_version}` is not in the {GROUP} group")]
    OtherGroup { object: ObjectRef, api_version: String },
    #[error(
        "{object}: kind `{kind}` is not served by Holt in {GROUP} (served: ClientIntents, ProtectedService, KafkaServerConfig)"
    )]
    UnsupportedKind { object: ObjectRef, kind: String },
    #[error(
        "{object}: apiVersion `{api_version}` is not served by Holt (served: v1alpha3, v1beta1, v2alpha1, v2beta1)"
    )]
    UnsupportedVersion { object: ObjectRef, api_version: String },
    /// The object is of a served kind and version but a field does not fit its schema.
    #[error("{object} ({version}): {field}: {problem}")]
    Invalid {
        object: ObjectRef,
        version: Version,
        field: String,
        problem: String,
    },
}

impl ParseError {
    /// The object the error is about.
    pub fn object(&self) -> &ObjectRef {
        match self {
            ParseError::NotAnObject { object }
            | ParseError::MissingApiVersion { object }
            | ParseError::MissingKind { object }
            | ParseError::OtherGroup { object, .. }
            | ParseError::UnsupportedKind { object, .. }
            | ParseError::UnsupportedVersion { object, .. }
            | ParseError::Invalid { object, .. } => object,
        }
    }
}

/// True when `value` claims to be in the `k8s.otterize.com` group (whatever its version or kind): the
/// objects a manifest reader should hand to [`Served::from_value`] rather than skip.
pub fn is_otterize(value: &Value) -> bool {
    value
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.split_once('/'))
        .is_some_and(|(group, _)| group == GROUP)
}

/// One root kind in any of the four served versions.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyVersion<A3, B1, A1, B2> {
    V1alpha3(A3),
    V1beta1(B1),
    V2alpha1(A1),
    V2beta1(B2),
}

/// A ClientIntents in the version it was written in.
pub type AnyClientIntents = AnyVersion<
    v1alpha3::ClientIntents,
    v1beta1::ClientIntents,
    v2alpha1::ClientIntents,
    v2beta1::ClientIntents,
>;
/// A ProtectedService in the version it was written in.
pub type AnyProtectedService = AnyVersion<
    v1alpha3::ProtectedService,
    v1beta1::ProtectedService,
    v2alpha1::ProtectedService,
    v2beta1::ProtectedService,
>;
/// A KafkaServerConfig in the version it was written in.
pub type AnyKafkaServerConfig = AnyVersion<
    v1alpha3::KafkaServerConfig,
    v1beta1::KafkaServerConfig,
    v2alpha1::KafkaServerConfig,
    v2beta1::KafkaServerConfig,
>;

impl<A3, B1, A1, B2, H> AnyVersion<A3, B1, A1, B2>
where
    A3: Convertible<Hub = H> + Resource + Serialize + DeserializeOwned,
    B1: Convertible<Hub = H> + Resource + Serialize + DeserializeOwned,
    A1: Convertible<Hub = H> + Resource + Serialize + DeserializeOwned,
    B2: Convertible<Hub = H> + Resource + Serialize + DeserializeOwned,
{
    /// The version the object is written in.
    pub fn version(&self) -> Version {
        match self {
            AnyVersion::V1alpha3(_) => Version::V1alpha3,
            AnyVersion::V1beta1(_) => Version::V1beta1,
            AnyVersion::V2alpha1(_) => Version::V2alpha1,
            AnyVersion::V2beta1(_) => Version::V2beta1,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            AnyVersion::V1alpha3(o) => o.meta(),
            AnyVersion::V1beta1(o) => o.meta(),
            AnyVersion::V2alpha1(o) => o.meta(),
            AnyVersion::V2beta1(o) => o.meta(),
        }
    }

    /// Converts to the hub (`v2beta1`).
    pub fn into_hub(self) -> H {
        match self {
            AnyVersion::V1alpha3(o) => o.into_hub(),
            AnyVersion::V1beta1(o) => o.into_hub(),
            AnyVersion::V2alpha1(o) => o.into_hub(),
            AnyVersion::V2beta1(o) => o.into_hub(),
        }
    }

    /// Converts a hub object to `version`.
    pub fn from_hub(hub: H, version: Version) -> Self {
        match version {
            Version::V1alpha3 => AnyVersion::V1alpha3(A3::from_hub(hub)),
            Version::V1beta1 => AnyVersion::V1beta1(B1::from_hub(hub)),
            Version::V2alpha1 => AnyVersion::V2alpha1(A1::from_hub(hub)),
            Version::V2beta1 => AnyVersion::V2beta1(B2::from_hub(hub)),
        }
    }

    /// The object as JSON, with its `apiVersion` and `kind`.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            AnyVersion::V1alpha3(o) => serde_json::to_value(o),
            AnyVersion::V1beta1(o) => serde_json::to_value(o),
            AnyVersion::V2alpha1(o) => serde_json::to_value(o),
            AnyVersion::V2beta1(o) => serde_json::to_value(o),
        }
    }

    fn parse(value: Value, version: Version, object: ObjectRef) -> Result<Self, ParseError> {
        Ok(match version {
            Version::V1alpha3 => AnyVersion::V1alpha3(parse_as(value, version, object)?),
            Version::V1beta1 => AnyVersion::V1beta1(parse_as(value, version, object)?),
            Version::V2alpha1 => AnyVersion::V2alpha1(parse_as(value, version, object)?),
            Version::V2beta1 => AnyVersion::V2beta1(parse_as(value, version, object)?),
        })
    }
}

/// Deserializes `value` as `T`, naming the failing field by its path (`spec.targets[2].kubernetes.name`).
fn parse_as<T: DeserializeOwned>(value: Value, version: Version, object: ObjectRef) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        ParseError::Invalid {
            object,
            version,
            field: if path == "." { "(object)".to_owned() } else { path },
            problem: error.into_inner().to_string(),
        }
    })
}

/// An object of a served kind, in the version it was written in. Validation takes this form
/// ([`crate::validate::validate`]) so that it can apply the v1-only rules and name v1 field paths.
#[derive(Clone, Debug, PartialEq)]
pub enum Served {
    ClientIntents(AnyClientIntents),
    ProtectedService(AnyProtectedService),
    KafkaServerConfig(AnyKafkaServerConfig),
}

impl Served {
    /// Reads a served object from its JSON/YAML value, by `apiVersion` and `kind`.
    pub fn from_value(value: Value) -> Result<Served, ParseError> {
        let object = ObjectRef::from_value(&value);
        if !value.is_object() {
            return Err(ParseError::NotAnObject { object });
        }
        let Some(api_version) = value.get("apiVersion").and_then(Value::as_str) else {
            return Err(ParseError::MissingApiVersion { object });
        };
        let api_version = api_version.to_owned();
        let Some(kind) = value.get("kind").and_then(Value::as_str) else {
            return Err(ParseError::MissingKind { object });
        };
        if !is_otterize(&value) {
            return Err(ParseError::OtherGroup { object, api_version });
        }
        let Some(kind) = Kind::from_name(kind) else {
            let kind = kind.to_owned();
            return Err(ParseError::UnsupportedKind { object, kind });
        };
        let Some(version) = Version::from_api_version(&api_version) else {
            return Err(ParseError::UnsupportedVersion { object, api_version });
        };
        Ok(match kind {
            Kind::ClientIntents => Served::ClientIntents(AnyVersion::parse(value, version, object)?),
            Kind::ProtectedService => Served::ProtectedService(AnyVersion::parse(value, version, object)?),
            Kind::KafkaServerConfig => Served::KafkaServerConfig(AnyVersion::parse(value, version, object)?),
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            Served::ClientIntents(_) => Kind::ClientIntents,
            Served::ProtectedService(_) => Kind::ProtectedService,
            Served::KafkaServerConfig(_) => Kind::KafkaServerConfig,
        }
    }

    /// The version the object is written in.
    pub fn version(&self) -> Version {
        match self {
            Served::ClientIntents(o) => o.version(),
            Served::ProtectedService(o) => o.version(),
            Served::KafkaServerConfig(o) => o.version(),
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Served::ClientIntents(o) => o.meta(),
            Served::ProtectedService(o) => o.meta(),
            Served::KafkaServerConfig(o) => o.meta(),
        }
    }

    /// How messages name this object.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(self.kind().as_str(), self.meta())
    }

    /// Converts to the hub (`v2beta1`).
    pub fn into_hub(self) -> HubObject {
        match self {
            Served::ClientIntents(o) => HubObject::ClientIntents(o.into_hub()),
            Served::ProtectedService(o) => HubObject::ProtectedService(o.into_hub()),
            Served::KafkaServerConfig(o) => HubObject::KafkaServerConfig(o.into_hub()),
        }
    }

    /// The object as JSON, with its `apiVersion` and `kind`.
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            Served::ClientIntents(o) => o.to_value(),
            Served::ProtectedService(o) => o.to_value(),
            Served::KafkaServerConfig(o) => o.to_value(),
        }
    }
}

/// An object of a served kind, converted to the hub (`v2beta1`).
#[derive(Clone, Debug, PartialEq)]
pub enum HubObject {
    ClientIntents(v2beta1::ClientIntents),
    ProtectedService(v2beta1::ProtectedService),
    KafkaServerConfig(v2beta1::KafkaServerConfig),
}

impl HubObject {
    /// Reads a served object of any version from its JSON/YAML value and converts it to the hub.
    pub fn from_value(value: Value) -> Result<HubObject, ParseError> {
        Ok(Served::from_value(value)?.into_hub())
    }

    pub fn kind(&self) -> Kind {
        match self {
            HubObject::ClientIntents(_) => Kind::ClientIntents,
            HubObject::ProtectedService(_) => Kind::ProtectedService,
            HubObject::KafkaServerConfig(_) => Kind::KafkaServerConfig,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        match self {
            HubObject::ClientIntents(o) => o.meta(),
            HubObject::ProtectedService(o) => o.meta(),
            HubObject::KafkaServerConfig(o) => o.meta(),
        }
    }

    /// How messages name this object.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(self.kind().as_str(), self.meta())
    }

    /// Converts to `version`.
    pub fn into_version(self, version: Version) -> Served {
        match self {
            HubObject::ClientIntents(o) => Served::ClientIntents(AnyVersion::from_hub(o, version)),
            HubObject::ProtectedService(o) => Served::ProtectedService(AnyVersion::from_hub(o, version)),
            HubObject::KafkaServerConfig(o) => Served::KafkaServerConfig(AnyVersion::from_hub(o, version)),
        }
    }
}
