//! One node per machine, and nothing of it left behind: a machine-wide claim and the node's cleanup script.
//!
//! A node changes the machine outside its test directory (a bridge, routes, iptables chains, cgroups,
//! sysctls, shim sockets), and those names are fixed, so only one node may run on a machine at a time.
//! In: the node's directory and lifetime. Out: a [`NodeClaim`] holding an exclusive lock on
//! `/run/holt-testenv-node/lock`, and a [`CleanupScript`] (`/run/holt-testenv-node/cleanup.sh`) that undoes
//! exactly what the harness did, written *before* each change is made. The script runs when the node is
//! dropped, from the watchdog when the test process dies, from `cargo xtask testenv down`, and — if all of
//! those were skipped (a crash of the machine's processes, a `kill -9` of the watchdog) — at the next
//! node start, before anything new is created. It touches only what the harness recorded: the processes
//! whose PIDs it wrote down (checked against their program), shims serving this node's containerd socket,
//! processes in the node's own cgroup (`holt-testenv-node`), mounts under the node's directory, and the
//! undo lines of each setup step.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::node_network::{self, NetworkError};
use crate::process::Lifetime;

/// The machine-wide state of the harness's node.
pub const STATE_DIR: &str = "/run/holt-testenv-node";
/// The cgroup (in every v1 hierarchy) under which the kubelet puts every pod.
pub const CGROUP_ROOT: &str = "holt-testenv-node";
/// How long a start waits for another test process's node to go away.
const CLAIM_WAIT: Duration = Duration::from_secs(15 * 60);

/// Why the node could not claim the machine.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// A file of the state directory could not be used.
    #[error("node state: could not {action} {path}: {source}")]
    Io {
        /// What the harness was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the machine's node for too long.
    #[error(
        "another process has held the machine's test node for {waited:?} ({owner}); one node per machine"
    )]
    Busy {
        /// How long this start waited.
        waited: Duration,
        /// Who holds it, from the owner file.
        owner: String,
    },
    /// A node of `cargo xtask testenv up --node` is running.
    #[error(
        "a node started by `cargo xtask testenv up --node` is running ({owner}): stop it with `cargo xtask testenv down` first"
    )]
    Detached {
        /// Its owner line.
        owner: String,
    },
    /// Something the harness would create exists and was not recorded by it.
    #[error(
        "the machine already has {what}, which no cleanup script of holt-testenv recorded: it belongs to something \
         else, so the harness will neither use nor remove it. Remove it by hand if it is a leftover"
    )]
    Foreign {
        /// What exists.
        what: String,
    },
    /// The stale cleanup script failed to run.
    #[error("node state: {0}")]
    Network(#[from] NetworkError),
}

fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ClaimError {
    let path = path.into();
    move |source| ClaimError::Io { action, path, source }
}

/// The machine's node, held by this process.
#[derive(Debug)]
pub(crate) struct NodeClaim {
    /// Holds the lock while open.
    _lock: File,
}

