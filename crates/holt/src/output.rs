//! How `holt plan` prints a plan: a summary table per server (and per client's egress, when egress policies
//! are on), or the desired objects as YAML or JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use holt_model::{Enforcement, Identity, ObjectKey, has_ingress_policy};
use holt_render::{DesiredState, KafkaAcls, PodLabels, render_identity, render_protected_service};
use serde_json::{Value, json};

use crate::plan::Plan;

/// The API version of the plan-only documents (Kafka ACL sets are not Kubernetes objects).
pub const PLAN_API_VERSION: &str = "plan.holt.dev/v1";

/// Every desired object as a JSON value, in the plan's order: Kubernetes objects, pod label changes
/// (apply-style partial Pods), then Kafka ACL sets.
pub fn documents(state: &DesiredState) -> Result<Vec<Value>, serde_json::Error> {
    let mut documents = Vec::new();
    for desired in &state.objects {
        documents.push(serde_json::to_value(&desired.manifest)?);
    }
    documents.extend(state.pod_labels.iter().map(pod_document));
    for acls in &state.kafka_acls {
        documents.push(kafka_document(acls)?);
    }
    Ok(documents)
}

fn pod_document(labels: &PodLabels) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": labels.pod.name, "namespace": labels.pod.namespace, "labels": labels.labels},
    })
}

fn kafka_document(acls: &KafkaAcls) -> Result<Value, serde_json::Error> {
    Ok(json!({
        "apiVersion": PLAN_API_VERSION,
        "kind": "KafkaACLs",
        "metadata": {"name": acls.broker.name, "namespace": acls.broker.namespace},
        "kafkaServerConfigs": acls.configs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "acls": serde_json::to_value(&acls.acls)?,
    }))
}

/// Multi-document YAML.
pub fn yaml(state: &DesiredState) -> anyhow::Result<String> {
    let mut out = String::new();
    for document in documents(state)? {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&document)?);
    }
    Ok(out)
}

/// A JSON list.
pub fn json(state: &DesiredState) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&documents(state)?)? + "\n")
}

/// The summary: one row per server, then Kafka brokers, pod labels, and what cannot be enforced.
pub fn table(plan: &Plan) -> String {
    let index = &plan.index;
    let config = index.config();
    let mut out = String::new();
    let mut servers: Vec<_> = index.servers().collect();
    servers.sort_by(|a, b| a.server.cmp(&b.server));
    let enforced = servers.iter().filter(|s| s.enforcement.is_enforced()).count();
    let _ = writeln!(
        out,
        "Mode {}: {} servers with declared clients, {} enforced, {} shadow.\n",
        mode_name(config.mode),
        servers.len(),
        enforced,
        servers.len() - enforced
    );
    let mut rows = vec![["SERVER", "ENFORCEMENT", "CLIENTS", "POLICIES"].map(String::from)];
    let protected_by = protected_services_by_server(plan);
    for access in &servers {
        let clients: Vec<String> = access
            .clients
            .iter()
            .map(|(client, grant)| {
                let mut text = short(client, &access.server.namespace);
                if grant.kafka && !grant.any_request && grant.http.is_empty() {
                    text.push_str(" [Kafka]");
                }
                let http = grant.http_restriction();
                if !http.is_empty() {
                    let _ = write!(text, " [{}]", http.join(", "));
                }
                text
            })
            .collect();
        let mut policies: Vec<String> = render_identity(index, &access.server)
            .value
            .iter()
            .filter(|d| is_for_server(d.manifest.metadata(), &access.server))
            .map(|d| format!("{} {}", d.manifest.kind(), d.manifest.key().name))
            .collect();
        for key in protected_by
            .get(&(access.server.namespace.clone(), access.server.name.clone()))
            .into_iter()
            .flatten()
        {
            if let Some(desired) = render_protected_service(index, key).value {
                policies.push(format!(
                    "{} {}",
                    desired.manifest.kind(),
                    desired.manifest.key().name
                ));
            }
        }
        if let Some(acls) = plan
            .state
            .kafka_acls
            .iter()
            .find(|a| a.broker == access.server && !a.acls.is_empty())
        {
            policies.push(format!("{} Kafka ACLs", acls.acls.len()));
        }
        policies.sort();
        policies.dedup();
        let policies = if !policies.is_empty() {
            policies.join(", ")
        } else if !config.enable_network_policy_creation && has_ingress_policy(access) {
            "none (NetworkPolicy creation disabled)".into()
        } else if matches!(access.enforcement, Enforcement::Shadow) {
            "none (shadow: would allow the clients once protected)".into()
        } else {
            "none".into()
        };
        rows.push([
            access.server.to_string(),
            access.enforcement.to_string(),
            clients.join(", "),
            policies,
        ]);
    }
    out.push_str(&align(&rows));
    out.push_str(&crate::egress_summary::section(index));

    let mut brokers: Vec<_> = plan.state.kafka_acls.iter().collect();
    brokers.sort_by(|a, b| a.broker.cmp(&b.broker));
    let declared_brokers: Vec<_> = {
        let mut b: Vec<_> = index.brokers().collect();
        b.sort_by(|x, y| x.broker.cmp(&y.broker));
        b
    };
    if !declared_brokers.is_empty() {
        let _ = writeln!(out, "\nKafka brokers:");
        for broker in declared_brokers {
            let acls = brokers
                .iter()
                .find(|a| a.broker == broker.broker)
                .map_or(0, |a| a.acls.len());
            let _ = writeln!(out, "  {}  {}  {} ACLs", broker.broker, broker.enforcement, acls);
            for (client, topics) in &broker.clients {
                let topics: Vec<String> = topics
                    .iter()
                    .map(|(topic, ops)| {
                        let ops: Vec<String> = ops.iter().map(|o| format!("{o:?}").to_lowercase()).collect();
                        format!("{topic} [{}]", ops.join(", "))
                    })
                    .collect();
                let _ = writeln!(out, "    {}: {}", client, topics.join(", "));
            }
        }
    }

    let labelled = plan
        .state
        .pod_labels
        .iter()
        .filter(|p| p.labels.keys().any(|k| k.contains("access-")))
        .count();
    let _ = writeln!(
        out,
        "\nPod labels: {} pods labelled, {} with access labels (see -o yaml).",
        plan.state.pod_labels.len(),
        labelled
    );
    let kinds = count_by_kind(&plan.state);
    if !kinds.is_empty() {
        let summary: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
        let _ = writeln!(out, "Objects: {}.", summary.join(", "));
    } else {
        let _ = writeln!(out, "Objects: none.");
    }
    if !plan.state.notices.is_empty() {
        let _ = writeln!(out, "\nDeclared access that cannot be enforced (yet):");
        for notice in &plan.state.notices {
            let _ = writeln!(out, "  {notice}");
        }
    }
    out
}

