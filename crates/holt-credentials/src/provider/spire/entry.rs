//! A workload's registration entry on the SPIRE server, as Holt wants it, and whether an existing entry is
//! Holt's and differs from it.
//!
//! In: the [`Subject`] (SPIFFE ID, DNS names), the workload's name and namespace, the operator's parent ID,
//! the X.509-SVID lifetime. Out: a SPIRE API [`Entry`] with the reference's selectors
//! (`k8s:ns:<namespace>`, `k8s:pod-label:credentials-operator.otterize.com/registered-service-name=<workload>`)
//! and Holt's mark, or the verdict on an existing entry. No I/O.
//!
//! Holt marks its entries twice: their parent ID is the operator's ID and their hint is [`HOLT_HINT`].
//! An entry lacking either is someone else's and is never updated or deleted.

use std::time::Duration;

use crate::provider::spire::api::types::{Entry, Selector, Spiffeid};
use crate::subject::Subject;

/// The hint Holt writes on every entry it creates.
pub const HOLT_HINT: &str = "holt-credentials";

/// The pod label the workload's selector names; the controller puts it on the workload's pods.
pub const REGISTERED_SERVICE_NAME_LABEL: &str = "credentials-operator.otterize.com/registered-service-name";

/// A SPIFFE ID split as the API carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpiffeId {
    pub trust_domain: String,
    pub path: String,
}

/// Why a text is not a SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a SPIFFE ID (spiffe://<trust domain>/<path>)")]
pub struct SpiffeIdError {
    pub value: String,
}

impl SpiffeId {
    pub fn parse(value: &str) -> Result<SpiffeId, SpiffeIdError> {
        let error = || SpiffeIdError {
            value: value.to_owned(),
        };
        let rest = value.strip_prefix("spiffe://").ok_or_else(error)?;
        let (trust_domain, path) = rest.split_once('/').ok_or_else(error)?;
        if trust_domain.is_empty() || path.is_empty() {
            return Err(error());
        }
        Ok(SpiffeId {
            trust_domain: trust_domain.to_owned(),
            path: format!("/{path}"),
        })
    }

    pub fn to_api(&self) -> Spiffeid {
        Spiffeid {
            trust_domain: self.trust_domain.clone(),
            path: self.path.clone(),
        }
    }

    fn matches(&self, id: Option<&Spiffeid>) -> bool {
        id.is_some_and(|id| id.trust_domain == self.trust_domain && id.path == self.path)
    }
}

/// What Holt registers for one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadEntry {
    pub spiffe_id: SpiffeId,
    pub parent_id: SpiffeId,
    pub selectors: Vec<(String, String)>,
    pub dns_names: Vec<String>,
    pub x509_svid_ttl: Duration,
}

impl WorkloadEntry {
    pub fn new(
        subject: &Subject,
        workload: &str,
        namespace: &str,
        parent_id: &SpiffeId,
        ttl: Duration,
    ) -> Result<WorkloadEntry, SpiffeIdError> {
        Ok(WorkloadEntry {
            spiffe_id: SpiffeId::parse(&subject.spiffe_id)?,
            parent_id: parent_id.clone(),
            selectors: vec![
                ("k8s".to_owned(), format!("ns:{namespace}")),
                (
                    "k8s".to_owned(),
                    format!("pod-label:{REGISTERED_SERVICE_NAME_LABEL}={workload}"),
                ),
            ],
            dns_names: subject.dns_names.clone(),
            x509_svid_ttl: ttl,
        })
    }

    /// The entry to create (`id` empty) or to update (`id` the existing entry's).
    pub fn to_api(&self, id: &str) -> Entry {
        Entry {
            id: id.to_owned(),
            spiffe_id: Some(self.spiffe_id.to_api()),
            parent_id: Some(self.parent_id.to_api()),
            selectors: self
                .selectors
                .iter()
                .map(|(kind, value)| Selector {
                    r#type: kind.clone(),
                    value: value.clone(),
                })
                .collect(),
            dns_names: self.dns_names.clone(),
            x509_svid_ttl: i32::try_from(self.x509_svid_ttl.as_secs()).unwrap_or(i32::MAX),
            hint: HOLT_HINT.to_owned(),
            ..Entry::default()
        }
    }

