//! One task per broker: reconcile its ACLs whenever the desired set changes, retry failures with back-off,
//! resync now and then so that ACLs removed behind Holt's back come back, and report every outcome. A
//! task ends when its job sender is dropped: the worker drops it once a broker without a
//! KafkaServerConfig is released (nothing of Holt's left on it).

use std::time::Duration;

use std::collections::BTreeSet;

use holt_kafka::{AclChanges, KafkaAcl, KafkaAdmin, KafkaConfig, TlsIdentity};
use holt_model::Identity;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::ledger::Ledgers;
use super::{BrokerJob, KafkaFailure, KafkaOutcome};

/// How a broker task runs: back-off, resync, and whether it adopts the desired ACLs already there.
#[derive(Clone, Debug)]
pub struct Timing {
    pub retry: holt_runtime::Backoff,
    pub resync: Duration,
    pub adopt_existing: bool,
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
        let result = reconcile(&ledgers, &job, timing.adopt_existing).await;
        let released = matches!(result, Ok(Reconciled { released: true, .. }));
        let adopted = result.as_ref().map_or(0, |r| r.adopted);
        let result = result.map(|r| r.changes);
        let wait = match &result {
            Ok(changes) => {
                retries.reset();
                if !changes.is_empty() {
                    info!(broker = %broker_name(&job.broker), created = changes.created.len(),
                          deleted = changes.deleted.len(), "Kafka ACLs applied");
                }
                if adopted > 0 {
                    info!(broker = %broker_name(&job.broker), adopted,
                          "Kafka ACLs Holt wants were already on the broker: recorded as Holt's");
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
    /// Desired ACLs already on the broker, recorded in the ledger by this reconcile.
    adopted: usize,
}

/// Makes the broker's ACLs that Holt owns equal the job's desired set, recording ownership in the ledger.
/// With `adopt_existing`, on Holt's first contact with the broker (no ledger yet: the switch from the
/// reference operator), desired ACLs the broker already has are recorded too (adopted); later, an ACL someone
/// adds that equals one Holt wants stays theirs.
async fn reconcile(
    ledgers: &Ledgers,
    job: &BrokerJob,
    adopt_existing: bool,
) -> Result<Reconciled, KafkaFailure> {
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
                    adopted: 0,
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
    let adopted = match adopt_existing && ledger.target.is_none() {
        true => adoptable(&job.acls, &changes.created, &ledger.acls),
        false => BTreeSet::new(),
    };
    // Recorded before they exist: a crash after creating must not leave ACLs nobody owns.
    if !changes.created.is_empty() || !adopted.is_empty() || ledger.target.as_ref() != Some(&target) {
        ledger.acls.extend(changes.created.iter().cloned());
        ledger.acls.extend(adopted.iter().cloned());
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
    Ok(Reconciled {
        changes,
        released,
        adopted: adopted.len(),
    })
}

/// The desired ACLs the broker already has (desired and not to be created) that the ledger does not list.
fn adoptable(
    desired: &BTreeSet<KafkaAcl>,
    created: &BTreeSet<KafkaAcl>,
    owned: &BTreeSet<KafkaAcl>,
) -> BTreeSet<KafkaAcl> {
    desired
        .iter()
        .filter(|acl| !created.contains(*acl) && !owned.contains(*acl))
        .cloned()
        .collect()
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

#[cfg(test)]
mod tests {
    use holt_kafka::{AclOperation, AclPatternType};

    use super::*;

    fn acl(topic: &str) -> KafkaAcl {
        KafkaAcl::allow_topic(
            topic,
            AclPatternType::Literal,
            "User:CN=client.ns",
            AclOperation::Read,
        )
    }

    #[test]
    fn only_desired_acls_already_on_the_broker_and_not_yet_owned_are_adopted() {
        let desired = BTreeSet::from([acl("found"), acl("created"), acl("owned")]);
        let created = BTreeSet::from([acl("created")]);
        let owned = BTreeSet::from([acl("owned"), acl("stale")]);
        assert_eq!(
            adoptable(&desired, &created, &owned),
            BTreeSet::from([acl("found")])
        );
    }
}
