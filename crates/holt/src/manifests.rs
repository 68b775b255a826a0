//! Reading Kubernetes manifests from files and directories: multi-document YAML, JSON, and `List` objects,
//! into typed objects. Every problem names the file, the document, the object and the field. Each file is
//! first checked against the depth and size limits of [`crate::document_limits`], so that a hostile document
//! is refused before it is parsed.

use std::fmt;
use std::path::{Path, PathBuf};

use holt_model::facts::NamespaceFacts;
use holt_reach::istio::AuthorizationPolicyManifest;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::document_limits::{self, Exceeded, Limits};

/// Where a document came from: a file and the document's position in it (1-based).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    pub file: PathBuf,
    pub document: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// An object `holt plan` understands.
#[derive(Clone, Debug)]
pub enum Manifest {
    /// A Namespace: what the model needs of it (name, mesh labels), and all its labels (NetworkPolicy
    /// namespace selectors match them).
    Namespace {
        facts: NamespaceFacts,
        labels: std::collections::BTreeMap<String, String>,
    },
    Pod(Box<Pod>),
    /// A pod owner (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) and its pod template.
    Workload {
        kind: String,
        meta: Box<ObjectMeta>,
        template: Option<Box<PodTemplateSpec>>,
    },
    Service(Box<Service>),
    Ingress(Box<Ingress>),
    /// A NetworkPolicy (read by `holt reach`; `holt plan` does not use it).
    NetworkPolicy(Box<NetworkPolicy>),
    /// An Istio `security.istio.io` AuthorizationPolicy (read by `holt reach`; `holt plan` does not use it).
    IstioAuthorizationPolicy(Box<AuthorizationPolicyManifest>),
    /// One of Holt's own kinds (`k8s.otterize.com`), as written (any served version).
    Holt {
        value: Value,
    },
}

/// A manifest and where it was read.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub source: Source,
    pub manifest: Manifest,
}

/// A document that was read but is not used, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub source: Source,
    pub what: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: no .yaml, .yml or .json files found")]
    Empty { path: PathBuf },
    #[error("{at}: not valid YAML/JSON: {problem}")]
    Syntax { at: Source, problem: String },
    #[error("{at}: {exceeded}")]
    Limit { at: Source, exceeded: Exceeded },
    #[error("{at}: {object}: {problem}")]
    Object {
        at: Source,
        object: String,
        problem: String,
    },
}

/// Everything read from the given paths, in path order.
#[derive(Debug, Default)]
pub struct Manifests {
    pub loaded: Vec<Loaded>,
    pub skipped: Vec<Skipped>,
}

/// Reads every `.yaml`, `.yml` and `.json` file under the given files and directories (recursively, in
/// name order), except `exclude` (the configuration file, which may live beside the manifests). Fails on
/// the first unreadable file, malformed document or document over the `limits`.
pub fn load(paths: &[PathBuf], exclude: Option<&Path>, limits: &Limits) -> Result<Manifests, LoadError> {
    let excluded = exclude.and_then(|p| p.canonicalize().ok());
    let mut manifests = Manifests::default();
    for path in paths {
        let files = files_under(path)?;
        if files.is_empty() {
            return Err(LoadError::Empty { path: path.clone() });
        }
        for file in files {
            if excluded.is_some() && file.canonicalize().ok() == excluded {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|source| LoadError::Read {
                path: file.clone(),
                source,
            })?;
            read_documents(&file, &text, limits, &mut manifests)?;
        }
    }
    Ok(manifests)
}

fn files_under(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
    entries.sort();
    let mut files = Vec::new();
    for entry in entries {
        if entry.is_dir() {
            files.extend(files_under(&entry)?);
        } else if entry
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            files.push(entry);
        }
    }
    Ok(files)
}

/// Splits a file into documents and reads each; JSON is a subset of YAML, so one parser serves both.
pub fn read_documents(
    file: &Path,
    text: &str,
    limits: &Limits,
    into: &mut Manifests,
) -> Result<(), LoadError> {
    let at = |document: usize| Source {
        file: file.to_owned(),
        document,
    };
    if let Some(over) = document_limits::check(text, limits) {
        return Err(LoadError::Limit {
            at: at(over.document),
            exceeded: over.exceeded,
        });
    }
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let source = at(index + 1);
        let value = Value::deserialize(document).map_err(|e| syntax_error(source.clone(), &e))?;
        match value {
            // A JSON list of objects, as `holt mapper export -o json` writes; one level only (a list inside
            // is not a Kubernetes object and is skipped as such).
            Value::Array(items) => {
                for item in items {
                    read_value(source.clone(), item, into)?;
                }
            }
            value => read_value(source, value, into)?,
        }
    }
    Ok(())
}

/// A document the YAML parser refuses. Its recursion limit is [`document_limits::MAX_DEPTH`] (a test reads 128 levels and
/// refuses 129 both ways), which the limits pass checks first; but an alias repeats the levels of its anchor
/// and only the parser sees those.
fn syntax_error(at: Source, error: &serde_yaml::Error) -> LoadError {
    let problem = error.to_string();
    match error.location() {
        Some(location) if problem.starts_with("recursion limit exceeded") => LoadError::Limit {
            at,
            exceeded: Exceeded::TooDeep {
                line: location.line(),
                column: location.column(),
            },
        },
        _ => LoadError::Syntax { at, problem },
    }
}

