//! Credentials for a real mapper: a sniffer's and a reader's ServiceAccount, in a namespace of their
//! own, granted the mapper's roles there, with tokens for the mapper's audience. The mapper checks
//! permissions in that namespace (`--authorization-namespace`); the sniffer reads its token from a file
//! (`--token-file`), as it reads the projected token in a cluster.

use std::path::PathBuf;

use holt_mapper::access::Role;
use holt_mapper_api::TOKEN_AUDIENCE;
use holt_testenv::{ControlPlane, bind_role, service_account_token};

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
        let sniffer = service_account_token(&client, &namespace, "sniffer", &[TOKEN_AUDIENCE]).await?;
        bind_role(
            &client,
            &namespace,
            "holt-mapper-sniffer",
            Role::Sniffer.rules(),
            &[(namespace.as_str(), "sniffer")],
        )
        .await?;
        let reader = service_account_token(&client, &namespace, "reader", &[TOKEN_AUDIENCE]).await?;
        bind_role(
            &client,
            &namespace,
            "holt-mapper-reader",
            Role::Reader.rules(),
            &[(namespace.as_str(), "reader")],
        )
        .await?;
        let dir = tempfile::tempdir()?;
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, &sniffer.token)?;
        Ok(MapperAccess {
            namespace,
            token_file,
            reader: reader.token,
            _dir: dir,
        })
    }
}
