//! `holt reach`: manifests (Namespaces, Pods, workloads, NetworkPolicies) and flows in, a verdict per flow
//! out — allowed or denied, and why — with no cluster. Pods come from the manifests the same way `holt plan`
//! reads them (a workload without Pods in the input stands for one Pod made from its template). One flow
//! comes from `--from/--to/--port`; many come from `--flows FILE`, one JSON object a line. The exit status is
//! 0 whatever the verdicts; only bad input (unreadable files, an unknown pod, a malformed flow) fails.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use holt_insights::EvaluatorInput;
use holt_reach::{Cluster, Endpoint, Flow, NamespaceInput, Protocol, Verdict};
use serde::{Deserialize, Serialize};

use crate::document_limits::Limits;
use crate::manifests::{self, Manifest};
use crate::model_input;

/// How verdicts are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReachFormat {
    /// `allowed`/`denied`, then the egress and ingress reasons, for people.
    Text,
    /// One JSON object a line: the flow, `verdict` (`allow`/`deny`), `reason`, `egress` and `ingress`.
    Json,
}

/// Where the flows come from.
#[derive(Debug)]
pub enum FlowSource {
    One { from: String, to: String, port: String },
    File(PathBuf),
}

/// Bad input to `holt reach`.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("{what}: `{text}` is neither NAMESPACE/POD nor an IP address")]
    Endpoint { what: String, text: String },
    #[error("{what}: no pod {text} in the manifests (nor a workload of that name)")]
    UnknownPod { what: String, text: String },
    #[error("--port: `{0}` is not PORT or PORT/PROTOCOL (1-65535; TCP, UDP or SCTP)")]
    Port(String),
    #[error("{file}:{line}: {problem}")]
    FlowLine {
        file: PathBuf,
        line: usize,
        problem: String,
    },
}

/// One line of a flows file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowLine {
    from: String,
    to: String,
    port: u16,
    #[serde(default)]
    protocol: Option<String>,
}

/// One line of JSON output.
#[derive(Debug, Serialize)]
struct VerdictLine<'a> {
    from: &'a str,
    to: &'a str,
    port: u16,
    protocol: Protocol,
    verdict: &'static str,
    reason: String,
    egress: &'a holt_reach::Side,
    ingress: &'a holt_reach::Side,
}

