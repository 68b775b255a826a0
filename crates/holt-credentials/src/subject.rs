//! Who a certificate names: a workload identity as a subject common name, DNS names and a SPIFFE ID.
//!
//! In: the workload's name and namespace (holt-model's identity resolution), the pod's extra DNS names, the
//! trust domain. Out: [`Subject`] — CN `<workload>.<namespace>`, DNS SANs `<workload>.<namespace>` then the
//! extras, and the URI SAN `spiffe://<trust domain>/otterize/namespace/<namespace>/service/<workload>`, the
//! SPIFFE ID the reference registers in SPIRE. Kafka ACL principals (`User:CN=<workload>.<namespace>`) name
//! the same CN.

use std::fmt;

/// A SPIFFE trust domain: lower-case letters, digits, `.`, `-` and `_` (the SPIFFE ID specification),
/// at most 255 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrustDomain(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a SPIFFE trust domain: {why}")]
pub struct TrustDomainError {
    pub value: String,
    pub why: &'static str,
}

impl TrustDomain {
    pub fn new(value: &str) -> Result<TrustDomain, TrustDomainError> {
        let error = |why| TrustDomainError {
            value: value.to_owned(),
            why,
        };
        if value.is_empty() {
            return Err(error("it is empty"));
        }
        if value.len() > 255 {
            return Err(error("longer than 255 characters"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
        {
            return Err(error(
                "only lower-case letters, digits, `.`, `-` and `_` are allowed (no scheme, no path)",
            ));
        }
        Ok(TrustDomain(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a workload's certificate names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subject {
    /// `<workload>.<namespace>`.
    pub common_name: String,
    /// `<workload>.<namespace>` first, then the pod's extra names (without repeats).
    pub dns_names: Vec<String>,
    /// `spiffe://<trust domain>/otterize/namespace/<namespace>/service/<workload>`.
    pub spiffe_id: String,
}

impl Subject {
    pub fn new(
        workload: &str,
        namespace: &str,
        extra_dns_names: &[String],
        trust_domain: &TrustDomain,
    ) -> Subject {
        let common_name = format!("{workload}.{namespace}");
        let mut dns_names = vec![common_name.clone()];
        for name in extra_dns_names {
            if !dns_names.contains(name) {
                dns_names.push(name.clone());
            }
        }
        Subject {
            spiffe_id: spiffe_id(trust_domain, namespace, workload),
            common_name,
            dns_names,
        }
    }
}

/// The SPIFFE ID the reference registers for a workload.
pub fn spiffe_id(trust_domain: &TrustDomain, namespace: &str, workload: &str) -> String {
    format!("spiffe://{trust_domain}/otterize/namespace/{namespace}/service/{workload}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_names_the_workload_in_its_namespace() {
        let domain = TrustDomain::new("example.org").expect("valid");
        let subject = Subject::new(
            "cart",
            "shop",
            &["cart.example.com".to_owned(), "cart.shop".to_owned()],
            &domain,
        );
        assert_eq!(subject.common_name, "cart.shop");
        assert_eq!(subject.dns_names, ["cart.shop", "cart.example.com"]);
        assert_eq!(
            subject.spiffe_id,
            "spiffe://example.org/otterize/namespace/shop/service/cart"
        );
    }

    #[test]
    fn trust_domains_are_checked() {
        assert!(TrustDomain::new("cluster.local").is_ok());
        for bad in ["", "spiffe://x", "Example.org", "a/b", &"a".repeat(256)] {
            let error = TrustDomain::new(bad).expect_err(bad);
            assert!(
                error.to_string().contains("is not a SPIFFE trust domain"),
                "{error}"
            );
        }
    }
}
