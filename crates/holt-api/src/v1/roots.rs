//! The call type and the three root kinds of a `v1` version, written once: `v1alpha3` and `v1beta1` differ
//! only in their version name and in two extra call fields of `v1beta1`, so each of their modules expands
//! [`v1_roots`] with its version and extra fields.

/// Defines `Call`, `ClientIntentsSpec`, `ProtectedServiceSpec` and `KafkaServerConfigSpec` (and, through
/// `kube::CustomResource`, the `ClientIntents`, `ProtectedService` and `KafkaServerConfig` roots) for one `v1`
/// version. The second argument lists extra `Call` fields, placed after `azureRoles`. The expanding module
/// must import `Workload`, `CallType`, `KafkaTopic`, `HttpResource`, `SqlPrivileges`, `AzureKeyVaultPolicy`,
/// `InternetTarget`, `KafkaTls`, `KafkaTopicConfig`, `ClientIntentsStatus` and `ConditionsStatus`.
macro_rules! v1_roots {
    ($version:tt, { $($extra:tt)* }) => {
        /// The calls a client service declares (the v1 form of ClientIntents).
        #[derive(
            kube::CustomResource,
            Clone,
            Debug,
            Default,
            PartialEq,
            serde::Serialize,
            serde::Deserialize,
            schemars::JsonSchema,
        )]
        #[kube(group = "k8s.otterize.com", version = $version, kind = "ClientIntents", plural = "clientintents", namespaced)]
        #[kube(status = "ClientIntentsStatus", shortname = "ci", category = "otterize", category = "holt")]
        #[kube(derive = "Default", derive = "PartialEq")]
        #[kube(doc = "ClientIntents: the calls a client workload declares; Holt turns them into least-privilege access.")]
        #[kube(printcolumn(name = "Workload", type_ = "string", json_path = ".spec.service.name"))]
        #[kube(printcolumn(name = "Kind", type_ = "string", json_path = ".spec.service.kind", priority = "1"))]
        #[kube(printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ))]
        #[kube(printcolumn(
            name = "Enforced",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Enforced\")].reason"
        ))]
        #[kube(printcolumn(name = "Up-to-date", type_ = "boolean", json_path = ".status.upToDate", priority = "1"))]
        #[kube(printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"))]
        #[serde(rename_all = "camelCase")]
        pub struct ClientIntentsSpec {
            /// The client: the workload whose pods make the calls, in the object's namespace.
            pub service: Workload,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub calls: Vec<Call>,
        }

        /// One declared call. Which fields matter depends on `type`; the others are ignored (and dropped by
        /// conversion).
        #[derive(
            Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        #[serde(rename_all = "camelCase")]
        pub struct Call {
            /// In-cluster: `server`, `server.namespace`, or with the `svc:` prefix a Kubernetes Service.
            /// Kafka: the broker; database: the database instance; aws: the ARN; gcp: the resource; azure:
            /// the scope. Unused for internet calls.
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub name: String,
            /// The server's kind (`Deployment`, `Service`, ...) for in-cluster calls.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub kind: Option<String>,
            #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
            pub call_type: Option<CallType>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub kafka_topics: Vec<KafkaTopic>,
            #[serde(default, rename = "HTTPResources", skip_serializing_if = "Vec::is_empty")]
            pub http_resources: Vec<HttpResource>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub database_resources: Vec<SqlPrivileges>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub aws_actions: Vec<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub gcp_permissions: Vec<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub azure_roles: Vec<String>,
            $($extra)*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub azure_key_vault_policy: Option<AzureKeyVaultPolicy>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub internet: Option<InternetTarget>,
        }

        /// Turns enforcement on for one server when the operator runs in `defaultShadow` mode.
        #[derive(
            kube::CustomResource,
            Clone,
            Debug,
            Default,
            PartialEq,
            serde::Serialize,
            serde::Deserialize,
            schemars::JsonSchema,
        )]
        #[kube(group = "k8s.otterize.com", version = $version, kind = "ProtectedService", namespaced)]
        #[kube(status = "ConditionsStatus", shortname = "psvc", category = "otterize", category = "holt")]
        #[kube(derive = "Default", derive = "PartialEq")]
        #[kube(doc = "ProtectedService: turns enforcement on for one server (default-deny plus the declared calls).")]
        #[kube(printcolumn(name = "Server", type_ = "string", json_path = ".spec.name"))]
        #[kube(printcolumn(name = "Kind", type_ = "string", json_path = ".spec.kind"))]
        #[kube(printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ))]
        #[kube(printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"))]
        #[serde(rename_all = "camelCase")]
        pub struct ProtectedServiceSpec {
            /// The server's workload name, in the object's namespace.
            pub name: String,
            /// The server's kind (`Deployment`, `Service`, ...); empty means any workload with that name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub kind: Option<String>,
        }

        /// Tells the operator how to reach a Kafka broker and which topic defaults to enforce on it.
        #[derive(
            kube::CustomResource,
            Clone,
            Debug,
            Default,
            PartialEq,
            serde::Serialize,
            serde::Deserialize,
            schemars::JsonSchema,
        )]
        #[kube(group = "k8s.otterize.com", version = $version, kind = "KafkaServerConfig", namespaced)]
        #[kube(status = "ConditionsStatus", shortname = "ksc", category = "otterize", category = "holt")]
        #[kube(derive = "Default", derive = "PartialEq")]
        #[kube(doc = "KafkaServerConfig: how the operator reaches a Kafka broker and the topic defaults to enforce on it.")]
        #[kube(printcolumn(name = "Server", type_ = "string", json_path = ".spec.service.name"))]
        #[kube(printcolumn(name = "Address", type_ = "string", json_path = ".spec.addr"))]
        #[kube(printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ))]
        #[kube(printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"))]
        #[serde(rename_all = "camelCase")]
        pub struct KafkaServerConfigSpec {
            /// The broker's workload, in the object's namespace.
            pub service: Workload,
            /// Bootstrap address `host:port` the operator connects to.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub addr: Option<String>,
            /// Do not add the intents the operator itself needs to reach this broker.
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            pub no_auto_create_intents_for_operator: bool,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tls: Option<KafkaTls>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub topics: Vec<KafkaTopicConfig>,
        }
    };
}

pub(crate) use v1_roots;
