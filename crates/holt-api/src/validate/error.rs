//! What validation reports: one [`ValidationError`] per broken rule, naming the object, the field path and
//! the rule in plain words.

use std::fmt;

use crate::object_ref::ObjectRef;
use crate::validate::Becomes;

/// One broken rule on one field of one object: `ClientIntents shop/frontend: spec.targets[2].kubernetes.name:
/// is required`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {rule}")]
pub struct ValidationError {
    pub object: ObjectRef,
    /// The field path in the version the object was written in, e.g. `spec.targets[2].kubernetes.name` or
    /// `spec.calls[2].name`.
    pub field: String,
    pub rule: Rule,
}

/// Every rule of docs/reference-behaviour.md#validation that an object can break, with the words shown to
/// the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rule {
    #[error("is required")]
    Required,
    #[error(
        "`{kind}` must start with an upper-case letter, like a Kubernetes kind (`Deployment`, `Service`)"
    )]
    KindNotCapitalised { kind: String },
    #[error("`{name}` must not contain `.`: the client workload is always in the object's own namespace")]
    WorkloadNameHasDot { name: String },
    #[error(
        "another ClientIntents in this namespace ({other}) already declares the calls of this workload (same name \
         and kind); merge the two objects"
    )]
    DuplicateWorkload { other: String },
    #[error(
        "a target must set exactly one of kubernetes, service, kafka, sql, aws, gcp, azure, internet; this one sets \
         {}",
        if .keys.is_empty() { "none".to_owned() } else { .keys.join(", ") }
    )]
    TargetKeys { keys: Vec<&'static str> },
    #[error("`{name}` has more than one `.`: write `server` or `server.namespace`")]
    TooManyDots { name: String },
    #[error("`{name}` names no server before the `.`: write `server` or `server.namespace`")]
    NoServerName { name: String },
    /// A name longer than what fits where Holt writes it (`start` is its beginning).
    #[error("`{start}` is {length} characters, over the {limit} that fit: {becomes}")]
    NameTooLong {
        start: String,
        length: usize,
        limit: usize,
        becomes: Becomes,
    },
    #[error("`{name}` cannot be used: {becomes}; {reason}")]
    NameNotAccepted {
        name: String,
        becomes: Becomes,
        reason: &'static str,
    },
    #[error("`{kind}` is not a kind the API server accepts: {reason}")]
    KindNotAccepted { kind: String, reason: &'static str },
    #[error("an azure target must list at least one of roles, actions, dataActions or keyVaultPolicy")]
    AzureNothingGranted,
    #[error(
        "azure roles cannot be combined with actions or dataActions (a custom role): use one or the other"
    )]
    AzureRolesWithActions,
    #[error("an internet target must list ips or domains")]
    InternetNoDestination,
    #[error("`{domain}` is not a valid domain name: {reason}")]
    InvalidDomain { domain: String, reason: &'static str },
    #[error("`{ip}` is not an IP address or a CIDR")]
    InvalidIp { ip: String },
    #[error("port {port} is not between 1 and 65535")]
    InvalidPort { port: i32 },
    #[error("wildcard domain `{domain}` is not allowed in strict mode (enable-strict-mode-intents)")]
    StrictWildcardDomain { domain: String },
    #[error("an internet target must list ports in strict mode (enable-strict-mode-intents)")]
    StrictPortsRequired,
    #[error(
        "in strict mode (enable-strict-mode-intents) calls to in-cluster workloads must name a Service: use a \
         `service` target or `kind: Service`"
    )]
    StrictServiceRequired,
    #[error("a call of type http cannot carry kafkaTopics")]
    V1HttpWithKafkaTopics,
    #[error("a call of type internet needs an `internet` section (domains, ips, ports)")]
    V1InternetMissing,
    #[error(
        "a kafka call without kafkaTopics grants nothing: it converts to an empty v2 target; list its topics"
    )]
    V1KafkaWithoutTopics,
    #[error("a database call without databaseResources grants nothing: it converts to an empty v2 target")]
    V1DatabaseWithoutResources,
    #[error("HTTPResources are ignored unless the call has `type: http`")]
    V1HttpResourcesIgnored,
    #[error("`{name}` must consist of lower-case letters, digits, `-` and `_`")]
    ProtectedServiceName { name: String },
    #[error("another ProtectedService in this namespace ({other}) already protects this server")]
    DuplicateProtectedService { other: String },
    #[error("is required when tls is set: certFile, keyFile and rootCAFile go together")]
    TlsIncomplete,
    #[error("`{addr}` is not a `host:port` address: {reason}")]
    InvalidAddress { addr: String, reason: &'static str },
}

/// Every error found on an object (never empty when returned by [`super::Report::into_result`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
