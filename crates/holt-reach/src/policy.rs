//! One NetworkPolicy, checked and reduced to what evaluation needs: the pods it selects, whether it isolates
//! them for ingress and for egress (with `policyTypes` defaulted), and its rules (peers and ports). Every
//! refusal names the policy and the field.

use std::fmt;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;
use crate::protocol::Protocol;
use crate::selector::Selector;

/// `namespace/name` of a policy, as reasons print it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PolicyName {
    pub namespace: String,
    pub name: String,
}

impl PolicyName {
    /// The policy's namespace (`default` when it names none) and name.
    pub fn of(policy: &NetworkPolicy) -> Self {
        PolicyName {
            namespace: policy
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: policy.metadata.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A policy that cannot be evaluated, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("NetworkPolicy {policy}: {field}: {problem}")]
pub struct PolicyError {
    pub policy: String,
    pub field: String,
    pub problem: String,
}

/// Who a rule admits: all sources (or destinations), or any of its peers.
#[derive(Clone, Debug)]
pub enum Peers {
    /// `from`/`to` absent or empty.
    Everyone,
    Any(Vec<Peer>),
}

/// One entry of `from`/`to`.
#[derive(Clone, Debug)]
pub enum Peer {
    /// `podSelector` and/or `namespaceSelector`. Without a namespace selector, only the policy's own
    /// namespace; without a pod selector, every pod of the selected namespaces.
    Pods {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    /// `ipBlock`: addresses in `cidr` but in none of `except`.
    Block { cidr: Cidr, except: Vec<Cidr> },
}

/// Which ports a rule admits: all, or any of its entries.
#[derive(Clone, Debug)]
pub enum Ports {
    /// `ports` absent or empty.
    All,
    Any(Vec<PortMatch>),
}

/// One entry of `ports`.
#[derive(Clone, Debug)]
pub struct PortMatch {
    pub protocol: Protocol,
    pub port: PortNumber,
}

/// The `port` (and `endPort`) of an entry.
#[derive(Clone, Debug)]
pub enum PortNumber {
    /// No `port`: every port of the protocol.
    Every,
    /// `port` to `endPort` inclusive (a single port when there is no `endPort`).
    Range(u16, u16),
    /// A container port name, resolved against the destination pod.
    Named(String),
}

/// One ingress or egress rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub peers: Peers,
    pub ports: Ports,
}

/// A checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: PolicyName,
    pub selects: Selector,
    /// Whether the selected pods are isolated for ingress, and the rules that admit ingress.
    pub ingress: Option<Vec<Rule>>,
    /// Whether the selected pods are isolated for egress, and the rules that admit egress.
    pub egress: Option<Vec<Rule>>,
}

impl Policy {
    /// Checks a NetworkPolicy. `policyTypes` absent or empty means Ingress, plus Egress when the policy has
    /// at least one egress rule (the API server's defaulting).
    pub fn compile(policy: &NetworkPolicy) -> Result<Self, PolicyError> {
        let name = PolicyName::of(policy);
        let fail = |field: String, problem: String| PolicyError {
            policy: name.to_string(),
            field,
            problem,
        };
        let spec = policy.spec.clone().unwrap_or_default();
        let selects = Selector::compile(&spec.pod_selector.unwrap_or_default())
            .map_err(|e| fail("spec.podSelector".into(), e.to_string()))?;
        let ingress_rules = spec.ingress.unwrap_or_default();
        let egress_rules = spec.egress.unwrap_or_default();
        let types = spec.policy_types.unwrap_or_default();
        let (isolates_ingress, isolates_egress) = if types.is_empty() {
            (true, !egress_rules.is_empty())
        } else {
            for (index, kind) in types.iter().enumerate() {
                if kind != "Ingress" && kind != "Egress" {
                    return Err(fail(
                        format!("spec.policyTypes[{index}]"),
                        format!("`{kind}` is not Ingress or Egress"),
                    ));
                }
            }
            (
                types.iter().any(|t| t == "Ingress"),
                types.iter().any(|t| t == "Egress"),
            )
        };
        let mut ingress = Vec::with_capacity(ingress_rules.len());
        for (index, rule) in ingress_rules.iter().enumerate() {
            let at = format!("spec.ingress[{index}]");
            ingress.push(Rule {
                peers: peers(rule.from.as_deref(), &format!("{at}.from")).map_err(|(f, p)| fail(f, p))?,
                ports: ports(rule.ports.as_deref(), &format!("{at}.ports")).map_err(|(f, p)| fail(f, p))?,
            });
        }
        let mut egress = Vec::with_capacity(egress_rules.len());
        for (index, rule) in egress_rules.iter().enumerate() {
            let at = format!("spec.egress[{index}]");
            egress.push(Rule {
                peers: peers(rule.to.as_deref(), &format!("{at}.to")).map_err(|(f, p)| fail(f, p))?,
                ports: ports(rule.ports.as_deref(), &format!("{at}.ports")).map_err(|(f, p)| fail(f, p))?,
            });
        }
        Ok(Self {
            name,
            selects,
            ingress: isolates_ingress.then_some(ingress),
            egress: isolates_egress.then_some(egress),
        })
    }
}

/// A field path and what is wrong there.
type FieldProblem = (String, String);

fn peers(list: Option<&[NetworkPolicyPeer]>, at: &str) -> Result<Peers, FieldProblem> {
    let list = list.unwrap_or_default();
    if list.is_empty() {
        return Ok(Peers::Everyone);
    }
    let mut peers = Vec::with_capacity(list.len());
    for (index, peer) in list.iter().enumerate() {
        let at = format!("{at}[{index}]");
        let selector = |s: &Option<_>, field: &str| {
            s.as_ref()
                .map(Selector::compile)
                .transpose()
                .map_err(|e| (format!("{at}.{field}"), e.to_string()))
        };
        let namespaces = selector(&peer.namespace_selector, "namespaceSelector")?;
        let pods = selector(&peer.pod_selector, "podSelector")?;
        match &peer.ip_block {
            Some(block) => {
                if namespaces.is_some() || pods.is_some() {
                    return Err((at, "ipBlock cannot be combined with a selector".into()));
                }
                let cidr =
                    Cidr::parse(&block.cidr).map_err(|e| (format!("{at}.ipBlock.cidr"), e.to_string()))?;
                let mut except = Vec::new();
                for (i, text) in block.except.iter().flatten().enumerate() {
                    except.push(
                        Cidr::parse(text)
                            .map_err(|e| (format!("{at}.ipBlock.except[{i}]"), e.to_string()))?,
                    );
                }
                peers.push(Peer::Block { cidr, except });
            }
            None if namespaces.is_none() && pods.is_none() => {
                return Err((
                    at,
                    "a peer needs podSelector, namespaceSelector or ipBlock".into(),
                ));
            }
            None => peers.push(Peer::Pods { namespaces, pods }),
        }
    }
    Ok(Peers::Any(peers))
}

fn ports(list: Option<&[NetworkPolicyPort]>, at: &str) -> Result<Ports, FieldProblem> {
    let list = list.unwrap_or_default();
    if list.is_empty() {
        return Ok(Ports::All);
    }
    let mut ports = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let at = format!("{at}[{index}]");
        let protocol = match &entry.protocol {
            None => Protocol::Tcp,
            Some(text) => Protocol::parse_exact(text).ok_or_else(|| {
                (
                    format!("{at}.protocol"),
                    format!("`{text}` is not TCP, UDP or SCTP"),
                )
            })?,
        };
        let number = |value: i32, field: &str| {
            u16::try_from(value).ok().filter(|p| *p > 0).ok_or_else(|| {
                (
                    format!("{at}.{field}"),
                    format!("{value} is not a port (1-65535)"),
                )
            })
        };
        let port = match (&entry.port, entry.end_port) {
            (None, None) => PortNumber::Every,
            (None, Some(_)) => return Err((format!("{at}.endPort"), "endPort needs a numeric port".into())),
            (Some(IntOrString::String(name)), None) => match name.parse::<i32>() {
                Ok(value) => {
                    let port = number(value, "port")?;
                    PortNumber::Range(port, port)
                }
                Err(_) => PortNumber::Named(name.clone()),
            },
            (Some(IntOrString::String(_)), Some(_)) => {
                return Err((
                    format!("{at}.endPort"),
                    "endPort cannot be used with a named port".into(),
                ));
            }
            (Some(IntOrString::Int(value)), end) => {
                let start = number(*value, "port")?;
                let end = match end {
                    Some(end) => number(end, "endPort")?,
                    None => start,
                };
                if end < start {
                    return Err((format!("{at}.endPort"), format!("{end} is below port {start}")));
                }
                PortNumber::Range(start, end)
            }
        };
        ports.push(PortMatch { protocol, port });
    }
    Ok(Ports::Any(ports))
}

impl Peer {
    /// Whether an IP address (of a pod or outside the cluster) is in this peer's block.
    pub fn holds_address(&self, address: IpAddr) -> bool {
        match self {
            Peer::Block { cidr, except } => {
                cidr.contains(address) && !except.iter().any(|e| e.contains(address))
            }
            Peer::Pods { .. } => false,
        }
    }
}
