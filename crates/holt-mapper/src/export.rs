//! Export: discovered intents → ClientIntents objects (docs/reference-behaviour.md#mapper-export), written as
//! YAML or JSON.
//!
//! One object per client workload (name = the workload name, namespace = its namespace, `workload.kind` =
//! its owner kind); in-cluster targets are `kubernetes{name, kind}` (`name.namespace` across namespaces),
//! or `service{name}` for calls made through a Service with `as_kubernetes_service` and always for the API
//! server. The HTTP paths seen on a call go into its `kubernetes` (or `service`) target as `http: [{path,
//! methods}]`, the paths sorted, their methods in the API's order; paths seen on two calls that export as
//! one target are merged. Kafka topic use read from brokers' authorizer logs is one `kafka{name, topics}`
//! target per broker ([`crate::kafka_discovery::kafka_targets`]); internet destinations are one
//! `internet{domains, ips}` target per client. Objects are sorted by
//! namespace and name, targets by key. JSON matches the reference's export (`creationTimestamp: null`,
//! `status: {upToDate: false, observedGeneration: 0}`); YAML leaves those out, as the reference does.

use std::collections::{BTreeMap, BTreeSet};

use holt_api::convert::convert;
use holt_api::v2beta1::{
    ClientIntents, ClientIntentsSpec, ClientIntentsStatus, HttpMethod, HttpResource, InternetTarget,
    KubernetesTarget, ServiceTarget, Target, Workload,
};
use holt_api::{v1alpha3, v2beta1};
use holt_mapper_api::{DiscoveredIntent, ExportFile, ExportFormat, ExportVersion};

use crate::kafka_discovery::{KafkaUse, kafka_targets};
use kube::api::ObjectMeta;
use serde_json::Value;

/// How to export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    pub format: ExportFormat,
    pub version: ExportVersion,
    pub as_kubernetes_service: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write ClientIntents {namespace}/{name} as {format}: {reason}")]
    Write {
        namespace: String,
        name: String,
        format: &'static str,
        reason: String,
    },
}

/// An in-cluster target of one client, in the order exported: workloads, then Services, each by name.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Called {
    Workload { name: String, kind: Option<String> },
    Service { name: String },
}

/// The methods a ClientIntents `http` resource names, by the token the sniffer reports.
fn http_method(token: &str) -> Option<HttpMethod> {
    Some(match token {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "OPTIONS" => HttpMethod::Options,
        "TRACE" => HttpMethod::Trace,
        "PATCH" => HttpMethod::Patch,
        _ => return None,
    })
}

/// Paths and their methods, as one exported target collects them.
type HttpPaths = BTreeMap<String, BTreeSet<HttpMethod>>;

fn http_resources(paths: HttpPaths) -> Vec<HttpResource> {
    paths
        .into_iter()
        .map(|(path, methods)| HttpResource {
            path,
            methods: methods.into_iter().collect(),
        })
        .collect()
}