/// Waits (up to 15 minutes) for the machine's node lock, sweeps what a dead owner left behind, refuses to
/// start over state that is not the harness's, and records this process as the owner.
pub(crate) async fn claim(node_dir: &Path, lifetime: Lifetime) -> Result<NodeClaim, ClaimError> {
    let state = Path::new(STATE_DIR);
    std::fs::create_dir_all(state).map_err(io("create", state))?;
    let lock_path = state.join("lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("open", &lock_path))?;
    let began = Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if began.elapsed() < CLAIM_WAIT => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ClaimError::Busy {
                    waited: began.elapsed(),
                    owner: owner_line(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", &lock_path)(e)),
        }
    }
    let script = state.join("cleanup.sh");
    if script.exists() {
        let owner = owner_line();
        if owner.contains("lifetime=detached") && recorded_processes_alive() {
            return Err(ClaimError::Detached { owner });
        }
        eprintln!("holt-testenv: sweeping what an earlier node left behind ({owner})");
        node_network::run("/bin/sh", &[&script.display().to_string()])?;
    }
    refuse_foreign_state()?;
    let owner = format!(
        "pid={} lifetime={} dir={}\n",
        std::process::id(),
        match lifetime {
            Lifetime::Test => "test",
            Lifetime::Detached => "detached",
        },
        node_dir.display()
    );
    let owner_path = state.join("owner");
    std::fs::write(&owner_path, owner).map_err(io("write", &owner_path))?;
    let pids = state.join("pids");
    std::fs::write(&pids, "").map_err(io("write", &pids))?;
    Ok(NodeClaim { _lock: lock })
}

fn owner_line() -> String {
    std::fs::read_to_string(Path::new(STATE_DIR).join("owner"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "owner unknown".to_owned())
}

/// Whether a process in the pids file still runs its recorded program.
fn recorded_processes_alive() -> bool {
    let pids = std::fs::read_to_string(Path::new(STATE_DIR).join("pids")).unwrap_or_default();
    pids.lines().any(|line| {
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next()) {
            (Some(pid), Some(program)) => runs_program(pid, program),
            _ => false,
        }
    })
}

fn runs_program(pid: &str, program: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|cmdline| {
            let first = cmdline.split(|b| *b == 0).next()?;
            Some(first == program.as_bytes())
        })
        .unwrap_or(false)
}

/// Fails if the machine has iptables chains, a bridge or a cgroup of the names the node uses.
fn refuse_foreign_state() -> Result<(), ClaimError> {
    for (command, table) in [
        ("iptables", "filter"),
        ("iptables", "nat"),
        ("iptables", "mangle"),
        ("ip6tables", "filter"),
        ("ip6tables", "nat"),
    ] {
        let listing = node_network::run(command, &["-t", table, "-S"]).unwrap_or_default();
        if let Some(chain) = listing.lines().find(|l| {
            l.starts_with("-N KUBE-") || l.starts_with(&format!("-N {}", node_network::FENCE_CHAIN))
        }) {
            return Err(ClaimError::Foreign {
                what: format!(
                    "the {command} chain `{}` (table {table})",
                    chain.trim_start_matches("-N ")
                ),
            });
        }
    }
    let bridge = node_network::NodeAddressing::standard().bridge;
    if Path::new("/sys/class/net").join(bridge).exists() {
        return Err(ClaimError::Foreign {
            what: format!("a network interface {bridge}"),
        });
    }
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for entry in entries.flatten() {
            let dir = entry.path().join(CGROUP_ROOT);
            if dir.exists() {
                return Err(ClaimError::Foreign {
                    what: format!("a cgroup {}", dir.display()),
                });
            }
        }
    }
    Ok(())
}

/// The node's cleanup script: a fixed part (recorded processes, shims, cgroups, mounts, kube-proxy's and
/// the kubelet's iptables chains) and one undo line per setup step, run newest first.
#[derive(Debug)]
pub(crate) struct CleanupScript {
    path: PathBuf,
    node_dir: PathBuf,
    containerd_socket: PathBuf,
    undo: Vec<String>,
}

impl CleanupScript {
    /// Writes the script for a node in `node_dir` whose containerd listens on `containerd_socket`.
    pub(crate) fn new(node_dir: &Path, containerd_socket: &Path) -> Result<Self, NetworkError> {
        let script = Self {
            path: Path::new(STATE_DIR).join("cleanup.sh"),
            node_dir: node_dir.to_path_buf(),
            containerd_socket: containerd_socket.to_path_buf(),
            undo: Vec::new(),
        };
        script.write()?;
        Ok(script)
    }

    /// The script's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a shell line that undoes the step about to be taken (it runs before the undo lines of every
    /// earlier step). Errors of the line are ignored when the script runs: the step may not have happened.
    pub(crate) fn append(&mut self, line: &str) -> Result<(), NetworkError> {
        self.undo.push(line.to_owned());
        self.write()
    }

