//! The conversion webhook's entry point: one object, as the API server sends it in a `ConversionReview`,
//! converted to the desired `apiVersion`.

use serde_json::Value;

use crate::any::{ParseError, Served};
use crate::object_ref::ObjectRef;
use crate::served::Version;

/// Why an object could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot convert to `{desired}`: not a served version of k8s.otterize.com")]
    UnsupportedDesiredVersion { desired: String },
    #[error(transparent)]
    Parse(Box<ParseError>),
    #[error("{object}: cannot write the converted object: {source}")]
    Serialize {
        object: ObjectRef,
        source: serde_json::Error,
    },
}

impl From<ParseError> for ConvertError {
    fn from(error: ParseError) -> Self {
        ConvertError::Parse(Box::new(error))
    }
}

/// Converts `object` (any served kind and version) to `desired_api_version` (`k8s.otterize.com/v1beta1`).
///
/// `metadata` and `status` are copied verbatim from the input (the API server rejects a conversion that
/// changes metadata other than labels and annotations, and the status schema is the same in every version);
/// `apiVersion` and `spec` are rewritten. An object already in the desired version is returned unchanged.
pub fn convert_value(object: Value, desired_api_version: &str) -> Result<Value, ConvertError> {
    let desired = Version::from_api_version(desired_api_version).ok_or_else(|| {
        ConvertError::UnsupportedDesiredVersion {
            desired: desired_api_version.to_owned(),
        }
    })?;
    if object.get("apiVersion").and_then(Value::as_str) == Some(desired_api_version) {
        return Ok(object);
    }
    let metadata = object.get("metadata").cloned();
    let status = object.get("status").cloned();
    let served = Served::from_value(object)?;
    let object_ref = served.object_ref();
    let converted = served.into_hub().into_version(desired);
    let mut value = converted.to_value().map_err(|source| ConvertError::Serialize {
        object: object_ref,
        source,
    })?;
    if let Some(map) = value.as_object_mut() {
        match metadata {
            Some(metadata) => map.insert("metadata".to_owned(), metadata),
            None => map.remove("metadata"),
        };
        match status {
            Some(status) => map.insert("status".to_owned(), status),
            None => map.remove("status"),
        };
    }
    Ok(value)
}
