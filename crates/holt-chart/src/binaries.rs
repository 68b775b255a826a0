//! Holt's binaries, built by cargo for the tests that run them (a package's tests only get its own
//! binaries): `holt-operator`, `holt-mapper`, `holt-sniffer`, once per test process.
//!
//! In: [`BUILD_VARIABLE`]. Out: the binaries' paths. By default cargo builds just these three packages
//! (`cargo build -p …`), the least work for `cargo test -p holt-chart`. Within the whole suite
//! (`scripts/test.sh`, which sets the variable to `workspace`) that build would compile the binaries and
//! part of their dependencies a second time: cargo unifies features over the packages and targets of one
//! command, and the suite's `cargo test --workspace --all-targets` turns on features (dev-dependencies',
//! such as tokio's `test-util`) that a build of three packages does not. So in that mode the binaries are
//! taken from the same command with `--no-run`, which finds everything built.

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

/// How the binaries are built: `packages` (the default) or `workspace`.
pub const BUILD_VARIABLE: &str = "HOLT_TEST_BINARIES_BUILD";

/// What cargo is asked to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMode {
    /// `cargo build -p <name> --bin <name>` for each.
    Packages,
    /// `cargo test --workspace --all-targets --locked --no-run`, exactly the suite's own build.
    Workspace,
}

impl BuildMode {
    /// The mode [`BUILD_VARIABLE`] names.
    pub fn from_environment() -> Result<Self, Error> {
        match std::env::var(BUILD_VARIABLE).as_deref() {
            Err(std::env::VarError::NotPresent) | Ok("" | "packages") => Ok(BuildMode::Packages),
            Ok("workspace") => Ok(BuildMode::Workspace),
            Ok(other) => Err(Error::Parse {
                what: BUILD_VARIABLE.to_owned(),
                reason: format!("{other:?} is neither `packages` nor `workspace`"),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Parse {
                what: BUILD_VARIABLE.to_owned(),
                reason: "not UTF-8".to_owned(),
            }),
        }
    }

    fn cargo_args(self, names: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        match self {
            BuildMode::Packages => {
                args.push("build".to_owned());
                for name in names {
                    args.extend(["-p", name, "--bin", name].map(str::to_owned));
                }
            }
            BuildMode::Workspace => {
                args.extend(
                    ["test", "--workspace", "--all-targets", "--locked", "--no-run"].map(str::to_owned),
                );
            }
        }
        args.push("--message-format=json".to_owned());
        args
    }
}

/// Builds `names` as [`BUILD_VARIABLE`] says, without the variables cargo set for the test itself (build
/// scripts that watch them would be rebuilt every time).
fn build(names: &[&str]) -> Result<Binaries, Error> {
    let mode = BuildMode::from_environment()?;
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
    command.args(mode.cargo_args(names));
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
        // Binaries only: not a test harness built from a binary's own unit tests (same target name).
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != false {
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
