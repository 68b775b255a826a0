//! The access that changes between two sides: two [`AccessSide`]s in; out, the calls (source workload,
//! destination workload, port and protocol) that become allowed or become blocked, each with the evaluator's
//! verdict on the side where it is denied.
//!
//! Only pairs whose verdict can differ are evaluated. A flow's verdict reads the source's egress policies,
//! the destination's ingress policies, and the two pods' labels, namespace labels, addresses and ports. So
//! a pod is a candidate destination (paired with every pod) when it changed itself or a policy isolating it
//! for ingress changed on either side, and a candidate source (paired with every pod) when it changed
//! itself or a policy isolating it for egress changed. Every other pair reads the same input on both sides.
//! The cost is (candidate destinations + candidate sources) × pods × ports, linear in the cluster for a
//! change of a few objects.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use holt_reach::{Endpoint, Flow, Protocol, Verdict};
use serde::Serialize;

use super::side::{AccessSide, Key, PodView};

/// Which way a call changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Denied before the change, allowed after.
    Allowed,
    /// Allowed before the change, denied after.
    Blocked,
}

/// A call between workloads whose verdict changes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallKey {
    pub change: Change,
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// The calls that change, each with the verdict of the side that denies it (the new side for a blocked
/// call, the old side for an allowed one), and how many flows were evaluated.
#[derive(Debug, Default)]
pub struct AccessDiff {
    pub calls: BTreeMap<CallKey, Verdict>,
    pub evaluated_flows: usize,
}

impl AccessDiff {
    pub fn blocked(&self) -> usize {
        self.calls.keys().filter(|k| k.change == Change::Blocked).count()
    }
}

/// Compares the sides. Pods present on one side only have no call to compare and are not reported.
pub fn compare(old: &AccessSide, new: &AccessSide) -> AccessDiff {
    let changed_policies: HashSet<&Key> = old
        .policies
        .keys()
        .chain(new.policies.keys())
        .filter(|key| old.policies.get(*key) != new.policies.get(*key))
        .collect();
    let mut common: Vec<(&Key, &PodView, &PodView)> = old
        .pods
        .iter()
        .filter_map(|(key, before)| new.pods.get(key).map(|after| (key, before, after)))
        .collect();
    common.sort_by(|a, b| a.0.cmp(b.0));
    let mut destinations = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for (index, (_, before, after)) in common.iter().enumerate() {
        let itself = pod_changed(old, before, new, after);
        let isolation = |egress: bool| {
            old.cluster
                .isolating_policies(before.id, egress)
                .chain(new.cluster.isolating_policies(after.id, egress))
                .any(|p| changed_policies.contains(&(p.namespace.clone(), p.name.clone())))
        };
        if itself || isolation(false) {
            destinations.insert(index);
        }
        if itself || isolation(true) {
            sources.insert(index);
        }
    }
    let mut diff = AccessDiff::default();
    for &to in &destinations {
        for from in 0..common.len() {
            evaluate_pair(old, new, &common, from, to, &mut diff);
        }
    }
    for &from in &sources {
        for to in (0..common.len()).filter(|to| !destinations.contains(to)) {
            evaluate_pair(old, new, &common, from, to, &mut diff);
        }
    }
    diff
}

/// Whether anything of the pod a flow reads differs: labels, addresses, container ports, served ports,
/// namespace labels.
fn pod_changed(old: &AccessSide, before: &PodView, new: &AccessSide, after: &PodView) -> bool {
    old.cluster.pod_input(before.id) != new.cluster.pod_input(after.id)
        || before.ports != after.ports
        || before.namespace_labels != after.namespace_labels
}

