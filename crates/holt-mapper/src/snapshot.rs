//! The durable state of earlier versions: the [`StoreContents`] as one JSON file in the state directory
//! (`intents.json`), rewritten whole on every change. The mapper now keeps an incremental log
//! ([`crate::intent_log`]) and reads this file only to import it once, at the first start of a state
//! directory without a log. A file that cannot be read is moved aside (`intents.json.corrupt-<unix ms>`)
//! and reported, never silently dropped. [`save`] writes the format (atomically: temporary file, fsync,
//! rename, fsync of the directory), for tests of the import.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::StoreContents;

/// The snapshot's file name in the state directory.
pub const FILE_NAME: &str = "intents.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write the snapshot {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read the snapshot {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot move the unreadable snapshot {path} aside to {to}: {source}")]
    MoveAside {
        path: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialize the snapshot: {0}")]
    Serialize(serde_json::Error),
}

/// The file: the contents owned when read, borrowed when written.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File<C> {
    version: u32,
    #[serde(flatten)]
    contents: C,
}

/// What loading found.
#[derive(Debug)]
pub enum Loaded {
    /// No snapshot yet (first start).
    Fresh,
    Restored(StoreContents),
    /// The snapshot could not be parsed; it was moved to `moved_to` and the mapper starts empty.
    MovedAside {
        reason: String,
        moved_to: PathBuf,
        contents: StoreContents,
    },
}

/// Reads `<dir>/intents.json`, creating `dir` if needed.
pub fn load(dir: &Path, now_ms: u64) -> Result<Loaded, SnapshotError> {
    fs::create_dir_all(dir).map_err(|source| SnapshotError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Fresh),
        Err(source) => return Err(SnapshotError::Read { path, source }),
    };
    let parsed = serde_json::from_slice::<File<StoreContents>>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|file| match file.version {
            FORMAT_VERSION => Ok(file.contents),
            other => Err(format!(
                "unknown snapshot format version {other} (this mapper reads {FORMAT_VERSION})"
            )),
        });
    match parsed {
        Ok(contents) => Ok(Loaded::Restored(contents)),
        Err(reason) => {
            let moved_to = dir.join(format!("{FILE_NAME}.corrupt-{now_ms}"));
            fs::rename(&path, &moved_to).map_err(|source| SnapshotError::MoveAside {
                path: path.clone(),
                to: moved_to.clone(),
                source,
            })?;
            Ok(Loaded::MovedAside {
                reason,
                moved_to,
                contents: StoreContents::default(),
            })
        }
    }
}

/// Writes `contents` to `<dir>/intents.json` atomically.
pub fn save(dir: &Path, contents: &StoreContents) -> Result<(), SnapshotError> {
    let file = File {
        version: FORMAT_VERSION,
        contents,
    };
    let bytes = serde_json::to_vec(&file).map_err(SnapshotError::Serialize)?;
    let path = dir.join(FILE_NAME);
    let temporary = dir.join(format!("{FILE_NAME}.tmp"));
    let write = |source| SnapshotError::Write {
        path: path.clone(),
        source,
    };
    let mut out = fs::File::create(&temporary).map_err(write)?;
    out.write_all(&bytes).map_err(write)?;
    out.sync_all().map_err(write)?;
    drop(out);
    fs::rename(&temporary, &path).map_err(write)?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(write)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use holt_mapper_api::{DiscoveredIntent, Target, Workload};
    use jiff::Timestamp;

    use super::*;

    fn contents() -> StoreContents {
        let wl = |name: &str| Workload {
            name: name.into(),
            namespace: "ns".into(),
            kind: Some("Deployment".into()),
        };
        StoreContents {
            intents: vec![DiscoveredIntent {
                client: wl("client"),
                target: Target::Kubernetes {
                    server: wl("server"),
                    service: None,
                    http: Vec::new(),
                },
                first_seen: Timestamp::from_millisecond(1_000).expect("time"),
                last_seen: Timestamp::from_millisecond(2_000).expect("time"),
            }],
            dns: Default::default(),
        }
    }

    #[test]
    fn a_saved_snapshot_loads_back() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(matches!(load(dir.path(), 1).expect("load"), Loaded::Fresh));
        save(dir.path(), &contents()).expect("save");
        assert!(!dir.path().join("intents.json.tmp").exists());
        match load(dir.path(), 1).expect("load") {
            Loaded::Restored(restored) => assert_eq!(restored, contents()),
            other => panic!("expected the snapshot back, got {other:?}"),
        }
    }

    #[test]
    fn a_corrupt_snapshot_is_moved_aside_and_reported() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join(FILE_NAME), b"{\"version\": 1, \"intents\": [tru").expect("write");
        match load(dir.path(), 42).expect("load") {
            Loaded::MovedAside { reason, moved_to, .. } => {
                assert!(reason.contains("line 1"), "{reason}");
                assert_eq!(moved_to, dir.path().join("intents.json.corrupt-42"));
                assert_eq!(
                    fs::read(&moved_to).expect("kept"),
                    b"{\"version\": 1, \"intents\": [tru"
                );
            }
            other => panic!("expected the file moved aside, got {other:?}"),
        }
        assert!(!dir.path().join(FILE_NAME).exists());
        fs::write(dir.path().join(FILE_NAME), b"{\"version\": 9, \"intents\": []}").expect("write");
        match load(dir.path(), 43).expect("load") {
            Loaded::MovedAside { reason, .. } => assert!(reason.contains("version 9"), "{reason}"),
            other => panic!("expected the file moved aside, got {other:?}"),
        }
    }
}
