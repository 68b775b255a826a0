//! Asking the API server who a caller is and whether they may do what they ask: a `TokenReview` of
//! the bearer token (for the mapper's audience, `holt-mapper`; with `--accept-api-server-tokens`, for
//! the API server's own audiences too: a kubeconfig's token), then a `SubjectAccessReview` of the
//! [`Permission`]'s verb on its `mapper.holt.dev` resource in the mapper's namespace.
//!
//! In: a request's bearer token and the route's permission. Out: the [`Caller`], or a [`Refusal`] that
//! becomes the answer (`401` without a credential the API server vouches for, `403` without the verb,
//! `429` past the review budget, `503` when the API server could not be asked).
//!
//! Answers are kept in [`ReviewCache`]s (keyed by the token's SHA-256, never the token itself):
//! acceptances for `--review-cache-ttl-ms`, refusals for at most [`REFUSAL_TTL`], 4,096 entries each.
//! Reviews not answered from a cache take one from the [`ReviewBudget`] (`--max-reviews-per-second`,
//! twice that at once), which bounds what made-up tokens cost the API server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::access::{API_GROUP, CredentialError, Permission};
use crate::review_budget::ReviewBudget;
use crate::review_cache::ReviewCache;

/// How long a refusal (a token not accepted, a verb not granted) is kept at most: a grant made after a
/// refusal works within this long.
pub const REFUSAL_TTL: Duration = Duration::from_secs(10);
/// Entries per cache.
pub const CACHE_ENTRIES: usize = 4_096;

/// How reviews are asked for.
#[derive(Clone, Debug)]
pub struct ReviewSettings {
    /// The audience tokens for the mapper are issued for (`holt-mapper`).
    pub audience: String,
    /// Also accept tokens for the API server's own audiences (a kubeconfig's token).
    pub accept_api_server_tokens: bool,
    /// Where permissions are checked: the mapper's namespace.
    pub namespace: String,
    /// How long an acceptance is kept.
    pub cache_ttl: Duration,
    /// Reviews asked for per second on average (twice that at once).
    pub reviews_per_second: u32,
    /// How long one review may take.
    pub timeout: Duration,
}

/// Who made a request, as the API server named them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Credential(CredentialError),
    #[error("the API server does not accept this bearer token for audience {audience}: {reason}")]
    NotAuthenticated { audience: String, reason: String },
    #[error(
        "{user} may not {purpose}: that needs the RBAC verb `{verb}` on `{resource}.{API_GROUP}` in namespace {namespace}{}",
        reason.as_deref().filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    Forbidden {
        user: String,
        purpose: &'static str,
        verb: &'static str,
        resource: &'static str,
        namespace: String,
        reason: Option<String>,
    },
    #[error("too many credentials to review at once; try again in a second")]
    Busy,
    #[error("cannot check the credential with the API server ({review}): {reason}")]
    ReviewFailed { review: &'static str, reason: String },
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Credential(_) | Refusal::NotAuthenticated { .. } => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden { .. } => StatusCode::FORBIDDEN,
            Refusal::Busy => StatusCode::TOO_MANY_REQUESTS,
            Refusal::ReviewFailed { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Credential(_) => "no_credential",
            Refusal::NotAuthenticated { .. } => "not_authenticated",
            Refusal::Forbidden { .. } => "forbidden",
            Refusal::Busy => "rate_limited",
            Refusal::ReviewFailed { .. } => "review_failed",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, format!("{self}\n")).into_response();
        let headers = response.headers_mut();
        match status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"holt-mapper\""),
                );
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// What the access checks did, for `/metrics`.
#[derive(Debug, Default)]
pub struct AccessStats {
    /// Whether requests are checked at all.
    pub enabled: AtomicBool,
    pub token_reviews: AtomicU64,
    pub access_reviews: AtomicU64,
    pub refused_no_credential: AtomicU64,
    pub refused_not_authenticated: AtomicU64,
    pub refused_forbidden: AtomicU64,
    pub refused_rate_limited: AtomicU64,
    pub refused_review_failed: AtomicU64,
}

