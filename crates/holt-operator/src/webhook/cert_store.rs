//! The webhook certificate kept in a Secret (`kubernetes.io/tls` with `tls.crt`, `tls.key`, `ca.crt` and
//! Holt's `ca.key`), so restarts and replicas serve the same CA: the first one creates it, the others read
//! it; whoever finds the serving certificate due re-issues it (optimistic concurrency on the Secret's
//! resourceVersion, so two replicas never write different certificates).
//!
//! A Secret without `ca.key` (written by someone else, e.g. cert-manager) is used as it is and never
//! rewritten.

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;

use super::registration::MANAGED_BY_LABEL;
use super::{CertificateBundle, CertificateOptions, WebhookError};

/// Default name of the Secret.
pub const DEFAULT_SECRET_NAME: &str = "holt-webhook-cert";

const TLS_CRT: &str = "tls.crt";
const TLS_KEY: &str = "tls.key";
const CA_CRT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";

/// How many times a write that lost a race is retried against the fresh Secret.
const ATTEMPTS: usize = 5;

/// The Secret `namespace/name` holding the webhook certificate.
#[derive(Clone)]
pub struct SecretStore {
    api: Api<Secret>,
    namespace: String,
    name: String,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        SecretStore {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The certificate to serve at `now`: the stored one when it is still good; else a new serving
    /// certificate from the stored CA (or a new CA when there is none, it cannot be read or it expires),
    /// written back before it is returned.
    pub async fn load_or_create(
        &self,
        options: &CertificateOptions,
        now: SystemTime,
    ) -> Result<CertificateBundle, WebhookError> {
        for attempt in 1..=ATTEMPTS {
            let existing = self
                .api
                .get_opt(&self.name)
                .await
                .map_err(|e| self.kube_error(e))?;
            let Some(secret) = existing else {
                let bundle = CertificateBundle::generate(options, now)?;
                match self
                    .api
                    .create(&PostParams::default(), &self.secret(&bundle, None))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(secret = %self.name, "webhook CA and certificate created");
                        return Ok(bundle);
                    }
                    Err(error) if is_status(&error, 409) => {
                        tracing::debug!(attempt, "another replica created the certificate Secret first");
                        continue;
                    }
                    Err(error) => return Err(self.kube_error(error)),
                }
            };
            let stored = from_secret(&secret);
            let next = match &stored {
                Some(bundle) if !bundle.needs_rotation(now, options) => return Ok(bundle.clone()),
                Some(bundle) if bundle.ca_key_pem.is_none() => {
                    tracing::warn!(
                        secret = %self.name,
                        "the webhook certificate is due or does not cover the webhook's names, but its CA key \
                         is not in the Secret: serving it as it is"
                    );
                    return Ok(bundle.clone());
                }
                Some(bundle) if !bundle.ca_expires_within(now, options.serving_validity) => {
                    tracing::info!(secret = %self.name, "re-issuing the webhook serving certificate");
                    bundle.reissue(options, now)?
                }
                Some(_) => {
                    tracing::warn!(secret = %self.name, "the webhook CA expires soon: creating a new CA");
                    CertificateBundle::generate(options, now)?
                }
                None => {
                    tracing::warn!(secret = %self.name, "the certificate Secret cannot be read: replacing it");
                    CertificateBundle::generate(options, now)?
                }
            };
            let resource_version = secret.metadata.resource_version.clone();
            match self
                .api
                .replace(
                    &self.name,
                    &PostParams::default(),
                    &self.secret(&next, resource_version),
                )
                .await
            {
                Ok(_) => return Ok(next),
                Err(error) if is_status(&error, 409) => {
                    tracing::debug!(attempt, "another replica rotated the certificate first");
                    continue;
                }
                Err(error) => return Err(self.kube_error(error)),
            }
        }
        Err(WebhookError::CertificateSecretContent {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            problem: format!("still changing under us after {ATTEMPTS} attempts"),
        })
    }

    fn secret(&self, bundle: &CertificateBundle, resource_version: Option<String>) -> Secret {
        let mut data = BTreeMap::from([
            (TLS_CRT.to_owned(), bytes(&bundle.cert_pem)),
            (TLS_KEY.to_owned(), bytes(&bundle.key_pem)),
            (CA_CRT.to_owned(), bytes(&bundle.ca_cert_pem)),
        ]);
        if let Some(ca_key) = &bundle.ca_key_pem {
            data.insert(CA_KEY.to_owned(), bytes(ca_key));
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    MANAGED_BY_LABEL.0.to_owned(),
                    MANAGED_BY_LABEL.1.to_owned(),
                )])),
                resource_version,
                ..ObjectMeta::default()
            },
            type_: Some("kubernetes.io/tls".to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }

    fn kube_error(&self, source: kube::Error) -> WebhookError {
        WebhookError::CertificateSecret {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source: Box::new(source),
        }
    }
}

fn bytes(pem: &str) -> ByteString {
    ByteString(pem.as_bytes().to_vec())
}

/// The certificate in a Secret, when it has the three required entries as UTF-8.
pub fn from_secret(secret: &Secret) -> Option<CertificateBundle> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
            .filter(|s| !s.is_empty())
    };
    Some(CertificateBundle {
        ca_cert_pem: text(CA_CRT)?,
        ca_key_pem: text(CA_KEY),
        cert_pem: text(TLS_CRT)?,
        key_pem: text(TLS_KEY)?,
    })
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}
