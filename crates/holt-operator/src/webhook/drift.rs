//! What of Holt's registration differs from what it should be, and the writes that restore it (pure: live
//! objects in, differences and patches out).
//!
//! Holt's fields, and only those, are compared:
//! - in each Holt CRD, the conversion settings: `strategy: Webhook`, `conversionReviewVersions: [v1]`, and the
//!   clientConfig's `url` or `service` (exactly the one Holt's target says, the other absent) and `caBundle`;
//! - in the `ValidatingWebhookConfiguration` Holt creates, Holt's labels and each of Holt's webhooks (by name)
//!   in full: clientConfig, rules, `failurePolicy`, `matchPolicy`, `sideEffects`, `timeoutSeconds`,
//!   `admissionReviewVersions`, and no namespace or object selector and no match conditions, since any of
//!   those narrows what is validated. Other webhooks someone adds to the configuration, other labels and
//!   annotations are theirs and stay.
//!
//! The schema of a CRD is its installer's: [`schema_owners`] says who that is, [`schema_matches`] whether it
//! is what this build generates.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    ServiceReference as AdmissionServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration,
    WebhookClientConfig as AdmissionClientConfig,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, ServiceReference as CrdServiceReference, WebhookClientConfig as CrdClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Value, json};

use super::MANAGER;

/// The Service port the API server assumes when a clientConfig names none.
const DEFAULT_SERVICE_PORT: i32 = 443;

/// The fields of Holt's in `live`'s conversion settings that differ from `desired` (empty: nothing to do).
pub fn conversion_drift(live: &CustomResourceDefinition, desired: &CrdClientConfig) -> Vec<String> {
    let mut drift = Vec::new();
    let conversion = live.spec.conversion.as_ref();
    if conversion.map(|c| c.strategy.as_str()) != Some("Webhook") {
        drift.push("spec.conversion.strategy".to_owned());
    }
    let webhook = conversion.and_then(|c| c.webhook.as_ref());
    if webhook.map(|w| w.conversion_review_versions.as_slice()) != Some(&["v1".to_owned()][..]) {
        drift.push("spec.conversion.webhook.conversionReviewVersions".to_owned());
    }
    let empty = CrdClientConfig::default();
    let client_config = webhook.and_then(|w| w.client_config.as_ref()).unwrap_or(&empty);
    let at = |field: &str| format!("spec.conversion.webhook.clientConfig.{field}");
    if client_config.url != desired.url {
        drift.push(at("url"));
    }
    if client_config.service.as_ref().map(crd_service) != desired.service.as_ref().map(crd_service) {
        drift.push(at("service"));
    }
    if client_config.ca_bundle != desired.ca_bundle {
        drift.push(at("caBundle"));
    }
    drift
}

fn crd_service(service: &CrdServiceReference) -> (&str, &str, Option<&str>, i32) {
    (
        &service.name,
        &service.namespace,
        service.path.as_deref(),
        service.port.unwrap_or(DEFAULT_SERVICE_PORT),
    )
}

/// A JSON merge patch that sets Holt's conversion settings to `desired` and removes the other of
/// `url`/`service`, failing with a conflict unless the CRD is still at `resource_version`.
pub fn conversion_patch(desired: &CrdClientConfig, resource_version: Option<&str>) -> Value {
    let service = desired
        .service
        .as_ref()
        .map(|s| json!({ "name": s.name, "namespace": s.namespace, "path": s.path, "port": s.port }));
    let ca_bundle = desired.ca_bundle.as_ref().map(|ByteString(bytes)| base64(bytes));
    json!({
        "metadata": { "resourceVersion": resource_version },
        "spec": { "conversion": {
            "strategy": "Webhook",
            "webhook": {
                "conversionReviewVersions": ["v1"],
                "clientConfig": { "url": desired.url, "service": service, "caBundle": ca_bundle },
            },
        } },
    })
}

fn base64(bytes: &[u8]) -> Value {
    serde_json::to_value(ByteString(bytes.to_vec())).unwrap_or(Value::Null)
}

/// What in `live` differs from Holt's `desired` configuration: Holt's labels and webhooks (empty: nothing to
/// do). A webhook is named `webhooks[<name>]`, a field of it `webhooks[<name>].<field>`.
pub fn configuration_drift(
    live: &ValidatingWebhookConfiguration,
    desired: &ValidatingWebhookConfiguration,
) -> Vec<String> {
    let mut drift = Vec::new();
    let live_labels = live.metadata.labels.clone().unwrap_or_default();
    for (key, value) in desired.metadata.labels.iter().flatten() {
        if live_labels.get(key) != Some(value) {
            drift.push(format!("metadata.labels[{key}]"));
        }
    }
    let live_webhooks = live.webhooks.as_deref().unwrap_or_default();
    for wanted in desired.webhooks.iter().flatten() {
        match live_webhooks.iter().find(|w| w.name == wanted.name) {
            None => drift.push(format!("webhooks[{}]", wanted.name)),
            Some(found) => {
                drift.extend(
                    webhook_drift(found, wanted)
                        .into_iter()
                        .map(|field| format!("webhooks[{}].{field}", wanted.name)),
                );
            }
        }
    }
    drift
}

