//! `holt diff`: two sets of manifests (before and after a change, e.g. two commits of a repository) and the
//! operator configuration in; out, the calls between workloads, with their ports, that the change allows or
//! blocks — not YAML. Each side is read and rendered as `holt plan` does (Holt's NetworkPolicies and pod
//! labels join the NetworkPolicies of the manifests) and evaluated with `holt-reach`. A table by default, or
//! one JSON object a line. The exit status is 0, or 1 when `--fail-on-blocked` is given and a call becomes
//! blocked; bad input exits 2 with a message naming the side and what is wrong.

mod change;
mod side;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use holt_config::ConfigArgs;
use holt_reach::{Protocol, Side, Verdict};
use serde::Serialize;

use crate::document_limits::Limits;
use change::{AccessDiff, CallKey, Change};
use side::AccessSide;

/// How changes are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// One row a call: change, from, to, port, and why it is denied on the side that denies it.
    Table,
    /// One JSON object a line: `change`, `from`, `to`, `port`, `protocol`, `denied_on`, `reason`, `egress`,
    /// `ingress`.
    Json,
}

/// What to compare and how to report it.
#[derive(Debug)]
pub struct DiffRequest<'a> {
    pub old: &'a [PathBuf],
    pub new: &'a [PathBuf],
    pub config: &'a ConfigArgs,
    pub format: DiffFormat,
    pub fail_on_blocked: bool,
    pub limits: &'a Limits,
}

pub fn run(request: &DiffRequest<'_>) -> anyhow::Result<ExitCode> {
    let config = crate::config_notices::resolve(request.config)?;
    let old = AccessSide::load(request.old, request.config, &config, request.limits)
        .context("the old manifests")?;
    let new = AccessSide::load(request.new, request.config, &config, request.limits)
        .context("the new manifests")?;
    let diff = change::compare(&old, &new);
    let text = match request.format {
        DiffFormat::Table => table(&diff),
        DiffFormat::Json => json_lines(&diff)?,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if request.fail_on_blocked && diff.blocked() > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Allowed => "allowed",
        Change::Blocked => "blocked",
    }
}

/// `old` for a call that becomes allowed (it was denied before), `new` for one that becomes blocked.
fn denied_on(change: Change) -> &'static str {
    match change {
        Change::Allowed => "old",
        Change::Blocked => "new",
    }
}

/// The evaluator's reasons for the sides that deny the flow, joined by `; `.
fn reason(verdict: &Verdict) -> String {
    let text = verdict.to_string();
    let sides = [&verdict.egress, &verdict.ingress];
    text.lines()
        .skip(1)
        .zip(sides)
        .filter(|(_, side)| !side.passes())
        .map(|(line, _)| line.trim())
        .collect::<Vec<_>>()
        .join("; ")
}

fn table(diff: &AccessDiff) -> String {
    if diff.calls.is_empty() {
        return "no change in access\n".to_owned();
    }
    let rows: Vec<[String; 5]> = diff
        .calls
        .iter()
        .map(|(key, verdict)| {
            [
                change_word(key.change).to_owned(),
                key.from.clone(),
                key.to.clone(),
                format!("{}/{}", key.port, key.protocol),
                format!("{}: {}", denied_on(key.change), reason(verdict)),
            ]
        })
        .collect();
    let header = ["CHANGE", "FROM", "TO", "PORT", "DENIED ON: WHY"].map(str::to_owned);
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            rows.iter()
                .chain([&header])
                .map(|row| row[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in [&header].into_iter().chain(&rows) {
        for (column, width) in widths.iter().enumerate() {
            text.push_str(&format!("{:<width$}  ", row[column]));
        }
        text.push_str(&row[4]);
        text.push('\n');
    }
    let blocked = diff.blocked();
    text.push_str(&format!(
        "\n{} call(s) become allowed, {blocked} become blocked\n",
        diff.calls.len() - blocked
    ));
    text
}

#[derive(Serialize)]
struct ChangeLine<'a> {
    change: Change,
    from: &'a str,
    to: &'a str,
    port: u16,
    protocol: Protocol,
    denied_on: &'static str,
    reason: String,
    egress: &'a Side,
    ingress: &'a Side,
}

fn json_lines(diff: &AccessDiff) -> anyhow::Result<String> {
    let mut text = String::new();
    for (key, verdict) in &diff.calls {
        let CallKey {
            change,
            from,
            to,
            port,
            protocol,
        } = key;
        let line = ChangeLine {
            change: *change,
            from,
            to,
            port: *port,
            protocol: *protocol,
            denied_on: denied_on(*change),
            reason: reason(verdict),
            egress: &verdict.egress,
            ingress: &verdict.ingress,
        };
        text.push_str(&serde_json::to_string(&line)?);
        text.push('\n');
    }
    Ok(text)
}
