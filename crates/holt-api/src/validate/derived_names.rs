//! The object names Holt derives from the names written in an object, checked against what the API server
//! accepts and reported on the field they come from: a name that cannot become them is refused at
//! admission, instead of failing every write the operator tries with a 422. The names are the reference's:
//! docs/reference-behaviour.md#identity-format, docs/reference-behaviour.md#network-policy,
//! docs/reference-behaviour.md#default-deny and docs/reference-behaviour.md#istio.
//!
//! For a workload identity `<name>` of kind `<kind>` (lower-cased; `_` in the name is written as `.`), Holt
//! writes:
//! - the access NetworkPolicy `<name>[-<kind>]-access`, or `-ingress` and `-egress` when ingress and egress
//!   policies are separate, for the client workload and for every kubernetes, service and kafka target (a
//!   KafkaServerConfig's broker is such a target); the longest is `-ingress`;
//! - `default-deny-<name>[-<kind>]` for a ProtectedService (longer than `-ingress`);
//! - the Istio AuthorizationPolicy `authorization-policy-to-<server>[-<kind>]-from-<client>[-<kind>].<client
//!   namespace>` for each kubernetes or service target, which bounds the server and client names together.
//!
//! Object names are DNS-1123 subdomains of at most 253 characters. The label values Holt derives from a
//! name (`<name[:20]>-<namespace[:20]>-<hash>`, or `<name[:19]>-<namespace[:19]>-<kind[:5]>-<hash>`) are at
//! most 52 characters and valid whenever the name is valid inside an object name; the kind goes verbatim into
//! the `owner-kind` label value of selectors ([`super::api_server_names::check_kind_name`]).

use std::fmt;

use crate::validate::api_server_names::{MAX_LABEL, MAX_OBJECT_NAME, check_label_name, check_object_name};
use crate::validate::{Findings, Rule};

/// The longest suffix of an access NetworkPolicy's name.
const ACCESS_POLICY_SUFFIX: &str = "-ingress";
const DEFAULT_DENY_PREFIX: &str = "default-deny-";
const ISTIO_POLICY_PREFIX: &str = "authorization-policy-to-";

/// What a name written in an object becomes, as the API server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Becomes {
    /// Part of the name of an object Holt writes; `pattern` is that name with `<name>` in the name's place.
    ObjectName { object: &'static str, pattern: String },
    /// The name of a Kubernetes Service.
    ServiceName,
    /// The name of a namespace.
    Namespace,
}

impl fmt::Display for Becomes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Becomes::ObjectName { object, pattern } => write!(
                f,
                "Holt names {object} `{pattern}`, and object names are DNS-1123 subdomains of at most \
                 {MAX_OBJECT_NAME} characters"
            ),
            Becomes::ServiceName => write!(
                f,
                "it names a Kubernetes Service, and Service names are DNS-1123 labels of at most {MAX_LABEL} \
                 characters"
            ),
            Becomes::Namespace => write!(
                f,
                "it names a namespace, and namespace names are DNS-1123 labels of at most {MAX_LABEL} characters"
            ),
        }
    }
}

/// An object name Holt writes with a checked name inside: `<prefix><name><suffix>`.
pub(super) struct Derived {
    object: &'static str,
    prefix: String,
    suffix: String,
}

impl Derived {
    /// The access NetworkPolicy of a workload of `kind`, at its longest (`<name>[-<kind>]-ingress`).
    /// `object` says whose policy it is, e.g. "this workload's NetworkPolicy".
    pub(super) fn access_policy(object: &'static str, kind: Option<&str>) -> Derived {
        Derived {
            object,
            prefix: String::new(),
            suffix: format!("{}{ACCESS_POLICY_SUFFIX}", kind_part(kind)),
        }
    }

    /// The default-deny NetworkPolicy of a ProtectedService's server of `kind`.
    pub(super) fn default_deny_policy(kind: Option<&str>) -> Derived {
        Derived {
            object: "the ProtectedService's default-deny NetworkPolicy",
            prefix: DEFAULT_DENY_PREFIX.to_owned(),
            suffix: kind_part(kind),
        }
    }

    /// The Istio AuthorizationPolicy admitting `client` (of `client_kind`, in `client_namespace`) to a server
    /// of `server_kind`.
    pub(super) fn istio_policy(
        server_kind: Option<&str>,
        client: &str,
        client_kind: Option<&str>,
        client_namespace: &str,
    ) -> Derived {
        Derived {
            object: "the Istio AuthorizationPolicy for this call",
            prefix: ISTIO_POLICY_PREFIX.to_owned(),
            suffix: format!(
                "{}-from-{}{}.{client_namespace}",
                kind_part(server_kind),
                client.replace('_', "."),
                kind_part(client_kind)
            ),
        }
    }

    fn becomes(&self) -> Becomes {
        Becomes::ObjectName {
            object: self.object,
            pattern: format!("{}<name>{}", self.prefix, self.suffix),
        }
    }
}

/// `-<lower(kind)>`, or nothing without a kind.
fn kind_part(kind: Option<&str>) -> String {
    kind.map(|k| format!("-{}", k.to_lowercase())).unwrap_or_default()
}

/// Reports on `field` when `name` cannot sit inside `derived`; true when it can.
pub(super) fn check_in_object_name(
    name: &str,
    derived: &Derived,
    field: String,
    findings: &mut Findings,
) -> bool {
    let full = format!("{}{}{}", derived.prefix, name.replace('_', "."), derived.suffix);
    if full.len() > MAX_OBJECT_NAME {
        let limit = MAX_OBJECT_NAME.saturating_sub(derived.prefix.len() + derived.suffix.len());
        findings.error(field, too_long(name, limit, derived.becomes()));
        return false;
    }
    if check_object_name(&full).is_err() {
        let rule = Rule::NameNotAccepted {
            name: name.to_owned(),
            becomes: derived.becomes(),
            reason: "they hold only lower-case letters, digits, `-` and `.` (Holt writes `_` as `.`), and each \
                     part between dots starts and ends with a letter or digit",
        };
        findings.error(field, rule);
        return false;
    }
    true
}

/// Reports on `field` when `name` is not a DNS-1123 label (a Service or namespace name); true when it is.
pub(super) fn check_label(name: &str, becomes: Becomes, field: String, findings: &mut Findings) -> bool {
    if name.len() > MAX_LABEL {
        findings.error(field, too_long(name, MAX_LABEL, becomes));
        return false;
    }
    if let Err(reason) = check_label_name(name) {
        let name = name.to_owned();
        findings.error(
            field,
            Rule::NameNotAccepted {
                name,
                becomes,
                reason,
            },
        );
        return false;
    }
    true
}

fn too_long(name: &str, limit: usize, becomes: Becomes) -> Rule {
    const SHOWN: usize = 16;
    let start = match name.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    };
    Rule::NameTooLong {
        start,
        length: name.len(),
        limit,
        becomes,
    }
}