/// The ClientIntents (v2beta1) of the discovered intents and Kafka topic use, one per client, sorted.
pub fn client_intents(
    intents: &[DiscoveredIntent],
    kafka: &[KafkaUse],
    as_kubernetes_service: bool,
) -> Vec<ClientIntents> {
    #[derive(Default)]
    struct Client<'a> {
        kind: Option<String>,
        targets: BTreeMap<Called, HttpPaths>,
        kafka: Vec<&'a KafkaUse>,
        domains: BTreeSet<String>,
        ips: BTreeSet<String>,
    }
    let mut clients: BTreeMap<(String, String), Client> = BTreeMap::new();
    for intent in intents {
        let client = clients
            .entry((intent.client.namespace.clone(), intent.client.name.clone()))
            .or_default();
        client.kind = intent.client.kind.clone();
        match &intent.target {
            holt_mapper_api::Target::Kubernetes {
                server,
                service,
                http,
            } => {
                let qualify = |name: &str| {
                    if server.namespace == intent.client.namespace {
                        name.to_owned()
                    } else {
                        format!("{name}.{}", server.namespace)
                    }
                };
                let api_server = server.name == "kubernetes" && server.namespace == "default";
                let called = match service {
                    Some(service) if api_server || as_kubernetes_service => Called::Service {
                        name: qualify(service),
                    },
                    _ => Called::Workload {
                        name: qualify(&server.name),
                        kind: server.kind.clone(),
                    },
                };
                let paths = client.targets.entry(called).or_default();
                for path in http {
                    paths
                        .entry(path.path.clone())
                        .or_default()
                        .extend(path.methods.iter().filter_map(|m| http_method(m)));
                }
            }
            holt_mapper_api::Target::Internet {
                domain: Some(domain), ..
            } => {
                client.domains.insert(domain.clone());
            }
            holt_mapper_api::Target::Internet { domain: None, ips } => {
                client.ips.extend(ips.iter().map(ToString::to_string));
            }
        }
    }
    for used in kafka {
        let client = clients
            .entry((used.client.namespace.clone(), used.client.name.clone()))
            .or_default();
        if client.kind.is_none() {
            client.kind = used.client.kind.clone();
        }
        client.kafka.push(used);
    }
    clients
        .into_iter()
        .map(|((namespace, name), client)| {
            let mut targets: Vec<Target> = client
                .targets
                .into_iter()
                .map(|(called, paths)| match called {
                    Called::Workload { name, kind } => Target {
                        kubernetes: Some(KubernetesTarget {
                            name,
                            kind,
                            http: http_resources(paths),
                        }),
                        ..Target::default()
                    },
                    Called::Service { name } => Target {
                        service: Some(ServiceTarget {
                            name,
                            http: http_resources(paths),
                        }),
                        ..Target::default()
                    },
                })
                .collect();
            targets.extend(kafka_targets(client.kafka).into_iter().map(|kafka| Target {
                kafka: Some(kafka),
                ..Target::default()
            }));
            if !client.domains.is_empty() || !client.ips.is_empty() {
                targets.push(Target {
                    internet: Some(InternetTarget {
                        domains: client.domains.into_iter().collect(),
                        ips: client.ips.into_iter().collect(),
                        ports: vec![],
                    }),
                    ..Target::default()
                });
            }
            ClientIntents {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace),
                    ..ObjectMeta::default()
                },
                spec: ClientIntentsSpec {
                    workload: Workload {
                        name,
                        kind: client.kind,
                    },
                    targets,
                },
                status: Some(ClientIntentsStatus::default()),
            }
        })
        .collect()
}

/// The exported objects as JSON values, in the requested version, shaped as the reference prints them.
fn values(
    objects: Vec<ClientIntents>,
    options: &ExportOptions,
) -> Result<Vec<(String, String, Value)>, ExportError> {
    objects
        .into_iter()
        .map(|object| {
            let name = object.metadata.name.clone().unwrap_or_default();
            let namespace = object.metadata.namespace.clone().unwrap_or_default();
            let value = match options.version {
                ExportVersion::V2beta1 => serde_json::to_value(&object),
                ExportVersion::V1alpha3 => {
                    serde_json::to_value(convert::<v2beta1::ClientIntents, v1alpha3::ClientIntents>(object))
                }
            };
            let mut value = value.map_err(|e| ExportError::Write {
                namespace: namespace.clone(),
                name: name.clone(),
                format: "JSON",
                reason: e.to_string(),
            })?;
            if let Some(object) = value.as_object_mut() {
                match options.format {
                    ExportFormat::Json => {
                        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                            meta.insert("creationTimestamp".into(), Value::Null);
                        }
                    }
                    ExportFormat::Yaml => {
                        object.remove("status");
                    }
                }
            }
            Ok((namespace, name, value))
        })
        .collect()
}

fn render(values: &[Value], format: ExportFormat, what: (&str, &str)) -> Result<String, ExportError> {
    let error = |format: &'static str, reason: String| ExportError::Write {
        namespace: what.0.to_owned(),
        name: what.1.to_owned(),
        format,
        reason,
    };
    match format {
        ExportFormat::Json => {
            let mut text = serde_json::to_string_pretty(values).map_err(|e| error("JSON", e.to_string()))?;
            text.push('\n');
            Ok(text)
        }
        ExportFormat::Yaml => {
            let mut out = String::new();
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&serde_yaml::to_string(value).map_err(|e| error("YAML", e.to_string()))?);
            }
            Ok(out)
        }
    }
}

/// One document holding every client's ClientIntents (multi-document YAML or a JSON list).
pub fn export(
    intents: &[DiscoveredIntent],
    kafka: &[KafkaUse],
    options: &ExportOptions,
) -> Result<String, ExportError> {
    let objects = client_intents(intents, kafka, options.as_kubernetes_service);
    let values: Vec<Value> = values(objects, options)?
        .into_iter()
        .map(|(_, _, value)| value)
        .collect();
    render(&values, options.format, ("", "all"))
}

