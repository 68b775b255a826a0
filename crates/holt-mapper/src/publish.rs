//! Publishing `status.resolvedIPs`: ClientIntents are watched (in `v2alpha1`, the storage version, so no
//! conversion webhook is involved); on a timer, each one declaring internet domains whose status lacks
//! addresses DNS answers gave gets a merge patch of its status subresource (computed by
//! [`crate::resolved_ips`]). The DNS answers are those the sniffers reported: a report needs the
//! `create reports` permission ([`crate::access`]).
//!
//! After a reset ([`crate::published_reset`]) passes write every ClientIntents' addresses from the DNS
//! answers alone, dropping those the status held, until a pass over every ClientIntents listed finds
//! nothing left to write (its writes confirmed by the watch): then the reset is done.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use holt_api::convert::convert;
use holt_api::v2beta1::ResolvedIps;
use holt_api::{v2alpha1, v2beta1};
use holt_model::ObjectKey;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, ExponentialBackoff, watcher};
use kube::{Api, Client, Resource};

use crate::resolved_ips::{declared_domains, desired};
use crate::shared::Shared;

#[derive(Debug, Default)]
struct Known {
    domains: Vec<String>,
    current: Vec<ResolvedIps>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot patch status.resolvedIPs of ClientIntents {key}: {source}")]
    Patch { key: ObjectKey, source: kube::Error },
}

/// Watches ClientIntents and patches their `status.resolvedIPs` every `interval`, until the process ends.
pub async fn run(client: Client, shared: Arc<Shared>, interval: Duration) {
    let known: Arc<Mutex<BTreeMap<ObjectKey, Known>>> = Arc::default();
    let listed = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn(follow(client.clone(), known.clone(), listed.clone()));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // Read before the store: a reset requested later is honoured by the next pass.
        let reset = shared.published_reset.pending();
        let work: Vec<(ObjectKey, Vec<ResolvedIps>)> = {
            // Lock order: `known`, then the mapper (nothing takes them the other way round). The DNS
            // answers are read in place: the mapper is held for the declared domains' lookups only.
            let known = known.lock().unwrap_or_else(|p| p.into_inner());
            let mapper = shared.mapper();
            let dns = mapper.store.dns();
            known
                .iter()
                // Also those with no domain left but addresses still in their status: the entries must go.
                .filter(|(_, k)| !k.domains.is_empty() || !k.current.is_empty())
                .filter_map(|(key, k)| {
                    // After a reset, what the status holds was published before it: not kept.
                    let kept: &[ResolvedIps] = if reset.is_some() { &[] } else { &k.current };
                    let want = desired(&k.domains, dns, kept);
                    (want != k.current).then(|| (key.clone(), want))
                })
                .collect()
        };
        // A reset is done when a pass over every ClientIntents finds nothing to write: its own writes
        // have come back through the watch, so an older event seen late cannot bring back what it took.
        let nothing_to_write = work.is_empty();
        for (key, want) in work {
            match patch(&client, &key, &want).await {
                Ok(()) => {
                    shared.status_patches.fetch_add(1, Ordering::Relaxed);
                    if let Some(k) = known.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key) {
                        k.current = want;
                    }
                }
                Err(error) => {
                    shared.status_patch_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "resolvedIPs not published");
                }
            }
        }
        if let Some(generation) = reset
            && nothing_to_write
            && listed.load(Ordering::SeqCst)
        {
            match shared.published_reset.done(generation) {
                Ok(()) => {
                    tracing::info!("the addresses published in resolvedIPs before the reset were taken back")
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot remove the reset marker; the next pass tries again")
                }
            }
        }
        if follower.is_finished() {
            tracing::error!("the ClientIntents watch ended; resolvedIPs are no longer published");
            return;
        }
    }
}

async fn patch(client: &Client, key: &ObjectKey, want: &[ResolvedIps]) -> Result<(), PublishError> {
    let api: Api<v2alpha1::ClientIntents> = Api::namespaced(client.clone(), &key.namespace);
    let body = serde_json::json!({ "status": { "resolvedIPs": want } });
    api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .map(|_| ())
        .map_err(|source| PublishError::Patch {
            key: key.clone(),
            source,
        })
}

async fn follow(client: Client, known: Arc<Mutex<BTreeMap<ObjectKey, Known>>>, listed: Arc<AtomicBool>) {
    let api: Api<DeserializeGuard<v2alpha1::ClientIntents>> = Api::all(client);
    let mut events = std::pin::pin!(
        watcher(api, watcher::Config::default())
            .backoff(ExponentialBackoff::from(holt_runtime::WATCH_BACKOFF.builder()))
    );
    let mut relisted: Option<BTreeMap<ObjectKey, Known>> = None;
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "ClientIntents watch failed; retrying");
                continue;
            }
        };
        let mut known = known.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Init => relisted = Some(BTreeMap::new()),
            Event::InitApply(guard) => {
                if let Some((key, entry)) = read(guard) {
                    relisted.get_or_insert_with(BTreeMap::new).insert(key, entry);
                }
            }
            Event::InitDone => {
                *known = relisted.take().unwrap_or_default();
                listed.store(true, Ordering::SeqCst);
            }
            Event::Apply(guard) => {
                if let Some((key, entry)) = read(guard) {
                    known.insert(key, entry);
                }
            }
            Event::Delete(guard) => {
                let key = match &guard.0 {
                    Ok(ci) => ObjectKey::of(ci.meta()),
                    Err(invalid) => ObjectKey::of(&invalid.metadata),
                };
                known.remove(&key);
            }
        }
    }
}

fn read(guard: DeserializeGuard<v2alpha1::ClientIntents>) -> Option<(ObjectKey, Known)> {
    match guard.0 {
        Ok(ci) => {
            let key = ObjectKey::of(ci.meta());
            let hub: v2beta1::ClientIntents = convert(ci);
            let current = hub.status.map(|s| s.resolved_ips).unwrap_or_default();
            Some((
                key,
                Known {
                    domains: declared_domains(&hub.spec),
                    current,
                },
            ))
        }
        Err(invalid) => {
            tracing::warn!(object = %ObjectKey::of(&invalid.metadata), error = %invalid.error, "unreadable ClientIntents ignored");
            None
        }
    }
}
