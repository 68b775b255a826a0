//! A reset's promise to take back what the mapper published in `status.resolvedIPs`. Addresses there
//! accumulate (the publisher adds what DNS answers gave to what the status holds), so forgetting the
//! DNS answers alone would leave every address published before a reset in place for good. A reset
//! therefore asks the publisher ([`crate::publish`]) for one pass that writes each ClientIntents'
//! `resolvedIPs` from what the mapper knows now, ignoring what the status holds.
//!
//! The request survives a restart: it is a file, `<state-dir>/resolved-ips.reset`, written (and
//! synced) before the reset is answered and removed once a pass finds every ClientIntents up to date.
//! In: reset requests and finished passes. Out: whether a pass must ignore the status.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The marker file's name in the state directory.
pub const MARKER: &str = "resolved-ips.reset";

/// Resets requested and taken back, counted since start (a marker found at start counts as one).
#[derive(Debug, Default)]
pub struct PublishedReset {
    /// `None` when nothing is published (`--resolved-ips-interval-ms 0`): there is nothing to take back.
    marker: Option<PathBuf>,
    requested: AtomicU64,
    done: AtomicU64,
}

impl PublishedReset {
    /// The reset requests of the state directory `dir`; `publishing` is whether `resolvedIPs` are
    /// published at all.
    pub fn open(dir: &Path, publishing: bool) -> Self {
        if !publishing {
            return PublishedReset::default();
        }
        let marker = dir.join(MARKER);
        let pending = u64::from(marker.exists());
        PublishedReset {
            marker: Some(marker),
            requested: AtomicU64::new(pending),
            done: AtomicU64::new(0),
        }
    }

    /// Records a reset durably (blocking: call from a blocking task).
    pub fn request(&self) -> io::Result<()> {
        let Some(marker) = &self.marker else {
            return Ok(());
        };
        File::create(marker)?.sync_all()?;
        if let Some(dir) = marker.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.requested.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// The reset a pass starting now must honour, if any: pass it to [`PublishedReset::done`] once a
    /// pass finds every ClientIntents up to date.
    pub fn pending(&self) -> Option<u64> {
        let requested = self.requested.load(Ordering::SeqCst);
        (requested > self.done.load(Ordering::SeqCst)).then_some(requested)
    }

    /// Every reset up to `generation` was taken back; the marker goes when no later one waits.
    pub fn done(&self, generation: u64) -> io::Result<()> {
        self.done.fetch_max(generation, Ordering::SeqCst);
        if self.pending().is_none()
            && let Some(marker) = &self.marker
        {
            match std::fs::remove_file(marker) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_waits_for_its_pass_and_survives_a_restart() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let resets = PublishedReset::open(dir.path(), true);
        assert_eq!(resets.pending(), None);
        resets.request()?;
        let first = resets.pending().expect("pending");
        assert!(dir.path().join(MARKER).exists());
        // A restart before the pass: still pending.
        let reopened = PublishedReset::open(dir.path(), true);
        let after_restart = reopened.pending().expect("pending after a restart");
        // A second reset while the first pass runs: the first pass does not clear it.
        resets.request()?;
        resets.done(first)?;
        let second = resets.pending().expect("the second reset still pending");
        assert!(dir.path().join(MARKER).exists());
        resets.done(second)?;
        assert_eq!(resets.pending(), None);
        assert!(!dir.path().join(MARKER).exists());
        reopened.done(after_restart)?;
        assert_eq!(reopened.pending(), None);
        Ok(())
    }

    #[test]
    fn without_publishing_there_is_nothing_to_take_back() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let resets = PublishedReset::open(dir.path(), false);
        resets.request()?;
        assert_eq!(resets.pending(), None);
        assert!(!dir.path().join(MARKER).exists());
        Ok(())
    }
}
