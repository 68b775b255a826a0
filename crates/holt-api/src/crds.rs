//! The CustomResourceDefinitions, generated from the Rust types: one per kind, serving every version, storing
//! `v2alpha1`, converted by Holt's webhook. The committed copies live in `deploy/crds/` and a test fails when
//! they differ from what this module generates.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig,
    WebhookConversion,
};
use kube::CustomResourceExt;
use kube::core::crd::{MergeError, merge_crds};

use crate::served::{Kind, Version};
use crate::{v1alpha3, v1beta1, v2alpha1, v2beta1};

/// Service the placeholder conversion clientConfig points at; the operator patches the real one at start-up.
pub const WEBHOOK_SERVICE: &str = "holt-webhook";
/// Namespace of [`WEBHOOK_SERVICE`] in the placeholder.
pub const WEBHOOK_NAMESPACE: &str = "holt-system";
/// Path of the conversion endpoint.
pub const CONVERT_PATH: &str = "/convert";

#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    #[error("cannot merge the versions of the {kind} CRD: {source}")]
    Merge { kind: Kind, source: MergeError },
    #[error("cannot write the {name} CRD as YAML: {source}")]
    Yaml { name: String, source: serde_yaml::Error },
}

/// The three CRDs, with the placeholder conversion webhook (service `holt-webhook` in `holt-system`, path
/// `/convert`): what `deploy/crds/` holds.
pub fn crds() -> Result<Vec<CustomResourceDefinition>, CrdError> {
    crds_with_client_config(placeholder_client_config())
}

/// The three CRDs with the conversion webhook reached at `url` (HTTPS, including the path), trusting
/// `ca_bundle` (PEM): for tests that run the webhook outside the cluster.
pub fn crds_with_webhook_url(url: &str, ca_bundle: &[u8]) -> Result<Vec<CustomResourceDefinition>, CrdError> {
    crds_with_client_config(WebhookClientConfig {
        url: Some(url.to_owned()),
        ca_bundle: Some(ByteString(ca_bundle.to_vec())),
        service: None,
    })
}

/// The three CRDs with the given conversion webhook clientConfig.
pub fn crds_with_client_config(
    client_config: WebhookClientConfig,
) -> Result<Vec<CustomResourceDefinition>, CrdError> {
    let per_kind = [
        (
            Kind::ClientIntents,
            vec![
                v1alpha3::ClientIntents::crd(),
                v1beta1::ClientIntents::crd(),
                v2alpha1::ClientIntents::crd(),
                v2beta1::ClientIntents::crd(),
            ],
        ),
        (
            Kind::ProtectedService,
            vec![
                v1alpha3::ProtectedService::crd(),
                v1beta1::ProtectedService::crd(),
                v2alpha1::ProtectedService::crd(),
                v2beta1::ProtectedService::crd(),
            ],
        ),
        (
            Kind::KafkaServerConfig,
            vec![
                v1alpha3::KafkaServerConfig::crd(),
                v1beta1::KafkaServerConfig::crd(),
                v2alpha1::KafkaServerConfig::crd(),
                v2beta1::KafkaServerConfig::crd(),
            ],
        ),
    ];
    per_kind
        .into_iter()
        .map(|(kind, versions)| {
            let mut crd = merge_crds(versions, Version::STORAGE.as_str())
                .map_err(|source| CrdError::Merge { kind, source })?;
            finish(&mut crd, client_config.clone());
            Ok(crd)
        })
        .collect()
}

/// Points a CRD's conversion webhook at `client_config` (what the operator does at start-up).
pub fn set_conversion_client_config(crd: &mut CustomResourceDefinition, client_config: WebhookClientConfig) {
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".to_owned(),
        webhook: Some(WebhookConversion {
            client_config: Some(client_config),
            conversion_review_versions: vec!["v1".to_owned()],
        }),
    });
}

/// The placeholder conversion clientConfig of the committed CRDs.
pub fn placeholder_client_config() -> WebhookClientConfig {
    WebhookClientConfig {
        service: Some(ServiceReference {
            name: WEBHOOK_SERVICE.to_owned(),
            namespace: WEBHOOK_NAMESPACE.to_owned(),
            path: Some(CONVERT_PATH.to_owned()),
            port: None,
        }),
        url: None,
        ca_bundle: None,
    }
}

/// Versions in a stable order, conversion, and the labels and annotations the reference's CRDs carry (so
/// tools that select `app.kubernetes.io/part-of=otterize` still find them) plus our managed-by label.
fn finish(crd: &mut CustomResourceDefinition, client_config: WebhookClientConfig) {
    crd.spec.versions.sort_by_key(|v| Version::from_name(&v.name));
    set_conversion_client_config(crd, client_config);
    crd.metadata.labels = Some(BTreeMap::from([
        ("app.kubernetes.io/part-of".to_owned(), "otterize".to_owned()),
        ("app.kubernetes.io/managed-by".to_owned(), "holt".to_owned()),
    ]));
    crd.metadata.annotations = Some(BTreeMap::from([(
        "helm.sh/resource-policy".to_owned(),
        "keep".to_owned(),
    )]));
}

/// The file name a CRD is committed under: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!(
        "{}.yaml",
        crd.metadata.name.as_deref().unwrap_or(&crd.spec.names.plural)
    )
}

/// Every CRD, as one multi-document YAML (each document as [`to_yaml`] writes it).
pub fn crds_yaml() -> Result<String, CrdError> {
    let mut yaml = String::new();
    for crd in &crds()? {
        yaml.push_str("---\n");
        yaml.push_str(&to_yaml(crd)?);
    }
    Ok(yaml)
}

/// A CRD as the YAML committed under `deploy/crds/`, with a header saying how to regenerate it.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdError> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let body = serde_yaml::to_string(crd).map_err(|source| CrdError::Yaml { name, source })?;
    Ok(format!(
        "# Generated from the Rust types in crates/holt-api; do not edit.\n\
         # Regenerate: HOLT_UPDATE_GENERATED=1 cargo test -p holt-api --test crds\n{body}"
    ))
}
