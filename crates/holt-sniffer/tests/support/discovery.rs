//! Discovery on a real dataplane (holt-testenv's `Dataplane`), for the tests that close the loop: Holt's
//! CRDs on the test API server, a mapper served in-process on the machine's loopback (resolving pod
//! addresses through the API server, publishing `status.resolvedIPs` every 100 ms), and the
//! `holt-sniffer` binary in the dataplane's node namespace, where it sees the pods' bridged and routed
//! traffic, reporting to the mapper through a relay.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use holt_testenv::{ControlPlane, Dataplane};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::access::MapperAccess;
use super::process::{Process, SNIFFER};

/// How often the mapper publishes `status.resolvedIPs` (its default is a second).
const RESOLVED_IPS_INTERVAL_MS: u64 = 100;

/// Holt's CRDs, served without the conversion webhook (only `v2beta1` objects are written by these tests).
pub async fn install_holt_crds(client: &kube::Client) -> anyhow::Result<()> {
    holt_testenv::install_crds_without_conversion(client, &holt_api::crds::crds_yaml()?).await?;
    Ok(())
}

/// A running mapper and the sniffer on the dataplane's node.
pub struct Discovery {
    /// Where the mapper serves (`holt mapper` commands take it as `--url`).
    pub mapper_url: String,
    sniffer: Process,
    stop: oneshot::Sender<()>,
    mapper: JoinHandle<Result<(), holt_mapper::serve::ServeError>>,
    _state: tempfile::TempDir,
}

impl Discovery {
    /// Starts the mapper (checking callers' permissions as `access` grants them) and the sniffer, and
    /// gives the sniffer a moment to open its capture before the test makes traffic.
    pub async fn start(
        plane: &ControlPlane,
        dataplane: &Dataplane,
        access: &MapperAccess,
    ) -> anyhow::Result<Discovery> {
        let state = tempfile::tempdir()?;
        let mut args = access.mapper_args(plane, "127.0.0.1:0", state.path())?;
        args.resolved_ips_interval_ms = RESOLVED_IPS_INTERVAL_MS;
        let (stop, stopped) = oneshot::channel::<()>();
        let (listening, address) = oneshot::channel();
        let mapper = tokio::spawn(holt_mapper::serve::serve(
            args,
            async move {
                let _ = stopped.await;
            },
            move |address| {
                let _ = listening.send(address);
            },
        ));
        let mapper_address = address.await?;
        let relay = dataplane.relay(mapper_address)?;
        let sniffer = Process(
            dataplane
                .node_namespace()
                .command(SNIFFER)
                .args(["--mapper-url", &format!("http://127.0.0.1:{relay}")])
                .arg("--token-file")
                .arg(&access.token_file)
                .args([
                    "--report-interval",
                    "200ms",
                    "--health-bind-address",
                    "127.0.0.1:9091",
                ])
                .args(["--node-name", dataplane.node_name()])
                .env("RUST_LOG", "holt_sniffer=info")
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .spawn()
                .context("starting the sniffer in the node namespace")?,
        );
        // Let the sniffer open its capture before the traffic starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Discovery {
            mapper_url: format!("http://{mapper_address}"),
            sniffer,
            stop,
            mapper,
            _state: state,
        })
    }

    /// Stops the sniffer, then the mapper; fails if the mapper failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        drop(self.sniffer);
        let _ = self.stop.send(());
        self.mapper.await??;
        Ok(())
    }
}