/// Evaluates every port the destination serves on both sides, from `from` to `to`, on both sides.
fn evaluate_pair(
    old: &AccessSide,
    new: &AccessSide,
    common: &[(&Key, &PodView, &PodView)],
    from: usize,
    to: usize,
    diff: &mut AccessDiff,
) {
    if from == to {
        return;
    }
    let (_, source_before, source_after) = common[from];
    let (_, destination_before, destination_after) = common[to];
    for &(port, protocol) in destination_before.ports.intersection(&destination_after.ports) {
        let flow = |source: &PodView, destination: &PodView| Flow {
            from: Endpoint::Pod(source.id),
            to: Endpoint::Pod(destination.id),
            port,
            protocol,
        };
        let before = old.cluster.evaluate(&flow(source_before, destination_before));
        let after = new.cluster.evaluate(&flow(source_after, destination_after));
        diff.evaluated_flows += 1;
        let (change, denied) = match (before.allowed, after.allowed) {
            (false, true) => (Change::Allowed, before),
            (true, false) => (Change::Blocked, after),
            _ => continue,
        };
        let key = CallKey {
            change,
            from: source_after.workload.clone(),
            to: destination_after.workload.clone(),
            port,
            protocol,
        };
        diff.calls.entry(key).or_insert(denied);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use holt_config::ConfigArgs;
    use holt_model::Config;

    use super::*;

    /// Every pair of pods, every port: what `compare` must agree with.
    fn compare_every_pair(old: &AccessSide, new: &AccessSide) -> AccessDiff {
        let mut common: Vec<(&Key, &PodView, &PodView)> = old
            .pods
            .iter()
            .filter_map(|(key, before)| new.pods.get(key).map(|after| (key, before, after)))
            .collect();
        common.sort_by(|a, b| a.0.cmp(b.0));
        let mut diff = AccessDiff::default();
        for from in 0..common.len() {
            for to in 0..common.len() {
                evaluate_pair(old, new, &common, from, to, &mut diff);
            }
        }
        diff
    }

    fn side(dir: &tempfile::TempDir, name: &str, text: &str) -> AccessSide {
        let path: PathBuf = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("write");
        AccessSide::load(
            &[path],
            &ConfigArgs::default(),
            &Config::default(),
            &Default::default(),
        )
        .expect("loads")
    }

    const NAMESPACES: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: x}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {team: y}}\n";

    fn pod(namespace: &str, name: &str, labels: &str) -> String {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{{labels}}}}}\nspec: {{containers: [{{name: c, image: c, ports: [{{name: http, containerPort: 80}}, {{containerPort: 53, protocol: UDP}}]}}]}}\n"
        )
    }

    const POLICIES: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-from-x, namespace: b}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {team: x}}}], ports: [{port: http}]}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress, namespace: a}\nspec:\n  podSelector: {matchLabels: {role: egress}}\n  policyTypes: [Egress]\n  egress: [{to: [{podSelector: {matchLabels: {app: web}}}]}]\n";

    #[test]
    fn only_pairs_that_can_change_are_evaluated_and_nothing_is_missed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pods = |idle_labels: &str| {
            [
                pod("a", "web", "app: web"),
                pod("a", "out", "role: egress"),
                pod("a", "idle", idle_labels),
                pod("b", "db", "app: db"),
                pod("b", "cache", "app: cache"),
            ]
            .concat()
        };
        let pods_before = pods("app: idle");
        let old = side(&dir, "old", &format!("{NAMESPACES}{pods_before}{POLICIES}"));
        // Namespace b joins team x, `idle` starts to egress only to web, the egress policy admits UDP only,
        // and a new policy isolates `cache`.
        let pods_after = pods("app: idle, role: egress");
        let new_policies = POLICIES.replace(
            "egress: [{to: [{podSelector: {matchLabels: {app: web}}}]}]",
            "egress: [{to: [{podSelector: {matchLabels: {app: web}}}], ports: [{protocol: UDP}]}]",
        ) + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: cache, namespace: b}\nspec:\n  podSelector: {matchLabels: {app: cache}}\n  ingress: [{from: [{podSelector: {}}]}]\n";
        let new = side(
            &dir,
            "new",
            &format!(
                "{}{pods_after}{new_policies}",
                NAMESPACES.replace("team: y", "team: x")
            ),
        );
        let pruned = compare(&old, &new);
        let every = compare_every_pair(&old, &new);
        assert!(!every.calls.is_empty(), "the change changes access");
        assert_eq!(pruned.calls, every.calls);
        assert!(
            pruned.evaluated_flows < every.evaluated_flows,
            "{} flows evaluated, all pairs are {}",
            pruned.evaluated_flows,
            every.evaluated_flows
        );
        let unchanged = compare(&old, &old);
        assert!(unchanged.calls.is_empty());
        assert_eq!(unchanged.evaluated_flows, 0, "identical sides evaluate nothing");
    }
}