    /// Whether `existing` (an entry for this SPIFFE ID) is Holt's.
    pub fn is_holts(existing: &Entry, parent_id: &SpiffeId) -> bool {
        existing.hint == HOLT_HINT && parent_id.matches(existing.parent_id.as_ref())
    }

    /// Whether `existing` already says what this entry says (selectors in any order).
    pub fn is_same_as(&self, existing: &Entry) -> bool {
        let mut wanted = self.selectors.clone();
        wanted.sort();
        let mut present: Vec<(String, String)> = existing
            .selectors
            .iter()
            .map(|s| (s.r#type.clone(), s.value.clone()))
            .collect();
        present.sort();
        self.spiffe_id.matches(existing.spiffe_id.as_ref())
            && self.parent_id.matches(existing.parent_id.as_ref())
            && wanted == present
            && existing.dns_names == self.dns_names
            && i64::from(existing.x509_svid_ttl)
                == i64::try_from(self.x509_svid_ttl.as_secs()).unwrap_or(i64::MAX)
            && existing.hint == HOLT_HINT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::TrustDomain;

    fn entry() -> WorkloadEntry {
        let domain = TrustDomain::new("example.org").expect("domain");
        let subject = Subject::new("cart", "shop", &["cart.example.com".to_owned()], &domain);
        let parent = SpiffeId::parse("spiffe://example.org/holt/credentials-operator").expect("id");
        WorkloadEntry::new(&subject, "cart", "shop", &parent, Duration::from_secs(3600)).expect("entry")
    }

    #[test]
    fn the_entry_has_the_references_id_and_selectors_and_holts_mark() {
        let api = entry().to_api("");
        let id = api.spiffe_id.as_ref().expect("id");
        assert_eq!(id.trust_domain, "example.org");
        assert_eq!(id.path, "/otterize/namespace/shop/service/cart");
        let selectors: Vec<String> = api
            .selectors
            .iter()
            .map(|s| format!("{}:{}", s.r#type, s.value))
            .collect();
        assert_eq!(
            selectors,
            [
                "k8s:ns:shop",
                "k8s:pod-label:credentials-operator.otterize.com/registered-service-name=cart"
            ]
        );
        assert_eq!(api.dns_names, ["cart.shop", "cart.example.com"]);
        assert_eq!(api.x509_svid_ttl, 3600);
        assert_eq!(api.hint, HOLT_HINT);
        assert!(entry().is_same_as(&api));
        assert!(WorkloadEntry::is_holts(&api, &entry().parent_id));
    }

    #[test]
    fn a_difference_or_a_foreign_mark_is_seen() {
        let mut api = entry().to_api("x");
        api.dns_names.pop();
        assert!(!entry().is_same_as(&api));
        let mut api = entry().to_api("x");
        api.x509_svid_ttl = 60;
        assert!(!entry().is_same_as(&api));
        let mut api = entry().to_api("x");
        api.hint = String::new();
        assert!(!WorkloadEntry::is_holts(&api, &entry().parent_id));
        let mut api = entry().to_api("x");
        api.parent_id = Some(Spiffeid {
            trust_domain: "example.org".to_owned(),
            path: "/someone/else".to_owned(),
        });
        assert!(!WorkloadEntry::is_holts(&api, &entry().parent_id));
    }

    #[test]
    fn spiffe_ids_are_checked() {
        assert!(SpiffeId::parse("spiffe://a/b").is_ok());
        for bad in ["a/b", "spiffe://a", "spiffe:///b", "spiffe://a/"] {
            assert!(SpiffeId::parse(bad).is_err(), "{bad}");
        }
    }
}
