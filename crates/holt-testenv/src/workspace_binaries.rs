//! Holt's own binaries for tests that run them as processes (a package's tests only get its own binaries,
//! through `CARGO_BIN_EXE_*`): built by cargo, once found, by name.
//!
//! In: the binaries' names and [`BUILD_VARIABLE`]. Out: their paths. By default cargo builds just the
//! packages named the same as the binaries (`cargo build -p <name> --bin <name>`), the least work for a
//! test run of one package. Within the whole suite (`scripts/test.sh` sets the variable to `workspace`)
//! that build would compile the binaries and part of their dependencies a second time: cargo unifies
//! features over the packages and targets of one command, and the suite's `cargo test --workspace
//! --all-targets` turns on features (dev-dependencies', such as tokio's `test-util`) that a build of a few
//! packages does not. So in that mode the binaries are taken from that same command with `--no-run`, which
//! finds everything built.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::Error;

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
            Ok(other) => Err(Error::Invalid {
                what: BUILD_VARIABLE.to_owned(),
                reason: format!("{other:?} is neither `packages` nor `workspace`"),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::Invalid {
                what: BUILD_VARIABLE.to_owned(),
                reason: "not UTF-8".to_owned(),
            }),
        }
    }

    /// cargo's arguments for building `names` this way.
    pub fn cargo_args(self, names: &[&str]) -> Vec<String> {
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

/// `cargo` (the one that runs this process, else the one on the `PATH`), without the variables cargo sets
/// for a test or a build script it runs: build scripts that watch them (ring's watches `CARGO_PKG_NAME` and
/// `CARGO_MANIFEST_DIR`) would otherwise see a change and run again, and all that sits on them be rebuilt.
pub fn cargo_command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
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
    command
}

/// Builds the binaries `names` (each in the package of the same name) as [`BUILD_VARIABLE`] says, and
/// returns their paths. cargo's output goes to this process's standard error.
pub fn build_binaries(names: &[&str]) -> Result<BTreeMap<String, PathBuf>, Error> {
    let mode = BuildMode::from_environment()?;
    let mut command = cargo_command();
    let failed = |reason: String| Error::Invalid {
        what: format!("cargo build of {}", names.join(", ")),
        reason,
    };
    let output = command
        .args(mode.cargo_args(names))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| failed(format!("cargo did not run: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!("{} (see its output above)", output.status)));
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
    let missing: Vec<&&str> = names.iter().filter(|name| !paths.contains_key(**name)).collect();
    if !missing.is_empty() {
        return Err(failed(format!("cargo named no executable for {missing:?}")));
    }
    Ok(paths)
}
