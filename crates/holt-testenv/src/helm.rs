//! The cached `helm` binary.

use std::path::PathBuf;

use crate::components::{Component, MissingComponent};

/// The `helm` binary built by the build script.
pub fn helm_binary() -> Result<PathBuf, MissingComponent> {
    Component::Helm.file("helm")
}

/// `helm` as a command, with its caches and configuration kept out of the user's home (in `home`).
pub fn helm(home: &std::path::Path) -> Result<tokio::process::Command, MissingComponent> {
    let mut command = tokio::process::Command::new(helm_binary()?);
    command
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    Ok(command)
}
