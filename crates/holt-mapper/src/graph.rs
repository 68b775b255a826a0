//! The discovered intents as a graph: Graphviz DOT, a Mermaid flowchart, or an SVG image laid out here
//! (columns by call depth), so `holt mapper visualize --format svg` needs no Graphviz.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use holt_mapper_api::{DiscoveredIntent, GraphFormat, Target};

/// A node: a workload (grouped by namespace) or an internet destination.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Node {
    /// Namespace, or `None` for the internet.
    group: Option<String>,
    label: String,
}

impl Node {
    fn id(&self) -> String {
        match &self.group {
            Some(ns) => format!("{}.{ns}", self.label),
            None => format!("internet:{}", self.label),
        }
    }
}

#[derive(Debug, Default)]
struct Graph {
    nodes: BTreeSet<Node>,
    edges: BTreeSet<(Node, Node)>,
}

fn graph(intents: &[DiscoveredIntent]) -> Graph {
    let mut g = Graph::default();
    for intent in intents {
        let client = Node {
            group: Some(intent.client.namespace.clone()),
            label: intent.client.name.clone(),
        };
        let servers: Vec<Node> = match &intent.target {
            Target::Kubernetes { server, .. } => vec![Node {
                group: Some(server.namespace.clone()),
                label: server.name.clone(),
            }],
            Target::Internet {
                domain: Some(domain), ..
            } => vec![Node {
                group: None,
                label: domain.clone(),
            }],
            Target::Internet { domain: None, ips } => ips
                .iter()
                .map(|ip| Node {
                    group: None,
                    label: ip.to_string(),
                })
                .collect(),
        };
        g.nodes.insert(client.clone());
        for server in servers {
            g.nodes.insert(server.clone());
            g.edges.insert((client.clone(), server));
        }
    }
    g
}

/// Renders the intents in `format`.
pub fn render(intents: &[DiscoveredIntent], format: GraphFormat) -> String {
    let g = graph(intents);
    match format {
        GraphFormat::Dot => dot(&g),
        GraphFormat::Mermaid => mermaid(&g),
        GraphFormat::Svg => svg(&g),
    }
}

