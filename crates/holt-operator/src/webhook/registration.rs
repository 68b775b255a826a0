//! Making the API server call the webhook: every Holt CRD's conversion settings and one
//! `ValidatingWebhookConfiguration` (one webhook per kind, every served version, CREATE and UPDATE,
//! `failurePolicy: Fail`), written under Holt's webhook field manager, touching only Holt's fields
//! ([`super::drift`] says which). In: the target and CA bundle; out: the objects as they should be and a
//! [`Registration`] report of what was found and done.

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
use kube::api::{Patch, PatchParams, PostParams};

use super::{CONVERT_PATH, VALIDATE_PATH, WebhookError, drift};

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

/// What [`ensure_registration`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// One entry per Holt CRD.
    pub crds: Vec<CrdRegistration>,
    /// True when the `ValidatingWebhookConfiguration` did not exist and was created.
    pub configuration_created: bool,
    /// The fields of Holt's it restored in the existing configuration (see [`super::drift`]).
    pub configuration_repaired: Vec<String>,
}

/// What [`ensure_registration`] found and did for one CRD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrdRegistration {
    pub name: String,
    /// True when the CRD did not exist and was created (in full, with this build's schema).
    pub created: bool,
    /// The conversion fields it patched (empty: they were already Holt's).
    pub conversion_repaired: Vec<String>,
    /// Who installed the schema: empty when Holt did (it then keeps the schema current), else the other
    /// field managers owning `spec.versions` (kubectl, helm, a GitOps tool), whose schema Holt leaves alone.
    pub schema_owners: Vec<String>,
    /// Whether the served versions and their schemas are this build's.
    pub schema_current: bool,
}

/// Makes the API server call the webhook at `target`, trusting `ca_bundle`, writing only what is Holt's:
/// - a Holt CRD that does not exist is created in full (server-side apply under [`MANAGER`]); one that Holt
///   installed (no other manager owns its `spec.versions`) is applied in full again, so its schema follows
///   upgrades as the reference's start-up does;
/// - in every Holt CRD, the conversion settings ([`super::drift::conversion_drift`]) are patched when they
///   differ, removing the other of `url`/`service` whoever set it; a schema installed by someone else (chart,
///   GitOps, `kubectl apply -f deploy/crds`) is left to them, with a warning when it is not this build's;
/// - the `ValidatingWebhookConfiguration` is created, or Holt's webhooks and labels in it restored.
///
/// Nothing is written when nothing of Holt's differs. Conflicting concurrent writers (another replica) are
/// retried on the object's latest version.
pub async fn ensure_registration(
    client: &kube::Client,
    target: &WebhookTarget,
    ca_bundle: &[u8],
) -> Result<Registration, WebhookError> {
    let client_config = target.conversion_client_config(ca_bundle);
    let crds = holt_api::crds::crds_with_client_config(client_config.clone())
        .map_err(|source| WebhookError::Crds { source })?;
    let crd_api = Api::<CustomResourceDefinition>::all(client.clone());
    let mut registration = Registration::default();
    for crd in &crds {
        registration
            .crds
            .push(ensure_crd(&crd_api, crd, &client_config).await?);
    }
    let configuration = validating_webhook_configuration(target, ca_bundle);
    let outcome = ensure_configuration(client, &configuration).await?;
    registration.configuration_created = outcome.created;
    registration.configuration_repaired = outcome.repaired;
    if outcome.created {
        tracing::info!(
            name = VALIDATING_WEBHOOK_CONFIGURATION,
            "validating webhooks registered"
        );
    } else if !registration.configuration_repaired.is_empty() {
        tracing::info!(
            name = VALIDATING_WEBHOOK_CONFIGURATION,
            fields = ?registration.configuration_repaired,
            "validating webhooks updated"
        );
    }
    Ok(registration)
}

async fn ensure_crd(
    api: &Api<CustomResourceDefinition>,
    desired: &CustomResourceDefinition,
    client_config: &CrdClientConfig,
) -> Result<CrdRegistration, WebhookError> {
    let name = desired.metadata.name.clone().unwrap_or_default();
    let mut registration = CrdRegistration {
        name: name.clone(),
        ..CrdRegistration::default()
    };
    let Some(live) = api.get_opt(&name).await.map_err(crd_error(&name))? else {
        apply_crd(api, desired).await?;
        tracing::info!(crd = %name, "CRD created, conversion webhook registered");
        registration.created = true;
        registration.schema_current = true;
        return Ok(registration);
    };
    registration.schema_owners = drift::schema_owners(&live);
    let schema_current = drift::schema_matches(&live, desired);
    match repair_conversion(api, &name, client_config, Some(live)).await? {
        Some(restored) => registration.conversion_repaired = restored.fields,
        None => {
            // Deleted meanwhile: create it, as if it had not been there.
            apply_crd(api, desired).await?;
            registration.created = true;
            registration.schema_current = true;
            registration.schema_owners.clear();
            return Ok(registration);
        }
    }
    if !registration.conversion_repaired.is_empty() {
        tracing::info!(crd = %name, fields = ?registration.conversion_repaired, "conversion webhook registered");
    }
    if registration.schema_owners.is_empty() {
        // Holt's own installation: keep the schema this build's (a no-op when it already is).
        apply_crd(api, desired).await?;
        registration.schema_current = true;
    } else {
        registration.schema_current = schema_current;
        if !schema_current {
            tracing::warn!(
                crd = %name,
                installed_by = ?registration.schema_owners,
                "the CRD's schema is not this version's; Holt leaves it to its installer: apply deploy/crds of this release"
            );
        }
    }
    Ok(registration)
}