pub fn run(
    paths: &[PathBuf],
    flows: FlowSource,
    format: ReachFormat,
    limits: &Limits,
) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(paths, None, limits)?;
    let cluster = cluster_of(manifests.loaded.iter().map(|l| &l.manifest))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match flows {
        FlowSource::One { from, to, port } => {
            let (port, protocol) = parse_port(&port)?;
            let flow = Flow {
                from: resolve(&cluster, &from, "--from")?,
                to: resolve(&cluster, &to, "--to")?,
                port,
                protocol,
            };
            let verdict = cluster.evaluate(&flow);
            write_verdict(&mut out, format, &from, &to, port, protocol, &verdict)?;
        }
        FlowSource::File(file) => {
            let reader = BufReader::new(
                std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?,
            );
            for (index, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("reading {}", file.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let (flow, read) = parse_flow_line(&cluster, &file, index + 1, &line)?;
                let verdict = cluster.evaluate(&flow);
                write_verdict(
                    &mut out,
                    format,
                    &read.from,
                    &read.to,
                    flow.port,
                    flow.protocol,
                    &verdict,
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The evaluator's cluster from the manifests: Namespaces with their labels, Pods (and workload templates),
/// NetworkPolicies.
pub fn cluster_of<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> anyhow::Result<Cluster> {
    Ok(evaluator_input(manifests).build()?)
}

/// What the evaluator's cluster is built from, before it is indexed: Namespaces with their labels, Pods (and
/// one Pod per workload template, as `holt plan` reads them) and NetworkPolicies of the manifests. `holt diff`
/// and `holt plan --traffic` add what Holt would write before building.
pub fn evaluator_input<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> EvaluatorInput {
    let manifests: Vec<&Manifest> = manifests.into_iter().collect();
    let namespaces = manifests
        .iter()
        .filter_map(|m| match m {
            Manifest::Namespace { facts, labels } => Some(NamespaceInput {
                name: facts.name.clone(),
                labels: labels.clone(),
            }),
            _ => None,
        })
        .collect();
    let policies = manifests
        .iter()
        .filter_map(|m| match m {
            Manifest::NetworkPolicy(policy) => Some(policy.as_ref().clone()),
            _ => None,
        })
        .collect();
    EvaluatorInput {
        namespaces,
        pods: model_input::pods(manifests.iter().copied()),
        policies,
    }
}

fn parse_flow_line(
    cluster: &Cluster,
    file: &Path,
    line: usize,
    text: &str,
) -> Result<(Flow, FlowLine), ReachError> {
    let fail = |problem: String| ReachError::FlowLine {
        file: file.to_owned(),
        line,
        problem,
    };
    let read: FlowLine = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let protocol = match &read.protocol {
        None => Protocol::Tcp,
        Some(text) => Protocol::parse_any_case(text)
            .ok_or_else(|| fail(format!("protocol: `{text}` is not TCP, UDP or SCTP")))?,
    };
    if read.port == 0 {
        return Err(fail("port: 0 is not a port (1-65535)".into()));
    }
    let flow = Flow {
        from: resolve(cluster, &read.from, "from").map_err(|e| fail(e.to_string()))?,
        to: resolve(cluster, &read.to, "to").map_err(|e| fail(e.to_string()))?,
        port: read.port,
        protocol,
    };
    Ok((flow, read))
}

/// `80` or `80/UDP`.
fn parse_port(text: &str) -> Result<(u16, Protocol), ReachError> {
    let (number, protocol) = match text.split_once('/') {
        Some((number, protocol)) => (number, Protocol::parse_any_case(protocol)),
        None => (text, Some(Protocol::Tcp)),
    };
    match (number.parse::<u16>(), protocol) {
        (Ok(port), Some(protocol)) if port > 0 => Ok((port, protocol)),
        _ => Err(ReachError::Port(text.to_owned())),
    }
}

/// `NAMESPACE/POD` (or `NAMESPACE/WORKLOAD`, the pod made from its template), or an IP address.
fn resolve(cluster: &Cluster, text: &str, what: &str) -> Result<Endpoint, ReachError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Endpoint::Address(ip));
    }
    let Some((namespace, name)) = text
        .split_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
    else {
        return Err(ReachError::Endpoint {
            what: what.to_owned(),
            text: text.to_owned(),
        });
    };
    cluster
        .pod(namespace, name)
        .or_else(|| cluster.pod(namespace, &format!("{name}-template")))
        .map(Endpoint::Pod)
        .ok_or_else(|| ReachError::UnknownPod {
            what: what.to_owned(),
            text: text.to_owned(),
        })
}

fn write_verdict(
    out: &mut impl Write,
    format: ReachFormat,
    from: &str,
    to: &str,
    port: u16,
    protocol: Protocol,
    verdict: &Verdict,
) -> anyhow::Result<()> {
    match format {
        ReachFormat::Text => writeln!(out, "{from} -> {to} {port}/{protocol}: {verdict}")?,
        ReachFormat::Json => {
            let text = verdict.to_string();
            let reason = text.lines().skip(1).map(str::trim).collect::<Vec<_>>().join("; ");
            let line = VerdictLine {
                from,
                to,
                port,
                protocol,
                verdict: if verdict.allowed { "allow" } else { "deny" },
                reason,
                egress: &verdict.egress,
                ingress: &verdict.ingress,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_take_an_optional_protocol_in_any_case() {
        assert_eq!(parse_port("80").expect("valid"), (80, Protocol::Tcp));
        assert_eq!(parse_port("53/udp").expect("valid"), (53, Protocol::Udp));
        assert_eq!(parse_port("9/SCTP").expect("valid"), (9, Protocol::Sctp));
        for bad in ["0", "70000", "80/ICMP", "http", "80/"] {
            let message = parse_port(bad).expect_err(bad).to_string();
            assert!(message.starts_with(&format!("--port: `{bad}`")), "{message}");
        }
    }
}
