//! One Secret brought up to date: the pods that name it resolved to their workload, the request computed
//! (pure), the Secret read, the decision taken (pure), the certificate issued and the Secret written when
//! the content must change, the workload restarted when asked, and Events on the pods.
//!
//! In: the pods naming the Secret, the provider, the options. Out: a [`JobOutcome`] — when to look again
//! (renewal time), the expiry, what was issued and how many writes it cost — or the error that failed it
//! (the controller retries it on its own back-off).

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, PostParams};
use ring::rand::{SecureRandom, SystemRandom};

use crate::controller::pods::{PodRecord, SecretKey};
use crate::controller::{Options, certificate, registered_label};
use crate::events::{Events, PodRef, reason};
use crate::jks::{JksError, SALT_LEN};
use crate::owners::{OwnerError, OwnerResolver};
use crate::provider::{IssueError, Provider};
use crate::renewal::{Decision, Reason, decide, renewal_time};
use crate::request::{PodRequest, request_for_secret};
use crate::secret::{self, SecretState, Written};

/// The field manager of Holt's writes.
pub const FIELD_MANAGER: &str = "holt-credentials";

/// What one Secret needs to be brought up to date.
#[derive(Clone)]
pub struct JobInput {
    pub key: SecretKey,
    pub pods: Vec<PodRecord>,
    pub provider: Arc<Provider>,
    pub options: Arc<Options>,
    pub resolver: Arc<OwnerResolver>,
    pub client: Client,
    pub events: Events,
}

impl std::fmt::Debug for JobInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobInput")
            .field("key", &self.key)
            .field("pods", &self.pods.len())
            .finish_non_exhaustive()
    }
}

/// How a job ended.
#[derive(Debug)]
pub struct JobOutcome {
    pub key: SecretKey,
    /// The pods of the Secret, newest first (where failures are reported).
    pub pods: Vec<PodRef>,
    pub result: Result<Done, JobError>,
    pub writes: u64,
}

/// A job that succeeded.
#[derive(Debug, Default, PartialEq)]
pub struct Done {
    /// When to look at the Secret again (its renewal time; sooner while it is someone else's or being
    /// deleted).
    pub next: Option<Timestamp>,
    /// The certificate's end, when the Secret is Holt's.
    pub expires_at: Option<Timestamp>,
    /// A certificate was issued, and why.
    pub issued: Option<Reason>,
    /// The Secret is someone else's.
    pub foreign: bool,
    /// Workloads restarted after the renewal.
    pub restarts: u64,
    /// The SPIFFE ID the Secret's certificate names (its workload's), once the request is known.
    pub spiffe_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no pod naming Secret {secret} could be resolved to its workload: {first}")]
    Unresolved { secret: String, first: OwnerError },
    #[error("cannot issue the certificate for Secret {secret}: {source}")]
    Issue { secret: String, source: IssueError },
    #[error("cannot write the Java keystores for Secret {secret}: {source}")]
    Keystore { secret: String, source: JksError },
    #[error("cannot draw random bytes for the keystore")]
    Random,
    #[error("cannot {action} Secret {secret}: {source}")]
    Kube {
        action: &'static str,
        secret: String,
        source: kube::Error,
    },
    #[error("Secret {secret} changed while Holt wrote it; trying again")]
    Conflict { secret: String },
    #[error("cannot label pod {pod} with its workload's name for SPIRE's selector: {source}")]
    Label { pod: String, source: kube::Error },
    #[error("cannot write the cert-manager Certificate for Secret {secret}: {source}")]
    CertManager {
        secret: String,
        source: crate::provider::cert_manager::CertManagerError,
    },
}

impl JobError {
    /// A race with another writer, retried without a failure Event.
    pub fn is_conflict(&self) -> bool {
        matches!(self, JobError::Conflict { .. })
    }
}

/// Brings the Secret of `input` up to date.
pub async fn run(input: JobInput) -> JobOutcome {
    let mut pods: Vec<PodRef> = input.pods.iter().map(PodRecord::pod_ref).collect();
    let mut writes = 0;
    let result = reconcile(&input, &mut pods, &mut writes).await;
    JobOutcome {
        key: input.key,
        pods,
        result,
        writes,
    }
}

