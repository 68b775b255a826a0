//! The webhook server: conversion between every served version and admission validation, over TLS.
//!
//! In: `ConversionReview`s and `AdmissionReview`s from the API server (HTTPS, `POST /convert` and
//! `POST /validate-k8s-otterize-com-<version>-<resource>` or `POST /validate`), the other ClientIntents and
//! ProtectedServices claiming the same workload or server through a [`Neighbourhood`] (in the operator a
//! watch-backed index, [`KubeNeighbourhood`]), and a serving certificate the operator creates, persists in a
//! Secret and rotates itself ([`CertificateBundle`], [`cert_store`]) or reads from files. Out: reviews answered
//! with the shared conversion ([`holt_api::convert::convert_value`]) and validation
//! ([`holt_api::validate::validate`]), and the registration that makes the API server call us: the CRDs'
//! conversion settings and a `ValidatingWebhookConfiguration` ([`ensure_registration`]), Holt's fields only
//! ([`drift`]).
//!
//! Start-up from `main`: [`Webhook::start`] binds, loads or creates the certificate and serves; then, with a
//! [`WebhookOptions::registration`] target, registers and keeps the registration Holt's: changes to it are
//! restored within seconds (`repair`). Rotation runs in the background: the serving certificate is re-issued
//! by the same CA before it expires and swapped into the TLS configuration without restarting the server, so
//! the registered CA bundle stays valid.
//!
//! Every review is bounded ([`ReviewLimits`], [`limits`]): its size (refused with 413 from its
//! `Content-Length`), its time (a deadline from headers to answer), and the reviews in flight (slots and a
//! memory budget taken before the body is read; 429 with `Retry-After` when no turn comes). Conversion
//! reviews are converted one object at a time ([`review_conversion`]), so memory follows the body, not the
//! objects; large bodies and answers are memory maps of their own, given back to the system when dropped.

mod admission;
mod body;
mod buffer;
pub mod cert_store;
mod certificate;
pub mod claims;
mod conversion;
pub mod drift;
mod gate;
mod kube_neighbourhood;
pub mod limits;
mod listed;
mod neighbourhood;
mod registration;
mod repair;
mod server;
mod tls;

pub use admission::review_admission;
pub use certificate::{CertificateBundle, CertificateError, CertificateOptions};
pub use conversion::{ConversionAnswer, ConversionBounds, ConversionStopped, review_conversion};
pub use kube_neighbourhood::{DEFAULT_BUDGET, KubeNeighbourhood, NeighbourhoodStats};
pub use limits::ReviewLimits;
pub use listed::ListedNeighbourhood;
pub use neighbourhood::{Claim, Neighbourhood, NeighbourhoodError, StaticNeighbourhood};
pub use registration::{
    CrdRegistration, MANAGED_BY_LABEL, MANAGER, Registration, VALIDATING_WEBHOOK_CONFIGURATION,
    WebhookTarget, ensure_registration, validating_webhook_configuration,
};
pub use repair::{REPAIR_RETRY_MAX, REPAIR_SLOWDOWN_MAX};
pub use server::{CertificateSource, Webhook, WebhookOptions, router, serve};
pub use tls::{ReloadableCert, TlsError, server_config};

/// Path of the conversion endpoint (the CRDs' `spec.conversion.webhook.clientConfig`).
pub const CONVERT_PATH: &str = holt_api::crds::CONVERT_PATH;
/// Path of the validation endpoint Holt registers: one for every kind and version (the object says which).
pub const VALIDATE_PATH: &str = "/validate";
/// Health endpoint on the webhook port.
pub const HEALTH_PATH: &str = "/healthz";

/// The reference's validation path for one version and resource: `/validate-k8s-otterize-com-v2beta1-clientintents`.
/// Holt serves these too, so a configuration written for the reference keeps working.
pub fn reference_validate_path(version: holt_api::Version, kind: holt_api::Kind) -> String {
    format!(
        "/validate-{}-{}-{}",
        holt_api::GROUP.replace('.', "-"),
        version.as_str(),
        kind.plural()
    )
}

/// Why the webhook could not start, keep its certificate, or register itself.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error("certificate Secret {namespace}/{name}: {source}")]
    CertificateSecret {
        namespace: String,
        name: String,
        source: Box<kube::Error>,
    },
    #[error("certificate Secret {namespace}/{name}: {problem}")]
    CertificateSecretContent {
        namespace: String,
        name: String,
        problem: String,
    },
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the CRDs to register the conversion webhook: {source}")]
    Crds { source: holt_api::crds::CrdError },
    #[error("cannot register {what}: {source}")]
    Registration { what: String, source: Box<kube::Error> },
    #[error("cannot register {what}: it kept changing while Holt wrote it")]
    Contended { what: String },
}
