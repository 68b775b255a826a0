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
/// `metadata` is copied verbatim from the input except `metadata.annotations`, which carry what the desired
/// version cannot hold (see [`crate::convert`]): the API server rejects a conversion that changes metadata
/// other than labels and annotations. `status` is copied verbatim (its schema is the same in every version);
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
        let annotations = map.get("metadata").and_then(|m| m.get("annotations")).cloned();
        match metadata.map(|m| with_annotations(m, annotations)) {
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

/// `metadata` with `annotations` in place of its own, left verbatim when they are the same.
fn with_annotations(mut metadata: Value, annotations: Option<Value>) -> Value {
    let Some(fields) = metadata.as_object_mut() else {
        return metadata;
    };
    let same = fields.get("annotations") == annotations.as_ref()
        || (annotations.is_none() && fields.get("annotations").is_some_and(is_empty_object));
    if !same {
        match annotations {
            Some(annotations) => fields.insert("annotations".to_owned(), annotations),
            None => fields.remove("annotations"),
        };
    }
    metadata
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(serde_json::Map::is_empty)
}