fn read_value(source: Source, value: Value, into: &mut Manifests) -> Result<(), LoadError> {
    if value.is_null() {
        return Ok(()); // an empty document, e.g. a trailing `---`
    }
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let object = describe(&kind, &value);
    let err = |problem: String| LoadError::Object {
        at: source.clone(),
        object: object.clone(),
        problem,
    };
    if kind.is_empty() && api_version.is_empty() {
        // Not a Kubernetes object: a values or configuration file beside the manifests.
        let what = "a document without apiVersion and kind (not a Kubernetes object)".into();
        into.skipped.push(Skipped { source, what });
        return Ok(());
    }
    if kind.is_empty() || api_version.is_empty() {
        return Err(err("`apiVersion` and `kind` are both required".into()));
    }
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    let manifest = match (group, kind.as_str()) {
        ("", "List") => {
            let items = value
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in items {
                read_value(source.clone(), item, into)?;
            }
            return Ok(());
        }
        ("", "Namespace") => {
            let meta: ObjectMeta = field(&value, "metadata").map_err(err)?;
            if meta.name.is_none() {
                return Err(err("metadata.name is required".into()));
            }
            Manifest::Namespace {
                facts: NamespaceFacts::from_meta(&meta),
                labels: meta.labels.unwrap_or_default(),
            }
        }
        ("", "Pod") => Manifest::Pod(Box::new(typed(&value).map_err(err)?)),
        ("", "Service") => Manifest::Service(Box::new(typed(&value).map_err(err)?)),
        ("networking.k8s.io", "Ingress") => Manifest::Ingress(Box::new(typed(&value).map_err(err)?)),
        ("networking.k8s.io", "NetworkPolicy") => {
            Manifest::NetworkPolicy(Box::new(typed(&value).map_err(err)?))
        }
        ("security.istio.io", "AuthorizationPolicy") => {
            Manifest::IstioAuthorizationPolicy(Box::new(typed(&value).map_err(err)?))
        }
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "Job") => {
            workload(&kind, &value, "/spec/template").map_err(err)?
        }
        ("batch", "CronJob") => workload(&kind, &value, "/spec/jobTemplate/spec/template").map_err(err)?,
        (holt_api::GROUP, "ClientIntents" | "ProtectedService" | "KafkaServerConfig") => {
            Manifest::Holt { value }
        }
        _ => {
            into.skipped.push(Skipped { source, what: object });
            return Ok(());
        }
    };
    into.loaded.push(Loaded { source, manifest });
    Ok(())
}

fn workload(kind: &str, value: &Value, template_path: &str) -> Result<Manifest, String> {
    let meta: ObjectMeta = field(value, "metadata")?;
    let template = match value.pointer(template_path) {
        Some(template) => Some(Box::new(
            deserialize::<PodTemplateSpec>(template.clone())
                .map_err(|e| format!("{}: {e}", template_path.trim_start_matches('/').replace('/', ".")))?,
        )),
        None => None,
    };
    Ok(Manifest::Workload {
        kind: kind.to_owned(),
        meta: Box::new(meta),
        template,
    })
}

