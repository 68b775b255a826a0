//! Credentials for a real mapper: a sniffer's and a reader's ServiceAccount, in a namespace of their
//! own, granted the mapper's roles there, with tokens for the mapper's audience. The mapper checks
//! permissions in that namespace (`--authorization-namespace`); the sniffer reads its token from a file
//! (`--token-file`), as it reads the projected token in a cluster. [`MapperAccess::sniffer`] starts the sniffer
//! binary with that token file.

use std::path::{Path, PathBuf};

use holt_mapper::access::Role;
use holt_mapper_api::TOKEN_AUDIENCE;
use holt_testenv::{ControlPlane, bind_role, service_account_token};

use super::netns::Netns;
use super::process::{Process, sniffer};

pub struct MapperAccess {
    /// Where the mapper checks permissions.
    pub namespace: String,
    /// The file holding the sniffer's token.
    pub token_file: PathBuf,
    /// A token that may read the discovered intents.
    pub reader: String,
    _dir: tempfile::TempDir,
}

impl MapperAccess {
    pub async fn new(plane: &ControlPlane) -> anyhow::Result<MapperAccess> {
        let client = plane.client().await?;
        let namespace = plane.create_namespace(&client, "sniffer-access").await?;
        let mut tokens = Vec::new();
        for (account, role) in [("sniffer", Role::Sniffer), ("reader", Role::Reader)] {
            let token = service_account_token(&client, &namespace, account, &[TOKEN_AUDIENCE]).await?;
            let binding = format!("holt-mapper-{account}");
            bind_role(
                &client,
                &namespace,
                &binding,
                role.rules(),
                &[(namespace.as_str(), account)],
            )
            .await?;
            tokens.push(token.token);
        }
        let [sniffer, reader]: [String; 2] = tokens.try_into().map_err(|_| anyhow::anyhow!("two tokens"))?;
        let dir = tempfile::tempdir()?;
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, &sniffer)?;
        Ok(MapperAccess {
            namespace,
            token_file,
            reader,
            _dir: dir,
        })
    }

    /// The sniffer binary in `node`, reporting to the mapper at `mapper_url` with the sniffer's token every
    /// 200 ms as node `node_name`, its health and metrics on `health` (in `node`), and `extra` arguments.
    pub fn sniffer(
        &self,
        node: &Netns,
        mapper_url: &str,
        node_name: &str,
        health: &str,
        extra: &[&str],
    ) -> anyhow::Result<Process> {
        let token_file = self.token_file.display().to_string();
        let mut args = vec![
            "--mapper-url",
            mapper_url,
            "--token-file",
            &token_file,
            "--report-interval",
            "200ms",
            "--health-bind-address",
            health,
            "--node-name",
            node_name,
        ];
        args.extend_from_slice(extra);
        sniffer(node, &args)
    }

    /// The settings of an in-process mapper on `bind_address` that keeps its state in `state_dir`, reads
    /// the cluster of `plane`, does not publish `resolvedIPs` (an interval of 0 turns that off), and checks
    /// its callers' permissions in [`MapperAccess::namespace`].
    pub fn mapper_args(
        &self,
        plane: &ControlPlane,
        bind_address: &str,
        state_dir: &Path,
    ) -> anyhow::Result<holt_mapper::args::Args> {
        Ok(clap::Parser::try_parse_from([
            "holt-mapper",
            "--bind-address",
            bind_address,
            "--state-dir",
            &state_dir.display().to_string(),
            "--kubeconfig",
            &plane.kubeconfig().display().to_string(),
            "--resolved-ips-interval-ms",
            "0",
            "--authorization-namespace",
            &self.namespace,
        ])?)
    }
}
