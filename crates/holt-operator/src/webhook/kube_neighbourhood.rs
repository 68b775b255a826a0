//! The operator's neighbourhood: uniqueness answered from memory. Two watches (ClientIntents and
//! ProtectedServices of every namespace, in the storage version so the API server never calls the conversion
//! webhook for them) keep a [`Claims`] index of who claims which workload or server; the webhook's own
//! admissions are added as [`PendingClaims`] until the watch shows them.
//!
//! A review costs a hash lookup while the index is complete. The per-review list
//! ([`ListedNeighbourhood`]) is used only
//! - before the watch has listed, after a watch error (until it has listed again), and for good once the index
//!   would exceed its memory budget ([`DEFAULT_BUDGET`] per kind);
//! - to confirm a duplicate the index reports, since the index may lag a deletion by the watch's latency.
//!
//! A list that fails denies the review (fail closed), as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::StreamExt;
use holt_api::{Kind, v2beta1};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{self, Event, watcher};
use tokio::task::JoinHandle;

use super::claims::{Claimant, Claims, Identity, PendingClaims};
use super::neighbourhood::{client_intents_stub, protected_service_stub};
use super::{Claim, ListedNeighbourhood, Neighbourhood, NeighbourhoodError};

/// Memory budget of each kind's index: 32 MiB, about 55,000 objects with names of typical length (an entry
/// is charged its strings plus [`super::claims::ENTRY_OVERHEAD`] bytes, ~600 bytes, what it costs in resident
/// memory). Beyond it the index is dropped and every review lists its namespace (slower, still correct).
pub const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

/// Uniqueness from a watch-backed index, with the per-review list as fallback. Cloning shares the index; the
/// watches stop when the last clone is dropped.
#[derive(Clone)]
pub struct KubeNeighbourhood {
    shared: Arc<Shared>,
    listed: ListedNeighbourhood,
    _watches: Arc<Watches>,
}

impl std::fmt::Debug for KubeNeighbourhood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeNeighbourhood")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// How reviews were answered so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeighbourhoodStats {
    /// Lookups answered from the index alone.
    pub from_index: u64,
    /// Lookups that listed the namespace (index not complete, or a duplicate to confirm).
    pub listed: u64,
}

#[derive(Debug)]
struct Shared {
    client_intents: Mutex<KindIndex>,
    protected_services: Mutex<KindIndex>,
    from_index: AtomicU64,
    listed: AtomicU64,
}

