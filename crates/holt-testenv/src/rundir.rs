//! The directory one started component writes its configuration, certificates, data and log into.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::process::Lifetime;
use crate::watchdog;

static NEXT: AtomicUsize = AtomicUsize::new(1);

/// A component's working directory: under this test process's scratch root (removed with it) unless the
/// caller chose one; removed on drop when the harness made it for the test lifetime.
#[derive(Debug)]
pub(crate) struct RunDir {
    path: PathBuf,
    remove_on_drop: bool,
}

impl RunDir {
    /// `chosen` (created if missing, never removed) or `<scratch root>/<kind>-<n>` (removed on drop).
    pub(crate) fn new(kind: &str, chosen: Option<&Path>, lifetime: Lifetime) -> std::io::Result<Self> {
        let (path, remove_on_drop) = match chosen {
            Some(path) => (path.to_path_buf(), false),
            None => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let root = match lifetime {
                    Lifetime::Test => watchdog::scratch_root()?.to_path_buf(),
                    Lifetime::Detached => {
                        std::env::temp_dir().join(format!("holt-testenv-detached-{}", std::process::id()))
                    }
                };
                (root.join(format!("{kind}-{n}")), lifetime == Lifetime::Test)
            }
        };
        std::fs::create_dir_all(&path)?;
        Ok(Self { path, remove_on_drop })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.remove_on_drop {
            // Best effort: the watchdog removes the whole scratch root at exit anyway.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