fn webhook_drift(live: &ValidatingWebhook, desired: &ValidatingWebhook) -> Vec<&'static str> {
    let mut drift = Vec::new();
    let mut differs = |field, different: bool| {
        if different {
            drift.push(field);
        }
    };
    differs(
        "clientConfig",
        admission_client(&live.client_config) != admission_client(&desired.client_config),
    );
    differs("rules", live.rules != desired.rules);
    differs("failurePolicy", live.failure_policy != desired.failure_policy);
    differs("matchPolicy", live.match_policy != desired.match_policy);
    differs("sideEffects", live.side_effects != desired.side_effects);
    differs("timeoutSeconds", live.timeout_seconds != desired.timeout_seconds);
    differs(
        "admissionReviewVersions",
        live.admission_review_versions != desired.admission_review_versions,
    );
    differs("namespaceSelector", !selects_everything(&live.namespace_selector));
    differs("objectSelector", !selects_everything(&live.object_selector));
    differs(
        "matchConditions",
        live.match_conditions.as_ref().is_some_and(|c| !c.is_empty()),
    );
    drift
}

type AdmissionTarget<'a> = (
    Option<&'a str>,
    Option<(&'a str, &'a str, Option<&'a str>, i32)>,
    Option<&'a ByteString>,
);

fn admission_client(config: &AdmissionClientConfig) -> AdmissionTarget<'_> {
    (
        config.url.as_deref(),
        config.service.as_ref().map(|s: &AdmissionServiceReference| {
            (
                s.name.as_str(),
                s.namespace.as_str(),
                s.path.as_deref(),
                s.port.unwrap_or(DEFAULT_SERVICE_PORT),
            )
        }),
        config.ca_bundle.as_ref(),
    )
}

/// True for no selector or one without labels or expressions (what the API server defaults to).
fn selects_everything(selector: &Option<LabelSelector>) -> bool {
    selector.as_ref().is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && s.match_expressions.as_ref().is_none_or(Vec::is_empty)
    })
}

/// `live` with Holt's labels and webhooks restored from `desired`; its other webhooks (after Holt's), labels
/// and annotations, and its `resourceVersion` (so the write fails if it changed meanwhile), are kept.
pub fn repaired_configuration(
    live: &ValidatingWebhookConfiguration,
    desired: &ValidatingWebhookConfiguration,
) -> ValidatingWebhookConfiguration {
    let mut repaired = live.clone();
    repaired.metadata.managed_fields = None;
    let labels = repaired.metadata.labels.get_or_insert_with(BTreeMap::new);
    for (key, value) in desired.metadata.labels.iter().flatten() {
        labels.insert(key.clone(), value.clone());
    }
    let ours = desired.webhooks.clone().unwrap_or_default();
    let theirs = live
        .webhooks
        .iter()
        .flatten()
        .filter(|w| !ours.iter().any(|o| o.name == w.name))
        .cloned();
    repaired.webhooks = Some(ours.iter().cloned().chain(theirs).collect());
    repaired
}

/// The field managers other than Holt's that own a CRD's `spec.versions` (its schema): empty when only Holt
/// does, i.e. Holt installed the CRD.
pub fn schema_owners(live: &CustomResourceDefinition) -> Vec<String> {
    let mut owners: Vec<String> = live
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| entry.manager.as_deref() != Some(MANAGER))
        .filter(|entry| {
            entry
                .fields_v1
                .as_ref()
                .and_then(|fields| fields.0.get("f:spec"))
                .and_then(|spec| spec.get("f:versions"))
                .is_some()
        })
        .filter_map(|entry| entry.manager.clone())
        .collect();
    owners.sort();
    owners.dedup();
    owners
}

/// True when `live` serves exactly the versions, with the same schemas, as `desired` (this build's).
pub fn schema_matches(live: &CustomResourceDefinition, desired: &CustomResourceDefinition) -> bool {
    let as_json = |crd: &CustomResourceDefinition| serde_json::to_value(&crd.spec.versions).ok();
    as_json(live).is_some() && as_json(live) == as_json(desired)
}

