//! With cert-manager: a Secret's job writes the cert-manager Certificate (and, for JKS, its password Secret)
//! instead of the Secret, and is done; cert-manager issues, fills and renews the Secret.
//!
//! In: the request of one Secret and the writer (issuer from the options). Out: the applied Certificate,
//! its writes counted; no renewal time (cert-manager renews).

use crate::controller::job::{Done, JobError};
use crate::provider::cert_manager::CertManager;
use crate::request::CertificateRequest;
use crate::settings::Format;

/// Applies the Certificate of `request` (server-side apply: unchanged content changes nothing).
pub async fn write(
    writer: &CertManager,
    request: &CertificateRequest,
    writes: &mut u64,
) -> Result<Done, JobError> {
    writer
        .apply(request)
        .await
        .map_err(|source| JobError::CertManager {
            secret: format!("{}/{}", request.namespace, request.secret_name),
            source,
        })?;
    *writes += match request.format {
        Format::Jks { .. } => 2,
        Format::Pem { .. } => 1,
    };
    Ok(Done::default())
}
