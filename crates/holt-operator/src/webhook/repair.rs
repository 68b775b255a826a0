//! Keeping the registration Holt's while the webhook runs: watches on the `ValidatingWebhookConfiguration`
//! and on each Holt CRD (by name, so nothing else is listed) mark an object to check; a check reads it and
//! restores Holt's fields when they differ ([`super::drift`]), and writes nothing when they do not, so Holt's
//! own writes end the loop after one read. A changed CA bundle (rotation) checks everything.
//!
//! - The configuration deleted: created again. A webhook removed or edited, a selector or match condition
//!   added, the caBundle or target changed: restored. Others' webhooks, labels and annotations stay.
//! - A CRD's conversion settings changed: restored. A CRD deleted is not created again (that deletes every
//!   object of its kind, as an uninstall does; recreating it would fight the uninstall): it is reported, and
//!   restarting the operator creates it.
//! - A failed check is retried after 1 s, doubling to [`REPAIR_RETRY_MAX`] (jittered: up to half off). An object that needs repairing
//!   again within [`FIGHT_WINDOW`] of its last repair (another controller writing its own idea of it) is
//!   repaired after a delay doubling from 1 s to [`REPAIR_SLOWDOWN_MAX`], with a warning naming the field
//!   manager, so two writers never make a write storm.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::{Stream, StreamExt, stream};
use holt_runtime::{Backoff, RetrySchedule};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::registration::{Restored, ensure_configuration, repair_conversion};
use super::{
    VALIDATING_WEBHOOK_CONFIGURATION, WebhookError, WebhookTarget, validating_webhook_configuration,
};

/// Longest wait between retries of a check that failed (API server unreachable, forbidden, ...).
pub const REPAIR_RETRY_MAX: Duration = Duration::from_secs(30);
/// Longest delay before repairing an object someone keeps changing back.
pub const REPAIR_SLOWDOWN_MAX: Duration = Duration::from_secs(60);
/// A repair this soon after the previous one of the same object could happen counts as a fight.
pub const FIGHT_WINDOW: Duration = Duration::from_secs(10);
const FIRST_DELAY: Duration = Duration::from_secs(1);
/// Waits before checking again an object whose check failed.
const CHECK_RETRY: Backoff = Backoff::exponential(FIRST_DELAY, REPAIR_RETRY_MAX).with_jitter();
/// Delays between repairs of an object someone keeps changing back (not jittered: one object, one pace).
const FIGHT_SLOWDOWN: Backoff = Backoff::exponential(FIRST_DELAY, REPAIR_SLOWDOWN_MAX);

/// One registered object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Registered {
    Configuration,
    Crd(String),
}

impl std::fmt::Display for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Registered::Configuration => write!(
                f,
                "ValidatingWebhookConfiguration {VALIDATING_WEBHOOK_CONFIGURATION}"
            ),
            Registered::Crd(name) => write!(f, "CRD {name}"),
        }
    }
}

/// Starts repairing the registration at `target` with the CA bundle `ca` holds, until `stopped` turns true.
pub(super) fn spawn(
    client: kube::Client,
    target: WebhookTarget,
    ca: watch::Receiver<Vec<u8>>,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(run(client, target, ca, stopped))
}

/// When each object may be repaired next, and how long the next fight delay is.
#[derive(Debug)]
struct Pace {
    last_repair: Option<Instant>,
    delay: Duration,
    slowdown: RetrySchedule,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            last_repair: None,
            delay: Duration::ZERO,
            slowdown: FIGHT_SLOWDOWN.schedule(),
        }
    }
}

impl Pace {
    /// Records a repair at `now`; returns the delay before the next one may happen.
    fn repaired(&mut self, now: Instant) -> Duration {
        // Within the window after the earliest moment the repair could have happened.
        let fighting = self
            .last_repair
            .is_some_and(|last| now.saturating_duration_since(last) < self.delay + FIGHT_WINDOW);
        self.delay = match fighting {
            true => self.slowdown.next_wait(),
            false => {
                self.slowdown.reset();
                Duration::ZERO
            }
        };
        self.last_repair = Some(now);
        self.delay
    }

