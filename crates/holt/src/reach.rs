//! `holt reach`: manifests (Namespaces, Pods, workloads, NetworkPolicies, Istio AuthorizationPolicies) and
//! flows in, a verdict per flow out — allowed or denied, and why — with no cluster. Pods come from the
//! manifests the same way `holt plan` reads them (a workload without Pods in the input stands for one Pod
//! made from its template). One flow comes from `--from/--to/--port` (with `--method/--path` for an HTTP
//! request); many come from `--flows FILE`, one JSON object a line. When the manifests hold Istio
//! AuthorizationPolicies, a flow to a pod is also asked of the mesh and is allowed only when both the
//! NetworkPolicies and the mesh allow it. The exit status is 0 whatever the verdicts; only bad input
//! (unreadable files, an unknown pod, a malformed flow) fails.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use holt_insights::{EvaluatorInput, MeshAccess, MeshSettings};
use holt_reach::istio::{HttpRequest, MeshVerdict};
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
    One {
        from: String,
        to: String,
        port: String,
        http: Option<HttpRequest>,
    },
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
    /// The HTTP method, for the mesh (with `path`).
    #[serde(default)]
    method: Option<String>,
    /// The HTTP path without the query string, for the mesh (with `method`).
    #[serde(default)]
    path: Option<String>,
}

/// One line of JSON output.
#[derive(Debug, Serialize)]
struct VerdictLine<'a> {
    from: &'a str,
    to: &'a str,
    port: u16,
    protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    verdict: &'static str,
    reason: String,
    egress: &'a holt_reach::Side,
    ingress: &'a holt_reach::Side,
    /// The mesh's verdict, when the manifests hold Istio AuthorizationPolicies and the destination is a pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    istio: Option<&'a MeshVerdict>,
}

/// The evaluators of one set of manifests: NetworkPolicies always, Istio when there are AuthorizationPolicies.
struct Evaluators {
    cluster: Cluster,
    mesh: Option<MeshAccess>,
}

/// One flow's verdicts.
struct FlowVerdict {
    network: Verdict,
    mesh: Option<MeshVerdict>,
}

impl FlowVerdict {
    fn allowed(&self) -> bool {
        self.network.allowed && self.mesh.as_ref().is_none_or(|m| m.allowed)
    }
}

impl Evaluators {
    fn evaluate(&self, flow: &Flow, http: Option<HttpRequest>) -> FlowVerdict {
        let network = self.cluster.evaluate(flow);
        let mesh = self.mesh.as_ref().and_then(|mesh| {
            let pod_of = |endpoint: Endpoint| match endpoint {
                Endpoint::Pod(id) => Some(id),
                Endpoint::Address(ip) => self.cluster.pod_with_ip(ip),
            };
            let name = |id| {
                let pod = self.cluster.pod_input(id);
                (pod.namespace.as_str(), pod.name.as_str())
            };
            let to = name(pod_of(flow.to)?);
            mesh.evaluate(pod_of(flow.from).map(name), to, flow.port, http)
        });
        FlowVerdict { network, mesh }
    }
}

/// The HTTP request of a flow: both `method` and `path`, or neither.
fn http_request(method: Option<String>, path: Option<String>) -> Result<Option<HttpRequest>, String> {
    match (method, path) {
        (Some(method), Some(path)) => Ok(Some(HttpRequest { method, path })),
        (None, None) => Ok(None),
        (Some(_), None) => Err("method: given without path".to_owned()),
        (None, Some(_)) => Err("path: given without method".to_owned()),
    }
}

