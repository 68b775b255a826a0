//! How messages name an object: `ClientIntents shop/frontend`.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The kind, namespace and name of an object, as far as they are known (a manifest on disk may have no
/// namespace, or a broken one no name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl ObjectRef {
    /// Names an object of `kind` by its metadata.
    pub fn new(kind: impl Into<String>, metadata: &ObjectMeta) -> ObjectRef {
        ObjectRef {
            kind: kind.into(),
            namespace: metadata.namespace.clone(),
            name: metadata.name.clone(),
        }
    }

    /// Names a raw object by its `kind` and `metadata.{namespace,name}`, whatever else it holds.
    pub fn from_value(value: &serde_json::Value) -> ObjectRef {
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
        let metadata = value.get("metadata");
        ObjectRef {
            kind: text(value.get("kind")).unwrap_or_else(|| "object".into()),
            namespace: text(metadata.and_then(|m| m.get("namespace"))),
            name: text(metadata.and_then(|m| m.get("name"))),
        }
    }
}

/// `Kind namespace/name`, `Kind name` without a namespace, `Kind <unnamed>` without a name.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.as_deref().unwrap_or("<unnamed>");
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{name}", self.kind),
            None => write!(f, "{} {name}", self.kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let v = serde_json::json!({"kind": "ClientIntents", "metadata": {"name": "frontend", "namespace": "shop"}});
        assert_eq!(
            ObjectRef::from_value(&v).to_string(),
            "ClientIntents shop/frontend"
        );
        let v = serde_json::json!({"kind": "ProtectedService", "metadata": {"name": "p"}});
        assert_eq!(ObjectRef::from_value(&v).to_string(), "ProtectedService p");
        assert_eq!(
            ObjectRef::from_value(&serde_json::json!(3)).to_string(),
            "object <unnamed>"
        );
    }
}
