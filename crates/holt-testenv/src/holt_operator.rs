//! The `holt-operator` binary as a component of a test: started against a control plane, watching one
//! namespace in one enforcement mode, its webhook server off (nothing calls it), ready once its `/readyz`
//! says the first full pass is done. For tests that check what the operator's writes *do* (a
//! [`crate::Dataplane`] enforcing its NetworkPolicies), so they run the program users run.
//!
//! In: the binary (the test's own `CARGO_BIN_EXE_holt-operator`, or [`crate::build_binaries`]), the control
//! plane, the watched namespace and the mode. Out: a running process, killed when dropped (and by the
//! watchdog if the test process dies), with its log in the run directory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::control_plane::ControlPlane;
use crate::error::Error;
use crate::health::http_get_ok;
use crate::ports::free_port;
use crate::process::{Lifetime, Process, ProcessInfo, log_tail};
use crate::rundir::RunDir;

/// A running `holt-operator`.
#[derive(Debug)]
pub struct HoltOperator {
    process: Process,
    startup: Duration,
    _dir: RunDir,
}

impl HoltOperator {
    /// Starts `binary` with `--mode <mode> --watched-namespaces <watched>` (a comma-separated list for
    /// several), its own operator namespace (created here) and `--disable-webhook-server`; returns once
    /// `/readyz` answers 200.
    pub async fn start(
        binary: &Path,
        plane: &ControlPlane,
        watched: &str,
        mode: &str,
    ) -> Result<Self, Error> {
        Self::start_with_flags(binary, plane, watched, mode, &[]).await
    }

    /// [`HoltOperator::start`] with more of the binary's flags (e.g.
    /// `--enable-egress-network-policy-creation`), after the harness's own.
    pub async fn start_with_flags(
        binary: &Path,
        plane: &ControlPlane,
        watched: &str,
        mode: &str,
        flags: &[&str],
    ) -> Result<Self, Error> {
        let client = plane.client().await?;
        let system = plane.create_namespace(&client, "holt-system").await?;
        let dir = RunDir::new("holt-operator", None, Lifetime::Test).map_err(Error::io(
            "holt-operator",
            "create the directory for",
            "the operator",
        ))?;
        let probes = free_port("holt-operator")?;
        let mut command = Command::new(binary);
        command
            .args([
                "--mode",
                mode,
                "--watched-namespaces",
                watched,
                "--operator-namespace",
                &system,
            ])
            .arg("--disable-webhook-server")
            .arg(format!("--health-probe-bind-address=127.0.0.1:{probes}"))
            .args(["--log-format", "text"])
            .args(flags)
            .env("KUBECONFIG", plane.kubeconfig())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let mut process = Process::spawn(
            "holt-operator",
            command,
            &dir.join("holt-operator.log"),
            Lifetime::Test,
        )?;
        let startup = process
            .wait_ready(Duration::from_secs(60), || http_get_ok(probes, "/readyz"))
            .await?;
        Ok(Self {
            process,
            startup,
            _dir: dir,
        })
    }

    /// From spawn until `/readyz` answered 200.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The process.
    pub fn process(&self) -> ProcessInfo {
        self.process.info()
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.process.info().log)
    }
}
