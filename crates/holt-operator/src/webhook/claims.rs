//! Who claims what, in memory: the facts the uniqueness rules need and nothing more. A ClientIntents claims
//! its client workload (`spec.workload.name` and `kind`), a ProtectedService its server (`spec.name` and
//! `kind`), each within its namespace; two objects of a kind must not claim the same one.
//!
//! In: objects as `(namespace, object name, claimed identity)` from a watch ([`Claims`]) and from the
//! admission webhook's own answers ([`PendingClaims`]: admitted, not yet seen by the watch). Out: the
//! objects that claim an identity, found without scanning the namespace. Synchronous and pure (the caller
//! passes the time), so it is tested without an API server.
//!
//! Memory is bounded: every entry is charged its strings plus [`ENTRY_OVERHEAD`] bytes, and an insert that
//! would exceed the budget is refused ([`OverBudget`]); the caller then stops caching.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// What one object claims: a workload (ClientIntents) or a server (ProtectedService), by name and kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity {
    pub name: String,
    /// `None` (or empty) means any kind, as in the objects themselves.
    pub kind: Option<String>,
}

/// An object that claims an identity: its name and what it claims.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Claimant {
    pub object: String,
    pub identity: Identity,
}

/// Bytes charged per entry on top of its strings: the hash-map slots of both indexes (with their growth
/// slack), the `String` headers, the set node and the allocator's per-allocation overhead. Set so that the
/// charge matches the resident memory measured on x86-64 with glibc's allocator: 627 bytes per entry for
/// 200,000 entries with names like `client-intents-for-frontend-123` (charged 301 + 320 = 621).
pub const ENTRY_OVERHEAD: usize = 512;

/// An insert was refused: the index would hold more than its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the claims index would exceed its budget of {budget} bytes")]
pub struct OverBudget {
    pub budget: usize,
}

/// The claims of one kind in every namespace.
#[derive(Debug)]
pub struct Claims {
    namespaces: HashMap<String, NamespaceClaims>,
    bytes: usize,
    budget: usize,
}

#[derive(Debug, Default)]
struct NamespaceClaims {
    /// Object name → what it claims.
    objects: HashMap<String, Identity>,
    /// Identity name → the objects claiming it (any kind).
    by_identity: HashMap<String, BTreeSet<String>>,
}

