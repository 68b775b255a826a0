//! The committed CRD YAML matches the types, and the generated schemas are structural.

use std::path::PathBuf;

use holt_api::crds;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds")
}

#[test]
fn committed_crds_match_the_types() {
    let update = std::env::var_os("HOLT_UPDATE_GENERATED").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for crd in crds::crds().expect("CRDs") {
        let path = crd_dir().join(crds::file_name(&crd));
        let generated = crds::to_yaml(&crd).expect("YAML");
        if update {
            std::fs::create_dir_all(crd_dir()).expect("mkdir deploy/crds");
            std::fs::write(&path, &generated).expect("write CRD");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "these committed CRDs differ from what the types generate: {stale:?}\n\
         regenerate them with: HOLT_UPDATE_GENERATED=1 cargo test -p holt-api --test crds"
    );
}

/// Walks a schema and reports every violation of the API server's structural-schema rules that our types
/// could produce (apiextensions validation: every node typed, no `$ref`, no logical junctors carrying types,
/// arrays with `items`, not both `properties` and `additionalProperties`, list-map keys required scalars,
/// known formats, enum values of the node's type).
fn structural_problems(schema: &serde_json::Value, path: &str, problems: &mut Vec<String>) {
    use serde_json::Value;
    let Some(node) = schema.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    for forbidden in [
        "$ref",
        "definitions",
        "$defs",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "$schema",
    ] {
        if node.contains_key(forbidden) {
            problems.push(format!("{path}: has `{forbidden}`"));
        }
    }
    let free = node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let ty = node.get("type").and_then(Value::as_str);
    if ty.is_none() && !free {
        problems.push(format!("{path}: no `type`"));
    }
    if let Some(format) = node.get("format").and_then(Value::as_str)
        && !["int32", "int64", "date-time", "byte", "double", "float", "date"].contains(&format)
    {
        problems.push(format!("{path}: format `{format}` unknown to the API server"));
    }
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        for v in values {
            let ok = match ty {
                Some("string") => v.is_string(),
                Some("integer") => v.is_i64() || v.is_u64(),
                Some("boolean") => v.is_boolean(),
                _ => false,
            };
            if !ok {
                problems.push(format!("{path}: enum value {v} does not fit type {ty:?}"));
            }
        }
    }
    if node.contains_key("properties") && node.contains_key("additionalProperties") {
        problems.push(format!("{path}: both properties and additionalProperties"));
    }
    match ty {
        Some("array") => match node.get("items") {
            Some(items) if items.is_object() => {
                structural_problems(items, &format!("{path}[]"), problems);
                if node.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
                    let keys = node.get("x-kubernetes-list-map-keys").and_then(Value::as_array);
                    let required: Vec<&str> = items
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    match keys {
                        Some(keys) if !keys.is_empty() => {
                            for key in keys.iter().filter_map(Value::as_str) {
                                let property = items.get("properties").and_then(|p| p.get(key));
                                let defaulted = property.is_some_and(|p| p.get("default").is_some());
                                if property.is_none() {
                                    problems.push(format!("{path}: list-map key `{key}` is not a property"));
                                } else if !required.contains(&key) && !defaulted {
                                    problems.push(format!(
                                        "{path}: list-map key `{key}` neither required nor defaulted"
                                    ));
                                }
                            }
                        }
                        _ => problems.push(format!("{path}: list-type map without list-map-keys")),
                    }
                }
            }
            _ => problems.push(format!("{path}: array without a single `items` schema")),
        },
        Some("object") => {
            if let Some(properties) = node.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    structural_problems(property, &format!("{path}.{name}"), problems);
                }
                if let Some(required) = node.get("required").and_then(Value::as_array) {
                    for r in required.iter().filter_map(Value::as_str) {
                        if !properties.contains_key(r) {
                            problems.push(format!("{path}: required `{r}` is not a property"));
                        }
                    }
                }
            }
            if let Some(additional) = node.get("additionalProperties")
                && additional.is_object()
            {
                structural_problems(additional, &format!("{path}.*"), problems);
            }
        }
        _ => {}
    }
}

