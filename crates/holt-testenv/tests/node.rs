//! The real node: pods run from the harness's images, reach each other, Services and the API server,
//! reach nothing outside the machine, and the node leaves nothing behind when dropped. One node start
//! for the whole file (one test), since a start costs tens of seconds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use holt_testenv::{
    BUSYBOX_IMAGE, CGROUP_ROOT, Cluster, ClusterOptions, FENCE_CHAIN, STATE_DIR, fence_drops,
};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;

/// Directories kubelet, containerd and the CNI plugins create when missing: those that did not exist
/// before the node must not exist after it.
const MACHINE_DIRS: [&str; 5] = [
    "/run/containerd",
    "/var/lib/kubelet",
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/cni",
];
const TIMEOUT: Duration = Duration::from_secs(90);
/// TEST-NET-2: outside the node's ranges and not this machine's network; routed out by the default route.
const OUTSIDE: &str = "198.51.100.7";

fn busybox_pod(name: &str, script: &str, restart: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "main",
                "image": BUSYBOX_IMAGE,
                "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c", script],
            }],
        },
    }))?)
}

async fn wait_phase(pods: &Api<Pod>, name: &str, phases: &[&str]) -> anyhow::Result<Pod> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let pod = pods.get(name).await?;
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phases.contains(&phase.as_str()) {
            return Ok(pod);
        }
        if Instant::now() > deadline {
            bail!(
                "pod {name} is {phase:?}, not one of {phases:?}, after {TIMEOUT:?}: {:?}",
                pod.status
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run_to_completion(pods: &Api<Pod>, name: &str, script: &str) -> anyhow::Result<String> {
    pods.create(&PostParams::default(), &busybox_pod(name, script, "Never")?)
        .await?;
    wait_phase(pods, name, &["Succeeded", "Failed"]).await?;
    Ok(pods.logs(name, &LogParams::default()).await?)
}

fn output(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The interface this machine would send `address` out of.
fn route_device(address: &str) -> anyhow::Result<String> {
    let route = output("ip", &["route", "get", address])?;
    let mut words = route.split_whitespace();
    while let Some(word) = words.next() {
        if word == "dev" {
            return words.next().map(str::to_owned).context("no device after `dev`");
        }
    }
    bail!("no route to {address}: {route}")
}

#[tokio::test]
async fn pods_run_talk_and_stay_fenced_in_and_the_node_leaves_nothing_behind() -> anyhow::Result<()> {
    let forward_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?;
    let absent_before: Vec<&str> = MACHINE_DIRS
        .into_iter()
        .filter(|d| !Path::new(d).exists())
        .collect();
    let cluster = Cluster::start(ClusterOptions::default()).await?;
    for (what, took) in cluster.startup_times() {
        eprintln!("started {what} in {took:?}");
    }
    let node_dir = cluster.node_dir().to_path_buf();
    let socket = cluster.containerd_socket().display().to_string();
    let client = cluster.client().await?;
    let ns = cluster.create_pod_namespace(&client, "node").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    // A server pod behind a Service; a client pod reaches it by pod IP and by ClusterIP.
    pods.create(
        &PostParams::default(),
        &busybox_pod(
            "server",
            "while true; do echo hello-from-server | nc -l -p 8080; done",
            "Always",
        )?,
    )
    .await?;
    let server = wait_phase(&pods, "server", &["Running"]).await?;
    let server_ip = server
        .status
        .and_then(|s| s.pod_ip)
        .context("server has no pod IP")?;
    ensure!(
        server_ip.starts_with("10.213.0."),
        "pod IP {server_ip} outside the pod range"
    );
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "server"},
        "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }))?;
    let service = services.create(&PostParams::default(), &service).await?;
    let cluster_ip = service.spec.and_then(|s| s.cluster_ip).context("no ClusterIP")?;
    ensure!(
        cluster_ip.starts_with("10.213.1."),
        "ClusterIP {cluster_ip} outside the Service range"
    );
    let script = format!(
        "echo by-ip: $(nc -w 5 {server_ip} 8080 </dev/null); \
         for i in 1 2 3 4 5 6 7 8 9 10; do r=$(nc -w 3 {cluster_ip} 80 </dev/null) && [ -n \"$r\" ] && break; sleep 1; done; \
         echo by-service: $r; \
         nc -w 5 10.213.1.1 443 </dev/null; echo kubernetes-service-exit: $?"
    );
    let logs = run_to_completion(&pods, "client", &script).await?;
    ensure!(
        logs.contains("by-ip: hello-from-server"),
        "pod-to-pod failed:\n{logs}"
    );
    ensure!(
        logs.contains("by-service: hello-from-server"),
        "pod-to-Service failed:\n{logs}"
    );
    // nc exits 0 once connected (the API server waits for a TLS hello and the time-out closes it).
    ensure!(
        logs.contains("kubernetes-service-exit: 0"),
        "pod-to-API-server failed:\n{logs}"
    );

    // Fenced in: a pod dialling an address outside the node's ranges gets nothing out of the machine.
    let device = route_device(OUTSIDE)?;
    let mut capture = Command::new("tcpdump")
        .args(["-n", "-p", "-l", "-i", &device, "host", OUTSIDE])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting tcpdump (scripts/install-system-packages.sh installs it)")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let drops_before = fence_drops()?;
    let logs = run_to_completion(
        &pods,
        "escaper",
        &format!("nc -w 4 {OUTSIDE} 80 </dev/null; echo exit: $?"),
    )
    .await?;
    let drops_after = fence_drops()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = capture.kill();
    let captured = capture.wait_with_output()?;
    let seen = String::from_utf8_lossy(&captured.stdout).into_owned();
    ensure!(
        !logs.contains("exit: 0"),
        "the connection to {OUTSIDE} succeeded:\n{logs}"
    );
    ensure!(
        drops_after > drops_before,
        "the fence dropped nothing ({drops_before} → {drops_after})"
    );
    ensure!(
        seen.trim().is_empty(),
        "packets for {OUTSIDE} left through {device}:\n{seen}"
    );

    // Nothing left behind.
    drop(client);
    drop(cluster);
    let leftovers = leftovers(&node_dir, &socket, &absent_before)?;
    ensure!(leftovers.is_empty(), "left behind: {leftovers:#?}");
    let forward_after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?;
    ensure!(
        forward_after == forward_before,
        "ip_forward was {forward_before:?}, is {forward_after:?}"
    );
    Ok(())
}

/// What of a node is still on the machine.
fn leftovers(node_dir: &Path, socket: &str, absent_before: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    if Path::new("/sys/class/net/holt-node0").exists() {
        found.push("the bridge holt-node0".to_owned());
    }
    for (cmd, table) in [
        ("iptables", "filter"),
        ("iptables", "nat"),
        ("iptables", "mangle"),
        ("ip6tables", "filter"),
        ("ip6tables", "nat"),
    ] {
        for line in output(cmd, &["-t", table, "-S"])?.lines() {
            if line.contains("KUBE-") || line.contains(FENCE_CHAIN) {
                found.push(format!("{cmd} -t {table}: {line}"));
            }
        }
    }
    let routes = output("ip", &["route", "show"])?;
    found.extend(
        routes
            .lines()
            .filter(|l| l.contains("10.213."))
            .map(|l| format!("route {l}")),
    );
    for entry in std::fs::read_dir("/sys/fs/cgroup")?.flatten() {
        if entry.path().join(CGROUP_ROOT).exists() {
            found.push(format!("cgroup {}", entry.path().join(CGROUP_ROOT).display()));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    let prefix = node_dir.display().to_string();
    found.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&prefix))
            .map(|l| format!("mount {l}")),
    );
    if node_dir.exists() {
        found.push(format!("the node directory {}", node_dir.display()));
    }
    for path in absent_before {
        if Path::new(path).exists() {
            found.push((*path).to_owned());
        }
    }
    if Path::new(STATE_DIR).join("cleanup.sh").exists() {
        found.push(format!("{STATE_DIR}/cleanup.sh"));
    }
    for entry in std::fs::read_dir("/proc")?.flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(socket) || cmdline.contains(&prefix) {
                found.push(format!(
                    "process {}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    Ok(found)
}
