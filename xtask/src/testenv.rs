//! `cargo xtask testenv up|down|status`: detached test components, recorded in `<dir>/state.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use holt_testenv::{
    Cluster, ClusterOptions, ControlPlane, ControlPlaneOptions, Kafka, KafkaOptions, Lifetime, ProcessInfo,
    SpireOptions, SpireServer, Stopped,
};
use serde::{Deserialize, Serialize};

/// Which components `up` starts besides etcd and kube-apiserver.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub(crate) kafka: bool,
    pub(crate) spire: bool,
    pub(crate) controller_manager: bool,
    /// A node, with these image archives imported.
    pub(crate) node: Option<Vec<PathBuf>>,
}

/// What `up` recorded: the processes to stop and the endpoints to print.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    processes: Vec<ProcessInfo>,
    /// `NAME=value` lines, in order.
    endpoints: Vec<(String, String)>,
}

/// `$TMPDIR/holt-testenv-up`: short, so SPIRE's socket path stays under the unix limit.
pub(crate) fn default_dir() -> PathBuf {
    std::env::temp_dir().join("holt-testenv-up")
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

fn read_state(dir: &Path) -> anyhow::Result<Option<State>> {
    let path = state_file(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("read {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

fn write_state(dir: &Path, state: &State) -> anyhow::Result<()> {
    let path = state_file(dir);
    std::fs::write(&path, serde_json::to_string_pretty(state)?)
        .with_context(|| format!("write {}", path.display()))
}

pub(crate) async fn up(dir: &Path, wanted: Wanted) -> anyhow::Result<()> {
    if let Some(state) = read_state(dir)? {
        let running: Vec<&str> = state
            .processes
            .iter()
            .filter(|p| holt_testenv::is_running(p))
            .map(|p| p.name.as_str())
            .collect();
        if !running.is_empty() {
            bail!(
                "a test environment is already up in {} ({}): `cargo xtask testenv down` first",
                dir.display(),
                running.join(", ")
            );
        }
    }
    // Nothing of ours runs there: start afresh.
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("remove the stale {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;

    let mut state = State::default();
    // The state is written after each component, so `down` can stop what started even if a later one
    // fails; a failure stops everything at once.
    let started = start_all(dir, wanted, &mut state).await;
    write_state(dir, &state)?;
    if let Err(error) = started {
        stop_all(&state);
        return Err(error.context("starting the test environment failed; stopped what had started"));
    }
    for (name, value) in &state.endpoints {
        println!("{name}={value}");
    }
    eprintln!(
        "state: {} (stop with `cargo xtask testenv down`)",
        state_file(dir).display()
    );
    Ok(())
}

async fn start_all(dir: &Path, wanted: Wanted, state: &mut State) -> anyhow::Result<()> {
    // With a node, the cluster starts its own control plane (on the node's IP).
    let cluster = match &wanted.node {
        Some(images) => Some(
            Cluster::start(ClusterOptions {
                lifetime: Lifetime::Detached,
                dir: Some(dir.join("node-1")),
                control_plane_dir: Some(dir.join("kube")),
                images: images.clone(),
            })
            .await?,
        ),
        None => None,
    };
    let own;
    let cp: &ControlPlane = match &cluster {
        Some(cluster) => cluster.control_plane(),
        None => {
            own = ControlPlane::start(ControlPlaneOptions {
                controller_manager: wanted.controller_manager,
                lifetime: Lifetime::Detached,
                dir: Some(dir.join("kube")),
                node: None,
            })
            .await?;
            &own
        }
    };
    match &cluster {
        Some(cluster) => {
            state.processes.extend(cluster.processes());
            state.endpoints.push((
                "NODE_CLEANUP".into(),
                cluster.cleanup_script().display().to_string(),
            ));
            state.endpoints.push((
                "CONTAINERD_ADDRESS".into(),
                cluster.containerd_socket().display().to_string(),
            ));
            report(
                cluster.startup_times().iter().map(|(name, time)| (*name, *time)),
                &[],
            );
        }
        None => state.processes.extend(cp.processes()),
    }
    state
        .endpoints
        .push(("KUBECONFIG".into(), cp.kubeconfig().display().to_string()));
    state
        .endpoints
        .push(("KUBE_APISERVER".into(), cp.url().to_owned()));
    state
        .endpoints
        .push(("KUBE_CA".into(), cp.ca_file().display().to_string()));
    report(
        cp.startup_times().iter().map(|(name, time)| (*name, *time)),
        &cp.processes(),
    );
    write_state(dir, state)?;

    if wanted.kafka {
        let kafka = Kafka::start(KafkaOptions {
            lifetime: Lifetime::Detached,
            dir: Some(dir.join("kafka")),
        })
        .await?;
        state.processes.extend(kafka.process());
        state
            .endpoints
            .push(("KAFKA_BOOTSTRAP".into(), kafka.bootstrap().to_owned()));
        state
            .endpoints
            .push(("KAFKA_CA".into(), kafka.ca_file().display().to_string()));
        state
            .endpoints
            .push(("KAFKA_ADMIN_PRINCIPAL".into(), kafka.admin().principal.clone()));
        state.endpoints.push((
            "KAFKA_ADMIN_KEYSTORE".into(),
            kafka.admin().keystore.display().to_string(),
        ));
        state.endpoints.push((
            "KAFKA_ADMIN_PROPERTIES".into(),
            kafka.admin().properties.display().to_string(),
        ));
        state
            .endpoints
            .push(("KAFKA_LIBS".into(), kafka.libs().display().to_string()));
        let processes: Vec<_> = kafka.process().into_iter().collect();
        report([("kafka", kafka.startup_time())], &processes);
        write_state(dir, state)?;
    }
    if wanted.spire {
        let spire = SpireServer::start(SpireOptions {
            lifetime: Lifetime::Detached,
            dir: Some(dir.join("spire")),
            ..SpireOptions::default()
        })
        .await?;
        let processes: Vec<_> = spire.process().into_iter().collect();
        state.processes.extend(processes.iter().cloned());
        state.endpoints.push((
            "SPIRE_SERVER_SOCKET".into(),
            spire.socket_path().display().to_string(),
        ));
        state
            .endpoints
            .push(("SPIRE_SERVER_ADDRESS".into(), spire.address().to_owned()));
        state
            .endpoints
            .push(("SPIRE_TRUST_DOMAIN".into(), spire.trust_domain().to_owned()));
        state
            .endpoints
            .push(("SPIRE_SERVER_BIN".into(), spire.binary().display().to_string()));
        report([("spire-server", spire.startup_time())], &processes);
    }
    Ok(())
}

/// Start-up times and memory on stderr (stdout is for the `NAME=value` lines).
fn report<'a>(times: impl IntoIterator<Item = (&'a str, Duration)>, processes: &[ProcessInfo]) {
    for (name, time) in times {
        eprintln!("ready: {name} in {:.2} s", time.as_secs_f64());
    }
    for p in processes {
        let rss = holt_testenv::rss_kib(p.pid).map_or("?".to_owned(), |kib| format!("{} MiB", kib / 1024));
        eprintln!("pid {} {} (RSS {rss}), log {}", p.pid, p.name, p.log.display());
    }
}

fn stop_all(state: &State) {
    // The reverse of the start order: dependants before what they depend on.
    for p in state.processes.iter().rev() {
        let outcome = holt_testenv::stop(p, Duration::from_secs(10));
        let said = match outcome {
            Stopped::Stopped => "stopped",
            Stopped::AlreadyGone => "was not running",
            Stopped::PidReused => "PID now belongs to another program; left alone",
        };
        eprintln!("{} (pid {}): {said}", p.name, p.pid);
    }
}

pub(crate) fn down(dir: &Path) -> anyhow::Result<()> {
    let Some(state) = read_state(dir)? else {
        bail!(
            "no test environment recorded in {} (nothing to stop)",
            state_file(dir).display()
        );
    };
    // The node first: its cleanup script kills its processes (and the containers) and undoes its changes
    // to the machine.
    if let Some((_, script)) = state.endpoints.iter().find(|(name, _)| name == "NODE_CLEANUP")
        && Path::new(script).exists()
    {
        {
            let status = std::process::Command::new("/bin/sh")
                .arg(script)
                .status()
                .with_context(|| format!("run the node's cleanup script {script}"))?;
            eprintln!("node: cleanup script {script} {status}");
        }
    }
    stop_all(&state);
    std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    Ok(())
}

pub(crate) fn status(dir: &Path) -> anyhow::Result<()> {
    let Some(state) = read_state(dir)? else {
        bail!("no test environment recorded in {}", state_file(dir).display());
    };
    for (name, value) in &state.endpoints {
        println!("{name}={value}");
    }
    for p in &state.processes {
        let running = if holt_testenv::is_running(p) {
            "running"
        } else {
            "not running"
        };
        eprintln!("{} (pid {}): {running}", p.name, p.pid);
    }
    Ok(())
}
