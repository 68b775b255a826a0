//! Holt's binaries, built by cargo for the tests that run them (a package's tests only get its own
//! binaries): `holt-operator`, `holt-mapper`, `holt-sniffer`, `holt-credentials`, once per test process, as
//! [`holt_testenv::build_binaries`] builds them (alone, or taken from the suite's own build).
//!
//! In: nothing. Out: the binaries' paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use crate::error::Error;

/// The binaries the chart's images hold, by name.
pub const IMAGE_BINARIES: [&str; 4] = ["holt-operator", "holt-mapper", "holt-sniffer", "holt-credentials"];

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

/// Builds `names` with [`holt_testenv::build_binaries`] (which says how, within the suite and alone).
fn build(names: &[&str]) -> Result<Binaries, Error> {
    Ok(Binaries {
        paths: holt_testenv::build_binaries(names)?,
    })
}
