//! Keeping the provider. The built-in CA: loaded from its Secret at start (created on first start), looked at again every
//! `check_interval` and whenever the CA set changes by itself (a CA's end, the new one taking over, rotation
//! due), rotated when due. Each time the CAs or the trust bundle change, the controller gets a new
//! [`Provider`] and brings every Secret up to date.
//!
//! SPIRE: the server's bundle read every `check_interval`, and Holt's entries of workloads that are gone
//! deleted then. cert-manager: nothing to keep, the provider is handed over once.
//!
//! In: the CA store (or the SPIRE connection, or cert-manager's writer) and the provider's settings. Out: a
//! [`TrustState`] on a watch channel.

use std::collections::BTreeSet;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use crate::ca_store::CaStore;
use crate::controller::Options;
use crate::provider::cert_manager::CertManager;
use crate::provider::spire::{Spire, SpireError};
use crate::provider::{BuiltInCa, Provider, SpireProvider};

/// The provider as the controller sees it.
#[derive(Clone, Debug, Default)]
pub struct TrustState {
    /// `None` until the CA is first loaded.
    pub provider: Option<Arc<Provider>>,
    /// Increases whenever the CAs or the trust bundle change.
    pub version: u64,
    /// CAs created or rotated in by this process.
    pub rotations: u64,
    /// Failed loads.
    pub failures: u64,
    /// The last load's error, until a load succeeds.
    pub last_error: Option<String>,
    /// When the newest CA ends.
    pub newest_ca_expiry: Option<Timestamp>,
    /// Holt's SPIRE entries deleted because their workload is gone.
    pub pruned: u64,
}

/// Keeps the CA until the process ends.
pub async fn keep_ca(store: CaStore, options: Arc<Options>, state: watch::Sender<TrustState>) {
    let mut retries = options.retry.schedule();
    let mut last: Option<(Vec<Vec<u8>>, String)> = None;
    loop {
        let now = Timestamp::now();
        let wait = match store.load(now).await {
            Ok(loaded) => {
                retries.reset();
                let cas = loaded.cas;
                let fingerprint = (
                    cas.cas.iter().map(|ca| ca.cert_der.clone()).collect::<Vec<_>>(),
                    cas.trust_bundle(now).digest,
                );
                let changed = last.as_ref() != Some(&fingerprint);
                let next_change = cas.next_change(now, &options.ca.policy);
                let newest = cas.cas.first().map(|ca| ca.not_after);
                let provider = Provider::BuiltIn(BuiltInCa {
                    cas: Arc::new(cas),
                    policy: options.ca.policy,
                    default_ttl: options.default_ttl,
                });
                state.send_modify(|s| {
                    if changed || s.provider.is_none() {
                        s.provider = Some(Arc::new(provider));
                        s.version += 1;
                    }
                    s.rotations += u64::from(loaded.created);
                    s.last_error = None;
                    s.newest_ca_expiry = newest;
                });
                last = Some(fingerprint);
                let until_change = next_change
                    .map(|t| Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO))
                    .unwrap_or(options.ca_check_interval);
                until_change.clamp(Duration::from_secs(1), options.ca_check_interval)
            }
            Err(error) => {
                tracing::warn!(%error, "loading the built-in CA");
                state.send_modify(|s| {
                    s.failures += 1;
                    s.last_error = Some(error.to_string());
                });
                retries.next_wait()
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// With SPIRE as the provider: reads the server's bundle every `ca_check_interval` (retried with back-off
/// while the server is down, the error kept for readiness and Events), hands the controller a new
/// [`Provider`] when the bundle changes, then deletes Holt's entries whose SPIFFE ID `keep` does not hold
/// (nothing while `keep` is `None`: some workload not known yet; nothing when a call fails).
pub async fn keep_spire_bundle(
    spire: Spire,
    options: Arc<Options>,
    state: watch::Sender<TrustState>,
    keep: watch::Receiver<Option<BTreeSet<String>>>,
) {
    let mut retries = options.retry.schedule();
    let mut last: Option<String> = None;
    loop {
        let wait = match refresh_and_prune(&spire, &options, &state, &keep, &mut last).await {
            Ok(pruned) => {
                retries.reset();
                if pruned > 0 {
                    tracing::info!(pruned, "deleted the SPIRE entries of workloads that are gone");
                }
                state.send_modify(|s| {
                    s.last_error = None;
                    s.pruned += pruned as u64;
                });
                options.ca_check_interval
            }
            Err(error) => {
                tracing::warn!(%error, "the SPIRE server (retried with back-off)");
                state.send_modify(|s| {
                    s.failures += 1;
                    s.last_error = Some(error.to_string());
                });
                retries.next_wait()
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// One look at the SPIRE server: the bundle (a new provider when it changed), then the pruning; returns how
/// many entries were deleted.
async fn refresh_and_prune(
    spire: &Spire,
    options: &Options,
    state: &watch::Sender<TrustState>,
    keep: &watch::Receiver<Option<BTreeSet<String>>>,
    last: &mut Option<String>,
) -> Result<usize, SpireError> {
    let bundle = spire.trust_bundle().await?;
    let changed = last.as_deref() != Some(bundle.digest.as_str());
    *last = Some(bundle.digest.clone());
    let provider = Provider::Spire(SpireProvider {
        spire: spire.clone(),
        bundle,
        default_ttl: options.default_ttl,
    });
    state.send_modify(|s| {
        if changed || s.provider.is_none() {
            s.provider = Some(Arc::new(provider));
            s.version += 1;
        }
    });
    let kept = keep.borrow().clone();
    match kept {
        Some(kept) => {
            spire
                .prune(|id| kept.contains(&format!("spiffe://{}{}", id.trust_domain, id.path)))
                .await
        }
        None => Ok(0),
    }
}

/// With cert-manager as the provider: nothing to load; the provider is handed over once.
pub async fn keep_cert_manager(writer: CertManager, state: watch::Sender<TrustState>) {
    state.send_modify(|s| {
        s.provider = Some(Arc::new(Provider::CertManager(writer)));
        s.version += 1;
    });
    std::future::pending::<()>().await;
}
