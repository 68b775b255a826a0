//! Making a broker's ACLs match a desired set without touching what is not ours: create the desired ACLs
//! that are missing, delete the ACLs we own that are no longer desired, leave every other ACL alone.
//! Creation comes first, so access that stays granted is never briefly lost.

use std::collections::BTreeSet;

use holt_render::kafka::KafkaAcl;

use crate::acls::AclFilter;
use crate::client::KafkaAdmin;
use crate::error::Error;

/// What a reconcile changed (or, from [`plan`], would change).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclChanges {
    /// Desired ACLs that were missing and were created.
    pub created: BTreeSet<KafkaAcl>,
    /// Owned ACLs that were no longer desired and were deleted.
    pub deleted: BTreeSet<KafkaAcl>,
    /// Desired ACLs that were already there.
    pub unchanged: usize,
    /// ACLs on the broker the ownership predicate said are not ours, left alone.
    pub foreign: usize,
}

impl AclChanges {
    /// Whether nothing was (or needs to be) created or deleted.
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.deleted.is_empty()
    }
}

/// The changes that turn `current` into `desired` as far as `owned` ACLs go: everything desired and missing
/// is created; of the ACLs present and not desired, only the owned ones are deleted.
pub fn plan(
    desired: &BTreeSet<KafkaAcl>,
    current: &BTreeSet<KafkaAcl>,
    owned: impl Fn(&KafkaAcl) -> bool,
) -> AclChanges {
    let mut changes = AclChanges {
        created: desired.difference(current).cloned().collect(),
        unchanged: desired.intersection(current).count(),
        ..AclChanges::default()
    };
    for acl in current.difference(desired) {
        if owned(acl) {
            changes.deleted.insert(acl.clone());
        } else {
            changes.foreign += 1;
        }
    }
    changes
}

impl KafkaAdmin {
    /// Lists the broker's topic and group ACLs, creates the missing `desired` ones and deletes the ones
    /// `owned` accepts that are not desired; returns what it did. Idempotent: a second call with the same
    /// arguments changes nothing. Desired ACLs should themselves be owned, or a later reconcile will not
    /// remove them. Run one reconcile per broker at a time.
    ///
    /// On a failure to create, nothing is deleted; the error says which ACLs were refused.
    pub async fn reconcile(
        &self,
        desired: &BTreeSet<KafkaAcl>,
        owned: impl Fn(&KafkaAcl) -> bool,
    ) -> Result<AclChanges, Error> {
        let changes = self.plan_reconcile(desired, owned).await?;
        self.apply(changes).await
    }

    /// The first half of [`KafkaAdmin::reconcile`], for callers that must record something between planning
    /// and applying: lists the broker's ACLs and returns the changes [`plan`] makes of them.
    pub async fn plan_reconcile(
        &self,
        desired: &BTreeSet<KafkaAcl>,
        owned: impl Fn(&KafkaAcl) -> bool,
    ) -> Result<AclChanges, Error> {
        let current: BTreeSet<KafkaAcl> = self.describe_acls(&AclFilter::any()).await?.into_iter().collect();
        Ok(plan(desired, &current, owned))
    }

    /// The second half of [`KafkaAdmin::reconcile`]: creates `changes.created`, then deletes
    /// `changes.deleted`. Creation comes first, so access that stays granted is never briefly lost; nothing
    /// is deleted when creating fails.
    pub async fn apply(&self, mut changes: AclChanges) -> Result<AclChanges, Error> {
        let create: Vec<_> = changes.created.iter().cloned().collect();
        self.create_acls(&create).await?;
        let filters: Vec<_> = changes.deleted.iter().map(AclFilter::exact).collect();
        // Report what the broker says it deleted: an ACL someone else removed meanwhile is not ours to claim.
        changes.deleted = self.delete_acls(&filters).await?.into_iter().collect();
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use holt_render::kafka::{AclOperation, AclPatternType};

    use super::*;

    fn acl(principal: &str, topic: &str, operation: AclOperation) -> KafkaAcl {
        KafkaAcl::allow_topic(topic, AclPatternType::Literal, principal, operation)
    }

    #[test]
    fn creates_missing_deletes_stale_owned_and_keeps_foreign() {
        let ours = |a: &KafkaAcl| a.principal.starts_with("User:CN=holt-");
        let keep = acl("User:CN=holt-a", "orders", AclOperation::Write);
        let add = acl("User:CN=holt-a", "orders", AclOperation::Read);
        let stale = acl("User:CN=holt-b", "payments", AclOperation::Write);
        let foreign = acl("User:CN=someone", "payments", AclOperation::All);
        let desired = BTreeSet::from([keep.clone(), add.clone()]);
        let current = BTreeSet::from([keep, stale.clone(), foreign]);

        let changes = plan(&desired, &current, ours);
        assert_eq!(changes.created, BTreeSet::from([add]));
        assert_eq!(changes.deleted, BTreeSet::from([stale]));
        assert_eq!(changes.unchanged, 1);
        assert_eq!(changes.foreign, 1);

        let after: BTreeSet<_> = current
            .difference(&changes.deleted)
            .chain(&changes.created)
            .cloned()
            .collect();
        assert!(plan(&desired, &after, ours).is_empty());
    }
}
