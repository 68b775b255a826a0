//! Holt's binaries, built by cargo for the tests that run them (a package's tests only get its own
//! binaries): `holt-operator`, `holt-mapper`, `holt-sniffer`, once per test process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tokio::sync::OnceCell;

use crate::error::Error;

/// The binaries the chart's images hold, by name.
pub const IMAGE_BINARIES: [&str; 3] = ["holt-operator", "holt-mapper", "holt-sniffer"];

/// Built binaries by name.
#[derive(Debug, Clone)]
pub struct Binaries {
    paths: BTreeMap<String, PathBuf>,
}

impl Binaries {
    /// The path of `name`, if built.
    pub fn get(&self, name: &str) -> Option<&Path> {
        self.paths.get(name).map(PathBuf::as_path)
    }

    pub fn all(&self) -> &BTreeMap<String, PathBuf> {
        &self.paths
    }
}

static BUILT: OnceCell<Binaries> = OnceCell::const_new();

/// Builds [`IMAGE_BINARIES`] (a no-op when they are current) and returns their paths.
pub async fn binaries() -> Result<&'static Binaries, Error> {
    BUILT
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| build(&IMAGE_BINARIES))
                .await
                .map_err(|e| Error::Io {
                    what: "wait for cargo build".to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })?
        })
        .await
}

/// `cargo build -p <name> --bin <name>` for each, without the variables cargo set for the test itself
/// (build scripts that watch them would be rebuilt every time).
fn build(names: &[&str]) -> Result<Binaries, Error> {
    let mut command = Command::new(env!("CARGO"));
    for (key, _) in std::env::vars_os() {
        let set_by_cargo = key.to_str().is_some_and(|key| {
            [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .iter()
            .any(|prefix| key.starts_with(prefix))
        });
        if set_by_cargo {
            command.env_remove(key);
        }
    }
    command.arg("build").arg("--message-format=json");
    for name in names {
        command.args(["-p", name, "--bin", name]);
    }
    let output = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::io("run cargo build"))?;
    if !output.status.success() {
        return Err(Error::Build {
            packages: names.join(", "),
        });
    }
    let mut paths = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(target), Some(executable)) =
            (message["target"]["name"].as_str(), message["executable"].as_str())
        else {
            continue;
        };
        if names.contains(&target) {
            paths.insert(target.to_owned(), PathBuf::from(executable));
        }
    }
    if paths.len() != names.len() {
        return Err(Error::Build {
            packages: names.join(", "),
        });
    }
    Ok(Binaries { paths })
}