#[derive(Debug)]
struct KindIndex {
    claims: Claims,
    pending: PendingClaims,
    state: IndexState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IndexState {
    /// The watch has not listed yet (or failed and is listing again): not complete.
    Listing,
    /// Complete since the watch's last list.
    Ready,
    /// Dropped for good: it would exceed its budget.
    OverBudget,
}

impl KindIndex {
    fn new(budget: usize) -> Self {
        KindIndex {
            claims: Claims::new(budget),
            pending: PendingClaims::default(),
            state: IndexState::Listing,
        }
    }
}

#[derive(Debug)]
struct Watches(Vec<JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl KubeNeighbourhood {
    /// Starts the two watches (call inside a Tokio runtime) with the default budget.
    pub fn new(client: kube::Client) -> Self {
        KubeNeighbourhood::with_budget(client, DEFAULT_BUDGET)
    }

    /// Starts the two watches; each kind's index holds at most `budget` bytes.
    pub fn with_budget(client: kube::Client, budget: usize) -> Self {
        let shared = Arc::new(Shared {
            client_intents: Mutex::new(KindIndex::new(budget)),
            protected_services: Mutex::new(KindIndex::new(budget)),
            from_index: AtomicU64::new(0),
            listed: AtomicU64::new(0),
        });
        let watches = [Kind::ClientIntents, Kind::ProtectedService]
            .into_iter()
            .map(|kind| tokio::spawn(follow(client.clone(), kind, shared.clone(), budget)))
            .collect();
        KubeNeighbourhood {
            shared,
            listed: ListedNeighbourhood::new(client),
            _watches: Arc::new(Watches(watches)),
        }
    }

    /// True when both indexes are complete (reviews are answered from memory).
    pub fn is_ready(&self) -> bool {
        [Kind::ClientIntents, Kind::ProtectedService]
            .into_iter()
            .all(|kind| self.shared.index(kind).state == IndexState::Ready)
    }

    /// How lookups were answered so far.
    pub fn stats(&self) -> NeighbourhoodStats {
        NeighbourhoodStats {
            from_index: self.shared.from_index.load(Ordering::Relaxed),
            listed: self.shared.listed.load(Ordering::Relaxed),
        }
    }

    /// The other claimants of `claim` known to the index (`None` when it is not complete) and pending.
    fn lookup(&self, kind: Kind, claim: &Claim<'_>) -> (Option<Vec<Claimant>>, Vec<Claimant>) {
        let mut index = self.shared.index(kind);
        let pending = index
            .pending
            .claimants(claim.namespace, claim.identity, claim.object, Instant::now());
        let known = (index.state == IndexState::Ready).then(|| {
            index
                .claims
                .claimants(claim.namespace, claim.identity, claim.object)
        });
        (known, pending)
    }

    /// Whether the index alone answers: complete, and no other object claims the name. Counts the answer.
    fn answered_by_index(&self, known: &Option<Vec<Claimant>>) -> bool {
        let answered = known.as_ref().is_some_and(Vec::is_empty);
        let counter = match answered {
            true => &self.shared.from_index,
            false => &self.shared.listed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        answered
    }
}

impl Shared {
    fn index(&self, kind: Kind) -> MutexGuard<'_, KindIndex> {
        let mutex = match kind {
            Kind::ProtectedService => &self.protected_services,
            _ => &self.client_intents,
        };
        match mutex.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Neighbourhood for KubeNeighbourhood {
    async fn client_intents(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Vec<v2beta1::ClientIntents>, NeighbourhoodError> {
        let (known, pending) = self.lookup(Kind::ClientIntents, claim);
        let mut found = match self.answered_by_index(&known) {
            true => Vec::new(),
            false => {
                let mut listed = self.listed.client_intents(claim).await?;
                listed.retain(|o| o.spec.workload.name == claim.identity);
                listed
            }
        };
        for claimant in pending {
            if !found
                .iter()
                .any(|o| o.metadata.name.as_deref() == Some(&claimant.object))
            {
                found.push(client_intents_stub(
                    claim.namespace,
                    &claimant.object,
                    &claimant.identity.name,
                    claimant.identity.kind.as_deref(),
                ));
            }
        }
        Ok(found)
    }

    async fn protected_services(
        &self,
        claim: &Claim<'_>,
    ) -> Result<Vec<v2beta1::ProtectedService>, NeighbourhoodError> {
        let (known, pending) = self.lookup(Kind::ProtectedService, claim);
        let mut found = match self.answered_by_index(&known) {
            true => Vec::new(),
            false => {
                let mut listed = self.listed.protected_services(claim).await?;
                listed.retain(|o| o.spec.name == claim.identity);
                listed
            }
        };
        for claimant in pending {
            if !found
                .iter()
                .any(|o| o.metadata.name.as_deref() == Some(&claimant.object))
            {
                found.push(protected_service_stub(
                    claim.namespace,
                    &claimant.object,
                    &claimant.identity.name,
                    claimant.identity.kind.as_deref(),
                ));
            }
        }
        Ok(found)
    }

    fn admitted(&self, kind: Kind, claim: &Claim<'_>) {
        if !matches!(kind, Kind::ClientIntents | Kind::ProtectedService) || claim.identity.is_empty() {
            return;
        }
        let identity = Identity {
            name: claim.identity.to_owned(),
            kind: claim.kind.map(str::to_owned),
        };
        self.shared
            .index(kind)
            .pending
            .admitted(claim.namespace, claim.object, identity, Instant::now());
    }
}

/// What `object` (read in the storage version) claims.
fn identity_of(kind: Kind, object: &DynamicObject) -> Option<Identity> {
    let spec = object.data.get("spec")?;
    let claimed = match kind {
        Kind::ClientIntents => spec.get("workload")?,
        _ => spec,
    };
    Some(Identity {
        name: claimed.get("name")?.as_str()?.to_owned(),
        kind: claimed
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    })
}

/// Keeps `kind`'s index current from a watch until the task is aborted (or the index goes over budget).
async fn follow(client: kube::Client, kind: Kind, shared: Arc<Shared>, budget: usize) {
    let gvk = GroupVersionKind::gvk(
        holt_api::GROUP,
        holt_api::Version::STORAGE.as_str(),
        kind.as_str(),
    );
    let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural());
    let api = Api::<DynamicObject>::all_with(client, &resource);
    // Waits before re-watching after repeated watch errors (the first is retried at once).
    let mut retries = holt_runtime::WATCH_BACKOFF.schedule();
    let mut failures = 0u32;
    loop {
        // A fresh watcher per attempt: after an error the index is not trusted until the watch has listed
        // again (kube's watcher would otherwise resume from its last resourceVersion without saying so).
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        let mut listing: Option<Claims> = None;
        let mut ended_by_error = false;
        while let Some(event) = events.next().await {
            let outcome = match event {
                Ok(Event::Init) => {
                    listing = Some(Claims::new(budget));
                    Ok(())
                }
                Ok(Event::InitApply(object)) => match listing.as_mut() {
                    Some(listing) => {
                        let (namespace, name) = key(&object);
                        listing.apply(&namespace, &name, identity_of(kind, &object))
                    }
                    None => Ok(()),
                },
                Ok(Event::InitDone) => {
                    let mut index = shared.index(kind);
                    if let Some(listed) = listing.take() {
                        tracing::debug!(%kind, objects = listed.len(), bytes = listed.bytes(), "uniqueness index listed");
                        index.claims = listed;
                    }
                    index.state = IndexState::Ready;
                    retries.reset();
                    if failures > 1 {
                        tracing::info!(%kind, "uniqueness index complete again");
                    }
                    failures = 0;
                    Ok(())
                }
                Ok(Event::Apply(object)) => {
                    let (namespace, name) = key(&object);
                    let identity = identity_of(kind, &object);
                    let mut index = shared.index(kind);
                    index.pending.seen(&namespace, &name, identity.as_ref());
                    index.claims.apply(&namespace, &name, identity)
                }
                Ok(Event::Delete(object)) => {
                    let (namespace, name) = key(&object);
                    let mut index = shared.index(kind);
                    index.pending.seen(&namespace, &name, None);
                    index.claims.delete(&namespace, &name);
                    Ok(())
                }
                Err(error) => {
                    shared.index(kind).state = IndexState::Listing;
                    failures += 1;
                    match failures {
                        // Expected now and then: a CRD update expires every watch of its kind.
                        1 => tracing::info!(%kind, %error, "uniqueness index watch ended; listing again"),
                        2 => tracing::warn!(
                            %kind,
                            %error,
                            "uniqueness index cannot list; reviews list their namespace until it can"
                        ),
                        _ => tracing::debug!(%kind, %error, failures, "uniqueness index still cannot list"),
                    }
                    ended_by_error = true;
                    break;
                }
            };
            if let Err(over) = outcome {
                let mut index = shared.index(kind);
                index.state = IndexState::OverBudget;
                index.claims = Claims::new(0);
                tracing::warn!(
                    %kind,
                    budget = over.budget,
                    "uniqueness index over its memory budget: dropped; every review lists its namespace from now on"
                );
                return;
            }
        }
        shared.index(kind).state = IndexState::Listing;
        if !ended_by_error {
            failures += 1; // the stream ended without an error: count it, so that it cannot spin
        }
        // The first failure re-lists at once (a CRD update expires every watch of its kind); repeated ones
        // back off.
        if failures > 1 {
            tokio::time::sleep(retries.next_wait()).await;
        }
    }
}

fn key(object: &DynamicObject) -> (String, String) {
    (
        object.metadata.namespace.clone().unwrap_or_default(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}