/// One file per client, named `<workload>.<namespace>.yaml` (or `.json`, holding a one-element list).
pub fn export_files(
    intents: &[DiscoveredIntent],
    kafka: &[KafkaUse],
    options: &ExportOptions,
) -> Result<Vec<ExportFile>, ExportError> {
    let extension = match options.format {
        ExportFormat::Yaml => "yaml",
        ExportFormat::Json => "json",
    };
    values(
        client_intents(intents, kafka, options.as_kubernetes_service),
        options,
    )?
    .into_iter()
    .map(|(namespace, name, value)| {
        Ok(ExportFile {
            file_name: format!("{name}.{namespace}.{extension}"),
            content: render(&[value], options.format, (&namespace, &name))?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::{Target as Discovered, Workload as Wl};
    use jiff::Timestamp;
    use pretty_assertions::assert_eq;

    use super::*;

    fn wl(ns: &str, name: &str, kind: &str) -> Wl {
        Wl {
            name: name.into(),
            namespace: ns.into(),
            kind: Some(kind.into()),
        }
    }

    fn to(client: Wl, target: Discovered) -> DiscoveredIntent {
        DiscoveredIntent {
            client,
            target,
            first_seen: Timestamp::UNIX_EPOCH,
            last_seen: Timestamp::UNIX_EPOCH,
        }
    }

    fn server(ns: &str, name: &str, service: Option<&str>) -> Discovered {
        Discovered::Kubernetes {
            server: wl(ns, name, "Deployment"),
            service: service.map(str::to_owned),
            http: Vec::new(),
        }
    }

    fn tutorial() -> Vec<DiscoveredIntent> {
        let ns = "otterize-tutorial-mapper";
        vec![
            to(
                wl(ns, "client2", "Deployment"),
                server(ns, "server", Some("server")),
            ),
            to(wl(ns, "client", "Deployment"), server(ns, "server", None)),
        ]
    }

    /// The reference's expected export for its network-mapper tutorial
    /// (docs/reference-behaviour.md#mapper-export).
    const TUTORIAL_JSON: &str = r#"[
      {"kind": "ClientIntents", "apiVersion": "k8s.otterize.com/v2beta1",
       "metadata": {"name": "client", "namespace": "otterize-tutorial-mapper", "creationTimestamp": null},
       "spec": {"workload": {"name": "client", "kind": "Deployment"},
                "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]},
       "status": {"upToDate": false, "observedGeneration": 0}},
      {"kind": "ClientIntents", "apiVersion": "k8s.otterize.com/v2beta1",
       "metadata": {"name": "client2", "namespace": "otterize-tutorial-mapper", "creationTimestamp": null},
       "spec": {"workload": {"name": "client2", "kind": "Deployment"},
                "targets": [{"kubernetes": {"name": "server", "kind": "Deployment"}}]},
       "status": {"upToDate": false, "observedGeneration": 0}}
    ]"#;

    #[test]
    fn the_tutorial_exports_as_the_reference_does() {
        let options = ExportOptions {
            format: ExportFormat::Json,
            ..ExportOptions::default()
        };
        let json: Value =
            serde_json::from_str(&export(&tutorial(), &[], &options).expect("export")).expect("json");
        let expected: Value = serde_json::from_str(TUTORIAL_JSON).expect("expected");
        assert_eq!(json, expected);
    }

    #[test]
    fn http_paths_go_into_the_kubernetes_target_merged_and_sorted() {
        let path = |path: &str, methods: &[&str]| holt_mapper_api::HttpPath {
            path: path.into(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        };
        let client = wl("shop", "client", "Deployment");
        let with_paths = |service: Option<&str>, http| Discovered::Kubernetes {
            server: wl("shop", "server", "Deployment"),
            service: service.map(str::to_owned),
            http,
        };
        let intents = vec![
            to(
                client.clone(),
                with_paths(None, vec![path("/orders/*", &["GET"])]),
            ),
            to(
                client,
                with_paths(
                    Some("server"),
                    vec![path("/charge", &["POST"]), path("/orders/*", &["PATCH", "POST"])],
                ),
            ),
        ];
        let options = ExportOptions {
            format: ExportFormat::Json,
            ..ExportOptions::default()
        };
        let json: Value =
            serde_json::from_str(&export(&intents, &[], &options).expect("export")).expect("json");
        assert_eq!(
            json[0]["spec"]["targets"],
            serde_json::json!([{"kubernetes": {"name": "server", "kind": "Deployment", "http": [
                {"path": "/charge", "methods": ["POST"]},
                {"path": "/orders/*", "methods": ["GET", "POST", "PATCH"]}
            ]}}])
        );
        let as_service = ExportOptions {
            as_kubernetes_service: true,
            ..options
        };
        let json: Value =
            serde_json::from_str(&export(&intents, &[], &as_service).expect("export")).expect("json");
        assert_eq!(
            json[0]["spec"]["targets"][1]["service"]["http"],
            serde_json::json!([
                {"path": "/charge", "methods": ["POST"]},
                {"path": "/orders/*", "methods": ["POST", "PATCH"]}
            ])
        );
    }

    #[test]
    fn yaml_is_multi_document_without_status() {
        let yaml = export(&tutorial(), &[], &ExportOptions::default()).expect("export");
        assert_eq!(
            yaml,
            "apiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\nmetadata:\n  name: client\n  namespace: otterize-tutorial-mapper\nspec:\n  workload:\n    name: client\n    kind: Deployment\n  targets:\n  - kubernetes:\n      name: server\n      kind: Deployment\n---\napiVersion: k8s.otterize.com/v2beta1\nkind: ClientIntents\nmetadata:\n  name: client2\n  namespace: otterize-tutorial-mapper\nspec:\n  workload:\n    name: client2\n    kind: Deployment\n  targets:\n  - kubernetes:\n      name: server\n      kind: Deployment\n"
        );
    }

    #[test]
    fn services_cross_namespace_names_internet_and_v1alpha3() {
        let client = wl("a", "client", "Deployment");
        let intents = vec![
            to(client.clone(), server("b", "db", Some("db-svc"))),
            to(client.clone(), server("a", "cache", None)),
            to(
                client.clone(),
                Discovered::Kubernetes {
                    server: wl("default", "kubernetes", "Service"),
                    service: Some("kubernetes".into()),
                    http: Vec::new(),
                },
            ),
            to(
                client.clone(),
                Discovered::Internet {
                    domain: Some("api.example.com".into()),
                    ips: vec!["192.0.2.1".parse().expect("ip")],
                },
            ),
            to(
                client.clone(),
                Discovered::Internet {
                    domain: None,
                    ips: vec!["198.51.100.7".parse().expect("ip")],
                },
            ),
        ];
        let objects = client_intents(&intents, &[], true);
        let spec = serde_json::to_value(&objects[0].spec).expect("json");
        assert_eq!(
            spec,
            serde_json::json!({
                "workload": {"name": "client", "kind": "Deployment"},
                "targets": [
                    {"kubernetes": {"name": "cache", "kind": "Deployment"}},
                    {"service": {"name": "db-svc.b"}},
                    {"service": {"name": "kubernetes.default"}},
                    {"internet": {"domains": ["api.example.com"], "ips": ["198.51.100.7"]}},
                ]
            })
        );
        let plain = client_intents(&intents, &[], false);
        let spec = serde_json::to_value(&plain[0].spec).expect("json");
        assert_eq!(
            spec["targets"][1],
            serde_json::json!({"kubernetes": {"name": "db.b", "kind": "Deployment"}})
        );
        let options = ExportOptions {
            format: ExportFormat::Json,
            version: ExportVersion::V1alpha3,
            as_kubernetes_service: false,
        };
        let v1: Value =
            serde_json::from_str(&export(&intents, &[], &options).expect("export")).expect("json");
        assert_eq!(v1[0]["apiVersion"], "k8s.otterize.com/v1alpha3");
        assert_eq!(v1[0]["spec"]["service"]["name"], "client");
        assert_eq!(v1[0]["spec"]["calls"][1]["name"], "db.b");
    }

    #[test]
    fn files_are_named_by_workload_and_namespace() {
        let files = export_files(&tutorial(), &[], &ExportOptions::default()).expect("files");
        let names: Vec<_> = files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "client.otterize-tutorial-mapper.yaml",
                "client2.otterize-tutorial-mapper.yaml"
            ]
        );
        assert!(files[1].content.contains("name: client2"));
    }
}