impl AccessStats {
    fn refused(&self, refusal: &Refusal) {
        let counter = match refusal {
            Refusal::Credential(_) => &self.refused_no_credential,
            Refusal::NotAuthenticated { .. } => &self.refused_not_authenticated,
            Refusal::Forbidden { .. } => &self.refused_forbidden,
            Refusal::Busy => &self.refused_rate_limited,
            Refusal::ReviewFailed { .. } => &self.refused_review_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The SHA-256 of a token: what the caches key by.
type TokenKey = [u8; 32];

fn token_key(token: &str) -> TokenKey {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// A TokenReview's answer.
#[derive(Clone, Debug)]
enum Identity {
    Known(Arc<Caller>),
    Unknown(String),
}

/// A SubjectAccessReview's answer.
#[derive(Clone, Debug)]
enum Decision {
    Allowed,
    Denied(Option<String>),
}

/// Checks requests against the API server.
pub struct AccessReviewer {
    client: Client,
    settings: ReviewSettings,
    identities: Mutex<ReviewCache<TokenKey, Identity>>,
    decisions: Mutex<ReviewCache<(TokenKey, Permission), Decision>>,
    budget: Mutex<ReviewBudget>,
    stats: Arc<AccessStats>,
}

impl std::fmt::Debug for AccessReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessReviewer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AccessReviewer {
    pub fn new(client: Client, settings: ReviewSettings, stats: Arc<AccessStats>) -> Self {
        let per_second = settings.reviews_per_second.max(1);
        stats.enabled.store(true, Ordering::Relaxed);
        AccessReviewer {
            client,
            identities: Mutex::new(ReviewCache::new(CACHE_ENTRIES)),
            decisions: Mutex::new(ReviewCache::new(CACHE_ENTRIES)),
            budget: Mutex::new(ReviewBudget::new(
                per_second,
                per_second.saturating_mul(2),
                Instant::now(),
            )),
            settings,
            stats,
        }
    }

    /// Whether `credential` (a request's bearer token, [`crate::access::bearer_token`], or why it has
    /// none) is of someone allowed `permission`.
    pub async fn check(
        &self,
        credential: Result<String, CredentialError>,
        permission: Permission,
    ) -> Result<Arc<Caller>, Refusal> {
        let result = self.review(credential, permission).await;
        if let Err(refusal) = &result {
            self.stats.refused(refusal);
            match refusal {
                Refusal::Forbidden { user, .. } => {
                    tracing::info!(%user, permission = permission.label(), "request refused: {refusal}");
                }
                Refusal::ReviewFailed { .. } => tracing::warn!("request refused: {refusal}"),
                _ => tracing::debug!(permission = permission.label(), "request refused: {refusal}"),
            }
        }
        result
    }

    async fn review(
        &self,
        credential: Result<String, CredentialError>,
        permission: Permission,
    ) -> Result<Arc<Caller>, Refusal> {
        let token = credential.map_err(Refusal::Credential)?;
        let token = token.as_str();
        let key = token_key(token);
        let caller = match self.cached_identity(&key) {
            Some(identity) => identity,
            None => {
                let identity = self.token_review(token).await?;
                let ttl = match &identity {
                    Identity::Known(_) => self.settings.cache_ttl,
                    Identity::Unknown(_) => self.settings.cache_ttl.min(REFUSAL_TTL),
                };
                lock(&self.identities).insert(key, identity.clone(), Instant::now(), ttl);
                identity
            }
        };
        let caller = match caller {
            Identity::Known(caller) => caller,
            Identity::Unknown(reason) => {
                return Err(Refusal::NotAuthenticated {
                    audience: self.settings.audience.clone(),
                    reason,
                });
            }
        };
        let cached = lock(&self.decisions).get(&(key, permission), Instant::now());
        let decision = match cached {
            Some(decision) => decision,
            None => {
                let decision = self.access_review(&caller, permission).await?;
                let ttl = match decision {
                    Decision::Allowed => self.settings.cache_ttl,
                    Decision::Denied(_) => self.settings.cache_ttl.min(REFUSAL_TTL),
                };
                lock(&self.decisions).insert((key, permission), decision.clone(), Instant::now(), ttl);
                decision
            }
        };
        match decision {
            Decision::Allowed => Ok(caller),
            Decision::Denied(reason) => Err(Refusal::Forbidden {
                user: caller.user.clone(),
                purpose: permission.purpose(),
                verb: permission.verb(),
                resource: permission.resource(),
                namespace: self.settings.namespace.clone(),
                reason,
            }),
        }
    }

    fn cached_identity(&self, key: &TokenKey) -> Option<Identity> {
        lock(&self.identities).get(key, Instant::now())
    }

    /// One review from the budget, or [`Refusal::Busy`].
    fn spend(&self) -> Result<(), Refusal> {
        if lock(&self.budget).take(Instant::now()) {
            Ok(())
        } else {
            Err(Refusal::Busy)
        }
    }

    /// Who the token belongs to: reviewed for the mapper's audience, then (if allowed) the API server's.
    async fn token_review(&self, token: &str) -> Result<Identity, Refusal> {
        let audience = self.settings.audience.clone();
        let mut reason = match self.token_review_for(token, Some(&audience)).await? {
            Ok(caller) => return Ok(Identity::Known(Arc::new(caller))),
            Err(reason) => reason,
        };
        if self.settings.accept_api_server_tokens {
            match self.token_review_for(token, None).await? {
                Ok(caller) => return Ok(Identity::Known(Arc::new(caller))),
                Err(other) => reason = other,
            }
            reason.push_str(" (nor for the API server's own audiences)");
        }
        Ok(Identity::Unknown(reason))
    }

    /// A TokenReview for `audience` (`None`: the API server's own): the caller, or why not.
    async fn token_review_for(
        &self,
        token: &str,
        audience: Option<&str>,
    ) -> Result<Result<Caller, String>, Refusal> {
        self.spend()?;
        self.stats.token_reviews.fetch_add(1, Ordering::Relaxed);
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                audiences: audience.map(|a| vec![a.to_owned()]),
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = tokio::time::timeout(self.settings.timeout, api.create(&PostParams::default(), &review))
            .await
            .map_err(|_| Refusal::ReviewFailed {
                review: "TokenReview",
                reason: format!("no answer within {:?}", self.settings.timeout),
            })?
            .map_err(|e| Refusal::ReviewFailed {
                review: "TokenReview",
                reason: e.to_string(),
            })?;
        let status = answer.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Ok(Err(status
                .error
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "not authenticated".to_owned())));
        }
        // The API server answers with the audiences the token is good for, among those asked.
        if let Some(audience) = audience
            && let Some(granted) = &status.audiences
            && !granted.iter().any(|a| a == audience)
        {
            return Ok(Err(format!("the token is for {granted:?}")));
        }
        Ok(status
            .user
            .and_then(caller)
            .ok_or_else(|| "the review named no user".to_owned()))
    }

    /// Whether `caller` has the permission's verb, by a SubjectAccessReview.
    async fn access_review(&self, caller: &Caller, permission: Permission) -> Result<Decision, Refusal> {
        self.spend()?;
        self.stats.access_reviews.fetch_add(1, Ordering::Relaxed);
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(caller.user.clone()),
                uid: caller.uid.clone(),
                groups: Some(caller.groups.clone()),
                extra: (!caller.extra.is_empty()).then(|| caller.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(self.settings.namespace.clone()),
                    verb: Some(permission.verb().to_owned()),
                    group: Some(API_GROUP.to_owned()),
                    resource: Some(permission.resource().to_owned()),
                    ..ResourceAttributes::default()
                }),
                non_resource_attributes: None,
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = tokio::time::timeout(self.settings.timeout, api.create(&PostParams::default(), &review))
            .await
            .map_err(|_| Refusal::ReviewFailed {
                review: "SubjectAccessReview",
                reason: format!("no answer within {:?}", self.settings.timeout),
            })?
            .map_err(|e| Refusal::ReviewFailed {
                review: "SubjectAccessReview",
                reason: e.to_string(),
            })?;
        let status = answer.status.unwrap_or_default();
        Ok(if status.allowed {
            Decision::Allowed
        } else {
            Decision::Denied(status.reason.or(status.evaluation_error))
        })
    }
}

fn caller(user: UserInfo) -> Option<Caller> {
    Some(Caller {
        user: user.username.filter(|u| !u.is_empty())?,
        uid: user.uid.filter(|u| !u.is_empty()),
        groups: user.groups.unwrap_or_default(),
        extra: user.extra.unwrap_or_default(),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_is_missing_and_answer_with_the_right_status() {
        let forbidden = Refusal::Forbidden {
            user: "system:serviceaccount:otterize-system:sniffer".into(),
            purpose: Permission::Reset.purpose(),
            verb: Permission::Reset.verb(),
            resource: Permission::Reset.resource(),
            namespace: "otterize-system".into(),
            reason: None,
        };
        assert_eq!(
            forbidden.to_string(),
            "system:serviceaccount:otterize-system:sniffer may not reset the discovered intents: that \
             needs the RBAC verb `deletecollection` on `discoveredintents.mapper.holt.dev` in namespace \
             otterize-system"
        );
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        let response = Refusal::Credential(CredentialError::Missing).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        let busy = Refusal::Busy.into_response();
        assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn tokens_are_keyed_by_their_digest() {
        assert_ne!(token_key("a"), token_key("b"));
        assert_eq!(token_key("a"), token_key("a"));
    }
}
