//! `holt migrate --dry-run`: what the operator would adopt and delete if it started now on the cluster of
//! the current kubeconfig, taking over from the reference operator (Otterize's). Read-only.
//!
//! In: the kubeconfig's cluster and the operator's configuration (`--config`, the reference's values shape
//! or the flat one). The survey is the operator's own code ([`holt_operator::migration::survey`]): its
//! watches list the cluster, its model and renderer decide what Holt wants, and one rule decides what is
//! the reference's. Out: a table (or `-o json`) of the reference's objects with `adopt` or `delete`, the pod
//! labels set during the first pass and removed after it, and what the dry run cannot see. Without
//! `--dry-run` it refuses: the take-over is the operator's, at start-up.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use holt_config::ConfigArgs;
use holt_operator::apply::reference::Takeover;
use holt_operator::migration::{Survey, survey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MigrateFormat {
    Table,
    Json,
}

/// Runs `holt migrate`.
pub fn run(dry_run: bool, format: MigrateFormat, config: &ConfigArgs) -> anyhow::Result<ExitCode> {
    if !dry_run {
        anyhow::bail!(
            "holt migrate only lists what would happen: run it with --dry-run. The take-over itself is done \
             by the operator at start-up (on unless --adopt-reference-objects=false; see \
             docs/migrating-from-otterize.md)"
        );
    }
    let config = crate::config_notices::resolve(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let found = runtime.block_on(async {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the cluster of the current kubeconfig")?;
        survey(&client, config).await.context("listing the cluster")
    })?;
    let text = match format {
        MigrateFormat::Json => serde_json::to_string_pretty(&found)? + "\n",
        MigrateFormat::Table => table(&found),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The survey as aligned text: the reference's objects, then the pods, then the notes.
pub fn table(found: &Survey) -> String {
    let mut out = String::new();
    if found.objects.is_empty() {
        out.push_str("No object of the reference operator's found.\n");
    } else {
        let rows: Vec<[String; 4]> = found
            .objects
            .iter()
            .map(|o| {
                let action = match o.action {
                    Takeover::Adopt => "adopt",
                    Takeover::Delete => "delete after the first pass",
                    Takeover::Keep => "keep (Holt does not render it)",
                };
                [
                    action.to_owned(),
                    o.kind.clone(),
                    o.namespace.clone(),
                    o.name.clone(),
                ]
            })
            .collect();
        let header = ["ACTION", "KIND", "NAMESPACE", "NAME"].map(str::to_owned);
        let mut widths = header.each_ref().map(String::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect::<Vec<_>>()
                .join("  ");
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    for pod in &found.pods {
        let _ = write!(out, "\npod {}/{}:", pod.namespace, pod.name);
        if !pod.set.is_empty() {
            let keys: Vec<&str> = pod.set.keys().map(String::as_str).collect();
            let _ = write!(out, " set {}", keys.join(", "));
        }
        if !pod.remove.is_empty() {
            let keys: Vec<&str> = pod.remove.iter().map(String::as_str).collect();
            let separator = if pod.set.is_empty() { "" } else { ";" };
            let _ = write!(out, "{separator} remove after the first pass {}", keys.join(", "));
        }
    }
    if !found.pods.is_empty() {
        out.push('\n');
    }
    for note in &found.notes {
        let _ = write!(out, "\nnote: {note}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use holt_operator::migration::{ObjectTakeover, PodTakeover};

    use super::*;

    #[test]
    fn the_table_says_what_is_adopted_deleted_and_relabelled() {
        let found = Survey {
            objects: vec![
                ObjectTakeover {
                    action: Takeover::Adopt,
                    kind: "NetworkPolicy".into(),
                    namespace: "shop".into(),
                    name: "server-deployment-access".into(),
                },
                ObjectTakeover {
                    action: Takeover::Delete,
                    kind: "NetworkPolicy".into(),
                    namespace: "shop".into(),
                    name: "old-deployment-access".into(),
                },
            ],
            pods: vec![PodTakeover {
                namespace: "shop".into(),
                name: "client-1".into(),
                set: Default::default(),
                remove: ["intents.otterize.com/access-old".to_owned()].into(),
            }],
            notes: vec!["Kafka ACLs are not listed.".into()],
        };
        assert_eq!(
            table(&found),
            "ACTION                       KIND           NAMESPACE  NAME\n\
             adopt                        NetworkPolicy  shop       server-deployment-access\n\
             delete after the first pass  NetworkPolicy  shop       old-deployment-access\n\
             \n\
             pod shop/client-1: remove after the first pass intents.otterize.com/access-old\n\
             \n\
             note: Kafka ACLs are not listed.\n"
        );
    }

    #[test]
    fn without_dry_run_it_refuses_and_says_who_does_the_take_over() {
        let error = run(false, MigrateFormat::Table, &ConfigArgs::default()).expect_err("refused");
        assert!(error.to_string().contains("--dry-run"), "{error}");
        assert!(error.to_string().contains("at start-up"), "{error}");
    }
}
