//! Workload identity: who a pod is, and how that identity is written into label values
//! (docs/reference-behaviour.md#identity-format).

use std::fmt;

use md5::{Digest, Md5};

/// A workload identity: a name in a namespace, and the kind of the root owner it was resolved from.
///
/// `kind: None` is the reference's "legacy" identity: any pod whose identity has this name, whatever its
/// owner. `Some("Service")` names a Kubernetes Service; any other kind names a workload of that kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub namespace: String,
    pub name: String,
    pub kind: Option<String>,
}

/// The kind of the Kubernetes Service identity.
pub const SERVICE_KIND: &str = "Service";

impl Identity {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, kind: Option<&str>) -> Self {
        Identity {
            namespace: namespace.into(),
            name: name.into(),
            kind: kind.filter(|k| !k.is_empty()).map(str::to_owned),
        }
    }

    pub fn is_service(&self) -> bool {
        self.kind.as_deref() == Some(SERVICE_KIND)
    }

    /// The Kubernetes API server, `kubernetes.default`.
    pub fn is_api_server(&self) -> bool {
        self.name == "kubernetes" && self.namespace == "default"
    }

    /// The same workload without its kind.
    pub fn without_kind(&self) -> Identity {
        Identity {
            kind: None,
            ..self.clone()
        }
    }

    /// The label value for this identity ignoring its kind: `name[:20]-namespace[:20]-<6 hex of md5>`.
    pub fn label_value(&self) -> String {
        let hash = short_md5(&format!("{}-{}", self.name, self.namespace));
        format!(
            "{}-{}-{}",
            prefix(&self.name, 20),
            prefix(&self.namespace, 20),
            hash
        )
    }

    /// The label value for this identity including its kind (when it has one):
    /// `name[:19]-namespace[:19]-lower(kind[:5])-<6 hex of md5("name-namespace-Kind")>`.
    pub fn label_value_with_kind(&self) -> String {
        match &self.kind {
            None => self.label_value(),
            Some(kind) => {
                let hash = short_md5(&format!("{}-{}-{}", self.name, self.namespace, kind));
                format!(
                    "{}-{}-{}-{}",
                    prefix(&self.name, 19),
                    prefix(&self.namespace, 19),
                    prefix(kind, 5).to_lowercase(),
                    hash
                )
            }
        }
    }

    /// `name` or `name-<lower(kind)>`.
    pub fn name_with_kind(&self) -> String {
        match &self.kind {
            None => self.name.clone(),
            Some(kind) => format!("{}-{}", self.name, kind.to_lowercase()),
        }
    }

    /// [`Identity::name_with_kind`] made valid as an object name (`_` becomes `.`).
    pub fn name_with_kind_rfc1123(&self) -> String {
        self.name_with_kind().replace('_', ".")
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.name, self.namespace)?;
        if let Some(kind) = &self.kind {
            write!(f, " ({kind})")?;
        }
        Ok(())
    }
}

/// Identity names come from owner object names, where `.` is allowed; the reference replaces it with `_`.
pub fn identity_name(object_name: &str) -> String {
    object_name.replace('.', "_")
}

fn prefix(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn short_md5(input: &str) -> String {
    let digest = Md5::digest(input.as_bytes());
    digest.iter().take(3).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5_hex(s: &str) -> String {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn label_value_without_kind_is_name_namespace_and_md5_prefix() {
        let id = Identity::new("shop", "checkoutservice", None);
        let expected = format!("checkoutservice-shop-{}", &md5_hex("checkoutservice-shop")[..6]);
        assert_eq!(id.label_value(), expected);
        assert_eq!(
            id.label_value_with_kind(),
            expected,
            "no kind: both formats agree"
        );
    }

    #[test]
    fn label_value_truncates_name_and_namespace_to_20() {
        let id = Identity::new(
            "a-namespace-longer-than-twenty",
            "a-workload-name-longer-than-twenty",
            None,
        );
        let value = id.label_value();
        assert!(
            value.starts_with("a-workload-name-long-a-namespace-longer-"),
            "{value}"
        );
        assert!(
            value.len() <= 63,
            "label values are at most 63 characters: {value}"
        );
    }

    #[test]
    fn label_value_with_kind_hashes_the_kind_and_truncates_it_to_five() {
        let id = Identity::new("shop", "server", Some("Deployment"));
        let expected = format!("server-shop-deplo-{}", &md5_hex("server-shop-Deployment")[..6]);
        assert_eq!(id.label_value_with_kind(), expected);
        assert_ne!(id.label_value_with_kind(), id.label_value());
        let long = Identity::new("n".repeat(40), "w".repeat(40), Some("StatefulSet"));
        let value = long.label_value_with_kind();
        assert!(
            value.starts_with(&format!("{}-{}-state-", "w".repeat(19), "n".repeat(19))),
            "{value}"
        );
        assert!(value.len() <= 63);
    }

    #[test]
    fn name_with_kind_lowercases_the_kind_and_rfc1123_replaces_underscores() {
        assert_eq!(Identity::new("ns", "server", None).name_with_kind(), "server");
        assert_eq!(
            Identity::new("ns", "server", Some("Service")).name_with_kind(),
            "server-service"
        );
        assert_eq!(
            Identity::new("ns", "app_v2", Some("Deployment")).name_with_kind_rfc1123(),
            "app.v2-deployment"
        );
    }

    #[test]
    fn empty_kind_is_legacy() {
        assert_eq!(Identity::new("ns", "a", Some("")).kind, None);
        assert_eq!(identity_name("app.v2"), "app_v2");
    }
}
