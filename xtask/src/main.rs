//! Developer commands for the Holt workspace, run as `cargo xtask <command>`.
//!
//! In: command-line arguments. Out: `testenv up` starts real test components (etcd, kube-apiserver,
//! kube-controller-manager, optionally Kafka and SPIRE) detached on 127.0.0.1, records their PIDs in a
//! state file and prints their endpoints as `NAME=value` lines; `testenv down` stops them by those PIDs.
//! `images` builds the OCI image archives of the chart's binaries.

mod images;
mod oci;
mod tar;
mod testenv;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Developer commands for the Holt workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Real components for manual testing (the same ones the tests start).
    Testenv {
        /// Where the environment keeps its state file, configuration, data and logs.
        #[arg(long, env = "HOLT_TESTENV_DIR", default_value_os_t = testenv::default_dir())]
        dir: PathBuf,
        #[command(subcommand)]
        action: TestenvAction,
    },
    /// Build an OCI image archive for each binary the Helm chart runs (holt-operator, holt-mapper,
    /// holt-sniffer, holt-credentials): statically linked, no base image, named as the chart's default values name them.
    Images {
        /// Cargo profile of the binaries: `release` (what ships) or `dev` (faster to build).
        #[arg(long, env = "HOLT_IMAGES_PROFILE", default_value = "release")]
        profile: String,
        /// Where the archives are written (default: <target dir>/images).
        #[arg(long, env = "HOLT_IMAGES_OUT")]
        out: Option<PathBuf>,
        /// Image repository, as the chart's `repository` values.
        #[arg(long, env = "HOLT_IMAGES_REPOSITORY", default_value = "localhost/holt")]
        repository: String,
        /// The CA bundle put into the images.
        #[arg(
            long,
            env = "HOLT_IMAGES_CA_CERTIFICATES",
            default_value = "/etc/ssl/certs/ca-certificates.crt"
        )]
        ca_certificates: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TestenvAction {
    /// Start etcd + kube-apiserver + kube-controller-manager (and Kafka, SPIRE) detached; print
    /// `KUBECONFIG=<path>` and the other endpoints.
    Up {
        /// Also start a Kafka broker (KRaft, ACLs, mTLS listener).
        #[arg(long, env = "HOLT_TESTENV_KAFKA")]
        kafka: bool,
        /// Also start a SPIRE server.
        #[arg(long, env = "HOLT_TESTENV_SPIRE")]
        spire: bool,
        /// Do not start kube-controller-manager.
        #[arg(long, env = "HOLT_TESTENV_NO_CONTROLLER_MANAGER")]
        no_controller_manager: bool,
        /// Also start a real node (containerd, kubelet, kube-scheduler, kube-proxy; needs root): the API
        /// server then listens on the node's IP 10.213.0.1. Image archives to import: --image.
        #[arg(long, env = "HOLT_TESTENV_NODE")]
        node: bool,
        /// An OCI image archive to import into the node (repeatable; e.g. from `cargo xtask images`).
        #[arg(long = "image", env = "HOLT_TESTENV_NODE_IMAGES", value_delimiter = ',')]
        images: Vec<PathBuf>,
    },
    /// Stop the processes `up` recorded, and remove the directory.
    Down,
    /// Print the recorded endpoints and whether each process still runs.
    Status,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Command::Testenv { dir, action } => match action {
            TestenvAction::Up {
                kafka,
                spire,
                no_controller_manager,
                node,
                images,
            } => {
                if node && no_controller_manager {
                    anyhow::bail!(
                        "--node needs kube-controller-manager (ServiceAccounts, the node's taints)"
                    );
                }
                testenv::up(
                    &dir,
                    testenv::Wanted {
                        kafka,
                        spire,
                        controller_manager: !no_controller_manager,
                        node: node.then_some(images),
                    },
                )
                .await
            }
            TestenvAction::Down => testenv::down(&dir),
            TestenvAction::Status => testenv::status(&dir),
        },
        Command::Images {
            profile,
            out,
            repository,
            ca_certificates,
        } => {
            let options = images::Options {
                profile,
                out: out.unwrap_or_else(images::default_out_dir),
                repository,
                ca_certificates,
            };
            images::build(&options).map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        super::Args::command().debug_assert();
    }
}