fn mode_name(mode: holt_model::Mode) -> &'static str {
    match mode {
        holt_model::Mode::DefaultActive => "defaultActive",
        holt_model::Mode::DefaultShadow => "defaultShadow",
    }
}

/// `name` in the same namespace, `name.namespace` elsewhere; the kind in parentheses when there is one.
fn short(identity: &Identity, namespace: &str) -> String {
    let mut text = if identity.namespace == namespace {
        identity.name.clone()
    } else {
        format!("{}.{}", identity.name, identity.namespace)
    };
    if let Some(kind) = &identity.kind {
        let _ = write!(text, " ({kind})");
    }
    text
}

/// Objects rendered for an identity include its egress policy as a client; keep those protecting it.
fn is_for_server(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    server: &Identity,
) -> bool {
    let labels = meta.labels.clone().unwrap_or_default();
    let value = server.label_value_with_kind();
    let name = meta.name.as_deref().unwrap_or_default();
    labels.get(holt_model::labels::NETWORK_POLICY) == Some(&value) && !name.ends_with("-egress")
        || labels.get(holt_model::labels::ISTIO_SERVER) == Some(&value)
}

fn protected_services_by_server(plan: &Plan) -> BTreeMap<(String, String), Vec<ObjectKey>> {
    let mut map: BTreeMap<(String, String), Vec<ObjectKey>> = BTreeMap::new();
    for (key, spec) in plan.index.protected_services() {
        map.entry((key.namespace.clone(), spec.name.clone()))
            .or_default()
            .push(key.clone());
    }
    map
}

fn count_by_kind(state: &DesiredState) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for desired in &state.objects {
        *counts.entry(desired.manifest.kind().label()).or_default() += 1;
    }
    if !state.kafka_acls.is_empty() {
        counts.insert("Kafka ACL sets", state.kafka_acls.len());
    }
    counts
}

/// Left-aligned columns separated by two spaces.
pub fn align<const COLUMNS: usize>(rows: &[[String; COLUMNS]]) -> String {
    let widths: Vec<usize> = (0..COLUMNS)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
