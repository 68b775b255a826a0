//! The three root kinds of a `v2` version, written once: `v2alpha1` and `v2beta1` have identical schemas and
//! differ only in their version name, so each of their modules expands [`v2_roots`] with its version.

/// Defines `ClientIntentsSpec`, `ProtectedServiceSpec` and `KafkaServerConfigSpec` (and, through
/// `kube::CustomResource`, the `ClientIntents`, `ProtectedService` and `KafkaServerConfig` roots) for one `v2`
/// version. The expanding module must import `Workload`, `Target`, `KafkaTls`, `KafkaTopicConfig`,
/// `ClientIntentsStatus` and `ConditionsStatus`.
macro_rules! v2_roots {
    ($version:tt) => {
        /// The calls a client workload declares.
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
        #[kube(printcolumn(name = "Workload", type_ = "string", json_path = ".spec.workload.name"))]
        #[kube(printcolumn(name = "Kind", type_ = "string", json_path = ".spec.workload.kind", priority = "1"))]
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
            pub workload: Workload,
            /// The calls; each target sets exactly one key.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub targets: Vec<Target>,
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
        #[kube(printcolumn(name = "Server", type_ = "string", json_path = ".spec.workload.name"))]
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
            pub workload: Workload,
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

pub(crate) use v2_roots;