#[test]
fn generated_schemas_are_structural() {
    for crd in crds::crds().expect("CRDs") {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let value = serde_json::to_value(&crd).expect("CRD as JSON");
        let versions = value["spec"]["versions"].as_array().expect("versions");
        assert_eq!(versions.len(), 4, "{name}: four served versions");
        let mut problems = Vec::new();
        for version in versions {
            let v = version["name"].as_str().unwrap_or("?");
            let schema = &version["schema"]["openAPIV3Schema"];
            assert_eq!(schema["type"], "object", "{name} {v}: root is an object");
            assert!(
                schema["properties"].get("metadata").is_none(),
                "{name} {v}: no metadata constraints"
            );
            structural_problems(schema, &format!("{name} {v}"), &mut problems);
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

#[test]
fn every_crd_serves_all_versions_stores_v2alpha1_and_converts_by_webhook() {
    for crd in crds::crds().expect("CRDs") {
        let versions: Vec<(&str, bool, bool)> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.served, v.storage))
            .collect();
        assert_eq!(
            versions,
            [
                ("v1alpha3", true, false),
                ("v1beta1", true, false),
                ("v2alpha1", true, true),
                ("v2beta1", true, false)
            ]
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.group, "k8s.otterize.com");
        let conversion = crd.spec.conversion.as_ref().expect("conversion");
        assert_eq!(conversion.strategy, "Webhook");
        let webhook = conversion.webhook.as_ref().expect("webhook");
        assert_eq!(webhook.conversion_review_versions, ["v1"]);
        let service = webhook
            .client_config
            .as_ref()
            .and_then(|c| c.service.as_ref())
            .expect("service");
        assert_eq!(
            (
                service.name.as_str(),
                service.namespace.as_str(),
                service.path.as_deref()
            ),
            ("holt-webhook", "holt-system", Some("/convert"))
        );
        let labels = crd.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("app.kubernetes.io/part-of").map(String::as_str),
            Some("otterize")
        );
        assert_eq!(
            labels.get("app.kubernetes.io/managed-by").map(String::as_str),
            Some("holt")
        );
        let annotations = crd.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations.get("helm.sh/resource-policy").map(String::as_str),
            Some("keep")
        );
        assert!(crd.spec.names.short_names.as_ref().is_some_and(|s| !s.is_empty()));
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["otterize".to_owned(), "holt".to_owned()][..])
        );
        for version in &crd.spec.versions {
            assert!(version.subresources.as_ref().is_some_and(|s| s.status.is_some()));
            let columns = version.additional_printer_columns.as_deref().unwrap_or_default();
            assert!(
                columns.iter().any(|c| c.name == "Ready"),
                "{} has a Ready column",
                version.name
            );
            let status = &version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("schema");
            let status = status
                .properties
                .as_ref()
                .and_then(|p| p.get("status"))
                .expect("status schema");
            assert!(
                status
                    .properties
                    .as_ref()
                    .is_some_and(|p| p.contains_key("conditions"))
            );
        }
    }
}

#[test]
fn names_match_the_reference() {
    let names: Vec<(String, String, String)> = crds::crds()
        .expect("CRDs")
        .into_iter()
        .map(|c| {
            (
                c.metadata.name.unwrap_or_default(),
                c.spec.names.kind,
                c.spec.names.plural,
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (
                "clientintents.k8s.otterize.com".into(),
                "ClientIntents".into(),
                "clientintents".into()
            ),
            (
                "protectedservices.k8s.otterize.com".into(),
                "ProtectedService".into(),
                "protectedservices".into()
            ),
            (
                "kafkaserverconfigs.k8s.otterize.com".into(),
                "KafkaServerConfig".into(),
                "kafkaserverconfigs".into()
            ),
        ]
    );
}

#[test]
fn webhook_url_variant_sets_url_and_ca_bundle() {
    for crd in crds::crds_with_webhook_url("https://127.0.0.1:9443/convert", b"PEM").expect("CRDs") {
        let config = crd
            .spec
            .conversion
            .and_then(|c| c.webhook)
            .and_then(|w| w.client_config)
            .expect("client config");
        assert_eq!(config.url.as_deref(), Some("https://127.0.0.1:9443/convert"));
        assert_eq!(config.ca_bundle.map(|b| b.0), Some(b"PEM".to_vec()));
        assert!(config.service.is_none());
    }
}

#[test]
fn the_structural_check_catches_what_the_api_server_rejects() {
    let bad = serde_json::json!({
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "union": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "reference": {"$ref": "#/definitions/X"},
            "list": {"type": "array"},
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {"type": "object", "properties": {"type": {"type": "string"}}}
            },
            "odd": {"type": "string", "format": "uint32", "enum": [1]}
        }
    });
    let mut problems = Vec::new();
    structural_problems(&bad, "bad", &mut problems);
    for expected in [
        "bad.untyped: no `type`",
        "bad.union: has `anyOf`",
        "bad.reference: has `$ref`",
        "bad.list: array without a single `items` schema",
        "bad.conditions: list-map key `type` neither required nor defaulted",
        "bad.odd: format `uint32` unknown to the API server",
        "bad.odd: enum value 1 does not fit type Some(\"string\")",
    ] {
        assert!(
            problems.iter().any(|p| p == expected),
            "missing {expected:?} in {problems:#?}"
        );
    }
}
