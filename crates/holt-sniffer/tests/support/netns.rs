//! Network namespaces for tests: created with `ip netns add`, removed when dropped (also on panic), and
//! entered by a thread to create sockets that live inside them.

use std::fs::File;
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// Runs a command and fails with its output when it does not succeed.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<Output> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program} {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// A named network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `name` (which should include the process ID to be unique) with its loopback up.
    pub fn create(name: &str) -> anyhow::Result<Self> {
        run("ip", &["netns", "add", name]).with_context(|| {
            format!("cannot create network namespace {name}: these tests need root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2")
        })?;
        let netns = Self {
            name: name.to_owned(),
        };
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// `ip -n <name> <args>`.
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A command that runs inside the namespace (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `f` on a new thread that has entered the namespace; sockets it creates belong to the
    /// namespace for their whole life, whichever thread uses them later.
    pub fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).with_context(|| format!("opening {path}"))?;
        std::thread::spawn(move || -> anyhow::Result<T> {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .context("setns")?;
            Ok(f())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("thread inside the namespace panicked"))?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// Connects `a` and `b` with a veth pair named `a_if` (in `a`) and `b_if` (in `b`).
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> anyhow::Result<()> {
    run(
        "ip",
        &[
            "link", "add", "name", a_if, "netns", &a.name, "type", "veth", "peer", "name", b_if, "netns",
            &b.name,
        ],
    )?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// Connects `netns` to the test's own (host) network namespace with a veth pair named `host_if` (on the
/// host) and `netns_if` (in `netns`), so that a server the test runs on the host is reachable from
/// inside. The pair disappears with `netns`.
pub fn veth_to_host(netns: &Netns, netns_if: &str, host_if: &str) -> anyhow::Result<()> {
    run(
        "ip",
        &[
            "link",
            "add",
            "name",
            host_if,
            "type",
            "veth",
            "peer",
            "name",
            netns_if,
            "netns",
            &netns.name,
        ],
    )?;
    run("ip", &["link", "set", host_if, "up"])?;
    netns.ip(&["link", "set", netns_if, "up"])?;
    Ok(())
}

/// A node with a bridge and workload namespaces on it, as a Kubernetes node with its pods.
#[derive(Debug)]
pub struct Bridged {
    /// `<prefix>-node`, holding the bridge `br0`.
    pub node: Netns,
    /// `<prefix>-<name>` for each workload.
    pub workloads: Vec<Netns>,
}

/// Creates `<prefix>-node` with a bridge `br0`, and for each `(name, IPv4, IPv6)` a namespace
/// `<prefix>-<name>` attached to the bridge by a veth pair (`v<name>` on the bridge, `eth0` inside)
/// with the addresses in a /24 and a /64 (`nodad`). `prefix` should include the process ID.
pub fn bridged(prefix: &str, workloads: &[(&str, &str, &str)]) -> anyhow::Result<Bridged> {
    let node = Netns::create(&format!("{prefix}-node"))?;
    node.ip(&["link", "add", "br0", "type", "bridge"])?;
    node.ip(&["link", "set", "br0", "up"])?;
    let mut created = Vec::new();
    for (name, v4, v6) in workloads {
        let netns = Netns::create(&format!("{prefix}-{name}"))?;
        let port = format!("v{name}");
        veth(&node, &port, &netns, "eth0")?;
        node.ip(&["link", "set", &port, "master", "br0"])?;
        netns.ip(&["addr", "add", &format!("{v4}/24"), "dev", "eth0"])?;
        netns.ip(&["addr", "add", &format!("{v6}/64"), "dev", "eth0", "nodad"])?;
        created.push(netns);
    }
    Ok(Bridged {
        node,
        workloads: created,
    })
}

impl Bridged {
    /// The workload namespace `name`.
    pub fn netns(&self, name: &str) -> &Netns {
        let suffix = format!("-{name}");
        self.workloads
            .iter()
            .find(|n| n.name.ends_with(&suffix))
            .unwrap_or_else(|| panic!("no workload namespace {name}"))
    }
}

/// Joins `net`'s node namespace to the test's own (host) namespace with a veth pair on the /30
/// `10.<second>.<third>.0` (host end `.1`, node end `uplink` `.2`), so that the node's processes reach a
/// server the test runs on the host (a mapper that needs the test API server on the host's loopback).
/// Returns the host end's address; the pair goes away with the node namespace.
pub fn uplink(net: &Bridged, host_if: &str, second: u8, third: u8) -> anyhow::Result<std::net::Ipv4Addr> {
    let host_address = std::net::Ipv4Addr::new(10, second, third, 1);
    veth_to_host(&net.node, "uplink", host_if)?;
    run(
        "ip",
        &["addr", "add", &format!("{host_address}/30"), "dev", host_if],
    )?;
    net.node.ip(&[
        "addr",
        "add",
        &format!("10.{second}.{third}.2/30"),
        "dev",
        "uplink",
    ])?;
    Ok(host_address)
}
