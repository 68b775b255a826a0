//! The built-in CA kept in a Secret of the operator's namespace, so that restarts and replicas sign with the
//! same CA.
//!
//! In: the Secret's name, whether the user supplies it, the rotation policy, the time. Out: the [`CaSet`] to
//! issue with, after creating the Secret (first start) or rotating the CA when due.
//!
//! Holt's own Secret (`--ca-secret-name`, labelled `app.kubernetes.io/managed-by: holt`) holds the newest
//! CA in `tls.crt` / `tls.key` and, during the overlap, the one before in `previous-tls.crt` /
//! `previous-tls.key`. It is created if absent (a create that finds it created by another replica reads
//! it again) and replaced only with the `resourceVersion` it was read at (a replica that loses the race
//! reads the winner's CA): two replicas never sign with different CAs for long. A Secret of that name Holt
//! did not create is never written: it is reported. A user's CA (`--user-ca-secret-name`) is read with the
//! same keys and never written; rotating it is the user's (move the old CA to `previous-tls.*`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, PostParams};

use crate::ca::{CaCertificate, CaError, CaSet, RotationPolicy};
use crate::secret::{MANAGED_BY, MANAGED_BY_LABEL};

pub const CERT_KEY: &str = "tls.crt";
pub const KEY_KEY: &str = "tls.key";
pub const PREVIOUS_CERT_KEY: &str = "previous-tls.crt";
pub const PREVIOUS_KEY_KEY: &str = "previous-tls.key";
/// The default name of Holt's CA Secret.
pub const DEFAULT_SECRET_NAME: &str = "holt-credentials-ca";

/// Attempts at a write that lost a race, each after reading the Secret again.
const ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum CaStoreError {
    #[error("cannot {action} the CA Secret {secret}: {source}")]
    Kube {
        action: &'static str,
        secret: String,
        source: kube::Error,
    },
    #[error(
        "the CA Secret {secret} does not exist: create it with tls.crt and tls.key (a CA certificate and its key, PEM)"
    )]
    Missing { secret: String },
    #[error(
        "the Secret {secret} exists but Holt did not create it (no label app.kubernetes.io/managed-by: holt): \
         Holt does not write it; name it with --user-ca-secret-name to use it as the CA, or delete it"
    )]
    NotHolts { secret: String },
    #[error(
        "the operator's namespace {namespace} does not exist: create it (`kubectl create namespace {namespace}`) \
         or name another with --operator-namespace"
    )]
    NoNamespace { namespace: String },
    #[error("{0}")]
    Ca(#[from] CaError),
    #[error("the CA Secret {secret} changed under Holt {attempts} times in a row")]
    Contended { secret: String, attempts: usize },
}

/// Which Secret, whose, and how Holt's CAs rotate.
#[derive(Clone, Debug)]
pub struct CaStoreOptions {
    pub namespace: String,
    pub name: String,
    /// The user's Secret: read, never written.
    pub user_supplied: bool,
    pub policy: RotationPolicy,
}

/// What a load did.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub cas: CaSet,
    /// A CA was created (first start) or rotated in by this load.
    pub created: bool,
}

/// The CA Secret.
#[derive(Clone)]
pub struct CaStore {
    api: Api<Secret>,
    options: CaStoreOptions,
}

impl std::fmt::Debug for CaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CaStore {
    pub fn new(client: Client, options: CaStoreOptions) -> CaStore {
        CaStore {
            api: Api::namespaced(client, &options.namespace),
            options,
        }
    }

    fn secret_name(&self) -> String {
        format!("{}/{}", self.options.namespace, self.options.name)
    }