pub fn run(
    paths: &[PathBuf],
    flows: FlowSource,
    format: ReachFormat,
    mesh: &MeshSettings,
    limits: &Limits,
) -> anyhow::Result<ExitCode> {
    let manifests = manifests::load(paths, None, limits)?;
    let input = evaluator_input(manifests.loaded.iter().map(|l| &l.manifest));
    let evaluators = Evaluators {
        cluster: input.build()?,
        mesh: input.build_mesh(mesh)?,
    };
    let cluster = &evaluators.cluster;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match flows {
        FlowSource::One { from, to, port, http } => {
            let (port, protocol) = parse_port(&port)?;
            let flow = Flow {
                from: resolve(cluster, &from, "--from")?,
                to: resolve(cluster, &to, "--to")?,
                port,
                protocol,
            };
            let verdict = evaluators.evaluate(&flow, http.clone());
            let shown = Shown {
                from: &from,
                to: &to,
                flow: &flow,
                http: http.as_ref(),
            };
            write_verdict(&mut out, format, &shown, &verdict)?;
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
                let (flow, http, read) = parse_flow_line(cluster, &file, index + 1, &line)?;
                let verdict = evaluators.evaluate(&flow, http.clone());
                let shown = Shown {
                    from: &read.from,
                    to: &read.to,
                    flow: &flow,
                    http: http.as_ref(),
                };
                write_verdict(&mut out, format, &shown, &verdict)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What the evaluators are built from, before they are indexed: Namespaces with their labels, Pods (and one
/// Pod per workload template, as `holt plan` reads them), NetworkPolicies and Istio AuthorizationPolicies of
/// the manifests. `holt diff` and `holt plan --traffic` add what Holt would write before building.
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
    let istio_policies = manifests
        .iter()
        .filter_map(|m| match m {
            Manifest::IstioAuthorizationPolicy(policy) => Some(policy.as_ref().clone()),
            _ => None,
        })
        .collect();
    EvaluatorInput {
        namespaces,
        pods: model_input::pods(manifests.iter().copied()),
        policies,
        istio_policies,
    }
}

fn parse_flow_line(
    cluster: &Cluster,
    file: &Path,
    line: usize,
    text: &str,
) -> Result<(Flow, Option<HttpRequest>, FlowLine), ReachError> {
    let fail = |problem: String| ReachError::FlowLine {
        file: file.to_owned(),
        line,
        problem,
    };
    let mut read: FlowLine = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
    let http = http_request(read.method.take(), read.path.take()).map_err(fail)?;
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
    Ok((flow, http, read))
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

/// A flow as the user named it, for the output.
struct Shown<'a> {
    from: &'a str,
    to: &'a str,
    flow: &'a Flow,
    http: Option<&'a HttpRequest>,
}

fn write_verdict(
    out: &mut impl Write,
    format: ReachFormat,
    shown: &Shown<'_>,
    verdict: &FlowVerdict,
) -> anyhow::Result<()> {
    let Shown { from, to, flow, http } = shown;
    let (port, protocol) = (flow.port, flow.protocol);
    let request = http
        .map(|h| format!(" {} {}", h.method, h.path))
        .unwrap_or_default();
    let network = verdict.network.to_string();
    let mut reasons: Vec<&str> = network.lines().skip(1).collect();
    let mesh = verdict.mesh.as_ref().map(ToString::to_string);
    if let Some(mesh) = &mesh {
        reasons.extend(mesh.lines().skip(1));
    }
    let outcome = if verdict.allowed() { "allowed" } else { "denied" };
    match format {
        ReachFormat::Text => {
            writeln!(out, "{from} -> {to} {port}/{protocol}{request}: {outcome}")?;
            for reason in reasons {
                writeln!(out, "{reason}")?;
            }
        }
        ReachFormat::Json => {
            let reason = reasons.iter().map(|r| r.trim()).collect::<Vec<_>>().join("; ");
            let line = VerdictLine {
                from,
                to,
                port,
                protocol,
                method: http.map(|h| h.method.as_str()),
                path: http.map(|h| h.path.as_str()),
                verdict: if verdict.allowed() { "allow" } else { "deny" },
                reason,
                egress: &verdict.network.egress,
                ingress: &verdict.network.ingress,
                istio: verdict.mesh.as_ref(),
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
