//! Leader election with a `coordination.k8s.io/v1` Lease, so that two replicas never both write.
//!
//! [`acquire`] waits until this process holds the Lease: it creates it, or takes it over once the holder has
//! not renewed it for `lease_duration`. Every write uses the Lease's `resourceVersion`, so two candidates
//! racing for it cannot both win. The holder renews it every `renew_every` in the background; when a
//! renewal is impossible for a whole `lease_duration` (or another holder appears) [`Leadership::lost`]
//! resolves and the process must stop writing. [`Leadership::release`] hands the Lease over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, Error};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// The reference intents operator's leader-election ID, the Lease name of [`LeaseOptions::new`].
pub const DEFAULT_LEASE_NAME: &str = "a3a7d614.otterize.com";

#[derive(Clone, Debug)]
pub struct LeaseOptions {
    pub name: String,
    pub namespace: String,
    /// This candidate's identity (the pod name in a cluster).
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_every: Duration,
    /// How often a waiting candidate looks at the Lease again.
    pub retry_every: Duration,
}

impl LeaseOptions {
    /// The intents operator's Lease ([`DEFAULT_LEASE_NAME`]) in `namespace`.
    pub fn new(namespace: &str, identity: &str) -> Self {
        LeaseOptions::named(DEFAULT_LEASE_NAME, namespace, identity)
    }

    /// The Lease `name` in `namespace`: 15 s lease, renewed every 5 s, looked at every 2 s while waiting.
    pub fn named(name: &str, namespace: &str, identity: &str) -> Self {
        LeaseOptions {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            retry_every: Duration::from_secs(2),
        }
    }
}

/// Runs an operator's controller and probe server until one of them stops (an error), leadership is lost (an
/// error: only the new leader may write), or a shutdown signal comes (leadership, when held, is released
/// first, so that a standby takes over at once). Without `leadership` (leader election off) only the first
/// and the last apply.
pub async fn run_leading<C, P>(
    controller: C,
    probes: P,
    mut leadership: Option<Leadership>,
) -> anyhow::Result<()>
where
    C: Future<Output = Result<(), tokio::task::JoinError>>,
    P: Future<Output = Result<std::io::Result<()>, tokio::task::JoinError>>,
{
    use anyhow::Context;
    let lost = async {
        match leadership.as_mut() {
            Some(leadership) => leadership.lost().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = controller => result.context("the controller stopped")?,
        result = probes => result.context("the health server stopped")?.context("serving probes")?,
        _ = lost => anyhow::bail!("lost the leader Lease: stopping so that only the new leader writes"),
        _ = crate::shutdown::signal() => {
            if let Some(leadership) = leadership.take() {
                leadership.release().await;
            }
        }
    }
    Ok(())
}

/// Held leadership: renewed in the background until lost or released.
#[derive(Debug)]
pub struct Leadership {
    lost: watch::Receiver<bool>,
    renewal: JoinHandle<()>,
    api: Api<Lease>,
    options: LeaseOptions,
}

impl Leadership {
    /// Resolves when leadership is lost.
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Stops renewing and gives the Lease up, so another candidate takes over without waiting for it to
    /// expire.
    pub async fn release(self) {
        self.renewal.abort();
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.options.name).await
            && holder(&lease) == Some(self.options.identity.as_str())
        {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.holder_identity = None;
            spec.renew_time = None;
            if let Err(error) = self
                .api
                .replace(&self.options.name, &PostParams::default(), &lease)
                .await
            {
                warn!(%error, "releasing the leader Lease");
            }
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// Waits until this candidate holds the Lease, then keeps renewing it.
pub async fn acquire(client: Client, options: LeaseOptions) -> Leadership {
    let api: Api<Lease> = Api::namespaced(client, &options.namespace);
    loop {
        match try_acquire(&api, &options).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => warn!(%error, "trying to acquire the leader Lease"),
        }
        tokio::time::sleep(options.retry_every).await;
    }
    info!(lease = %options.name, identity = %options.identity, "leading");
    let (lost_tx, lost) = watch::channel(false);
    let renewal = tokio::spawn(renew(api.clone(), options.clone(), lost_tx));
    Leadership {
        lost,
        renewal,
        api,
        options,
    }
}

/// One attempt: `Ok(true)` when this candidate now holds the Lease.
async fn try_acquire(api: &Api<Lease>, options: &LeaseOptions) -> Result<bool, Error> {
    let now = Timestamp::now();
    let Some(mut lease) = api.get_opt(&options.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(options.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(held_spec(None, options, now, 0)),
        };
        return ignore_conflict(api.create(&PostParams::default(), &lease).await);
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let ours = spec.holder_identity.as_deref() == Some(options.identity.as_str());
    if !ours && !expired(&spec, now) {
        return Ok(false);
    }
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
    lease.spec = Some(held_spec(Some(&spec), options, now, transitions));
    ignore_conflict(api.replace(&options.name, &PostParams::default(), &lease).await)
}

/// Renews until a renewal is impossible for a whole lease duration, or another holder took the Lease.
async fn renew(api: Api<Lease>, options: LeaseOptions, lost: watch::Sender<bool>) {
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(options.renew_every).await;
        match api.get_opt(&options.name).await {
            Ok(Some(mut lease)) if holder(&lease) == Some(options.identity.as_str()) => {
                let spec = lease.spec.clone().unwrap_or_default();
                let transitions = spec.lease_transitions.unwrap_or(0);
                lease.spec = Some(held_spec(Some(&spec), &options, Timestamp::now(), transitions));
                match api.replace(&options.name, &PostParams::default(), &lease).await {
                    Ok(_) => last_renewed = tokio::time::Instant::now(),
                    Err(error) => warn!(%error, "renewing the leader Lease"),
                }
            }
            Ok(_) => {
                warn!(lease = %options.name, "another candidate holds the leader Lease");
                let _ = lost.send(true);
                return;
            }
            Err(error) => warn!(%error, "reading the leader Lease"),
        }
        if last_renewed.elapsed() >= options.lease_duration {
            warn!(lease = %options.name, "could not renew the leader Lease in time");
            let _ = lost.send(true);
            return;
        }
    }
}

fn held_spec(
    previous: Option<&LeaseSpec>,
    options: &LeaseOptions,
    now: Timestamp,
    transitions: i32,
) -> LeaseSpec {
    let ours = previous.and_then(|p| p.holder_identity.as_deref()) == Some(options.identity.as_str());
    LeaseSpec {
        holder_identity: Some(options.identity.clone()),
        lease_duration_seconds: Some(options.lease_duration.as_secs().max(1) as i32),
        acquire_time: if ours {
            previous.and_then(|p| p.acquire_time.clone())
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
}

/// Free (no holder) or not renewed within its duration.
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let (Some(_), Some(renewed)) = (&spec.holder_identity, &spec.renew_time) else {
        return true;
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    renewed.0.as_second() + duration < now.as_second()
}

/// A conflict (someone else wrote the Lease first) is a lost race, not an error.
fn ignore_conflict<T>(result: Result<T, Error>) -> Result<bool, Error> {
    match result {
        Ok(_) => Ok(true),
        Err(Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}