/// The field manager other than Holt's that wrote `meta`'s object last (for logs): the newest entry.
pub fn last_other_manager(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|entry| entry.manager.as_deref() != Some(MANAGER))
        .max_by(|a, b| a.time.as_ref().map(|t| &t.0).cmp(&b.time.as_ref().map(|t| &t.0)))
        .and_then(|entry| entry.manager.clone())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::admissionregistration::v1::MatchCondition;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceConversion, WebhookConversion,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;
    use crate::webhook::{WebhookTarget, validating_webhook_configuration};

    fn url_target() -> WebhookTarget {
        WebhookTarget::Url("https://127.0.0.1:9443".to_owned())
    }

    fn service_target() -> WebhookTarget {
        WebhookTarget::Service {
            name: "holt-webhook".to_owned(),
            namespace: "holt-system".to_owned(),
            port: None,
        }
    }

    fn crd_with(client_config: CrdClientConfig) -> CustomResourceDefinition {
        let mut crds = holt_api::crds::crds_with_client_config(client_config).expect("crds");
        crds.remove(0)
    }

    #[test]
    fn a_crd_installed_with_holts_settings_has_no_drift() {
        let desired = url_target().conversion_client_config(b"CA");
        assert!(conversion_drift(&crd_with(desired.clone()), &desired).is_empty());
        // The API server's default port is the same as none.
        let desired = service_target().conversion_client_config(b"CA");
        let mut live = desired.clone();
        if let Some(service) = live.service.as_mut() {
            service.port = Some(443);
        }
        assert!(conversion_drift(&crd_with(live), &desired).is_empty());
    }

    #[test]
    fn the_deploy_crds_placeholder_differs_in_the_fields_holt_owns() {
        let placeholder = holt_api::crds::crds().expect("crds").remove(0);
        let drift = conversion_drift(&placeholder, &url_target().conversion_client_config(b"CA"));
        assert_eq!(
            drift,
            [
                "spec.conversion.webhook.clientConfig.url",
                "spec.conversion.webhook.clientConfig.service",
                "spec.conversion.webhook.clientConfig.caBundle",
            ]
        );
        let drift = conversion_drift(&placeholder, &service_target().conversion_client_config(b"CA"));
        assert_eq!(drift, ["spec.conversion.webhook.clientConfig.caBundle"]);

        let mut none = placeholder.clone();
        none.spec.conversion = Some(CustomResourceConversion {
            strategy: "None".to_owned(),
            webhook: None,
        });
        let drift = conversion_drift(&none, &url_target().conversion_client_config(b"CA"));
        assert_eq!(drift.len(), 4, "{drift:?}");
        assert_eq!(drift[0], "spec.conversion.strategy");
    }

    #[test]
    fn the_conversion_patch_sets_one_of_url_and_service_and_nulls_the_other() {
        let patch = conversion_patch(&url_target().conversion_client_config(b"CA"), Some("42"));
        let config = &patch["spec"]["conversion"]["webhook"]["clientConfig"];
        assert_eq!(config["url"], "https://127.0.0.1:9443/convert");
        assert_eq!(config["service"], Value::Null);
        assert_eq!(config["caBundle"], "Q0E=");
        assert_eq!(patch["metadata"]["resourceVersion"], "42");
        assert_eq!(patch["spec"]["conversion"]["strategy"], "Webhook");

        let patch = conversion_patch(&service_target().conversion_client_config(b"CA"), None);
        let config = &patch["spec"]["conversion"]["webhook"]["clientConfig"];
        assert_eq!(config["url"], Value::Null);
        // An explicit null port, so a port someone set is removed by the merge.
        assert_eq!(
            config["service"],
            json!({ "name": "holt-webhook", "namespace": "holt-system", "path": "/convert", "port": null })
        );

        // Applied as a merge patch to a CRD that has both, the result has exactly one.
        let mut live =
            serde_json::to_value(crd_with(service_target().conversion_client_config(b"old"))).expect("json");
        let url_patch = conversion_patch(&url_target().conversion_client_config(b"CA"), None);
        json_patch::merge(&mut live, &url_patch);
        let crd: CustomResourceDefinition = serde_json::from_value(live).expect("crd");
        let config = crd
            .spec
            .conversion
            .and_then(|c| c.webhook)
            .and_then(|w| w.client_config)
            .expect("clientConfig");
        assert!(config.service.is_none());
        assert_eq!(config.url.as_deref(), Some("https://127.0.0.1:9443/convert"));
    }

    #[test]
    fn every_narrowing_of_the_validating_webhooks_is_drift() {
        let desired = validating_webhook_configuration(&url_target(), b"CA");
        assert!(configuration_drift(&desired, &desired).is_empty());

        let mut live = desired.clone();
        // What the API server defaults is not drift.
        for webhook in live.webhooks.iter_mut().flatten() {
            webhook.namespace_selector = Some(LabelSelector::default());
            webhook.object_selector = Some(LabelSelector::default());
        }
        assert!(configuration_drift(&live, &desired).is_empty());

        let webhooks = live.webhooks.as_mut().expect("webhooks");
        webhooks[0].failure_policy = Some("Ignore".to_owned());
        webhooks[0].namespace_selector = Some(LabelSelector {
            match_labels: Some(BTreeMap::from([("validate".to_owned(), "yes".to_owned())])),
            ..LabelSelector::default()
        });
        webhooks[1].client_config.ca_bundle = Some(ByteString(b"other".to_vec()));
        webhooks[1].match_conditions = Some(vec![MatchCondition {
            name: "never".to_owned(),
            expression: "false".to_owned(),
        }]);
        webhooks.remove(2);
        if let Some(labels) = live.metadata.labels.as_mut() {
            labels.remove("app.kubernetes.io/managed-by");
        }
        assert_eq!(
            configuration_drift(&live, &desired),
            [
                "metadata.labels[app.kubernetes.io/managed-by]",
                "webhooks[clientintents.k8s.otterize.com].failurePolicy",
                "webhooks[clientintents.k8s.otterize.com].namespaceSelector",
                "webhooks[protectedservices.k8s.otterize.com].clientConfig",
                "webhooks[protectedservices.k8s.otterize.com].matchConditions",
                "webhooks[kafkaserverconfigs.k8s.otterize.com]",
            ]
        );
    }

    #[test]
    fn a_repair_restores_holts_webhooks_and_keeps_everything_else() {
        let desired = validating_webhook_configuration(&url_target(), b"CA");
        let mut live = desired.clone();
        live.metadata.resource_version = Some("7".to_owned());
        live.metadata.annotations = Some(BTreeMap::from([("note".to_owned(), "mine".to_owned())]));
        let webhooks = live.webhooks.as_mut().expect("webhooks");
        webhooks[0].failure_policy = Some("Ignore".to_owned());
        webhooks.remove(1);
        let mut extra = webhooks[0].clone();
        extra.name = "someone-elses.example.com".to_owned();
        webhooks.push(extra.clone());

        let repaired = repaired_configuration(&live, &desired);
        assert!(configuration_drift(&repaired, &desired).is_empty());
        let names: Vec<_> = repaired
            .webhooks
            .iter()
            .flatten()
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "clientintents.k8s.otterize.com",
                "protectedservices.k8s.otterize.com",
                "kafkaserverconfigs.k8s.otterize.com",
                "someone-elses.example.com",
            ]
        );
        assert_eq!(repaired.webhooks.as_ref().map(|w| &w[3]), Some(&extra));
        assert_eq!(repaired.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(repaired.metadata.annotations, live.metadata.annotations);
    }

    fn managed(manager: &str, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.to_owned()),
            operation: Some("Apply".to_owned()),
            fields_v1: Some(FieldsV1(fields)),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn the_schema_belongs_to_whoever_else_owns_the_versions() {
        let mut crd = crd_with(url_target().conversion_client_config(b"CA"));
        crd.metadata.managed_fields = Some(vec![
            managed(
                MANAGER,
                json!({ "f:spec": { "f:versions": {}, "f:conversion": {} } }),
            ),
            managed("kube-apiserver", json!({ "f:status": {} })),
        ]);
        assert!(schema_owners(&crd).is_empty(), "Holt installed it");
        crd.metadata
            .managed_fields
            .get_or_insert_default()
            .push(managed("helm", json!({ "f:spec": { "f:versions": {} } })));
        crd.metadata.managed_fields.get_or_insert_default().push(managed(
            "kubectl-edit",
            json!({ "f:spec": { "f:conversion": {} } }),
        ));
        assert_eq!(schema_owners(&crd), ["helm"]);
    }

    #[test]
    fn the_schema_matches_only_this_builds() {
        let desired = crd_with(url_target().conversion_client_config(b"CA"));
        let mut live = crd_with(service_target().conversion_client_config(b"other"));
        assert!(
            schema_matches(&live, &desired),
            "conversion settings are not schema"
        );
        live.spec.versions.pop();
        assert!(!schema_matches(&live, &desired));
    }

    #[test]
    fn conversion_without_a_webhook_is_drift_in_every_field() {
        let mut crd = crd_with(url_target().conversion_client_config(b"CA"));
        crd.spec.conversion = Some(CustomResourceConversion {
            strategy: "Webhook".to_owned(),
            webhook: Some(WebhookConversion {
                client_config: None,
                conversion_review_versions: vec!["v1".to_owned()],
            }),
        });
        let drift = conversion_drift(&crd, &url_target().conversion_client_config(b"CA"));
        assert_eq!(
            drift,
            [
                "spec.conversion.webhook.clientConfig.url",
                "spec.conversion.webhook.clientConfig.caBundle"
            ]
        );
    }
}