async fn reconcile(input: &JobInput, pods: &mut Vec<PodRef>, writes: &mut u64) -> Result<Done, JobError> {
    let secret_name = input.key.to_string();
    let options = &input.options;
    let mut requests = Vec::with_capacity(input.pods.len());
    let mut first_error = None;
    for record in &input.pods {
        let Ok(Some(settings)) = &record.settings else {
            continue;
        };
        match input.resolver.resolve(&record.metadata, &options.model).await {
            Ok(resolved) => requests.push(PodRequest {
                pod: record.key(),
                created: record.created,
                identity: resolved.identity,
                root_owner: resolved.root_owner,
                settings: settings.clone(),
            }),
            Err(error) => {
                input.events.once(
                    &record.pod_ref(),
                    reason::OWNER_RESOLUTION_FAILED,
                    &error.to_string(),
                );
                first_error.get_or_insert(error);
            }
        }
    }
    let Some(grouped) = request_for_secret(&requests, &options.trust_domain) else {
        return match first_error {
            Some(first) => Err(JobError::Unresolved {
                secret: secret_name,
                first,
            }),
            None => Ok(Done::default()),
        };
    };
    let request = grouped.request;
    let uid_of = |key: &holt_model::ObjectKey| {
        input
            .pods
            .iter()
            .find(|p| p.key() == *key)
            .map(PodRecord::pod_ref)
    };
    *pods = request.pods.iter().filter_map(uid_of).collect();
    for conflict in &grouped.conflicts {
        if let Some(pod) = uid_of(&conflict.pod) {
            let note = format!(
                "Secret {secret_name} holds the certificate of workload {} (its pods named it first); this pod's \
                 workload {} gets none from it: name another Secret",
                conflict.served, conflict.workload
            );
            input.events.once(&pod, reason::SECRET_NAME_CONFLICT, &note);
        }
    }

    let spiffe_id = request.subject.spiffe_id.clone();
    let with_id = |mut done: Done| {
        done.spiffe_id = Some(spiffe_id.clone());
        done
    };
    match input.provider.as_ref() {
        Provider::CertManager(writer) => {
            return certificate::write(writer, &request, writes).await.map(with_id);
        }
        Provider::Spire(_) => {
            registered_label::label_pods(&input.client, &input.pods, &request, writes).await?
        }
        Provider::BuiltIn(_) => {}
    }

    let now = Timestamp::now();
    let provider = &input.provider;
    let bundle = provider.trust_bundle(now);
    let settings_digest = secret::settings_digest(&request, provider.kind());
    let api: Api<Secret> = Api::namespaced(input.client.clone(), &request.namespace);
    let existing = api
        .get_opt(&request.secret_name)
        .await
        .map_err(|source| JobError::Kube {
            action: "read",
            secret: secret_name.clone(),
            source,
        })?;
    let state = secret::state_of(existing.as_ref(), &request);
    let expires_at = match &state {
        SecretState::Holts(holts) => holts.expires_at,
        _ => None,
    };
    let post = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    let write_error = |action: &'static str, secret: &str| {
        let secret = secret.to_owned();
        move |source: kube::Error| match &source {
            kube::Error::Api(status) if status.code == 409 => JobError::Conflict { secret },
            _ => JobError::Kube {
                action,
                secret,
                source,
            },
        }
    };
    let decided = match decide(&state, &settings_digest, &bundle.digest, now) {
        Decision::Foreign => {
            let note = format!(
                "Secret {secret_name} exists and Holt did not create it (no label app.kubernetes.io/managed-by: \
                 holt): it is left alone and no certificate is written; delete it or name another Secret"
            );
            for pod in pods.iter() {
                input.events.once(pod, reason::SECRET_NAME_TAKEN, &note);
            }
            Ok(Done {
                next: Some(now + options.foreign_recheck),
                foreign: true,
                ..Done::default()
            })
        }
        Decision::Terminating => Ok(Done {
            next: Some(now + std::time::Duration::from_secs(2)),
            ..Done::default()
        }),
        Decision::Keep { renew_at } => Ok(Done {
            next: Some(renew_at),
            expires_at,
            ..Done::default()
        }),
        Decision::UpdateOwners => {
            let Some(existing) = &existing else {
                return Ok(Done::default());
            };
            let updated = secret::with_owners(existing, &request);
            api.replace(&request.secret_name, &post, &updated)
                .await
                .map_err(write_error("update the owners of", &secret_name))?;
            *writes += 1;
            let renew_at = match &state {
                SecretState::Holts(holts) => holts.renew_at,
                _ => None,
            };
            Ok(Done {
                next: renew_at,
                expires_at,
                ..Done::default()
            })
        }
        Decision::Issue(why) => {
            let issued = provider
                .issue(&request.subject, request.ttl, now)
                .await
                .map_err(|source| JobError::Issue {
                    secret: secret_name.clone(),
                    source,
                })?;
            let mut salt = [0u8; SALT_LEN];
            SystemRandom::new()
                .fill(&mut salt)
                .map_err(|_| JobError::Random)?;
            let files = secret::files(&request.format, &issued, &bundle, now, salt).map_err(|source| {
                JobError::Keystore {
                    secret: secret_name.clone(),
                    source,
                }
            })?;
            let written = Written {
                settings_digest,
                bundle_digest: bundle.digest.clone(),
                // From issuance, not from the backdated notBefore: a short lifetime is not renewed at once.
                renew_at: renewal_time(now, issued.not_after, options.renew_fraction),
                expires_at: issued.not_after,
            };
            let mut desired = secret::desired_secret(&request, &written, files);
            match &existing {
                None => {
                    api.create(&post, &desired)
                        .await
                        .map_err(write_error("create", &secret_name))?;
                }
                Some(existing) => {
                    desired.metadata.resource_version = existing.metadata.resource_version.clone();
                    // Labels and annotations others put on Holt's Secret stay.
                    let mut labels = existing.metadata.labels.clone().unwrap_or_default();
                    labels.extend(desired.metadata.labels.take().unwrap_or_default());
                    desired.metadata.labels = Some(labels);
                    let mut annotations = existing.metadata.annotations.clone().unwrap_or_default();
                    annotations.extend(desired.metadata.annotations.take().unwrap_or_default());
                    desired.metadata.annotations = Some(annotations);
                    api.replace(&request.secret_name, &post, &desired)
                        .await
                        .map_err(write_error("replace", &secret_name))?;
                }
            }
            *writes += 1;
            let subject = &request.subject;
            let (event_reason, note) = match why {
                Reason::New => (
                    reason::ISSUED,
                    format!(
                        "certificate for {} ({}) issued into Secret {secret_name}: valid until {}, renewed from {}",
                        subject.common_name, subject.spiffe_id, written.expires_at, written.renew_at
                    ),
                ),
                other => (
                    reason::RENEWED,
                    format!(
                        "certificate for {} in Secret {secret_name} issued again ({}): valid until {}, renewed \
                         from {}",
                        subject.common_name,
                        other.describe(),
                        written.expires_at,
                        written.renew_at
                    ),
                ),
            };
            input.events.on_pods(pods, false, event_reason, &note);
            let mut restarts = 0;
            if why != Reason::New && request.restart_on_renewal {
                for owner in &request.owners {
                    match crate::restart::restart(&input.client, &request.namespace, owner, now).await {
                        Ok(restarted) => {
                            *writes += 1;
                            restarts += 1;
                            let note = format!("restarted after Secret {secret_name} was renewed");
                            input.events.on_object(restarted, false, reason::RENEWED, &note);
                        }
                        Err(error) => {
                            if let Some(pod) = pods.first() {
                                input.events.once(pod, reason::RESTART_FAILED, &error.to_string());
                            }
                        }
                    }
                }
            }
            Ok(Done {
                next: Some(written.renew_at),
                expires_at: Some(written.expires_at),
                issued: Some(why),
                foreign: false,
                restarts,
                spiffe_id: None,
            })
        }
    };
    decided.map(with_id)
}
