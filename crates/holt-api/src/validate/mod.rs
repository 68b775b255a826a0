//! One validation for the three kinds (docs/reference-behaviour.md#validation, strict mode included), shared
//! by the admission webhook, the operator and `holt validate`. Pure: what it needs to know about other
//! objects (the other ClientIntents and ProtectedServices of the namespace) and the operator's configuration
//! is passed in.
//!
//! [`validate`] takes an object in the version it was written in: rules are checked on its hub form, field
//! paths are named in its own version, and v1 objects also get the v1-only rules. [`client_intents`],
//! [`protected_service`] and [`kafka_server_config`] take hub objects (what the operator holds). Every rule
//! is checked; the [`Report`] lists all errors, and warnings for what the reference silently accepts but
//! grants nothing.
//!
//! Differences from the reference, on purpose: the ProtectedService duplicate check compares `spec.name`
//! (+ `kind`) with the other objects' (the reference compares `metadata.name`); strict mode's excluded
//! namespaces are their own setting (the reference reads them from the active-enforcement key); both are
//! reference bugs (docs/reference-behaviour.md#quirks);
//! wildcard domains must be `*.` followed by a valid name; internet ports must be 1–65535; empty Kafka topic
//! names, SQL database names and KafkaServerConfig topics are reported; and names that cannot become the
//! names Holt derives from them (object names, namespaces, Service names, kinds) are refused with the limit
//! and the reason (module `derived_names`), where the reference lets the API server refuse every write with a 422.

mod api_server_names;
mod client_intents;
mod derived_names;
mod error;
mod kafka_server_config;
mod neighbour_index;
mod network;
mod path;
mod protected_service;
mod v1_calls;

use std::collections::BTreeSet;

pub use api_server_names::{
    MAX_LABEL, MAX_OBJECT_NAME, check_kind_name, check_label_name, check_object_name,
};
pub use derived_names::Becomes;
pub use error::{Rule, ValidationError, ValidationErrors};
pub use neighbour_index::NeighbourIndex;
pub use network::{check_domain, check_host_name, check_host_port, is_ip_or_cidr};

use crate::any::{AnyVersion, Served};
use crate::convert::Convertible;
use crate::object_ref::ObjectRef;
use crate::{v1beta1, v2beta1};
use path::Layout;

/// The operator settings validation depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationConfig {
    /// `enable-strict-mode-intents`: no wildcard domains, ports on internet targets, in-cluster calls only to
    /// Services.
    pub strict_mode: bool,
    /// `excluded-strict-mode-namespaces`: namespaces strict mode does not apply to.
    pub excluded_strict_mode_namespaces: BTreeSet<String>,
}

impl ValidationConfig {
    /// True when strict mode applies to objects of `namespace`.
    pub fn strict_in(&self, namespace: Option<&str>) -> bool {
        self.strict_mode && !namespace.is_some_and(|ns| self.excluded_strict_mode_namespaces.contains(ns))
    }
}

/// The other objects of the namespace that uniqueness rules compare with (hub form). Objects of other
/// namespaces, and the object being validated itself (same name), are ignored, so passing a whole cache is
/// fine. To validate many objects against the same neighbours, index them once ([`NeighbourIndex`]) and
/// call [`validate_indexed`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Neighbours<'a> {
    pub client_intents: &'a [v2beta1::ClientIntents],
    pub protected_services: &'a [v2beta1::ProtectedService],
}

/// Everything found on one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Broken rules: the object must be rejected.
    pub errors: Vec<ValidationError>,
    /// Accepted (as the reference does), but probably not what the author meant.
    pub warnings: Vec<ValidationError>,
}

impl Report {
    /// True when no rule is broken (there may be warnings).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The warnings when the object is valid, else every error.
    pub fn into_result(self) -> Result<Vec<ValidationError>, ValidationErrors> {
        if self.errors.is_empty() {
            Ok(self.warnings)
        } else {
            Err(ValidationErrors(self.errors))
        }
    }
}

/// Validates an object in the version it was written in. Indexes `neighbours` first (linear in their
/// number): for many objects against the same neighbours, use [`validate_indexed`].
pub fn validate(object: &Served, neighbours: &Neighbours<'_>, config: &ValidationConfig) -> Report {
    validate_indexed(object, &NeighbourIndex::new(neighbours), config)
}