/// `Kind namespace/name` for messages.
pub fn describe(kind: &str, value: &Value) -> String {
    let meta = |key: &str| value.pointer(&format!("/metadata/{key}")).and_then(Value::as_str);
    let kind = if kind.is_empty() { "object" } else { kind };
    match (meta("namespace"), meta("name")) {
        (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
        (None, Some(name)) => format!("{kind} {name}"),
        _ => format!("{kind} (unnamed)"),
    }
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    deserialize(value.clone())
}

fn field<T: DeserializeOwned + Default>(value: &Value, key: &str) -> Result<T, String> {
    match value.get(key) {
        Some(v) => deserialize(v.clone()).map_err(|e| format!("{key}.{e}")),
        None => Ok(T::default()),
    }
}

/// Deserializes with the path of the failing field in the message (`spec.ports[0].port: invalid type...`).
pub fn deserialize<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn read(text: &str) -> Result<Manifests, LoadError> {
        let mut manifests = Manifests::default();
        read_documents(Path::new("test.yaml"), text, &Limits::default(), &mut manifests)?;
        Ok(manifests)
    }

    #[test]
    fn reads_multi_document_yaml_lists_and_skips_unknown_kinds() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a, namespace: shop}, spec: {ports: [{port: 80}]}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}}\n";
        let manifests = read(text).expect("valid");
        assert_eq!(manifests.loaded.len(), 2);
        assert!(
            matches!(&manifests.loaded[0].manifest, Manifest::Namespace { facts, .. } if facts.name == "shop")
        );
        assert_eq!(
            manifests.loaded[1].source.document, 3,
            "the empty document counts"
        );
        assert_eq!(manifests.skipped.len(), 1);
        assert_eq!(manifests.skipped[0].what, "ConfigMap shop/c");
    }

    #[test]
    fn errors_name_the_file_document_object_and_field() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec: {ports: [{port: eighty}]}\n";
        let message = read(text).expect_err("invalid port").to_string();
        assert!(
            message.starts_with("test.yaml (document 2): Service shop/a: spec.ports[0].port"),
            "{message}"
        );
    }

    #[test]
    fn workloads_keep_their_pod_template() {
        let text = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: ops}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: nightly}}\n        spec: {containers: [{name: main, image: worker:1}]}\n";
        let manifests = read(text).expect("valid");
        let Manifest::Workload { kind, template, .. } = &manifests.loaded[0].manifest else {
            panic!("not a workload")
        };
        assert_eq!(kind, "CronJob");
        assert!(
            template
                .as_ref()
                .is_some_and(|t| t.metadata.as_ref().is_some_and(|m| m.labels.is_some()))
        );
    }

    /// `{"a": {"a": ... 1}}`, `depth` mappings deep, as JSON.
    fn nested_json(depth: usize) -> String {
        format!("{}1{}", r#"{"a": "#.repeat(depth), "}".repeat(depth))
    }

    /// The first line of an error, and how long reading took.
    fn refusal(text: &str) -> (String, Duration) {
        let started = Instant::now();
        let error = read(text).expect_err("refused");
        (error.to_string(), started.elapsed())
    }

    #[test]
    fn a_json_document_nested_100_000_deep_is_refused_at_once_naming_the_limit() {
        let (message, took) = refusal(&nested_json(100_000));
        assert!(took < Duration::from_secs(1), "took {took:?}");
        assert!(
            message.starts_with("test.yaml (document 1): nested deeper than 128 levels"),
            "{message}"
        );
        assert!(message.contains("line 1 column 769"), "{message}");
    }

    #[test]
    fn deep_flow_and_block_yaml_is_refused_at_once_in_the_document_it_is_in() {
        let flow = format!("a: 1\n---\nkey: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let block = format!("a: 1\n---\nb: 2\n---\n{}x\n", "- ".repeat(100_000));
        for (text, document) in [(flow, 2), (block, 3)] {
            let (message, took) = refusal(&text);
            assert!(took < Duration::from_secs(1), "took {took:?}");
            let expected = format!("test.yaml (document {document}): nested deeper than 128 levels");
            assert!(message.starts_with(&expected), "{message}");
        }
    }

    #[test]
    fn up_to_128_levels_are_read_and_one_more_is_refused() {
        for depth in [1, 64, 128] {
            let flow = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let block = format!("{}x\n", "- ".repeat(depth));
            for text in [nested_json(depth), flow, block] {
                read(&text).unwrap_or_else(|e| panic!("{depth} levels are read: {e}"));
            }
        }
        let flow = format!("{}{}", "[".repeat(129), "]".repeat(129));
        let block = format!("{}x\n", "- ".repeat(129));
        for text in [nested_json(129), flow, block] {
            let (message, _) = refusal(&text);
            assert!(message.contains("nested deeper than 128 levels"), "{message}");
        }
        // An alias repeats what its anchor holds, levels included.
        let anchored = format!("a: &deep {}{}\nb: [*deep]\n", "[".repeat(127), "]".repeat(127));
        let (message, _) = refusal(&anchored);
        assert!(
            message.starts_with("test.yaml (document 1): nested deeper than 128 levels"),
            "{message}"
        );
    }

    #[test]
    fn a_document_over_the_size_limit_is_refused_naming_it_and_the_limit() {
        let limits = Limits {
            max_document_bytes: 1024,
        };
        let read_with = |text: &str| {
            let mut manifests = Manifests::default();
            read_documents(Path::new("test.yaml"), text, &limits, &mut manifests).map(|()| manifests)
        };
        let small = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
        let fits = format!("{small}labels: [{}]\n", "x, ".repeat(300));
        assert!(fits.len() < 1024);
        read_with(&format!("{small}---\n{fits}---\n{small}")).expect("every document fits");
        for large in [
            format!("{small}labels: [{}]\n", "x, ".repeat(400)),
            format!("{small}note: {}\n", "x".repeat(2000)),
        ] {
            let message = read_with(&format!("{small}---\n{large}"))
                .expect_err("the second is too large")
                .to_string();
            assert!(
                message.starts_with(
                    "test.yaml (document 2): the document is larger than the limit of 1024 bytes"
                ),
                "{message}"
            );
            assert!(message.ends_with("raise it with --max-document-mib"), "{message}");
        }
        read(&format!("{small}note: {}\n", "x".repeat(2000))).expect("within the default limit");
    }

    #[test]
    fn syntax_errors_and_missing_kinds_are_reported() {
        assert!(matches!(read("a: [unclosed"), Err(LoadError::Syntax { .. })));
        let message = read("apiVersion: v1\nmetadata: {name: x}")
            .expect_err("no kind")
            .to_string();
        assert!(
            message.contains("`apiVersion` and `kind` are both required"),
            "{message}"
        );
        assert_eq!(
            read("mode: defaultShadow").expect("skipped").skipped.len(),
            1,
            "not a Kubernetes object"
        );
    }
}