/// Server-side applies the whole CRD under [`MANAGER`] (forced: Holt installed it, or it did not exist).
async fn apply_crd(
    api: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
) -> Result<(), WebhookError> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let mut full = crd.clone();
    full.metadata.managed_fields = None;
    full.metadata.resource_version = None;
    api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&full))
        .await
        .map_err(crd_error(&name))?;
    Ok(())
}

/// How often a write that lost a race with another writer is tried again on the latest version.
const ATTEMPTS: usize = 5;

/// The fields of Holt's a write restored, and who changed them last (the newest other field manager).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Restored {
    pub fields: Vec<String>,
    pub changed_by: Option<String>,
}

/// Restores the conversion settings of CRD `name` to `client_config` when they differ (a merge patch guarded
/// by the resourceVersion it compared). `live` is the CRD as just read, if at hand. Returns what it restored
/// (no fields: nothing differed), or `None` when the CRD does not exist.
pub(super) async fn repair_conversion(
    api: &Api<CustomResourceDefinition>,
    name: &str,
    client_config: &CrdClientConfig,
    mut live: Option<CustomResourceDefinition>,
) -> Result<Option<Restored>, WebhookError> {
    for _ in 0..ATTEMPTS {
        let current = match live.take() {
            Some(current) => current,
            None => match api.get_opt(name).await.map_err(crd_error(name))? {
                Some(current) => current,
                None => return Ok(None),
            },
        };
        let fields = drift::conversion_drift(&current, client_config);
        if fields.is_empty() {
            return Ok(Some(Restored::default()));
        }
        let restored = Restored {
            fields,
            changed_by: drift::last_other_manager(&current.metadata),
        };
        let patch = drift::conversion_patch(client_config, current.metadata.resource_version.as_deref());
        match api.patch(name, &manager_params(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(Some(restored)),
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(source) => return Err(crd_error(name)(source)),
        }
    }
    Err(WebhookError::Contended {
        what: format!("the conversion webhook of CRD {name}"),
    })
}

fn manager_params() -> PatchParams {
    PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    }
}

fn crd_error(name: &str) -> impl Fn(kube::Error) -> WebhookError + '_ {
    move |source| WebhookError::Registration {
        what: format!("the conversion webhook of CRD {name}"),
        source: Box::new(source),
    }
}

/// What [`ensure_configuration`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ConfigurationOutcome {
    pub created: bool,
    pub repaired: Vec<String>,
    pub changed_by: Option<String>,
}

/// Creates the `ValidatingWebhookConfiguration`, or restores Holt's labels and webhooks in it when they differ
/// from `desired` (a replace guarded by the resourceVersion it compared).
pub(super) async fn ensure_configuration(
    client: &kube::Client,
    desired: &ValidatingWebhookConfiguration,
) -> Result<ConfigurationOutcome, WebhookError> {
    let api = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let error = |source: kube::Error| WebhookError::Registration {
        what: format!("ValidatingWebhookConfiguration {VALIDATING_WEBHOOK_CONFIGURATION}"),
        source: Box::new(source),
    };
    let params = PostParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PostParams::default()
    };
    for _ in 0..ATTEMPTS {
        match api
            .get_opt(VALIDATING_WEBHOOK_CONFIGURATION)
            .await
            .map_err(error)?
        {
            None => match api.create(&params, desired).await {
                Ok(_) => {
                    return Ok(ConfigurationOutcome {
                        created: true,
                        ..ConfigurationOutcome::default()
                    });
                }
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(source) => return Err(error(source)),
            },
            Some(live) => {
                let repaired = drift::configuration_drift(&live, desired);
                if repaired.is_empty() {
                    return Ok(ConfigurationOutcome::default());
                }
                let object = drift::repaired_configuration(&live, desired);
                match api
                    .replace(VALIDATING_WEBHOOK_CONFIGURATION, &params, &object)
                    .await
                {
                    Ok(_) => {
                        return Ok(ConfigurationOutcome {
                            created: false,
                            repaired,
                            changed_by: drift::last_other_manager(&live.metadata),
                        });
                    }
                    Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => continue,
                    Err(source) => return Err(error(source)),
                }
            }
        }
    }
    Err(WebhookError::Contended {
        what: format!("ValidatingWebhookConfiguration {VALIDATING_WEBHOOK_CONFIGURATION}"),
    })
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