/// Validates an object in the version it was written in, against neighbours indexed beforehand: the same
/// report as [`validate`] with the neighbours the index was built from.
pub fn validate_indexed(
    object: &Served,
    neighbours: &NeighbourIndex<'_>,
    config: &ValidationConfig,
) -> Report {
    let mut findings = Findings::new(object.object_ref());
    match object {
        Served::ClientIntents(any) => {
            let (hub, layout) = match any {
                AnyVersion::V1alpha3(o) => {
                    let v1 = v1beta1::ClientIntents::from(o.clone());
                    v1_calls::check(&v1.spec.calls, &mut findings);
                    (v1.into_hub(), Layout::V1)
                }
                AnyVersion::V1beta1(o) => {
                    v1_calls::check(&o.spec.calls, &mut findings);
                    (o.clone().into_hub(), Layout::V1)
                }
                AnyVersion::V2alpha1(o) => (o.clone().into_hub(), Layout::V2),
                AnyVersion::V2beta1(o) => (o.clone(), Layout::V2),
            };
            client_intents::check(&hub, neighbours, config, layout, &mut findings);
        }
        Served::ProtectedService(any) => {
            protected_service::check(&any.clone().into_hub(), neighbours, &mut findings);
        }
        Served::KafkaServerConfig(any) => {
            let layout = if any.version().is_v1_family() {
                Layout::V1
            } else {
                Layout::V2
            };
            kafka_server_config::check(&any.clone().into_hub(), layout, &mut findings);
        }
    }
    findings.report
}

/// Validates a hub ClientIntents against the other ClientIntents of its namespace.
pub fn client_intents(
    object: &v2beta1::ClientIntents,
    others: &[v2beta1::ClientIntents],
    config: &ValidationConfig,
) -> Report {
    let mut findings = Findings::new(ObjectRef::new("ClientIntents", &object.metadata));
    let neighbours = NeighbourIndex::new(&Neighbours {
        client_intents: others,
        ..Neighbours::default()
    });
    client_intents::check(object, &neighbours, config, Layout::V2, &mut findings);
    findings.report
}

/// Validates a hub ProtectedService against the other ProtectedServices of its namespace.
pub fn protected_service(object: &v2beta1::ProtectedService, others: &[v2beta1::ProtectedService]) -> Report {
    let mut findings = Findings::new(ObjectRef::new("ProtectedService", &object.metadata));
    let neighbours = NeighbourIndex::new(&Neighbours {
        protected_services: others,
        ..Neighbours::default()
    });
    protected_service::check(object, &neighbours, &mut findings);
    findings.report
}

/// Validates a hub KafkaServerConfig.
pub fn kafka_server_config(object: &v2beta1::KafkaServerConfig) -> Report {
    let mut findings = Findings::new(ObjectRef::new("KafkaServerConfig", &object.metadata));
    kafka_server_config::check(object, Layout::V2, &mut findings);
    findings.report
}

/// Collects what the rules find on one object.
struct Findings {
    object: ObjectRef,
    report: Report,
}

impl Findings {
    fn new(object: ObjectRef) -> Findings {
        Findings {
            object,
            report: Report::default(),
        }
    }

    fn error(&mut self, field: String, rule: Rule) {
        let error = ValidationError {
            object: self.object.clone(),
            field,
            rule,
        };
        self.report.errors.push(error);
    }

    fn warn(&mut self, field: String, rule: Rule) {
        let warning = ValidationError {
            object: self.object.clone(),
            field,
            rule,
        };
        self.report.warnings.push(warning);
    }
}

/// True when `kind` is unset or empty (the legacy "any workload with this name").
fn no_kind(kind: Option<&str>) -> bool {
    kind.is_none_or(str::is_empty)
}

/// The kind to derive names with: `Ok(None)` when unset or empty, `Ok(Some(kind))` when usable, or the rule
/// it breaks (it must start with an upper-case letter and be a kind the API server accepts).
fn usable_kind(kind: Option<&str>) -> Result<Option<&str>, Rule> {
    let Some(kind) = kind.filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if !kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Err(Rule::KindNotCapitalised {
            kind: kind.to_owned(),
        });
    }
    check_kind_name(kind).map_err(|reason| Rule::KindNotAccepted {
        kind: kind.to_owned(),
        reason,
    })?;
    Ok(Some(kind))
}

/// Reports a kind that [`usable_kind`] refuses.
fn check_kind(kind: Option<&str>, field: String, findings: &mut Findings) {
    if let Err(rule) = usable_kind(kind) {
        findings.error(field, rule);
    }
}
