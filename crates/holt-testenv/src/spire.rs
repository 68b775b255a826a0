//! A SPIRE server on 127.0.0.1: SQLite datastore, in-memory keys, join-token node attestation, and its
//! local admin API on a unix socket (entries and SVID minting are allowed to local callers there).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::components::Component;
use crate::error::{Error, write_file};
use crate::ports::{free_port, with_fresh_ports};
use crate::process::{Lifetime, Process, ProcessInfo, kill_group, run_command};
use crate::rundir::RunDir;
use crate::shared::{SharedCell, get_or_start};
use rustix::process::Signal;

/// How to start a [`SpireServer`].
#[derive(Debug, Clone)]
pub struct SpireOptions {
    /// The trust domain. Default: `holt.test`.
    pub trust_domain: String,
    /// Who stops the process. Default: [`Lifetime::Test`].
    pub lifetime: Lifetime,
    /// Where to keep configuration, data and logs. Default: a fresh directory in this test process's
    /// scratch directory. Keep it short: the admin socket's path must fit in 107 bytes.
    pub dir: Option<PathBuf>,
}

impl Default for SpireOptions {
    fn default() -> Self {
        Self {
            trust_domain: "holt.test".to_owned(),
            lifetime: Lifetime::Test,
            dir: None,
        }
    }
}

/// A running SPIRE server. Dropping it stops the process (test lifetime).
#[derive(Debug)]
pub struct SpireServer {
    /// `None` while [`SpireServer::stop`]ped.
    process: Option<Process>,
    lifetime: Lifetime,
    binary: PathBuf,
    socket: PathBuf,
    address: String,
    trust_domain: String,
    startup: Duration,
    dir: RunDir,
}

static SHARED: SharedCell<SpireServer> = SharedCell::const_new();

impl SpireServer {
    /// Starts the server and waits until `spire-server healthcheck` passes on its admin socket.
    pub async fn start(options: SpireOptions) -> Result<Self, Error> {
        let binary = Component::Spire.file("spire-server")?;
        let dir = RunDir::new("spire", options.dir.as_deref(), options.lifetime).map_err(Error::io(
            "spire-server",
            "create the directory for",
            "the server",
        ))?;
        let began = Instant::now();
        let socket = dir.join("api.sock");
        let (process, port) = with_fresh_ports(|| {
            start_server(&binary, &dir, &options.trust_domain, &socket, options.lifetime)
        })
        .await?;
        Ok(Self {
            process: Some(process),
            lifetime: options.lifetime,
            binary,
            socket,
            address: format!("127.0.0.1:{port}"),
            trust_domain: options.trust_domain,
            startup: began.elapsed(),
            dir,
        })
    }

    /// The server shared by every test of this test process (stopped by the watchdog when the process
    /// ends). Tests should use their own SPIFFE IDs.
    pub async fn shared() -> Result<&'static Self, Error> {
        get_or_start(&SHARED, "spire-server", || Self::start(SpireOptions::default())).await
    }

    /// The admin API's unix socket (`-socketPath` of the CLI).
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The trust domain, e.g. `holt.test`.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The server's TCP address for agents, `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The `spire-server` binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// `spire-server <subcommand...> -socketPath <socket>`; add the subcommand's own flags.
    pub fn command(&self, subcommand: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command.args(subcommand).arg("-socketPath").arg(&self.socket);
        command
    }

    /// Runs `spire-server <subcommand...> -socketPath <socket> <args...>` and returns its output
    /// (stdout then stderr); fails unless it exits with status 0.
    pub async fn run(&self, subcommand: &[&str], args: &[&str]) -> Result<String, Error> {
        Ok(run_command("spire-server", self.command(subcommand).args(args)).await?)
    }

    /// The directory holding configuration, data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// From spawn until the health check passed.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The server's process; `None` while stopped.
    pub fn process(&self) -> Option<ProcessInfo> {
        self.process.as_ref().map(Process::info)
    }

    /// Stops the server (its own process group, by PID) to test clients against a server that is down.
    /// Its datastore stays; [`SpireServer::restart`] starts it again. Use a server of the test's own
    /// ([`SpireServer::start`]), not the shared one.
    pub fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            kill_group(process.info().pid, Signal::KILL);
            drop(process);
        }
    }

    /// Starts a stopped server again on the same port, socket, configuration and datastore (its CA keys
    /// are in memory: the restarted server signs with a new CA) and waits until it is healthy.
    pub async fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        // The socket of the killed server is left behind.
        let _ = std::fs::remove_file(&self.socket);
        let process = spawn_server(&self.binary, &self.dir, &self.socket, self.lifetime).await?;
        self.process = Some(process);
        Ok(())
    }
}

/// Picks a port, writes the configuration, starts the server and waits until `spire-server
/// healthcheck` passes on the admin socket. Returns the process and its port.
async fn start_server(
    binary: &Path,
    dir: &RunDir,
    trust_domain: &str,
    socket: &Path,
    lifetime: Lifetime,
) -> Result<(Process, u16), Error> {
    let port = free_port("spire-server")?;
    // A retry after a port clash starts from an empty datastore.
    let data = dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(Error::io("spire-server", "remove", &data))?;
    }
    let config = dir.join("server.conf");
    write_file(
        "spire-server",
        &config,
        server_config(trust_domain, port, socket, &data),
    )?;
    Ok((spawn_server(binary, dir, socket, lifetime).await?, port))
}

/// Starts the server on the configuration in `dir` and waits until `spire-server healthcheck` passes.
async fn spawn_server(
    binary: &Path,
    dir: &RunDir,
    socket: &Path,
    lifetime: Lifetime,
) -> Result<Process, Error> {
    let config = dir.join("server.conf");
    let mut command = Command::new(binary);
    command.arg("run").arg("-config").arg(&config);
    let mut process = Process::spawn("spire-server", command, &dir.join("spire-server.log"), lifetime)?;
    process
        .wait_ready(Duration::from_secs(60), || {
            let mut check = tokio::process::Command::new(binary);
            check.arg("healthcheck").arg("-socketPath").arg(socket);
            async move {
                run_command("spire-server", &mut check)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        })
        .await?;
    Ok(process)
}

fn server_config(trust_domain: &str, port: u16, socket: &Path, data: &Path) -> String {
    format!(
        r#"server {{
  bind_address = "127.0.0.1"
  bind_port = "{port}"
  socket_path = "{socket}"
  trust_domain = "{trust_domain}"
  data_dir = "{data}"
  log_level = "INFO"
}}

plugins {{
  DataStore "sql" {{
    plugin_data {{
      database_type = "sqlite3"
      connection_string = "{data}/datastore.sqlite3"
    }}
  }}
  KeyManager "memory" {{
    plugin_data {{}}
  }}
  NodeAttestor "join_token" {{
    plugin_data {{}}
  }}
}}
"#,
        socket = socket.display(),
        data = data.display(),
    )
}
