//! The `intents.otterize.com/called-by` pod annotation: a server declaring which clients call it
//! (docs/reference-behaviour.md#pod-annotations).

use serde::Deserialize;

use crate::identity::Identity;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessAnnotationError {
    #[error("annotation is not a JSON list of {{\"name\": \"client.namespace\", \"kind\": \"Kind\"}}: {0}")]
    NotJson(String),
    #[error("entry {index}: name {name:?} must be exactly `name.namespace`")]
    Name { index: usize, name: String },
    #[error("entry {index}: kind {kind:?} is required and must start with an upper-case letter")]
    Kind { index: usize, kind: String },
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    kind: String,
}

/// Parses the annotation value into the client identities it lists.
pub fn parse_called_by(value: &str) -> Result<Vec<Identity>, AccessAnnotationError> {
    let entries: Vec<Entry> =
        serde_json::from_str(value).map_err(|e| AccessAnnotationError::NotJson(e.to_string()))?;
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let (name, namespace) = match entry.name.split('.').collect::<Vec<_>>().as_slice() {
                [name, namespace] if !name.is_empty() && !namespace.is_empty() => (*name, *namespace),
                _ => {
                    return Err(AccessAnnotationError::Name {
                        index,
                        name: entry.name.clone(),
                    });
                }
            };
            if !entry.kind.starts_with(|c: char| c.is_ascii_uppercase()) {
                return Err(AccessAnnotationError::Kind {
                    index,
                    kind: entry.kind,
                });
            }
            Ok(Identity::new(namespace, name, Some(&entry.kind)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clients_with_namespace_and_kind() {
        let clients = parse_called_by(r#"[{"name":"client.shop","kind":"Deployment"}]"#);
        assert_eq!(
            clients,
            Ok(vec![Identity::new("shop", "client", Some("Deployment"))])
        );
    }

    #[test]
    fn rejects_bad_names_kinds_and_json() {
        assert!(matches!(
            parse_called_by(r#"[{"name":"client","kind":"Deployment"}]"#),
            Err(AccessAnnotationError::Name { .. })
        ));
        assert!(matches!(
            parse_called_by(r#"[{"name":"client.shop"}]"#),
            Err(AccessAnnotationError::Kind { .. })
        ));
        assert!(matches!(
            parse_called_by("client.shop"),
            Err(AccessAnnotationError::NotJson(_))
        ));
    }
}
