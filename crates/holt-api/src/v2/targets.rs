//! The targets a client declares in a `v2` ClientIntents (shared by `v2alpha1` and `v2beta1`, whose schemas
//! are identical).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The workload an object is about: a name and, optionally, the kind of its root owner
/// (`Deployment`, `StatefulSet`, `Service`, ...). An empty kind means "any pod whose identity has this name".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One declared call. Exactly one key must be set; the validation in [`crate::validate`] reports a target
/// with none or several. It is a struct of options, not an enum, so that such a target is still read and
/// can be reported with its path instead of failing to parse (the reference converts some v1 calls into
/// an empty target).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcp: Option<GcpTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet: Option<InternetTarget>,
}

/// A borrowed view of the one key a [`Target`] sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetRef<'a> {
    Kubernetes(&'a KubernetesTarget),
    Service(&'a ServiceTarget),
    Kafka(&'a KafkaTarget),
    Sql(&'a SqlTarget),
    Aws(&'a AwsTarget),
    Gcp(&'a GcpTarget),
    Azure(&'a AzureTarget),
    Internet(&'a InternetTarget),
}

impl Target {
    /// Every key this target sets, in declaration order (valid targets set exactly one).
    pub fn keys(&self) -> Vec<TargetRef<'_>> {
        let Target {
            kubernetes,
            service,
            kafka,
            sql,
            aws,
            gcp,
            azure,
            internet,
        } = self;
        [
            kubernetes.as_ref().map(TargetRef::Kubernetes),
            service.as_ref().map(TargetRef::Service),
            kafka.as_ref().map(TargetRef::Kafka),
            sql.as_ref().map(TargetRef::Sql),
            aws.as_ref().map(TargetRef::Aws),
            gcp.as_ref().map(TargetRef::Gcp),
            azure.as_ref().map(TargetRef::Azure),
            internet.as_ref().map(TargetRef::Internet),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The single key this target sets, or `None` when it sets none or several.
    pub fn get(&self) -> Option<TargetRef<'_>> {
        match self.keys().as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

impl TargetRef<'_> {
    /// The YAML key of this target (`kubernetes`, `service`, ...), used in messages and field paths.
    pub fn key(&self) -> &'static str {
        match self {
            TargetRef::Kubernetes(_) => "kubernetes",
            TargetRef::Service(_) => "service",
            TargetRef::Kafka(_) => "kafka",
            TargetRef::Sql(_) => "sql",
            TargetRef::Aws(_) => "aws",
            TargetRef::Gcp(_) => "gcp",
            TargetRef::Azure(_) => "azure",
            TargetRef::Internet(_) => "internet",
        }
    }
}

/// An in-cluster workload. `name` is `server` or `server.namespace`; `kind` empty means the legacy
/// "any pod with this identity name", `Service` means a Kubernetes Service. `kubernetes.default` is the
/// API server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesTarget {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpResource>,
}

/// A Kubernetes Service; ports are taken from the Service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTarget {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpResource>,
}

/// An HTTP path (and optionally methods) the client calls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpResource {
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<HttpMethod>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Patch,
    Connect,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Trace => "TRACE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Connect => "CONNECT",
        }
    }
}

/// A Kafka broker, named by its workload (`server` or `server.namespace`), and the topics the client uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTarget {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<KafkaTopic>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTopic {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<KafkaOperation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum KafkaOperation {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "consume")]
    Consume,
    #[serde(rename = "produce")]
    Produce,
    #[serde(rename = "create")]
    Create,
    #[serde(rename = "alter")]
    Alter,
    #[serde(rename = "delete")]
    Delete,
    #[serde(rename = "describe")]
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

impl KafkaOperation {
    /// The operation as ClientIntents spell it (its serialized form: `produce`, `ClusterAction`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaOperation::All => "all",
            KafkaOperation::Consume => "consume",
            KafkaOperation::Produce => "produce",
            KafkaOperation::Create => "create",
            KafkaOperation::Alter => "alter",
            KafkaOperation::Delete => "delete",
            KafkaOperation::Describe => "describe",
            KafkaOperation::ClusterAction => "ClusterAction",
            KafkaOperation::DescribeConfigs => "DescribeConfigs",
            KafkaOperation::AlterConfigs => "AlterConfigs",
            KafkaOperation::IdempotentWrite => "IdempotentWrite",
        }
    }
}

/// Grants on a database instance, named by its PostgreSQLServerConfig / MySQLServerConfig.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqlTarget {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub privileges: Vec<SqlPrivileges>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqlPrivileges {
    pub database_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<DatabaseOperation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DatabaseOperation {
    All,
    Select,
    Insert,
    Update,
    Delete,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsTarget {
    pub arn: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GcpTarget {
    pub resource: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureTarget {
    pub scope: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault_policy: Option<AzureKeyVaultPolicy>,
}

/// Key Vault access-policy permissions, as lower-case permission names (`get`, `list`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureKeyVaultPolicy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_permissions: Vec<String>,
}

/// Egress to outside the cluster: DNS names (wildcards `*.example.com` allowed), IPs or CIDRs, and ports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InternetTarget {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<i32>,
}

/// Splits a target name into the server name and the namespace it names, if any: `server.ns` →
/// (`server`, `Some("ns")`), `server` → (`server`, `None`). The namespace is everything after the first `.`.
pub fn split_target_name(name: &str) -> (&str, Option<&str>) {
    match name.split_once('.') {
        Some((server, namespace)) => (server, Some(namespace)),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::KafkaOperation;

    #[test]
    fn a_kafka_operation_is_spelled_as_it_serializes() {
        use KafkaOperation::*;
        for operation in [
            All,
            Consume,
            Produce,
            Create,
            Alter,
            Delete,
            Describe,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
        ] {
            let serialized = serde_json::to_value(operation).expect("serializes");
            assert_eq!(serialized.as_str(), Some(operation.as_str()));
        }
    }
}