    fn kube(&self, action: &'static str) -> impl Fn(kube::Error) -> CaStoreError + '_ {
        move |source| CaStoreError::Kube {
            action,
            secret: self.secret_name(),
            source,
        }
    }

    /// The CAs at `now`, creating or rotating Holt's CA when due.
    pub async fn load(&self, now: Timestamp) -> Result<Loaded, CaStoreError> {
        for _ in 0..ATTEMPTS {
            let found = self
                .api
                .get_opt(&self.options.name)
                .await
                .map_err(self.kube("read"))?;
            if self.options.user_supplied {
                let secret = found.ok_or_else(|| CaStoreError::Missing {
                    secret: self.secret_name(),
                })?;
                return Ok(Loaded {
                    cas: self.read(&secret)?,
                    created: false,
                });
            }
            let Some(secret) = found else {
                let ca = CaCertificate::generate(now, self.options.policy.validity)?;
                let cas = CaSet::new(vec![ca]);
                match self
                    .api
                    .create(&PostParams::default(), &self.secret(&cas, None))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(secret = %self.secret_name(), "built-in CA created");
                        return Ok(Loaded { cas, created: true });
                    }
                    Err(kube::Error::Api(status)) if status.code == 409 => continue,
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        return Err(CaStoreError::NoNamespace {
                            namespace: self.options.namespace.clone(),
                        });
                    }
                    Err(error) => return Err(self.kube("create")(error)),
                }
            };
            let labels = secret.metadata.labels.clone().unwrap_or_default();
            if labels.get(MANAGED_BY_LABEL).map(String::as_str) != Some(MANAGED_BY) {
                return Err(CaStoreError::NotHolts {
                    secret: self.secret_name(),
                });
            }
            let cas = self.read(&secret)?;
            if !cas.rotation_due(now, &self.options.policy) {
                return Ok(Loaded { cas, created: false });
            }
            let new = CaCertificate::generate(now, self.options.policy.validity)?;
            let rotated = cas.rotated(new, now);
            let version = secret.metadata.resource_version.clone();
            let replacement = self.secret(&rotated, version);
            match self
                .api
                .replace(&self.options.name, &PostParams::default(), &replacement)
                .await
            {
                Ok(_) => {
                    tracing::info!(secret = %self.secret_name(), "built-in CA rotated: a new CA joins the trust bundle");
                    return Ok(Loaded {
                        cas: rotated,
                        created: true,
                    });
                }
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(error) => return Err(self.kube("rotate")(error)),
            }
        }
        Err(CaStoreError::Contended {
            secret: self.secret_name(),
            attempts: ATTEMPTS,
        })
    }

    /// The CAs in a Secret: `tls.*` and, when present, `previous-tls.*`.
    fn read(&self, secret: &Secret) -> Result<CaSet, CaStoreError> {
        let data = secret.data.clone().unwrap_or_default();
        let text = |key: &str| data.get(key).map(|b| String::from_utf8_lossy(&b.0).into_owned());
        let mut cas = Vec::new();
        for (cert_key, key_key) in [(CERT_KEY, KEY_KEY), (PREVIOUS_CERT_KEY, PREVIOUS_KEY_KEY)] {
            match (text(cert_key), text(key_key)) {
                (Some(cert), Some(key)) => {
                    let what = format!("the CA Secret {} ({cert_key}, {key_key})", self.secret_name());
                    cas.push(CaCertificate::from_pem(&cert, &key, &what)?);
                }
                (None, None) if cert_key == PREVIOUS_CERT_KEY => {}
                _ => {
                    return Err(CaStoreError::Ca(CaError::Certificate {
                        what: format!("the CA Secret {}", self.secret_name()),
                        problem: format!("{cert_key} and {key_key} must both be present"),
                    }));
                }
            }
        }
        Ok(CaSet::new(cas))
    }

    /// Holt's CA Secret holding `cas` (the newest two).
    fn secret(&self, cas: &CaSet, resource_version: Option<String>) -> Secret {
        let mut data = BTreeMap::new();
        let keys = [(CERT_KEY, KEY_KEY), (PREVIOUS_CERT_KEY, PREVIOUS_KEY_KEY)];
        for ((cert_key, key_key), ca) in keys.into_iter().zip(&cas.cas) {
            data.insert(cert_key.to_owned(), ByteString(ca.cert_pem.clone().into_bytes()));
            data.insert(key_key.to_owned(), ByteString(ca.key_pem().as_bytes().to_vec()));
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(self.options.name.clone()),
                namespace: Some(self.options.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    MANAGED_BY_LABEL.to_owned(),
                    MANAGED_BY.to_owned(),
                )])),
                resource_version,
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }
}
