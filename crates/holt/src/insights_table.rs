//! The shadow-mode insights for people, one table for both places that print them: after `holt plan
//! --traffic FILE` (the calls of a mapper export against the plan) and for `holt mapper insights` (the live
//! calls against the cluster, read back from the mapper's JSON). In: `holt-insights`' [`Insights`]. Out: one
//! row per call (client, server, declared, now, if protected, if active; a blocked cell names the blocking
//! policies), one row per server (enforcement and why, undeclared clients, ready to protect), the declared calls
//! not seen, then one line per call blocked now or not evaluated, with the full reason.

use std::fmt::Write;

use holt_insights::{CallInsight, Insights, Outcome};

use crate::output::align;

fn cell(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Allowed => "allowed".into(),
        Outcome::Blocked { by, .. } => {
            let by: Vec<&str> = by.iter().map(|b| b.policy.name.as_str()).collect();
            format!("blocked ({})", by.join(", "))
        }
        Outcome::NotEvaluated { .. } => "not evaluated".into(),
    }
}

fn yes(flag: bool) -> String {
    if flag { "yes" } else { "no" }.into()
}

fn names(list: &[holt_insights::WorkloadName]) -> String {
    match list.is_empty() {
        true => "-".into(),
        false => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The insights for people: a heading naming where the calls come from (`source`) and who blocks them
/// (`blocked_by`: `by this plan`, `now`), the calls, the servers, the declared calls not seen, then the calls
/// blocked now (or not evaluated) with the reason.
pub fn table(source: &str, blocked_by: &str, insights: &Insights) -> String {
    let mut out = String::new();
    let blocked = insights.blocked_now().count();
    let _ = writeln!(
        out,
        "Discovered calls ({source}): {} call(s), {blocked} blocked {blocked_by}.\n",
        insights.calls.len(),
    );
    let mut calls =
        vec![["CLIENT", "SERVER", "DECLARED", "NOW", "IF PROTECTED", "IF ACTIVE"].map(String::from)];
    calls.extend(insights.calls.iter().map(|c| {
        [
            c.client.to_string(),
            c.server.to_string(),
            yes(c.declared),
            cell(&c.now),
            cell(&c.if_protected),
            cell(&c.if_active),
        ]
    }));
    out.push_str(&align(&calls));
    out.push('\n');
    let mut servers =
        vec![["SERVER", "ENFORCEMENT", "UNDECLARED CLIENTS", "READY TO PROTECT"].map(String::from)];
    servers.extend(insights.servers.iter().map(|s| {
        [
            s.server.to_string(),
            format!("{} ({})", s.enforcement.state, s.enforcement.why),
            names(&s.undeclared_clients),
            yes(s.ready_to_protect),
        ]
    }));
    out.push_str(&align(&servers));
    if !insights.declared_not_seen.is_empty() {
        let _ = writeln!(
            out,
            "\nDeclared, not seen: {} call(s).",
            insights.declared_not_seen.len()
        );
        for call in &insights.declared_not_seen {
            let _ = writeln!(out, "{} -> {}", call.client, call.server);
        }
    }
    let notes: Vec<&CallInsight> = insights
        .calls
        .iter()
        .filter(|c| c.now.is_blocked() || matches!(c.now, Outcome::NotEvaluated { .. }))
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for call in notes {
            let _ = writeln!(out, "{} -> {}: {}", call.client, call.server, call.now);
        }
    }
    out
}
