//! Making the API server call the webhook: every Holt CRD's conversion clientConfig and one
//! `ValidatingWebhookConfiguration` (one webhook per kind, every served version, CREATE and UPDATE,
//! `failurePolicy: Fail`), both written with server-side apply under Holt's webhook field manager.

use std::collections::BTreeMap;

use holt_api::{GROUP, Kind, Version};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ServiceReference as AdmissionServiceReference, ValidatingWebhook,
    ValidatingWebhookConfiguration, WebhookClientConfig as AdmissionClientConfig,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, ServiceReference as CrdServiceReference, WebhookClientConfig as CrdClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::{CONVERT_PATH, VALIDATE_PATH, WebhookError};

/// The field manager of everything the webhook registers.
pub const MANAGER: &str = "holt-webhook";
/// Name of the `ValidatingWebhookConfiguration`.
pub const VALIDATING_WEBHOOK_CONFIGURATION: &str = "holt-validating-webhook";
/// The label (and value) on what Holt registers.
pub const MANAGED_BY_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "holt");

/// Where the API server reaches the webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookTarget {
    /// A Service in the cluster (production).
    Service {
        name: String,
        namespace: String,
        /// The Service port; the API server's default is 443.
        port: Option<i32>,
    },
    /// A URL base such as `https://127.0.0.1:9443` (tests; paths are appended).
    Url(String),
}

impl WebhookTarget {
    /// The conversion clientConfig of the CRDs.
    pub fn conversion_client_config(&self, ca_bundle: &[u8]) -> CrdClientConfig {
        let ca_bundle = Some(ByteString(ca_bundle.to_vec()));
        match self {
            WebhookTarget::Service {
                name,
                namespace,
                port,
            } => CrdClientConfig {
                service: Some(CrdServiceReference {
                    name: name.clone(),
                    namespace: namespace.clone(),
                    path: Some(CONVERT_PATH.to_owned()),
                    port: *port,
                }),
                url: None,
                ca_bundle,
            },
            WebhookTarget::Url(base) => CrdClientConfig {
                service: None,
                url: Some(join(base, CONVERT_PATH)),
                ca_bundle,
            },
        }
    }

    /// The clientConfig of a validating webhook at `path`.
    pub fn admission_client_config(&self, path: &str, ca_bundle: &[u8]) -> AdmissionClientConfig {
        let ca_bundle = Some(ByteString(ca_bundle.to_vec()));
        match self {
            WebhookTarget::Service {
                name,
                namespace,
                port,
            } => AdmissionClientConfig {
                service: Some(AdmissionServiceReference {
                    name: name.clone(),
                    namespace: namespace.clone(),
                    path: Some(path.to_owned()),
                    port: *port,
                }),
                url: None,
                ca_bundle,
            },
            WebhookTarget::Url(base) => AdmissionClientConfig {
                service: None,
                url: Some(join(base, path)),
                ca_bundle,
            },
        }
    }
}

fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The `ValidatingWebhookConfiguration` Holt registers: one webhook per kind, named
/// `<plural>.<group>`, for every served version (the object arrives in the version it was written in),
/// CREATE and UPDATE, `failurePolicy: Fail`, `sideEffects: None`, `matchPolicy: Equivalent`.
pub fn validating_webhook_configuration(
    target: &WebhookTarget,
    ca_bundle: &[u8],
) -> ValidatingWebhookConfiguration {
    let webhooks = Kind::ALL
        .into_iter()
        .map(|kind| ValidatingWebhook {
            name: format!("{}.{GROUP}", kind.plural()),
            admission_review_versions: vec!["v1".to_owned()],
            client_config: target.admission_client_config(VALIDATE_PATH, ca_bundle),
            failure_policy: Some("Fail".to_owned()),
            match_policy: Some("Equivalent".to_owned()),
            side_effects: "None".to_owned(),
            timeout_seconds: Some(10),
            rules: Some(vec![RuleWithOperations {
                api_groups: Some(vec![GROUP.to_owned()]),
                api_versions: Some(Version::ALL.iter().map(|v| v.as_str().to_owned()).collect()),
                operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
                resources: Some(vec![kind.plural().to_owned()]),
                scope: Some("Namespaced".to_owned()),
            }]),
            ..ValidatingWebhook::default()
        })
        .collect();
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(VALIDATING_WEBHOOK_CONFIGURATION.to_owned()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.0.to_owned(), MANAGED_BY_LABEL.1.to_owned()),
                ("app.kubernetes.io/part-of".to_owned(), "otterize".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        webhooks: Some(webhooks),
    }
}

