//! Holt's own kinds in manifests: parsed in whatever served version they are written in, validated with
//! the shared validation, and converted to the `v2beta1` hub the model reads.

use holt_api::any::{HubObject, Served};
use holt_model::Object;

use crate::manifests::{Loaded, Manifest, Source};

/// One problem with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub source: Source,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// A Holt object as written, and where.
#[derive(Debug)]
pub struct Read {
    pub source: Source,
    pub served: Served,
}

/// Parses every Holt object: those that parse, and a problem for each that does not.
pub fn parse(loaded: &[Loaded]) -> (Vec<Read>, Vec<Problem>) {
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for item in loaded {
        let Manifest::Holt { value } = &item.manifest else {
            continue;
        };
        match Served::from_value(value.clone()) {
            Ok(served) => objects.push(Read {
                source: item.source.clone(),
                served,
            }),
            Err(error) => problems.push(Problem {
                source: item.source.clone(),
                message: error.to_string(),
            }),
        }
    }
    (objects, problems)
}

/// The model object for a Holt object (converted to the hub).
pub fn model_object(served: Served) -> Object {
    match served.into_hub() {
        HubObject::ClientIntents(o) => Object::ClientIntents(o),
        HubObject::ProtectedService(o) => Object::ProtectedService(o),
        HubObject::KafkaServerConfig(o) => Object::KafkaServerConfig(o),
    }
}