    /// Records a process the harness started (killed with its process group by the script, if it still
    /// runs `program`).
    pub(crate) fn record_process(&self, pid: u32, program: &Path) -> Result<(), NetworkError> {
        let pids = Path::new(STATE_DIR).join("pids");
        let mut file = File::options()
            .append(true)
            .create(true)
            .open(&pids)
            .map_err(|e| NetworkError {
                command: format!("open {}", pids.display()),
                reason: e.to_string(),
            })?;
        writeln!(file, "{pid} {}", program.display()).map_err(|e| NetworkError {
            command: format!("write {}", pids.display()),
            reason: e.to_string(),
        })
    }

    /// Runs the script (tearing the node down) and waits for it.
    pub(crate) fn run(&self) -> Result<(), NetworkError> {
        node_network::run("/bin/sh", &[&self.path.display().to_string()]).map(|_| ())
    }

    fn write(&self) -> Result<(), NetworkError> {
        let mut text = format!(
            r#"#!/bin/sh
# Written by holt-testenv: tears down the test node in {dir} and everything it changed on this
# machine. Safe to run more than once; touches only what the harness recorded.
state={state}
node_dir='{dir}'
socket='{socket}'
cgroup_name={cgroup}
exec >>"$state/cleanup.log" 2>&1
echo "cleanup of $node_dir at $(date -u +%FT%TZ)"
# The processes the harness started, with their process groups, if they still run the recorded program.
if [ -f "$state/pids" ]; then
  while read -r pid program; do
    if [ -r "/proc/$pid/cmdline" ] && [ "$(tr '\0' '\n' < "/proc/$pid/cmdline" | head -n 1)" = "$program" ]; then
      kill -9 "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null
    fi
  done < "$state/pids"
fi
# containerd's shims leave containerd's process group: those serving this node's socket.
for cmdline in /proc/[0-9]*/cmdline; do
  if tr '\0' ' ' < "$cmdline" 2>/dev/null | grep -qF -- "-address $socket "; then
    pid=${{cmdline#/proc/}}; kill -9 "${{pid%/cmdline}}" 2>/dev/null
  fi
done
# The containers: every process in the node's cgroups, then the cgroups, deepest first.
for round in 1 2 3 4 5 6 7 8 9 10; do
  procs=$(find /sys/fs/cgroup/*/"$cgroup_name" -name cgroup.procs -exec cat {{}} + 2>/dev/null | sort -u)
  [ -z "$procs" ] && break
  for pid in $procs; do kill -9 "$pid" 2>/dev/null; done
  sleep 0.2
done
for hierarchy in /sys/fs/cgroup/*/"$cgroup_name"; do
  [ -d "$hierarchy" ] && find "$hierarchy" -depth -type d -exec rmdir {{}} \; 2>/dev/null
done
# Mounts under the node's directory (overlay root filesystems, secret volumes, network namespaces).
awk -v d="$node_dir/" 'index($5, d) == 1 {{ print $5 }}' /proc/self/mountinfo | sort -r |
  while read -r mount; do umount -l "$mount" 2>/dev/null; done
# The iptables chains of the kubelet and kube-proxy (the harness starts only where there were none).
for cmd in iptables ip6tables; do
  for table in filter nat mangle raw; do
    $cmd -t $table -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' | sed 's/^-A /-D /' |
      while read -r rule; do eval "$cmd -t $table $rule"; done
    chains=$($cmd -t $table -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\).*/\1/p')
    for chain in $chains; do $cmd -t $table -F "$chain"; done
    for chain in $chains; do $cmd -t $table -X "$chain"; done
  done
done
nft delete table ip kube-proxy 2>/dev/null
nft delete table ip6 kube-proxy 2>/dev/null
# The setup steps, newest first.
"#,
            dir = self.node_dir.display(),
            state = STATE_DIR,
            socket = self.containerd_socket.display(),
            cgroup = CGROUP_ROOT,
        );
        for line in self.undo.iter().rev() {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(
            r#"case $node_dir in
  /*/holt-testenv*/node-*) rm -rf "$node_dir" ;;
esac
rm -f "$state/pids" "$state/owner" "$state/cleanup.sh"
echo "cleanup done"
"#,
        );
        std::fs::write(&self.path, text).map_err(|e| NetworkError {
            command: format!("write {}", self.path.display()),
            reason: e.to_string(),
        })
    }
}