impl Claims {
    /// An empty index that holds at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Claims {
            namespaces: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    /// The bytes charged so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The number of objects held.
    pub fn len(&self) -> usize {
        self.namespaces.values().map(|ns| ns.objects.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }

    /// Records that `namespace/object` claims `identity` (replacing what it claimed before); `None` (an
    /// object that claims nothing, e.g. without a workload name) forgets it.
    pub fn apply(
        &mut self,
        namespace: &str,
        object: &str,
        identity: Option<Identity>,
    ) -> Result<(), OverBudget> {
        let Some(identity) = identity.filter(|i| !i.name.is_empty()) else {
            self.delete(namespace, object);
            return Ok(());
        };
        if let Some(current) = self
            .namespaces
            .get(namespace)
            .and_then(|ns| ns.objects.get(object))
            && *current == identity
        {
            return Ok(());
        }
        self.delete(namespace, object);
        let cost = cost(namespace, object, &identity);
        if self.bytes + cost > self.budget {
            return Err(OverBudget { budget: self.budget });
        }
        self.bytes += cost;
        let ns = self.namespaces.entry(namespace.to_owned()).or_default();
        ns.by_identity
            .entry(identity.name.clone())
            .or_default()
            .insert(object.to_owned());
        ns.objects.insert(object.to_owned(), identity);
        Ok(())
    }

    /// Forgets `namespace/object`.
    pub fn delete(&mut self, namespace: &str, object: &str) {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let Some(identity) = ns.objects.remove(object) else {
            return;
        };
        self.bytes = self.bytes.saturating_sub(cost(namespace, object, &identity));
        if let Some(objects) = ns.by_identity.get_mut(&identity.name) {
            objects.remove(object);
            if objects.is_empty() {
                ns.by_identity.remove(&identity.name);
            }
        }
        if ns.objects.is_empty() {
            self.namespaces.remove(namespace);
        }
    }

    /// The objects of `namespace` other than `except` that claim an identity named `name` (of any kind: the
    /// caller's rules compare kinds).
    pub fn claimants(&self, namespace: &str, name: &str, except: &str) -> Vec<Claimant> {
        let Some(ns) = self.namespaces.get(namespace) else {
            return Vec::new();
        };
        let Some(objects) = ns.by_identity.get(name) else {
            return Vec::new();
        };
        objects
            .iter()
            .filter(|object| object.as_str() != except)
            .filter_map(|object| {
                ns.objects.get(object).map(|identity| Claimant {
                    object: object.clone(),
                    identity: identity.clone(),
                })
            })
            .collect()
    }
}

fn cost(namespace: &str, object: &str, identity: &Identity) -> usize {
    // The object name is stored twice (map key and set member), the identity name twice (value and key).
    ENTRY_OVERHEAD
        + namespace.len()
        + 2 * object.len()
        + 2 * identity.name.len()
        + identity.kind.as_ref().map_or(0, String::len)
}

/// Claims the webhook admitted but the watch has not delivered yet, so that a second object created right
/// after the first is compared with it (read-your-writes within one webhook process). An entry goes when
/// the watch shows the object claiming the same identity, or shows it deleted, or after `ttl` (the write
/// may have failed after admission; then the entry could wrongly deny for at most `ttl`).
#[derive(Debug)]
pub struct PendingClaims {
    entries: BTreeMap<(String, String), (Identity, Instant)>,
    ttl: Duration,
}

/// How long an admitted claim is kept when the watch does not confirm it.
pub const PENDING_TTL: Duration = Duration::from_secs(5);

/// At most this many admitted claims wait for their watch event; older ones are dropped first. Bounds the
/// memory of a burst of creates (each entry is a few hundred bytes).
pub const PENDING_LIMIT: usize = 10_000;

impl Default for PendingClaims {
    fn default() -> Self {
        PendingClaims::new(PENDING_TTL)
    }
}

impl PendingClaims {
    pub fn new(ttl: Duration) -> Self {
        PendingClaims {
            entries: BTreeMap::new(),
            ttl,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `namespace/object` was admitted claiming `identity` at `now`.
    pub fn admitted(&mut self, namespace: &str, object: &str, identity: Identity, now: Instant) {
        self.expire(now);
        if self.entries.len() >= PENDING_LIMIT
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(key, _)| key.clone())
        {
            self.entries.remove(&oldest);
        }
        self.entries
            .insert((namespace.to_owned(), object.to_owned()), (identity, now));
    }

    /// The watch shows `namespace/object` claiming `identity` (`None`: deleted, or claiming nothing).
    pub fn seen(&mut self, namespace: &str, object: &str, identity: Option<&Identity>) {
        let key = (namespace.to_owned(), object.to_owned());
        let confirmed = match (self.entries.get(&key), identity) {
            (Some(_), None) => true,
            (Some((pending, _)), Some(seen)) => pending == seen,
            (None, _) => false,
        };
        if confirmed {
            self.entries.remove(&key);
        }
    }

    /// The pending claims of `namespace` other than `except` on an identity named `name`, as of `now`.
    pub fn claimants(&mut self, namespace: &str, name: &str, except: &str, now: Instant) -> Vec<Claimant> {
        self.expire(now);
        self.entries
            .iter()
            .filter(|((ns, object), (identity, _))| {
                ns == namespace && object != except && identity.name == name
            })
            .map(|((_, object), (identity, _))| Claimant {
                object: object.clone(),
                identity: identity.clone(),
            })
            .collect()
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str, kind: Option<&str>) -> Identity {
        Identity {
            name: name.to_owned(),
            kind: kind.map(str::to_owned),
        }
    }

    #[test]
    fn finds_the_other_claimants_of_a_name_in_the_namespace_only() {
        let mut claims = Claims::new(1 << 20);
        claims
            .apply("shop", "frontend", Some(identity("frontend", None)))
            .expect("fits");
        claims
            .apply(
                "shop",
                "frontend-more",
                Some(identity("frontend", Some("Deployment"))),
            )
            .expect("fits");
        claims
            .apply("shop", "checkout", Some(identity("checkout", None)))
            .expect("fits");
        claims
            .apply("other", "frontend", Some(identity("frontend", None)))
            .expect("fits");

        let found = claims.claimants("shop", "frontend", "frontend");
        assert_eq!(
            found,
            [Claimant {
                object: "frontend-more".to_owned(),
                identity: identity("frontend", Some("Deployment")),
            }]
        );
        assert!(claims.claimants("shop", "cartservice", "x").is_empty());
        assert!(claims.claimants("nowhere", "frontend", "x").is_empty());
        assert_eq!(claims.len(), 4);
    }

    #[test]
    fn an_object_that_changes_its_claim_moves_and_a_deleted_one_goes() {
        let mut claims = Claims::new(1 << 20);
        claims
            .apply("shop", "a", Some(identity("frontend", None)))
            .expect("fits");
        claims
            .apply("shop", "a", Some(identity("checkout", None)))
            .expect("fits");
        assert!(claims.claimants("shop", "frontend", "x").is_empty());
        assert_eq!(claims.claimants("shop", "checkout", "x").len(), 1);
        claims.apply("shop", "a", None).expect("nothing to store");
        assert!(claims.claimants("shop", "checkout", "x").is_empty());
        claims
            .apply("shop", "b", Some(identity("", None)))
            .expect("nothing to store");
        assert!(claims.is_empty());
        assert_eq!(claims.bytes(), 0, "every byte charged is given back");
    }

    #[test]
    fn the_budget_is_enforced_and_accounted_exactly() {
        let one = cost("shop", "frontend", &identity("frontend", None));
        let mut claims = Claims::new(2 * one);
        claims
            .apply("shop", "frontend", Some(identity("frontend", None)))
            .expect("fits");
        claims
            .apply("shop", "frontends", Some(identity("frontend", None)))
            .expect_err("over");
        claims
            .apply("shop", "frontenD", Some(identity("frontend", None)))
            .expect("exactly fits");
        assert_eq!(claims.bytes(), 2 * one);
        // Re-applying the same claim costs nothing more.
        claims
            .apply("shop", "frontend", Some(identity("frontend", None)))
            .expect("unchanged");
        claims.delete("shop", "frontend");
        assert_eq!(claims.bytes(), one);
    }

    #[test]
    fn pending_claims_are_seen_until_the_watch_confirms_them_or_they_expire() {
        let start = Instant::now();
        let mut pending = PendingClaims::new(Duration::from_secs(5));
        pending.admitted("shop", "frontend", identity("frontend", None), start);
        assert_eq!(pending.claimants("shop", "frontend", "other", start).len(), 1);
        assert!(
            pending
                .claimants("shop", "frontend", "frontend", start)
                .is_empty(),
            "not itself"
        );
        assert!(pending.claimants("other", "frontend", "x", start).is_empty());

        // An older state of the object (another claim) does not confirm the admitted one.
        pending.seen("shop", "frontend", Some(&identity("checkout", None)));
        assert_eq!(pending.len(), 1);
        pending.seen("shop", "frontend", Some(&identity("frontend", None)));
        assert!(pending.is_empty());

        pending.admitted("shop", "b", identity("frontend", None), start);
        pending.seen("shop", "b", None);
        assert!(pending.is_empty(), "deleted");

        pending.admitted("shop", "c", identity("frontend", None), start);
        let later = start + Duration::from_secs(6);
        assert!(
            pending.claimants("shop", "frontend", "x", later).is_empty(),
            "expired"
        );
        assert!(pending.is_empty());
    }
}