    /// The earliest time a check may run, for a change seen at `now`.
    fn not_before(&self, now: Instant) -> Instant {
        match self.last_repair {
            Some(last) => now.max(last + self.delay),
            None => now,
        }
    }
}

async fn run(
    client: kube::Client,
    target: WebhookTarget,
    mut ca: watch::Receiver<Vec<u8>>,
    mut stopped: watch::Receiver<bool>,
) {
    let crd_names: Vec<String> = holt_api::Kind::ALL
        .into_iter()
        .map(|kind| format!("{}.{}", kind.plural(), holt_api::GROUP))
        .collect();
    let mut touched = changes(&client, &crd_names);
    // Objects to check, and when.
    let mut due: BTreeMap<Registered, Instant> = BTreeMap::new();
    let mut retries: BTreeMap<Registered, RetrySchedule> = BTreeMap::new();
    let mut paces: BTreeMap<Registered, Pace> = BTreeMap::new();
    let mut missing_crds: BTreeSet<String> = BTreeSet::new();
    loop {
        let next = due.values().min().copied();
        tokio::select! {
            changed = touched.next() => match changed {
                Some(object) => {
                    let now = Instant::now();
                    let when = paces.get(&object).map_or(now, |pace| pace.not_before(now));
                    let entry = due.entry(object).or_insert(when);
                    *entry = (*entry).min(when);
                }
                None => return,
            },
            changed = ca.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = Instant::now();
                due.insert(Registered::Configuration, now);
                for name in &crd_names {
                    due.insert(Registered::Crd(name.clone()), now);
                }
            }
            _ = stopped.changed() => return,
            _ = sleep_until(next) => {
                let now = Instant::now();
                let ready: Vec<Registered> = due.iter().filter(|(_, at)| **at <= now).map(|(o, _)| o.clone()).collect();
                for object in ready {
                    due.remove(&object);
                    let ca_bundle = ca.borrow().clone();
                    match check(&client, &target, &ca_bundle, &object, &mut missing_crds).await {
                        Ok(restored) => {
                            retries.remove(&object);
                            if let Some(restored) = restored {
                                let pace = paces.entry(object.clone()).or_default();
                                let delay = pace.repaired(Instant::now());
                                report(&object, &restored, delay);
                            }
                        }
                        Err(error) => {
                            let retry = retries
                                .entry(object.clone())
                                .or_insert_with(|| CHECK_RETRY.schedule())
                                .next_wait();
                            tracing::warn!(%object, %error, retry_in = ?retry, "cannot check Holt's registration");
                            due.insert(object, Instant::now() + retry);
                        }
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn report(object: &Registered, restored: &Restored, delay: Duration) {
    let changed_by = restored.changed_by.as_deref().unwrap_or("unknown");
    if restored.fields.is_empty() {
        tracing::warn!(%object, "deleted; created again");
    } else {
        tracing::warn!(%object, fields = ?restored.fields, %changed_by, "changed behind Holt's back; restored");
    }
    if !delay.is_zero() {
        tracing::warn!(
            %object,
            %changed_by,
            next_repair_after = ?delay,
            "someone keeps changing Holt's registration back; repairs slowed down (make the other writer agree with Holt's flags)"
        );
    }
}

/// Checks one object and restores it when needed: `Some` with what was restored (no fields: recreated).
async fn check(
    client: &kube::Client,
    target: &WebhookTarget,
    ca_bundle: &[u8],
    object: &Registered,
    missing_crds: &mut BTreeSet<String>,
) -> Result<Option<Restored>, WebhookError> {
    match object {
        Registered::Configuration => {
            let desired = validating_webhook_configuration(target, ca_bundle);
            let outcome = ensure_configuration(client, &desired).await?;
            Ok(match (outcome.created, outcome.repaired.is_empty()) {
                (true, _) => Some(Restored::default()),
                (false, false) => Some(Restored {
                    fields: outcome.repaired,
                    changed_by: outcome.changed_by,
                }),
                (false, true) => None,
            })
        }
        Registered::Crd(name) => {
            let api = Api::<CustomResourceDefinition>::all(client.clone());
            let desired = target.conversion_client_config(ca_bundle);
            match repair_conversion(&api, name, &desired, None).await? {
                Some(restored) => {
                    if missing_crds.remove(name) {
                        tracing::info!(crd = %name, "CRD is back");
                    }
                    Ok((!restored.fields.is_empty()).then_some(restored))
                }
                None => {
                    if missing_crds.insert(name.clone()) {
                        tracing::warn!(
                            crd = %name,
                            "CRD deleted (with every object of its kind); not created again while running: restart the operator or apply deploy/crds to bring it back"
                        );
                    }
                    Ok(None)
                }
            }
        }
    }
}

/// Every change to the registered objects, as the object to check. Watch errors are retried by the watchers
/// (0.5 s doubling to 5 s); each re-list marks the object again, so nothing missed meanwhile stays unseen.
fn changes(
    client: &kube::Client,
    crd_names: &[String],
) -> impl Stream<Item = Registered> + Send + Unpin + use<> {
    let configuration = watch_named::<ValidatingWebhookConfiguration>(
        client,
        VALIDATING_WEBHOOK_CONFIGURATION,
        Registered::Configuration,
    );
    let crds = crd_names
        .iter()
        .map(|name| watch_named::<CustomResourceDefinition>(client, name, Registered::Crd(name.clone())));
    stream::select_all(std::iter::once(configuration).chain(crds))
}

fn watch_named<K>(
    client: &kube::Client,
    name: &str,
    object: Registered,
) -> std::pin::Pin<Box<dyn Stream<Item = Registered> + Send>>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let api = Api::<K>::all(client.clone());
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let backoff = watcher::ExponentialBackoff::from(holt_runtime::WATCH_BACKOFF.builder());
    let events = watcher(api, config).backoff(backoff);
    // The first failure of a streak is a warning (e.g. RBAC without `watch`: nothing would be repaired).
    let mut failing = false;
    Box::pin(events.filter_map(move |event| {
        let touched = match event {
            // Every event (an object listed, changed or deleted, a list complete) is a reason to look: a
            // list without the object means it is gone.
            Ok(watcher::Event::Init) => None,
            Ok(_) => {
                if std::mem::take(&mut failing) {
                    tracing::info!(%object, "registration watch works again");
                }
                Some(object.clone())
            }
            Err(error) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(%object, %error, "cannot watch Holt's registration; changes to it are not repaired until this works");
                } else {
                    tracing::debug!(%object, %error, "registration watch failed again");
                }
                None
            }
        };
        std::future::ready(touched)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fight_slows_repairs_down_and_peace_resets_them() {
        let start = Instant::now();
        let mut pace = Pace::default();
        assert_eq!(pace.not_before(start), start);
        assert_eq!(
            pace.repaired(start),
            Duration::ZERO,
            "the first repair is immediate"
        );
        // Each repair undone a second after the earliest moment it could happen.
        let mut at = start;
        let mut delays = Vec::new();
        for _ in 0..8 {
            at = pace.not_before(at) + Duration::from_secs(1);
            delays.push(pace.repaired(at).as_secs());
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(pace.not_before(at), at + REPAIR_SLOWDOWN_MAX);
        // A change long after the last repair is repaired at once again.
        let later = at + REPAIR_SLOWDOWN_MAX + FIGHT_WINDOW + Duration::from_secs(1);
        assert_eq!(pace.repaired(later), Duration::ZERO);
        assert_eq!(pace.not_before(later), later);
    }
}