/// Points every Holt CRD's conversion webhook at `target` (trusting `ca_bundle`) and applies the
/// `ValidatingWebhookConfiguration`. A CRD that does not exist yet is created in full; an existing one only
/// has its `spec.conversion` applied (forced: the CA bundle is ours to keep current).
pub async fn ensure_registration(
    client: &kube::Client,
    target: &WebhookTarget,
    ca_bundle: &[u8],
) -> Result<(), WebhookError> {
    let client_config = target.conversion_client_config(ca_bundle);
    let crds = holt_api::crds::crds_with_client_config(client_config.clone())
        .map_err(|source| WebhookError::Crds { source })?;
    let params = PatchParams::apply(MANAGER).force();
    let crd_api = Api::<CustomResourceDefinition>::all(client.clone());
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let registration = |source: kube::Error| WebhookError::Registration {
            what: format!("the conversion webhook of CRD {name}"),
            source: Box::new(source),
        };
        // The whole CRD, every time: server-side apply with one field manager must always send the same
        // fields (a partial apply would drop the ones it sent before), and it keeps the schema current on
        // upgrades, as the reference's start-up does.
        let mut full = crd.clone();
        full.metadata.managed_fields = None;
        crd_api
            .patch(&name, &params, &Patch::Apply(&full))
            .await
            .map_err(registration)?;
        tracing::info!(crd = %name, "conversion webhook registered");
    }

    let mut configuration = validating_webhook_configuration(target, ca_bundle);
    configuration.metadata.managed_fields = None;
    let value = serde_json::to_value(&configuration).map(|mut v| {
        if let Some(map) = v.as_object_mut() {
            map.insert("apiVersion".to_owned(), json!("admissionregistration.k8s.io/v1"));
            map.insert("kind".to_owned(), json!("ValidatingWebhookConfiguration"));
        }
        v
    });
    let value = value.map_err(|source| WebhookError::Registration {
        what: format!("ValidatingWebhookConfiguration {VALIDATING_WEBHOOK_CONFIGURATION}"),
        source: Box::new(kube::Error::SerdeError(source)),
    })?;
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(VALIDATING_WEBHOOK_CONFIGURATION, &params, &Patch::Apply(&value))
        .await
        .map_err(|source| WebhookError::Registration {
            what: format!("ValidatingWebhookConfiguration {VALIDATING_WEBHOOK_CONFIGURATION}"),
            source: Box::new(source),
        })?;
    tracing::info!(
        name = VALIDATING_WEBHOOK_CONFIGURATION,
        "validating webhooks registered"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_webhook_per_kind_for_every_version() {
        let target = WebhookTarget::Service {
            name: "holt-webhook".to_owned(),
            namespace: "holt-system".to_owned(),
            port: Some(443),
        };
        let configuration = validating_webhook_configuration(&target, b"CA");
        let webhooks = configuration.webhooks.expect("webhooks");
        assert_eq!(webhooks.len(), 3);
        let names: Vec<_> = webhooks.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "clientintents.k8s.otterize.com",
                "protectedservices.k8s.otterize.com",
                "kafkaserverconfigs.k8s.otterize.com"
            ]
        );
        for webhook in &webhooks {
            assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
            assert_eq!(webhook.side_effects, "None");
            let rule = &webhook.rules.as_ref().expect("rules")[0];
            assert_eq!(rule.api_versions.as_ref().expect("versions").len(), 4);
            let service = webhook.client_config.service.as_ref().expect("service");
            assert_eq!(service.path.as_deref(), Some(VALIDATE_PATH));
        }
    }

    #[test]
    fn a_url_target_appends_the_paths() {
        let target = WebhookTarget::Url("https://127.0.0.1:9443/".to_owned());
        let crd = target.conversion_client_config(b"CA");
        assert_eq!(crd.url.as_deref(), Some("https://127.0.0.1:9443/convert"));
        let admission = target.admission_client_config(VALIDATE_PATH, b"CA");
        assert_eq!(admission.url.as_deref(), Some("https://127.0.0.1:9443/validate"));
    }
}
