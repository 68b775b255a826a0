//! One task per broker: reconcile its ACLs whenever the desired set changes, retry failures with back-off,
//! resync now and then so that ACLs removed behind Holt's back come back, and report every outcome. A
//! task ends when its job sender is dropped: the worker drops it once a broker without a
//! KafkaServerConfig is released (nothing of Holt's left on it).

use std::time::Duration;

use holt_kafka::{AclChanges, KafkaAdmin, KafkaConfig, TlsIdentity};
use holt_model::Identity;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::ledger::Ledgers;
use super::{BrokerJob, KafkaFailure, KafkaOutcome};

/// Back-off and resync of a broker task.
#[derive(Clone, Debug)]
pub struct Timing {
    pub retry: holt_runtime::Backoff,
    pub resync: Duration,
}

pub async fn run(
    ledgers: Ledgers,
    mut jobs: watch::Receiver<BrokerJob>,
    outcomes: mpsc::UnboundedSender<KafkaOutcome>,
    timing: Timing,
) {
    let mut retries = timing.retry.schedule();
    loop {
        let job = jobs.borrow_and_update().clone();
        let result = reconcile(&ledgers, &job).await;
        let released = matches!(result, Ok(Reconciled { released: true, .. }));
        let result = result.map(|r| r.changes);
        let wait = match &result {
            Ok(changes) => {
                retries.reset();
                if !changes.is_empty() {
                    info!(broker = %broker_name(&job.broker), created = changes.created.len(),
                          deleted = changes.deleted.len(), "Kafka ACLs applied");
                }
                timing.resync
            }
            Err(failure) => {
                let retry = retries.next_wait();
                warn!(broker = %broker_name(&job.broker), reason = failure.reason, error = %failure.message,
                      ?retry, "Kafka ACLs not applied; will retry");
                retry
            }
        };
        let outcome = KafkaOutcome {
            broker: job.broker.clone(),
            generation: job.generation,
            configs: job.configs.clone(),
            result,
            released,
        };
        if outcomes.send(outcome).is_err() {
            return;
        }
        tokio::select! {
            changed = jobs.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(wait) => debug!(broker = %broker_name(&job.broker), "Kafka ACL resync or retry"),
        }
    }
}

/// What a successful reconcile did.
struct Reconciled {
    changes: AclChanges,
    /// No KafkaServerConfig describes the broker and no ledger is left: Holt has nothing there any more.
    released: bool,
}

/// Makes the broker's ACLs that Holt owns equal the job's desired set, recording ownership in the ledger.
async fn reconcile(ledgers: &Ledgers, job: &BrokerJob) -> Result<Reconciled, KafkaFailure> {
    let not_applied = |message: String| KafkaFailure {
        reason: "ApplyingKafkaACLsFailed",
        message,
    };
    let mut ledger = ledgers.load(&job.broker).await.map_err(not_applied)?;
    let target = match &job.target {
        Ok(Some(target)) => target.clone(),
        // No KafkaServerConfig any more: remove what Holt created where it last reached the broker.
        Ok(None) => match ledger.target.clone() {
            Some(target) => target,
            None => {
                return Ok(Reconciled {
                    changes: AclChanges::default(),
                    released: ledger.acls.is_empty(),
                });
            }
        },
        Err(message) => {
            return Err(KafkaFailure {
                reason: "KafkaServerConfigInvalid",
                message: message.clone(),
            });
        }
    };
    let admin = connect(&target.address, &target.tls).await?;
    let changes = admin
        .plan_reconcile(&job.acls, |acl| ledger.acls.contains(acl))
        .await
        .map_err(|e| failure(&target.address, e))?;
    // Recorded before they exist: a crash after creating must not leave ACLs nobody owns.
    if !changes.created.is_empty() || ledger.target.as_ref() != Some(&target) {
        ledger.acls.extend(changes.created.iter().cloned());
        ledger.target = Some(target.clone());
        ledgers.save(&job.broker, &ledger).await.map_err(not_applied)?;
    }
    let changes = admin
        .apply(changes)
        .await
        .map_err(|e| failure(&target.address, e))?;
    let before = ledger.acls.clone();
    ledger.forget(&changes.deleted);
    let released = job.target.as_ref().is_ok_and(Option::is_none) && ledger.acls.is_empty();
    if released {
        ledgers.delete(&job.broker).await.map_err(not_applied)?;
    } else if ledger.acls != before {
        ledgers.save(&job.broker, &ledger).await.map_err(not_applied)?;
    }
    Ok(Reconciled { changes, released })
}

async fn connect(address: &str, tls: &super::TlsFiles) -> Result<KafkaAdmin, KafkaFailure> {
    let identity = TlsIdentity::from_files(&tls.cert, &tls.key, &tls.ca).map_err(|e| failure(address, e))?;
    KafkaAdmin::connect(KafkaConfig::new([address], identity))
        .await
        .map_err(|e| failure(address, e))
}

fn failure(address: &str, error: holt_kafka::Error) -> KafkaFailure {
    use holt_kafka::Category;
    let reason = match error.category() {
        Category::Connect | Category::Timeout | Category::Tls | Category::Config => {
            "CouldNotConnectToKafkaServer"
        }
        Category::Protocol | Category::Broker | Category::Authorization => "ApplyingKafkaACLsFailed",
    };
    KafkaFailure {
        reason,
        message: format!("broker {address}: {error}"),
    }
}

/// How logs, statuses and ledgers name a broker: `name.namespace`.
pub fn broker_name(broker: &Identity) -> String {
    format!("{}.{}", broker.name, broker.namespace)
}