fn groups(g: &Graph) -> BTreeMap<Option<&str>, Vec<&Node>> {
    let mut groups: BTreeMap<Option<&str>, Vec<&Node>> = BTreeMap::new();
    for node in &g.nodes {
        groups.entry(node.group.as_deref()).or_default().push(node);
    }
    groups
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot(g: &Graph) -> String {
    let mut out = String::from("digraph intents {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (i, (group, nodes)) in groups(g).into_iter().enumerate() {
        let label = group.map_or_else(|| "internet".to_owned(), |ns| format!("namespace {ns}"));
        let _ = writeln!(out, "  subgraph cluster_{i} {{\n    label={};", dot_quote(&label));
        for node in nodes {
            let _ = writeln!(
                out,
                "    {} [label={}];",
                dot_quote(&node.id()),
                dot_quote(&node.label)
            );
        }
        out.push_str("  }\n");
    }
    for (from, to) in &g.edges {
        let _ = writeln!(out, "  {} -> {};", dot_quote(&from.id()), dot_quote(&to.id()));
    }
    out.push_str("}\n");
    out
}

fn mermaid(g: &Graph) -> String {
    let ids: BTreeMap<&Node, usize> = g.nodes.iter().enumerate().map(|(i, n)| (n, i)).collect();
    let text = |s: &str| s.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (i, (group, nodes)) in groups(g).into_iter().enumerate() {
        let label = group.map_or_else(|| "internet".to_owned(), |ns| format!("namespace {ns}"));
        let _ = writeln!(out, "  subgraph g{i}[\"{}\"]", text(&label));
        for node in nodes {
            let _ = writeln!(out, "    n{}[\"{}\"]", ids[node], text(&node.label));
        }
        out.push_str("  end\n");
    }
    for (from, to) in &g.edges {
        let _ = writeln!(out, "  n{} --> n{}", ids[from], ids[to]);
    }
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Columns by call depth (a client left of what it calls; cycles are cut after as many rounds as there
/// are nodes), rows in node order.
fn svg(g: &Graph) -> String {
    const ROW: usize = 56;
    const BOX_H: usize = 36;
    const GAP: usize = 80;
    const CHAR_W: usize = 7;
    let nodes: Vec<&Node> = g.nodes.iter().collect();
    let index: BTreeMap<&Node, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut depth = vec![0usize; nodes.len()];
    for _ in 0..nodes.len() {
        let mut changed = false;
        for (from, to) in &g.edges {
            let (f, t) = (index[from], index[to]);
            if depth[t] < depth[f] + 1 && depth[f] + 1 < nodes.len() {
                depth[t] = depth[f] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let columns = depth.iter().max().map_or(0, |d| d + 1);
    let label = |n: &Node| match &n.group {
        Some(ns) => format!("{} ({ns})", n.label),
        None => format!("{} (internet)", n.label),
    };
    let mut width = vec![0usize; columns];
    let mut rows = vec![0usize; columns];
    let mut place = vec![(0usize, 0usize); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let c = depth[i];
        width[c] = width[c].max(label(node).len() * CHAR_W + 24);
        place[i] = (c, rows[c]);
        rows[c] += 1;
    }
    let x0: Vec<usize> = width
        .iter()
        .scan(20usize, |x, w| {
            let here = *x;
            *x += w + GAP;
            Some(here)
        })
        .collect();
    let total_w = x0.last().zip(width.last()).map_or(40, |(x, w)| x + w + 20);
    let total_h = rows.iter().max().copied().unwrap_or(0) * ROW + 40;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{total_h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n"
    );
    let center = |i: usize| {
        let (c, r) = place[i];
        (x0[c], x0[c] + width[c], 20 + r * ROW + BOX_H / 2)
    };
    for (from, to) in &g.edges {
        let (_, fx, fy) = center(index[from]);
        let (tx, _, ty) = center(index[to]);
        let _ = writeln!(
            out,
            "<line x1=\"{fx}\" y1=\"{fy}\" x2=\"{tx}\" y2=\"{ty}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>"
        );
    }
    for (i, node) in nodes.iter().enumerate() {
        let (c, r) = place[i];
        let (x, y) = (x0[c], 20 + r * ROW);
        let fill = if node.group.is_some() {
            "#e8f0fe"
        } else {
            "#fdf2e2"
        };
        let _ = writeln!(
            out,
            "<g><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{fill}\" stroke=\"#333\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            xml(&node.id()),
            width[c],
            x + 12,
            y + BOX_H / 2 + 4,
            xml(&label(node))
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::Workload;
    use jiff::Timestamp;

    use super::*;

    fn intents() -> Vec<DiscoveredIntent> {
        let wl = |ns: &str, name: &str| Workload {
            name: name.into(),
            namespace: ns.into(),
            kind: Some("Deployment".into()),
        };
        let call = |client: Workload, target: Target| DiscoveredIntent {
            client,
            target,
            first_seen: Timestamp::UNIX_EPOCH,
            last_seen: Timestamp::UNIX_EPOCH,
        };
        vec![
            call(
                wl("shop", "client"),
                Target::Kubernetes {
                    server: wl("shop", "server"),
                    service: None,
                    http: Vec::new(),
                },
            ),
            call(
                wl("shop", "server"),
                Target::Kubernetes {
                    server: wl("data", "db"),
                    service: None,
                    http: Vec::new(),
                },
            ),
            call(
                wl("shop", "client"),
                Target::Internet {
                    domain: Some("api.example.com".into()),
                    ips: vec![],
                },
            ),
        ]
    }

    #[test]
    fn dot_groups_namespaces_and_draws_every_call() {
        let dot = render(&intents(), GraphFormat::Dot);
        assert!(dot.starts_with("digraph intents {"), "{dot}");
        assert!(dot.contains("label=\"namespace shop\""), "{dot}");
        assert!(dot.contains("\"client.shop\" -> \"server.shop\";"), "{dot}");
        assert!(dot.contains("\"server.shop\" -> \"db.data\";"), "{dot}");
        assert!(
            dot.contains("\"client.shop\" -> \"internet:api.example.com\";"),
            "{dot}"
        );
    }

    #[test]
    fn mermaid_is_a_flowchart_with_one_arrow_per_call() {
        let mermaid = render(&intents(), GraphFormat::Mermaid);
        assert!(mermaid.starts_with("flowchart LR\n"));
        assert_eq!(mermaid.matches("-->").count(), 3, "{mermaid}");
        assert!(mermaid.contains("[\"api.example.com\"]"), "{mermaid}");
    }

    #[test]
    fn svg_places_callers_left_of_what_they_call() {
        let svg = render(&intents(), GraphFormat::Svg);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(svg.matches("<line ").count(), 3);
        assert_eq!(svg.matches("<rect ").count(), 4);
        let x_of = |id: &str| -> usize {
            let at = svg.find(&format!("<title>{id}</title>")).expect("node");
            let rest = &svg[at..];
            let x = rest.find("x=\"").expect("x") + 3;
            rest[x..]
                .split('"')
                .next()
                .expect("value")
                .parse()
                .expect("number")
        };
        assert!(x_of("client.shop") < x_of("server.shop"));
        assert!(x_of("server.shop") < x_of("db.data"));
    }
}
