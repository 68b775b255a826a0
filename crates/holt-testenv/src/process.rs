//! One running component: a child process in its own process group, its output in a log file, a
//! readiness wait that fails with the log's tail, and a kill when it is dropped (test lifetime).

use std::fs::File;
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::watchdog;

/// How long the components started by the harness live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Until the value is dropped or, at the latest, until the test process exits (a watchdog kills
    /// them even when the process dies of a panic or a signal).
    Test,
    /// Until someone stops them by PID (`cargo xtask testenv down`): once ready, nothing kills them on
    /// drop (one that failed to become ready is killed).
    Detached,
}

/// A component process that failed to start, exited, or did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started.
    #[error("{name}: could not start {program}: {source}")]
    Spawn {
        /// Component name.
        name: String,
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Its log file could not be created.
    #[error("{name}: could not create the log file {path}: {source}")]
    Log {
        /// Component name.
        name: String,
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It exited while it should be running.
    #[error("{name} exited ({status}) before it was ready; last lines of {log}:\n{tail}")]
    Exited {
        /// Component name.
        name: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// It kept running but did not become ready in time.
    #[error("{name} was not ready after {waited:?} (last check: {last}); last lines of {log}:\n{tail}")]
    NotReady {
        /// Component name.
        name: String,
        /// How long the harness waited.
        waited: Duration,
        /// What the last readiness check said.
        last: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// A one-shot command (a storage format, a CLI call) failed.
    #[error("{name}: `{command}` failed ({status}):\n{output}")]
    Command {
        /// Component name.
        name: String,
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its output.
        output: String,
    },
}

/// What identifies a running component process (for `cargo xtask testenv down` and measurements).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessInfo {
    /// Component name, e.g. `kube-apiserver`.
    pub name: String,
    /// Its PID, which is also its process group ID.
    pub pid: u32,
    /// The program it runs.
    pub program: PathBuf,
    /// Its log file (stdout and stderr).
    pub log: PathBuf,
}

/// A running component process.
#[derive(Debug)]
pub(crate) struct Process {
    name: &'static str,
    child: Child,
    program: PathBuf,
    log: PathBuf,
    lifetime: Lifetime,
    started: Instant,
    /// Set once a readiness check passed: a detached process that never got there is killed on drop.
    ready: bool,
}

impl Process {
    /// Starts `command` in a new process group with no stdin and its output in `log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log: &Path,
        lifetime: Lifetime,
    ) -> Result<Self, ProcessError> {
        let log_error = |source| ProcessError::Log {
            name: name.into(),
            path: log.to_path_buf(),
            source,
        };
        // Truncated: a retry (with fresh ports) starts a fresh log.
        let out = File::create(log).map_err(log_error)?;
        let err = out.try_clone().map_err(log_error)?;
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let program = PathBuf::from(command.get_program());
        let child = command.spawn().map_err(|source| ProcessError::Spawn {
            name: name.into(),
            program: program.display().to_string(),
            source,
        })?;
        let process = Self {
            name,
            child,
            program,
            log: log.to_path_buf(),
            lifetime,
            started: Instant::now(),
            ready: false,
        };
        if lifetime == Lifetime::Test {
            // If the watchdog cannot be told, dropping `process` kills the child right here.
            watchdog::watch(process.pid()).map_err(|source| ProcessError::Spawn {
                name: name.into(),
                program: format!("the watchdog for {name}"),
                source,
            })?;
        }
        Ok(process)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn info(&self) -> ProcessInfo {
        ProcessInfo {
            name: self.name.to_owned(),
            pid: self.pid(),
            program: self.program.clone(),
            log: self.log.clone(),
        }
    }

    /// Fails if the process has exited.
    pub(crate) fn ensure_running(&mut self) -> Result<(), ProcessError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status.to_string())),
            Err(e) => Err(self.exited(format!("unknown: {e}"))),
        }
    }

    fn exited(&self, status: String) -> ProcessError {
        ProcessError::Exited {
            name: self.name.into(),
            status,
            log: self.log.clone(),
            tail: log_tail(&self.log),
        }
    }

    /// Polls `probe` every 100 ms until it succeeds; fails as soon as the process exits, or after
    /// `timeout`. Returns the time from spawn to ready.
    pub(crate) async fn wait_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        mut probe: F,
    ) -> Result<Duration, ProcessError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            self.ensure_running()?;
            let last = match probe().await {
                Ok(()) => {
                    self.ready = true;
                    return Ok(self.started.elapsed());
                }
                Err(last) => last,
            };
            if Instant::now() >= deadline {
                // The probe may have failed because the process just died: say so if it did.
                self.ensure_running()?;
                return Err(ProcessError::NotReady {
                    name: self.name.into(),
                    waited: timeout,
                    last,
                    log: self.log.clone(),
                    tail: log_tail(&self.log),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.lifetime == Lifetime::Test || !self.ready {
            kill_group(self.pid(), Signal::KILL);
            // Reap it, so no zombie stays behind in a long test process.
            let _ = self.child.wait();
            if self.lifetime == Lifetime::Test {
                watchdog::forget(self.pid());
            }
        }
    }
}

/// Sends `signal` to the process group led by `pid` (every component runs in a group of its own).
pub(crate) fn kill_group(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // The group may be gone already: nothing left to do then.
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// The resident set size of a process in KiB, from /proc/<pid>/status.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of a process, in milliseconds (from /proc; clock ticks are 100 Hz on Linux).
pub fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) * 10
}

/// One unlabelled sample of the `/metrics` page served on 127.0.0.1:`port` (a benchmark's view of a
/// binary it runs); `None` when the page cannot be read or has no such sample.
pub async fn metric_sample(port: u16, name: &str) -> Option<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await.ok()?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits until `check` answers true, polling every `every`; panics after `limit` (for benchmarks, which
/// measure what they wait for).
pub async fn wait_until<F, Fut>(limit: std::time::Duration, every: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "not done within {limit:?}");
        tokio::time::sleep(every).await;
    }
}

/// The last 40 lines of a log file (or why it could not be read).
pub(crate) fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        }
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

/// Runs a one-shot command to completion, failing with its output unless it exits 0.
pub(crate) async fn run_command(
    name: &'static str,
    command: &mut tokio::process::Command,
) -> Result<String, ProcessError> {
    let line = format!("{:?}", command.as_std());
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| ProcessError::Spawn {
            name: name.into(),
            program: line.clone(),
            source,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(ProcessError::Command {
            name: name.into(),
            command: line,
            status: output.status.to_string(),
            output: text,
        });
    }
    Ok(text)
}
